package secrets

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Audit actions.
const (
	ActionCreate   = "create"
	ActionUpdate   = "update"
	ActionDelete   = "delete"
	ActionRollback = "rollback"
	ActionReveal   = "reveal"
	ActionRead     = "read"
	ActionDenied   = "denied"
	ActionRotate   = "rotate"
	ActionRetire   = "retire"
	ActionRewrap   = "rewrap"
	ActionExport   = "export"
	ActionImport   = "import"
)

// Audit outcomes.
const (
	OutcomeOK              = "ok"
	OutcomeNotFound        = "not_found"
	OutcomeExists          = "exists"
	OutcomeVersionMismatch = "version_mismatch"
	OutcomeDenied          = "denied"
	OutcomeError           = "error"
)

// AuditEntry is one record of the audit log. It never contains a value:
// ValueMAC is a keyed hash (HMAC-SHA256 with a key derived from the storage
// key, first 16 bytes in hex) that is equal for equal values within one
// store, so entries can be compared without revealing the value.
type AuditEntry struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Vault   string    `json:"vault,omitempty"`
	Name    string    `json:"name,omitempty"`
	Version uint64    `json:"version,omitempty"`
	Outcome string    `json:"outcome"`
	// ValueMAC is set for create, update, rollback and reveal.
	ValueMAC string `json:"valueMac,omitempty"`
	// Count is the number of reads an aggregated "read" entry records.
	// Resolve reads that succeed or find no secret are counted in memory
	// and written once per Config.AuditFlushInterval, with Time set to the
	// flush.
	Count  uint64 `json:"count,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// AuditFilter selects audit entries. The zero filter selects every entry.
type AuditFilter struct {
	// Vault, when not empty, keeps entries of that vault.
	Vault string `json:"vault,omitempty"`
	// Limit, when above zero, keeps only the newest Limit entries.
	Limit int `json:"limit,omitempty"`
}

func (s *Store) valueMAC(v Value) string {
	mac := hmac.New(sha256.New, s.auditKey)
	mac.Write([]byte(v.Reveal()))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// appendAudit adds an entry inside txn, so it commits with the operation.
func (s *Store) appendAudit(txn *badger.Txn, e AuditEntry) error {
	seq, err := s.seq.Next()
	if err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	e.Seq = seq
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	return txn.Set(auditKey(seq), data)
}

// audit writes an entry in its own transaction: for failures, whose
// operation transaction did not commit, and for aggregated reads. A failure
// to write is logged, since the caller already has its own result.
func (s *Store) audit(e AuditEntry) {
	err := s.update(context.Background(), func(txn *badger.Txn) error { return s.appendAudit(txn, e) })
	if err != nil {
		s.log.Error("audit entry dropped", "action", e.Action, "vault", e.Vault, "name", e.Name, "error", err)
	}
}

// auditFailure records a failed operation unless the failure happened
// before storage was touched (invalid names and values).
func (s *Store) auditFailure(ctx context.Context, action, vault, name string, err error) {
	if err == nil || errors.Is(err, ErrInvalidName) || errors.Is(err, ErrValueTooLarge) ||
		errors.Is(err, ErrEmptyValue) || errors.Is(err, ErrClosed) || ctx.Err() != nil {
		return
	}
	s.audit(AuditEntry{Actor: ActorFrom(ctx), Action: action, Vault: vault, Name: name, Outcome: outcomeOf(err)})
}

func outcomeOf(err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, ErrVaultNotFound), errors.Is(err, ErrSecretNotFound), errors.Is(err, ErrVersionNotFound), errors.Is(err, ErrDataKeyNotFound):
		return OutcomeNotFound
	case errors.Is(err, ErrVaultExists), errors.Is(err, ErrSecretExists):
		return OutcomeExists
	case errors.Is(err, ErrVersionMismatch):
		return OutcomeVersionMismatch
	case errors.Is(err, ErrAccessDenied):
		return OutcomeDenied
	}
	return OutcomeError
}

// AuditLog returns audit entries oldest first. It never returns values.
// Errors wrap ErrClosed, ErrInvalidName or ErrCorrupt. A filter vault that
// neither exists nor appears in any entry, most likely a misspelt name, is
// a *VaultError wrapping ErrVaultNotFound. A deleted vault keeps its
// entries and is no error.
func (s *Store) AuditLog(ctx context.Context, filter AuditFilter) ([]AuditEntry, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.ops.Done()
	if filter.Vault != "" {
		if err := ValidateVaultName(filter.Vault); err != nil {
			return nil, err
		}
	}
	s.flushReads()

	var entries []AuditEntry
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: []byte{prefixAudit}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var e AuditEntry
			err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) })
			if err != nil {
				return fmt.Errorf("read audit entry: %w: %v", ErrCorrupt, err)
			}
			if filter.Vault != "" && e.Vault != filter.Vault {
				continue
			}
			entries = append(entries, e)
		}
		if filter.Vault == "" || len(entries) > 0 {
			return nil
		}
		_, err := getVault(txn, filter.Vault)
		return err
	})
	if errors.Is(err, ErrVaultNotFound) {
		return nil, &VaultError{Op: "list audit log of vault", Vault: filter.Vault, Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	if filter.Limit > 0 && len(entries) > filter.Limit {
		entries = entries[len(entries)-filter.Limit:]
	}
	return entries, nil
}

// flushReads writes the pending read counts to the audit log in one
// transaction.
func (s *Store) flushReads() {
	counts := s.reads.take()
	if counts == nil {
		return
	}
	keys := slices.SortedFunc(maps.Keys(counts), compareReadKeys)
	now := s.now()
	err := s.update(context.Background(), func(txn *badger.Txn) error {
		for _, k := range keys {
			e := AuditEntry{Time: now, Actor: cleanActor(k.actor), Action: ActionRead, Vault: k.vault, Name: k.name, Version: k.version, Outcome: k.outcome, Count: counts[k]}
			if err := s.appendAudit(txn, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("audit read counts dropped", "entries", len(counts), "error", err)
	}
}

// FlushAudit writes the pending counts of Resolve reads to the audit log
// now instead of at the next Config.AuditFlushInterval.
func (s *Store) FlushAudit() error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.ops.Done()
	s.flushReads()
	return nil
}

func (s *Store) auditFlusher() {
	defer s.workers.Done()
	ticker := time.NewTicker(s.cfg.AuditFlushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-ticker.C:
			s.flushReads()
			s.securePermissions()
		}
	}
}
