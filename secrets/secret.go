package secrets

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
)

// SecretInfo describes a secret without its value. Version is the current
// version, and versions count from 1.
type SecretInfo struct {
	Vault     string    `json:"vault"`
	Name      string    `json:"name"`
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// VersionInfo describes one kept version of a secret.
type VersionInfo struct {
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	// DataKey is the id of the data key that encrypts this version.
	DataKey uint32 `json:"dataKey"`
	Current bool   `json:"current"`
}

// UpdateOptions tunes UpdateSecret.
type UpdateOptions struct {
	// IfVersion, when above zero, makes the update fail with
	// ErrVersionMismatch unless it is the current version.
	IfVersion uint64 `json:"ifVersion,omitempty"`
}

func sortVaults(v []VaultInfo) {
	slices.SortFunc(v, func(a, b VaultInfo) int { return cmp.Compare(a.Name, b.Name) })
}

func (s *Store) checkValue(v Value) error {
	switch {
	case v.Len() == 0:
		return fmt.Errorf("%w; pass a non-empty value", ErrEmptyValue)
	case v.Len() > s.cfg.MaxValueSize:
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrValueTooLarge, v.Len(), s.cfg.MaxValueSize)
	}
	return nil
}

func checkNames(vault, name string) error {
	if err := ValidateVaultName(vault); err != nil {
		return err
	}
	return ValidateName(name)
}

// sealVersion encrypts v as version of (vault, name) with the active data key.
func sealVersion(ring *keyring, vault, name string, version uint64, v Value, now time.Time) (versionRecord, error) {
	id := ring.activeID()
	sealed, err := seal(ring.dataKeys[id], []byte(v.Reveal()), valueAD(vault, name, version, id, now))
	if err != nil {
		return versionRecord{}, err
	}
	return versionRecord{Created: now, DataKey: id, Sealed: sealed}, nil
}

// openVersion decrypts a version record of (vault, name).
func openVersion(ring *keyring, vault, name string, version uint64, rec versionRecord) (Value, error) {
	return openSealed(ring, rec, valueAD(vault, name, version, rec.DataKey, rec.Created))
}

// openSealed decrypts rec with ad, which must be the valueAD of its
// version. It keeps no reference to ad.
func openSealed(ring *keyring, rec versionRecord, ad []byte) (Value, error) {
	aead, ok := ring.dataKeys[rec.DataKey]
	if !ok {
		return Value{}, fmt.Errorf("%w: data key %d is missing", ErrCorrupt, rec.DataKey)
	}
	plain, err := open(aead, rec.Sealed, ad)
	if err != nil {
		return Value{}, err
	}
	if len(plain) == 0 {
		return Value{}, nil
	}
	// plain is a fresh buffer that nothing else references or changes, so
	// the Value can share it instead of copying it on every Resolve.
	return Value{s: unsafe.String(unsafe.SliceData(plain), len(plain))}, nil
}

func getSecret(txn *badger.Txn, vault, name string) (secretRecord, error) {
	item, err := txn.Get(secretKey(vault, name))
	if errors.Is(err, badger.ErrKeyNotFound) {
		if _, verr := getVault(txn, vault); verr != nil {
			return secretRecord{}, verr
		}
		return secretRecord{}, ErrSecretNotFound
	}
	if err != nil {
		return secretRecord{}, err
	}
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return secretRecord{}, err
	}
	return decodeSecretRecord(raw)
}

// getVersion reads an older version from its version key. The current
// version is rec.Head instead.
func getVersion(txn *badger.Txn, vault, name string, version uint64) (versionRecord, error) {
	item, err := txn.Get(versionKey(vault, name, version))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return versionRecord{}, ErrVersionNotFound
	}
	if err != nil {
		return versionRecord{}, err
	}
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return versionRecord{}, err
	}
	return decodeVersionRecord(raw)
}

// touchVault sets a vault's UpdatedAt.
func touchVault(txn *badger.Txn, vault string, now time.Time) error {
	rec, err := getVault(txn, vault)
	if err != nil {
		return err
	}
	rec.Updated = now
	return txn.Set(vaultKey(vault), rec.encode())
}

