package secrets

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"time"
)

// headerFormat is the version of the header layout.
const headerFormat = 1

// header is the key material of a store, kept in Dir/secrets.header so that
// the master key can be checked before Badger opens. Everything in it is
// either public (KDF parameters) or sealed under the key-encryption key.
type header struct {
	Format int `json:"format"`
	// KDF is set for stores whose master key is a passphrase.
	KDF *KDFParams `json:"kdf,omitempty"`
	// Check is an empty plaintext sealed under the KEK: it opens only with
	// the right key.
	Check []byte `json:"check"`
	// StorageKey is the random storage key sealed under the KEK. Badger's
	// encryption key and the audit HMAC key are derived from it.
	StorageKey []byte `json:"storage_key"`
	// DataKeys are the DEKs, each sealed under the KEK.
	DataKeys      []dataKeyEntry `json:"data_keys"`
	ActiveDataKey uint32         `json:"active_data_key"`
	// Rotating is set from RotateDataKey until every value uses the
	// active data key, so that Open resumes the re-encryption.
	Rotating bool `json:"rotating,omitempty"`
}

type dataKeyEntry struct {
	ID      uint32    `json:"id"`
	Created time.Time `json:"created"`
	Wrapped []byte    `json:"wrapped"`
}

// keyring is the unlocked form of a header. It is immutable: changes build
// a new keyring, so readers may use one without locks.
type keyring struct {
	hdr        header
	master     MasterKey
	kek        cipher.AEAD
	storageKey []byte
	dataKeys   map[uint32]cipher.AEAD
	created    map[uint32]time.Time
}

func (r *keyring) activeID() uint32 { return r.hdr.ActiveDataKey }

// newKeyring creates the key material of a new store.
func newKeyring(master MasterKey, kdf KDFParams, now time.Time) (*keyring, error) {
	var params *KDFParams
	if master.IsPassphrase() {
		p := kdf
		p.Salt = make([]byte, 16)
		if _, err := rand.Read(p.Salt); err != nil {
			return nil, fmt.Errorf("generate salt: %w", err)
		}
		params = &p
	}
	kekBytes, err := master.deriveKEK(params)
	if err != nil {
		return nil, err
	}
	kek, err := newAEAD(kekBytes)
	if err != nil {
		return nil, err
	}

	storageKey, err := randomKey()
	if err != nil {
		return nil, err
	}
	r := &keyring{
		hdr:        header{Format: headerFormat, KDF: params},
		master:     master,
		kek:        kek,
		storageKey: storageKey,
		dataKeys:   map[uint32]cipher.AEAD{},
		created:    map[uint32]time.Time{},
	}
	if err := r.sealHeaderKeys(); err != nil {
		return nil, err
	}
	return r.withNewDataKey(now)
}

// sealHeaderKeys seals the check value and the storage key under r.kek.
func (r *keyring) sealHeaderKeys() error {
	check, err := seal(r.kek, nil, []byte(adCheck))
	if err != nil {
		return err
	}
	wrapped, err := seal(r.kek, r.storageKey, []byte(adStorageKey))
	if err != nil {
		return err
	}
	r.hdr.Check = check
	r.hdr.StorageKey = wrapped
	return nil
}

// unlockKeyring checks master against the header and unwraps its keys. A
// wrong key returns an error wrapping ErrWrongKey.
func unlockKeyring(hdr header, master MasterKey) (*keyring, error) {
	if hdr.Format != headerFormat {
		return nil, fmt.Errorf("%w: header format %d, this build reads %d", ErrCorrupt, hdr.Format, headerFormat)
	}
	kekBytes, err := master.deriveKEK(hdr.KDF)
	if err != nil {
		return nil, err
	}
	kek, err := newAEAD(kekBytes)
	if err != nil {
		return nil, err
	}
	if _, err := open(kek, hdr.Check, []byte(adCheck)); err != nil {
		return nil, fmt.Errorf("%w: the key does not match the stored check value", ErrWrongKey)
	}

	storageKey, err := open(kek, hdr.StorageKey, []byte(adStorageKey))
	if err != nil {
		return nil, fmt.Errorf("unwrap storage key: %w", err)
	}
	r := &keyring{
		hdr:        hdr,
		master:     master,
		kek:        kek,
		storageKey: storageKey,
		dataKeys:   map[uint32]cipher.AEAD{},
		created:    map[uint32]time.Time{},
	}
	for _, e := range hdr.DataKeys {
		raw, err := open(kek, e.Wrapped, dataKeyAD(e.ID))
		if err != nil {
			return nil, fmt.Errorf("unwrap data key %d: %w", e.ID, err)
		}
		aead, err := newAEAD(raw)
		if err != nil {
			return nil, err
		}
		r.dataKeys[e.ID] = aead
		r.created[e.ID] = e.Created
	}
	if _, ok := r.dataKeys[hdr.ActiveDataKey]; !ok {
		return nil, fmt.Errorf("%w: active data key %d is missing from the header", ErrCorrupt, hdr.ActiveDataKey)
	}
	return r, nil
}

