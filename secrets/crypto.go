package secrets

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sizes of the sealed formats, in bytes.
const (
	nonceSize = chacha20poly1305.NonceSizeX // 24
	tagSize   = chacha20poly1305.Overhead   // 16
	keySize   = chacha20poly1305.KeySize    // 32
)

// Associated-data domains. Each sealed item binds its own domain string,
// so a sealed item of one kind never opens as another.
const (
	adValue      = "execvault/value/v1"
	adDataKey    = "execvault/data-key/v1"
	adStorageKey = "execvault/storage-key/v1"
	adCheck      = "execvault/check/v1"
	adArchive    = "execvault/archive/v1"
)

// HKDF info strings for keys derived from the storage key.
const (
	infoBadger = "execvault badger encryption key v1"
	infoAudit  = "execvault audit hmac key v1"
)

func newAEAD(key []byte) (cipher.AEAD, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("create cipher: %w", err)
	}
	return aead, nil
}

// seal encrypts plaintext under a fresh random nonce and returns
// nonce || ciphertext || tag.
func seal(aead cipher.AEAD, plaintext, ad []byte) ([]byte, error) {
	nonce := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("generate nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, plaintext, ad), nil
}

// open reverses seal. Any failure is ErrCorrupt: a wrong key, a changed
// byte and a changed associated data look the same.
func open(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < nonceSize+tagSize {
		return nil, ErrCorrupt
	}
	plain, err := aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], ad)
	if err != nil {
		return nil, ErrCorrupt
	}
	return plain, nil
}

// valueAD returns the associated data of a secret value: the domain, the
// vault and name each prefixed by its length in one byte, then the version,
// the data key id and the creation time in Unix nanoseconds, big-endian. It
// binds every field of the version record, so any changed bit fails to open.
func valueAD(vault, name string, version uint64, dataKey uint32, created time.Time) []byte {
	return appendValueAD(make([]byte, 0, valueADSize(vault, name)), vault, name, version, dataKey, created)
}

// valueADSize returns the length of the valueAD of (vault, name), in bytes.
func valueADSize(vault, name string) int { return len(adValue) + 2 + len(vault) + len(name) + 20 }

// appendValueAD appends the valueAD of a secret value to dst, so that a
// read can build it in a reused buffer.
func appendValueAD(dst []byte, vault, name string, version uint64, dataKey uint32, created time.Time) []byte {
	ad := append(dst, adValue...)
	ad = append(ad, byte(len(vault)))
	ad = append(ad, vault...)
	ad = append(ad, byte(len(name)))
	ad = append(ad, name...)
	ad = binary.BigEndian.AppendUint64(ad, version)
	ad = binary.BigEndian.AppendUint32(ad, dataKey)
	return binary.BigEndian.AppendUint64(ad, uint64(created.UnixNano()))
}

// dataKeyAD returns the associated data of a wrapped data key.
func dataKeyAD(id uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte(adDataKey), id)
}

// deriveKey derives a 32-byte subkey of secret for purpose info.
func deriveKey(secret []byte, info string) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, info, keySize)
	if err != nil {
		return nil, fmt.Errorf("derive %s: %w", info, err)
	}
	return key, nil
}

func randomKey() ([]byte, error) {
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return key, nil
}