// CreateSecret stores the first version of a new secret. Errors are
// *SecretError wrapping ErrVaultNotFound or ErrSecretExists, *NameError,
// or errors wrapping ErrEmptyValue and ErrValueTooLarge.
func (s *Store) CreateSecret(ctx context.Context, vault, name string, v Value) (SecretInfo, error) {
	if err := s.begin(); err != nil {
		return SecretInfo{}, err
	}
	defer s.ops.Done()
	if err := checkNames(vault, name); err != nil {
		return SecretInfo{}, err
	}
	if err := s.checkValue(v); err != nil {
		return SecretInfo{}, &SecretError{Op: "create secret", Vault: vault, Name: name, Err: err}
	}

	s.keyMu.RLock()
	defer s.keyMu.RUnlock()
	ring := s.ring.Load()
	now := s.now()
	mac := s.valueMAC(v)
	ver, err := sealVersion(ring, vault, name, 1, v, now)
	if err != nil {
		return SecretInfo{}, err
	}

	err = s.update(ctx, func(txn *badger.Txn) error {
		if _, err := getSecret(txn, vault, name); err == nil {
			return ErrSecretExists
		} else if !errors.Is(err, ErrSecretNotFound) {
			return err
		}
		rec := secretRecord{Created: now, Updated: now, Current: 1, Oldest: 1, Head: ver}
		if err := txn.Set(secretKey(vault, name), rec.encode()); err != nil {
			return err
		}
		if err := touchVault(txn, vault, now); err != nil {
			return err
		}
		return s.appendAudit(txn, AuditEntry{Actor: ActorFrom(ctx), Action: ActionCreate, Vault: vault, Name: name, Version: 1, Outcome: OutcomeOK, ValueMAC: mac})
	})
	if err != nil {
		s.auditFailure(ctx, ActionCreate, vault, name, err)
		return SecretInfo{}, &SecretError{Op: "create secret", Vault: vault, Name: name, Err: err}
	}
	s.cache.invalidate(vault, name)
	s.log.Debug("secret created", "vault", vault, "name", name)
	return SecretInfo{Vault: vault, Name: name, Version: 1, CreatedAt: now, UpdatedAt: now}, nil
}

// UpdateSecret stores v as a new version of an existing secret and prunes
// versions beyond Config.MaxVersions. Errors are *SecretError wrapping
// ErrVaultNotFound, ErrSecretNotFound or ErrVersionMismatch (with
// opts.IfVersion), *NameError, or errors wrapping ErrEmptyValue and
// ErrValueTooLarge.
func (s *Store) UpdateSecret(ctx context.Context, vault, name string, v Value, opts UpdateOptions) (SecretInfo, error) {
	if err := s.begin(); err != nil {
		return SecretInfo{}, err
	}
	defer s.ops.Done()
	if err := checkNames(vault, name); err != nil {
		return SecretInfo{}, err
	}
	if err := s.checkValue(v); err != nil {
		return SecretInfo{}, &SecretError{Op: "update secret", Vault: vault, Name: name, Err: err}
	}
	info, err := s.writeVersion(ctx, ActionUpdate, vault, name, v, opts.IfVersion, "")
	if err != nil {
		return SecretInfo{}, err
	}
	s.log.Debug("secret updated", "vault", vault, "name", name, "version", info.Version)
	return info, nil
}

