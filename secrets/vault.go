package secrets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// VaultInfo describes a vault. UpdatedAt changes when a secret is added to
// or removed from the vault.
type VaultInfo struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// getVault reads a vault record in txn. A missing vault is ErrVaultNotFound.
func getVault(txn *badger.Txn, vault string) (vaultRecord, error) {
	item, err := txn.Get(vaultKey(vault))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return vaultRecord{}, ErrVaultNotFound
	}
	if err != nil {
		return vaultRecord{}, err
	}
	var rec vaultRecord
	err = item.Value(func(v []byte) error {
		rec, err = decodeVaultRecord(v)
		return err
	})
	return rec, err
}

// CreateVault creates an empty vault. Errors are *VaultError wrapping
// ErrVaultExists, or *NameError, and ErrClosed after Close.
func (s *Store) CreateVault(ctx context.Context, name string) (VaultInfo, error) {
	if err := s.begin(); err != nil {
		return VaultInfo{}, err
	}
	defer s.ops.Done()
	if err := ValidateVaultName(name); err != nil {
		return VaultInfo{}, err
	}

	now := s.now()
	rec := vaultRecord{Created: now, Updated: now}
	err := s.update(ctx, func(txn *badger.Txn) error {
		if _, err := getVault(txn, name); err == nil {
			return ErrVaultExists
		} else if !errors.Is(err, ErrVaultNotFound) {
			return err
		}
		if err := txn.Set(vaultKey(name), rec.encode()); err != nil {
			return err
		}
		return s.appendAudit(txn, AuditEntry{Actor: ActorFrom(ctx), Action: ActionCreate, Vault: name, Outcome: OutcomeOK})
	})
	if err != nil {
		s.auditFailure(ctx, ActionCreate, name, "", err)
		return VaultInfo{}, &VaultError{Op: "create vault", Vault: name, Err: err}
	}
	s.log.Debug("vault created", "vault", name)
	return VaultInfo{Name: name, CreatedAt: now, UpdatedAt: now}, nil
}

// DeleteVault deletes a vault with all its secrets and their versions in
// one transaction. Errors are *VaultError wrapping ErrVaultNotFound, or
// *NameError.
//
// NOTE: one Badger v4.9 transaction holds about 26 000 entries with the
// store's 16 MiB memtable, so a vault with more secrets and older versions
// than that fails to delete with badger.ErrTxnTooBig. Delete some secrets
// first.
func (s *Store) DeleteVault(ctx context.Context, name string) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.ops.Done()
	if err := ValidateVaultName(name); err != nil {
		return err
	}

	var removed int
	err := s.update(ctx, func(txn *badger.Txn) error {
		removed = 0
		if _, err := getVault(txn, name); err != nil {
			return err
		}
		keys := collectKeys(txn, secretPrefix(name))
		keys = append(keys, collectKeys(txn, versionVaultPrefix(name))...)
		for _, k := range keys {
			if k[0] == prefixSecret {
				removed++
			}
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		if err := txn.Delete(vaultKey(name)); err != nil {
			return err
		}
		return s.appendAudit(txn, AuditEntry{Actor: ActorFrom(ctx), Action: ActionDelete, Vault: name, Outcome: OutcomeOK,
			Detail: fmt.Sprintf("%d secrets deleted", removed)})
	})
	if errors.Is(err, badger.ErrTxnTooBig) {
		err = fmt.Errorf("%w: it contains more secrets and versions than one transaction allows; delete some secrets first", err)
	}
	if err != nil {
		s.auditFailure(ctx, ActionDelete, name, "", err)
		return &VaultError{Op: "delete vault", Vault: name, Err: err}
	}
	s.cache.invalidateVault(name)
	s.log.Debug("vault deleted", "vault", name, "secrets", removed)
	return nil
}

// collectKeys returns copies of the keys under prefix.
func collectKeys(txn *badger.Txn, prefix []byte) [][]byte {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var keys [][]byte
	for it.Rewind(); it.Valid(); it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	return keys
}

// ListVaults returns every vault sorted by name.
func (s *Store) ListVaults(ctx context.Context) ([]VaultInfo, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.ops.Done()

	vaults := []VaultInfo{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: []byte{prefixVault}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			name, err := decodeVaultKey(it.Item().Key())
			if err != nil {
				return err
			}
			var rec vaultRecord
			err = it.Item().Value(func(v []byte) error {
				rec, err = decodeVaultRecord(v)
				return err
			})
			if err != nil {
				return fmt.Errorf("read vault %q: %w", name, err)
			}
			vaults = append(vaults, VaultInfo{Name: name, CreatedAt: rec.Created, UpdatedAt: rec.Updated})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list vaults: %w", err)
	}
	sortVaults(vaults)
	return vaults, nil
}
