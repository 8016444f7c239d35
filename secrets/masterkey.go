package secrets

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/crypto/argon2"
)

// Environment variables read through Config.Getenv.
const (
	EnvMasterKey  = "EXECVAULT_MASTER_KEY"
	EnvPassphrase = "EXECVAULT_PASSPHRASE"
)

// MasterKeySize is the size of a master key (the key-encryption key), in bytes.
const MasterKeySize = 32

// MasterKey is the key-encryption key, or the passphrase it is derived from.
// It prints Redacted through fmt, log/slog and encoding/json.
type MasterKey struct {
	key        []byte
	passphrase string
}

// NewMasterKey returns a master key holding a copy of key, which must be
// MasterKeySize bytes. Otherwise the error wraps ErrInvalidKey.
func NewMasterKey(key []byte) (MasterKey, error) {
	if len(key) != MasterKeySize {
		return MasterKey{}, fmt.Errorf("%w: it is %d bytes, want %d; generate one with: head -c 32 /dev/urandom | base64", ErrInvalidKey, len(key), MasterKeySize)
	}
	return MasterKey{key: bytes.Clone(key)}, nil
}

// ParseMasterKey decodes a master key from standard base64 of
// MasterKeySize bytes, ignoring surrounding whitespace. Errors wrap
// ErrInvalidKey and never quote the text.
func ParseMasterKey(text []byte) (MasterKey, error) {
	trimmed := bytes.TrimSpace(text)
	key := make([]byte, base64.StdEncoding.DecodedLen(len(trimmed)))
	n, err := base64.StdEncoding.Decode(key, trimmed)
	if err != nil {
		// The position in err could point into the key, so it is dropped.
		return MasterKey{}, fmt.Errorf("%w: it is not valid base64; generate one with: head -c 32 /dev/urandom | base64", ErrInvalidKey)
	}
	return NewMasterKey(key[:n])
}

// PassphraseKey returns a master key derived from passphrase with Argon2id,
// using the parameters stored with the store or archive it opens.
func PassphraseKey(passphrase Value) MasterKey { return MasterKey{passphrase: passphrase.Reveal()} }

// GenerateMasterKey returns a random master key.
func GenerateMasterKey() (MasterKey, error) {
	key := make([]byte, MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return MasterKey{}, fmt.Errorf("generate master key: %w", err)
	}
	return MasterKey{key: key}, nil
}

// IsPassphrase reports whether the key is a passphrase.
func (k MasterKey) IsPassphrase() bool { return k.passphrase != "" }

// equal reports whether k and o are the same raw key or the same
// passphrase, comparing in constant time.
func (k MasterKey) equal(o MasterKey) bool {
	if k.IsPassphrase() != o.IsPassphrase() {
		return false
	}
	if k.IsPassphrase() {
		return subtle.ConstantTimeCompare([]byte(k.passphrase), []byte(o.passphrase)) == 1
	}
	return subtle.ConstantTimeCompare(k.key, o.key) == 1
}

// IsZero reports whether the key is unset.
func (k MasterKey) IsZero() bool { return len(k.key) == 0 && k.passphrase == "" }

// Base64 returns the raw key in standard base64, the key file format. It
// returns "" for a passphrase.
func (k MasterKey) Base64() string {
	if k.key == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(k.key)
}

// String returns Redacted.
func (k MasterKey) String() string { return Redacted }

// GoString returns Redacted.
func (k MasterKey) GoString() string { return Redacted }

// Format prints Redacted for every verb.
func (k MasterKey) Format(f fmt.State, verb rune) { Value{}.Format(f, verb) }

// LogValue returns Redacted.
func (k MasterKey) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON returns Redacted as a JSON string.
func (k MasterKey) MarshalJSON() ([]byte, error) { return Value{}.MarshalJSON() }

// KDFParams are Argon2id parameters. The defaults, time 3, 64 MiB and 4
// lanes, are the second recommended option of RFC 9106 (section 4) for
// machines without 2 GiB to spare. Deriving a key took about 0.4 s on the
// 2-core AMD EPYC virtual machine this package was developed on, so every
// guess at a passphrase costs as much.
type KDFParams struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
	Salt      []byte `json:"salt,omitempty"`
}