// writeVersion appends a version to an existing secret in one transaction.
func (s *Store) writeVersion(ctx context.Context, action, vault, name string, v Value, ifVersion uint64, detail string) (SecretInfo, error) {
	s.keyMu.RLock()
	defer s.keyMu.RUnlock()
	ring := s.ring.Load()
	now := s.now()
	mac := s.valueMAC(v)

	var info SecretInfo
	var current uint64
	err := s.update(ctx, func(txn *badger.Txn) error {
		rec, err := getSecret(txn, vault, name)
		if err != nil {
			return err
		}
		current = rec.Current
		if ifVersion != 0 && ifVersion != rec.Current {
			return ErrVersionMismatch
		}
		next := rec.Current + 1
		ver, err := sealVersion(ring, vault, name, next, v, now)
		if err != nil {
			return err
		}
		// The previous head moves to its version key unchanged: its
		// associated data names its own version, not its location.
		if err := txn.Set(versionKey(vault, name, rec.Current), rec.Head.encode()); err != nil {
			return err
		}
		rec.Head = ver
		for next-rec.Oldest+1 > uint64(s.cfg.MaxVersions) {
			if err := txn.Delete(versionKey(vault, name, rec.Oldest)); err != nil {
				return err
			}
			rec.Oldest++
		}
		rec.Current = next
		rec.Updated = now
		if err := txn.Set(secretKey(vault, name), rec.encode()); err != nil {
			return err
		}
		info = SecretInfo{Vault: vault, Name: name, Version: next, CreatedAt: rec.Created, UpdatedAt: now}
		return s.appendAudit(txn, AuditEntry{Actor: ActorFrom(ctx), Action: action, Vault: vault, Name: name, Version: next, Outcome: OutcomeOK, ValueMAC: mac, Detail: detail})
	})
	if err != nil {
		s.auditFailure(ctx, action, vault, name, err)
		se := &SecretError{Op: action + " secret", Vault: vault, Name: name, Err: err}
		if errors.Is(err, ErrVersionMismatch) {
			se.Version, se.Expected = current, ifVersion
		}
		return SecretInfo{}, se
	}
	s.cache.invalidate(vault, name)
	return info, nil
}

// DeleteSecret deletes a secret and all its versions. Errors are
// *SecretError wrapping ErrVaultNotFound or ErrSecretNotFound, or *NameError.
func (s *Store) DeleteSecret(ctx context.Context, vault, name string) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.ops.Done()
	if err := checkNames(vault, name); err != nil {
		return err
	}

	now := s.now()
	err := s.update(ctx, func(txn *badger.Txn) error {
		if _, err := getSecret(txn, vault, name); err != nil {
			return err
		}
		for _, k := range collectKeys(txn, versionPrefix(vault, name)) {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		if err := txn.Delete(secretKey(vault, name)); err != nil {
			return err
		}
		if err := touchVault(txn, vault, now); err != nil {
			return err
		}
		return s.appendAudit(txn, AuditEntry{Actor: ActorFrom(ctx), Action: ActionDelete, Vault: vault, Name: name, Outcome: OutcomeOK})
	})
	if err != nil {
		s.auditFailure(ctx, ActionDelete, vault, name, err)
		return &SecretError{Op: "delete secret", Vault: vault, Name: name, Err: err}
	}
	s.cache.invalidate(vault, name)
	s.log.Debug("secret deleted", "vault", vault, "name", name)
	return nil
}

// ListSecrets returns the secrets of a vault sorted by name, without values.
// Errors are *VaultError wrapping ErrVaultNotFound, or *NameError.
func (s *Store) ListSecrets(ctx context.Context, vault string) ([]SecretInfo, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.ops.Done()
	if err := ValidateVaultName(vault); err != nil {
		return nil, err
	}

	list := []SecretInfo{}
	err := s.db.View(func(txn *badger.Txn) error {
		if _, err := getVault(txn, vault); err != nil {
			return err
		}
		prefix := secretPrefix(vault)
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			_, name, err := decodeSecretKey(it.Item().Key())
			if err != nil {
				return err
			}
			var rec secretRecord
			err = it.Item().Value(func(v []byte) error {
				rec, err = decodeSecretRecord(v)
				return err
			})
			if err != nil {
				return fmt.Errorf("read secret %q: %w", name, err)
			}
			list = append(list, SecretInfo{Vault: vault, Name: name, Version: rec.Current, CreatedAt: rec.Created, UpdatedAt: rec.Updated})
		}
		return nil
	})
	if err != nil {
		return nil, &VaultError{Op: "list secrets of vault", Vault: vault, Err: err}
	}
	slices.SortFunc(list, func(a, b SecretInfo) int { return cmp.Compare(a.Name, b.Name) })
	return list, nil
}