// clone returns a copy whose header and maps may be changed.
func (r *keyring) clone() *keyring {
	c := *r
	c.hdr.DataKeys = append([]dataKeyEntry(nil), r.hdr.DataKeys...)
	c.dataKeys = maps.Clone(r.dataKeys)
	c.created = maps.Clone(r.created)
	return &c
}

// withNewDataKey returns a keyring with a new active data key.
func (r *keyring) withNewDataKey(now time.Time) (*keyring, error) {
	c := r.clone()
	var id uint32 = 1
	for _, e := range c.hdr.DataKeys {
		if e.ID >= id {
			id = e.ID + 1
		}
	}
	raw, err := randomKey()
	if err != nil {
		return nil, err
	}
	wrapped, err := seal(c.kek, raw, dataKeyAD(id))
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Second)
	c.hdr.DataKeys = append(c.hdr.DataKeys, dataKeyEntry{ID: id, Created: now, Wrapped: wrapped})
	c.hdr.ActiveDataKey = id
	c.dataKeys[id] = aead
	c.created[id] = now
	return c, nil
}

// withoutDataKey returns a keyring without data key id.
func (r *keyring) withoutDataKey(id uint32) *keyring {
	c := r.clone()
	kept := c.hdr.DataKeys[:0]
	for _, e := range c.hdr.DataKeys {
		if e.ID != id {
			kept = append(kept, e)
		}
	}
	c.hdr.DataKeys = kept
	delete(c.dataKeys, id)
	delete(c.created, id)
	return c
}

// rewrapped returns a keyring whose header keys are sealed under next. The
// data keys and the storage key stay the same, so no value changes.
func (r *keyring) rewrapped(next MasterKey, kdf KDFParams) (*keyring, error) {
	fresh, err := newKeyring(next, kdf, time.Time{})
	if err != nil {
		return nil, err
	}
	c := r.clone()
	c.master = next
	c.kek = fresh.kek
	c.hdr.KDF = fresh.hdr.KDF
	if err := c.sealHeaderKeys(); err != nil {
		return nil, err
	}
	for i, e := range c.hdr.DataKeys {
		old, err := open(r.kek, e.Wrapped, dataKeyAD(e.ID))
		if err != nil {
			return nil, fmt.Errorf("unwrap data key %d: %w", e.ID, err)
		}
		wrapped, err := seal(c.kek, old, dataKeyAD(e.ID))
		if err != nil {
			return nil, err
		}
		c.hdr.DataKeys[i].Wrapped = wrapped
	}
	return c, nil
}

// headerPath returns the header file of the store in dir.
func headerPath(dir string) string { return filepath.Join(dir, "secrets.header") }

// readHeader reads the header. It returns ok false when the store does not exist.
func readHeader(path string) (hdr header, ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return header{}, false, nil
	}
	if err != nil {
		return header{}, false, fmt.Errorf("read store header %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &hdr); err != nil {
		return header{}, false, fmt.Errorf("read store header %s: %w: %v", path, ErrCorrupt, err)
	}
	return hdr, true, nil
}

// writeHeader replaces the header atomically: a crash leaves either the old
// or the new file.
func writeHeader(path string, hdr header) error {
	data, err := json.MarshalIndent(hdr, "", "  ")
	if err != nil {
		return fmt.Errorf("encode store header: %w", err)
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic writes data to a temporary file with mode 0600 beside
// path, syncs it and renames it over path.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	cleanup := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		return cleanup(err)
	}
	if _, err := f.Write(data); err != nil {
		return cleanup(err)
	}
	if err := f.Sync(); err != nil {
		return cleanup(err)
	}
	if err := f.Close(); err != nil {
		return cleanup(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}