// DefaultKDFParams returns the default Argon2id parameters without a salt.
func DefaultKDFParams() KDFParams { return KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4} }

func (p KDFParams) validate() error {
	if p.Time < 1 || p.MemoryKiB < 8*uint32(p.Threads) || p.Threads < 1 || p.MemoryKiB > 4<<20 {
		return fmt.Errorf("%w: KDF time %d, memory %d KiB, threads %d; use time >= 1, threads >= 1, 8*threads <= memory <= 4 GiB",
			ErrInvalidConfig, p.Time, p.MemoryKiB, p.Threads)
	}
	return nil
}

// deriveKEK returns the key-encryption key for k. A raw key is returned
// as is, and a passphrase is stretched with params, which must carry a salt.
func (k MasterKey) deriveKEK(params *KDFParams) ([]byte, error) {
	if !k.IsPassphrase() {
		if params != nil {
			return nil, fmt.Errorf("%w: it was created with a passphrase; set %s", ErrWrongKey, EnvPassphrase)
		}
		return k.key, nil
	}
	if params == nil {
		return nil, fmt.Errorf("%w: %w", ErrWrongKey, errCreatedWithKey)
	}
	if err := params.validate(); err != nil || len(params.Salt) < 16 {
		return nil, fmt.Errorf("%w: stored KDF parameters are invalid", ErrCorrupt)
	}
	return argon2.IDKey([]byte(k.passphrase), params.Salt, params.Time, params.MemoryKiB, params.Threads, MasterKeySize), nil
}

// resolveMasterKey picks the master key source in order: EXECVAULT_MASTER_KEY,
// the passphrase, the key file. It creates the key file only when create
// is true and returns its path in created.
func resolveMasterKey(cfg *Config, create bool) (key MasterKey, created string, err error) {
	if env := cfg.Getenv(EnvMasterKey); env != "" {
		key, err := ParseMasterKey([]byte(env))
		if err != nil {
			return MasterKey{}, "", fmt.Errorf("read %s: %w", EnvMasterKey, err)
		}
		return key, "", nil
	}

	pass := cfg.Passphrase
	if pass.IsZero() {
		pass = NewValueString(cfg.Getenv(EnvPassphrase))
	}
	if !pass.IsZero() {
		return PassphraseKey(pass), "", nil
	}

	if cfg.KeyFile == "" {
		return MasterKey{}, "", fmt.Errorf("open secrets store: %w; set %s, %s or a key file", ErrNoMasterKey, EnvMasterKey, EnvPassphrase)
	}
	return loadKeyFile(cfg.KeyFile, create)
}

// loadKeyFile reads a key file, creating it first when create is true and
// it does not exist.
func loadKeyFile(path string, create bool) (MasterKey, string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := ParseMasterKey(data)
		if err != nil {
			return MasterKey{}, "", fmt.Errorf("read key file %s: %w", path, err)
		}
		return key, "", nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return MasterKey{}, "", fmt.Errorf("read key file %s: %w", path, err)
	}
	if !create {
		return MasterKey{}, "", fmt.Errorf("read key file %s: %w; the store exists, so point --key-file or %s at the key it was created with",
			path, ErrNoMasterKey, EnvMasterKey)
	}

	key, err := GenerateMasterKey()
	if err != nil {
		return MasterKey{}, "", err
	}
	if err := WriteKeyFile(path, key); err != nil {
		return MasterKey{}, "", err
	}
	return key, path, nil
}

// WriteKeyFile creates a key file holding key in base64, with mode 0600
// and its directory created with mode 0700. It fails if the file exists,
// so a key is never overwritten.
func WriteKeyFile(path string, key MasterKey) error {
	if key.IsPassphrase() || key.IsZero() {
		return fmt.Errorf("write key file %s: only a raw key can be written", path)
	}
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create key file directory %s: %w", dir, err)
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("create key file directory %s: %w", dir, err)
		}
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create key file %s: %w", path, err)
	}
	// The umask reduces the mode given to OpenFile, so set it explicitly.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("create key file %s: %w", path, err)
	}
	if _, err := f.WriteString(key.Base64() + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename or create in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