// GetSecret returns a secret's metadata without its value. Errors are
// *SecretError wrapping ErrVaultNotFound or ErrSecretNotFound, or *NameError.
func (s *Store) GetSecret(ctx context.Context, vault, name string) (SecretInfo, error) {
	if err := s.begin(); err != nil {
		return SecretInfo{}, err
	}
	defer s.ops.Done()
	if err := checkNames(vault, name); err != nil {
		return SecretInfo{}, err
	}

	var rec secretRecord
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		rec, err = getSecret(txn, vault, name)
		return err
	})
	if err != nil {
		return SecretInfo{}, &SecretError{Op: "get secret", Vault: vault, Name: name, Err: err}
	}
	return SecretInfo{Vault: vault, Name: name, Version: rec.Current, CreatedAt: rec.Created, UpdatedAt: rec.Updated}, nil
}

// readBuffer is scratch space for the Badger key and the associated data
// of one readValue. Neither is secret, and neither outlives the read
// transaction: Badger (v4.9) keeps a Get key only in the Item, and the
// AEAD reads the associated data only during Open.
type readBuffer struct {
	key []byte
	ad  []byte
}

// readBuffers contains *readBuffer values sized for the longest names, so
// that a read builds its key and associated data without allocating.
var readBuffers = sync.Pool{New: func() any {
	return &readBuffer{
		key: make([]byte, 0, 3+2*MaxNameLength+8),
		ad:  make([]byte, 0, len(adValue)+2+2*MaxNameLength+20),
	}
}}

// readValue decrypts one version (0 for the current one) in a read
// transaction and returns the secret's metadata with it.
func (s *Store) readValue(vault, name string, version uint64) (SecretInfo, uint64, Value, error) {
	// The keyring is loaded before the transaction starts, so every data
	// key a record in the transaction's snapshot can name is in it. A
	// pooled transaction keeps that promise for the keyring it started
	// with, and get checks that it is this one.
	ring := s.ring.Load()
	pooled := s.readTxns.get(ring)
	defer s.readTxns.put(pooled)
	buf := readBuffers.Get().(*readBuffer)
	defer readBuffers.Put(buf)

	r := valueRead{txn: pooled.txn, ring: ring, buf: buf, vault: vault, name: name, version: version}
	err := r.run()
	return r.info, r.version, r.value, err
}

// valueRead is one readValue inside a transaction. run sets version to
// the version read, and info and value to its results.
type valueRead struct {
	txn         *badger.Txn
	ring        *keyring
	buf         *readBuffer
	vault, name string
	version     uint64

	info  SecretInfo
	value Value
}

func (r *valueRead) run() error {
	item, err := r.txn.Get(appendSecretKey(r.buf.key[:0], r.vault, r.name))
	if errors.Is(err, badger.ErrKeyNotFound) {
		if _, verr := getVault(r.txn, r.vault); verr != nil {
			return verr
		}
		return ErrSecretNotFound
	}
	if err != nil {
		return err
	}

	// The current version is decrypted inside Value, straight from the
	// buffer Badger copied the record into, so this code allocates only
	// the plaintext.
	var current bool
	err = item.Value(func(raw []byte) error {
		rec, err := decodeSecretRecord(raw)
		if err != nil {
			return err
		}
		r.info = SecretInfo{Vault: r.vault, Name: r.name, Version: rec.Current, CreatedAt: rec.Created, UpdatedAt: rec.Updated}
		if r.version == 0 {
			r.version = rec.Current
		}
		if r.version != rec.Current {
			return nil
		}
		current = true
		return r.open(rec.Head)
	})
	if err != nil || current {
		return err
	}

	item, err = r.txn.Get(versionKey(r.vault, r.name, r.version))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrVersionNotFound
	}
	if err != nil {
		return err
	}
	return item.Value(func(raw []byte) error {
		ver, err := decodeVersionRecord(raw)
		if err != nil {
			return err
		}
		return r.open(ver)
	})
}

// open decrypts rec, a record of version r.version, into r.value.
func (r *valueRead) open(rec versionRecord) error {
	ad := appendValueAD(r.buf.ad[:0], r.vault, r.name, r.version, rec.DataKey, rec.Created)
	value, err := openSealed(r.ring, rec, ad)
	r.value = value
	return err
}

// RevealSecret decrypts a version of a secret, 0 meaning the current one,
// and audits the read as "reveal". Errors are *SecretError wrapping
// ErrVaultNotFound, ErrSecretNotFound, ErrVersionNotFound or ErrCorrupt,
// or *NameError.
func (s *Store) RevealSecret(ctx context.Context, vault, name string, version uint64) (SecretInfo, Value, error) {
	if err := s.begin(); err != nil {
		return SecretInfo{}, Value{}, err
	}
	defer s.ops.Done()
	if err := checkNames(vault, name); err != nil {
		return SecretInfo{}, Value{}, err
	}

	info, version, value, err := s.readValue(vault, name, version)
	if err != nil {
		s.auditFailure(ctx, ActionReveal, vault, name, err)
		return SecretInfo{}, Value{}, &SecretError{Op: "reveal secret", Vault: vault, Name: name, Version: version, Err: err}
	}
	s.audit(AuditEntry{Actor: ActorFrom(ctx), Action: ActionReveal, Vault: vault, Name: name, Version: version, Outcome: OutcomeOK, ValueMAC: s.valueMAC(value)})
	return info, value, nil
}

// ListVersions returns the kept versions of a secret, oldest first.
// Errors are *SecretError wrapping ErrVaultNotFound or ErrSecretNotFound,
// or *NameError.
func (s *Store) ListVersions(ctx context.Context, vault, name string) ([]VersionInfo, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.ops.Done()
	if err := checkNames(vault, name); err != nil {
		return nil, err
	}

	var versions []VersionInfo
	err := s.db.View(func(txn *badger.Txn) error {
		rec, err := getSecret(txn, vault, name)
		if err != nil {
			return err
		}
		prefix := versionPrefix(vault, name)
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			_, _, version, err := decodeVersionKey(it.Item().Key())
			if err != nil {
				return err
			}
			var ver versionRecord
			err = it.Item().Value(func(v []byte) error {
				ver, err = decodeVersionRecord(v)
				return err
			})
			if err != nil {
				return fmt.Errorf("read version %d: %w", version, err)
			}
			versions = append(versions, VersionInfo{Version: version, CreatedAt: ver.Created, DataKey: ver.DataKey})
		}
		versions = append(versions, VersionInfo{Version: rec.Current, CreatedAt: rec.Head.Created, DataKey: rec.Head.DataKey, Current: true})
		return nil
	})
	if err != nil {
		return nil, &SecretError{Op: "list versions of secret", Vault: vault, Name: name, Err: err}
	}
	return versions, nil
}

// Rollback stores the value of version `to` as a new current version, so
// history is never rewritten. Errors are *SecretError wrapping
// ErrVaultNotFound, ErrSecretNotFound or ErrVersionNotFound, or *NameError.
func (s *Store) Rollback(ctx context.Context, vault, name string, to uint64) (SecretInfo, error) {
	if err := s.begin(); err != nil {
		return SecretInfo{}, err
	}
	defer s.ops.Done()
	if err := checkNames(vault, name); err != nil {
		return SecretInfo{}, err
	}
	if to == 0 {
		return SecretInfo{}, &SecretError{Op: "rollback secret", Vault: vault, Name: name, Err: fmt.Errorf("%w: versions count from 1", ErrVersionNotFound)}
	}

	_, _, value, err := s.readValue(vault, name, to)
	if err != nil {
		s.auditFailure(ctx, ActionRollback, vault, name, err)
		return SecretInfo{}, &SecretError{Op: "rollback secret", Vault: vault, Name: name, Version: to, Err: err}
	}
	info, err := s.writeVersion(ctx, ActionRollback, vault, name, value, 0, fmt.Sprintf("from version %d", to))
	if err != nil {
		return SecretInfo{}, err
	}
	s.log.Debug("secret rolled back", "vault", vault, "name", name, "from_version", to, "version", info.Version)
	return info, nil
}
