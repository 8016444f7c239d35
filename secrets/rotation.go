package secrets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Waits before re-encryption resumes after a failed batch: the first one,
// doubled after each further failure up to the maximum.
const (
	rotationRetryDelay    = time.Second
	maxRotationRetryDelay = time.Minute
)

// DataKeyInfo describes one data key (DEK).
type DataKeyInfo struct {
	ID        uint32    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	// Active is true for the key that encrypts new values.
	Active bool `json:"active"`
	// Values is the number of stored versions the key encrypts.
	Values int `json:"values"`
}

// KeyStatus describes the store's keys.
type KeyStatus struct {
	DataKeys []DataKeyInfo `json:"dataKeys"`
	// Rotating is true while values are being re-encrypted with the
	// active data key.
	Rotating bool `json:"rotating"`
	// Passphrase is true when the master key is derived from a passphrase.
	Passphrase bool `json:"passphrase"`
}

// RotateDataKey creates a new data key for new writes and starts
// re-encrypting every stored version with it in the background, in
// transactions of Config.RotationBatchSize values. Every value stays
// readable throughout. The re-encryption resumes at the next Open after a
// crash. KeyStatus reports the progress.
func (s *Store) RotateDataKey(ctx context.Context) (DataKeyInfo, error) {
	if err := s.begin(); err != nil {
		return DataKeyInfo{}, err
	}
	defer s.ops.Done()
	if err := ctx.Err(); err != nil {
		return DataKeyInfo{}, err
	}

	s.keyMu.Lock()
	next, err := s.ring.Load().withNewDataKey(s.now())
	if err == nil {
		next.hdr.Rotating = true
		err = writeHeader(s.hdrPath, next.hdr)
	}
	if err != nil {
		s.keyMu.Unlock()
		err = fmt.Errorf("rotate data key: %w", err)
		s.audit(AuditEntry{Actor: ActorFrom(ctx), Action: ActionRotate, Outcome: OutcomeError, Detail: err.Error()})
		return DataKeyInfo{}, err
	}
	s.ring.Store(next)
	s.keyMu.Unlock()

	s.cache.purge()
	id := next.activeID()
	s.audit(AuditEntry{Actor: ActorFrom(ctx), Action: ActionRotate, Outcome: OutcomeOK, Detail: fmt.Sprintf("data key %d active", id)})
	s.log.Info("data key rotated", "data_key", id)
	s.kickRotation()
	return DataKeyInfo{ID: id, CreatedAt: next.created[id], Active: true}, nil
}

func (s *Store) kickRotation() {
	select {
	case s.rotateNow <- struct{}{}:
	default:
	}
}

func (s *Store) rotationWorker() {
	defer s.workers.Done()
	delay := rotationRetryDelay
	for {
		select {
		case <-s.stop:
			return
		case <-s.rotateNow:
		}
		finished, err := s.reencryptAll()
		if err != nil {
			s.log.Warn("re-encryption failed, retrying", "error", err, "retry_in", delay)
			select {
			case <-s.stop:
				return
			case <-time.After(delay):
				s.kickRotation()
			}
			delay = min(2*delay, maxRotationRetryDelay)
			continue
		}
		delay = rotationRetryDelay
		if finished {
			s.finishRotation()
			select {
			case s.rotationDone <- struct{}{}:
			default:
			}
		}
	}
}

// reencryptAll rewrites every version that is not under the active data
// key. It returns false when Close interrupted it.
func (s *Store) reencryptAll() (bool, error) {
	var moved int
	for {
		var cursor []byte
		passMoved := 0
		for {
			select {
			case <-s.stop:
				return false, nil
			default:
			}
			n, next, err := s.reencryptBatch(cursor)
			if err != nil {
				return false, err
			}
			passMoved += n
			if next == nil {
				break
			}
			cursor = next
		}
		moved += passMoved
		// Writers that sealed with the previous key just before the switch
		// may commit after the scan passed them, so scan until a pass
		// finds nothing to move.
		if passMoved == 0 {
			s.log.Info("re-encryption finished", "values", moved)
			return true, nil
		}
	}
}

// reencryptBatch moves up to RotationBatchSize values at or after cursor
// to the active data key in one transaction: the current versions in the
// secret records, then the older versions. It returns the key to resume
// from, or nil at the end.
func (s *Store) reencryptBatch(cursor []byte) (int, []byte, error) {
	s.keyMu.RLock()
	defer s.keyMu.RUnlock()
	ring := s.ring.Load()

	var moved int
	var next []byte
	err := s.update(context.Background(), func(txn *badger.Txn) error {
		moved, next = 0, nil
		// Secret keys ('s') sort before version keys ('x'), and only vault
		// keys ('v') lie between them.
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: s.cfg.RotationBatchSize})
		defer it.Close()
		start := cursor
		if start == nil {
			start = []byte{prefixSecret}
		}
		examined := 0
		for it.Seek(start); it.Valid(); it.Next() {
			key := it.Item().Key()
			if key[0] > prefixVersion {
				return nil
			}
			if key[0] != prefixSecret && key[0] != prefixVersion {
				continue
			}
			if examined == s.cfg.RotationBatchSize {
				next = it.Item().KeyCopy(nil)
				return nil
			}
			examined++
			changed, err := reencryptItem(txn, ring, it.Item())
			if err != nil {
				return err
			}
			if changed {
				moved++
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return moved, next, nil
}

// reencryptItem seals the value of a secret or version record again with
// the active data key when it uses another one.
func reencryptItem(txn *badger.Txn, ring *keyring, item *badger.Item) (bool, error) {
	key := item.KeyCopy(nil)
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return false, err
	}

	if key[0] == prefixSecret {
		vault, name, err := decodeSecretKey(key)
		if err != nil {
			return false, err
		}
		rec, err := decodeSecretRecord(raw)
		if err != nil {
			return false, fmt.Errorf("re-encrypt secret %q in vault %q: %w", name, vault, err)
		}
		fresh, changed, err := resealRecord(ring, vault, name, rec.Current, rec.Head)
		if err != nil || !changed {
			return false, err
		}
		rec.Head = fresh
		return true, txn.Set(key, rec.encode())
	}

	vault, name, version, err := decodeVersionKey(key)
	if err != nil {
		return false, err
	}
	rec, err := decodeVersionRecord(raw)
	if err != nil {
		return false, fmt.Errorf("re-encrypt secret %q in vault %q version %d: %w", name, vault, version, err)
	}
	fresh, changed, err := resealRecord(ring, vault, name, version, rec)
	if err != nil || !changed {
		return false, err
	}
	return true, txn.Set(key, fresh.encode())
}

// resealRecord returns rec sealed with the active data key, keeping its
// creation time, and false when it already uses that key.
func resealRecord(ring *keyring, vault, name string, version uint64, rec versionRecord) (versionRecord, bool, error) {
	if rec.DataKey == ring.activeID() {
		return rec, false, nil
	}
	value, err := openVersion(ring, vault, name, version, rec)
	if err != nil {
		return versionRecord{}, false, fmt.Errorf("re-encrypt secret %q in vault %q version %d: %w", name, vault, version, err)
	}
	fresh, err := sealVersion(ring, vault, name, version, value, rec.Created)
	if err != nil {
		return versionRecord{}, false, err
	}
	return fresh, true, nil
}

// finishRotation clears the rotating flag once no value needs moving.
func (s *Store) finishRotation() {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	ring := s.ring.Load()
	if !ring.hdr.Rotating {
		return
	}
	counts, err := s.countValues()
	if err != nil {
		s.log.Warn("re-encryption check failed", "error", err)
		return
	}
	for id, n := range counts {
		if id != ring.activeID() && n > 0 {
			s.kickRotation()
			return
		}
	}
	next := ring.clone()
	next.hdr.Rotating = false
	if err := writeHeader(s.hdrPath, next.hdr); err != nil {
		s.log.Warn("re-encryption state not saved", "error", err)
		return
	}
	s.ring.Store(next)
}

// countValues returns how many stored versions each data key encrypts,
// counting the current versions in the secret records and the older ones
// under version keys.
func (s *Store) countValues() (map[uint32]int, error) {
	counts := map[uint32]int{}
	err := s.db.View(func(txn *badger.Txn) error {
		for _, prefix := range []byte{prefixSecret, prefixVersion} {
			it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: []byte{prefix}})
			for it.Rewind(); it.Valid(); it.Next() {
				err := it.Item().Value(func(v []byte) error {
					var rec versionRecord
					var err error
					if prefix == prefixSecret {
						var sec secretRecord
						sec, err = decodeSecretRecord(v)
						rec = sec.Head
					} else {
						rec, err = decodeVersionRecord(v)
					}
					if err != nil {
						return err
					}
					counts[rec.DataKey]++
					return nil
				})
				if err != nil {
					it.Close()
					return fmt.Errorf("count values: %w", err)
				}
			}
			it.Close()
		}
		return nil
	})
	return counts, err
}

// KeyStatus lists the data keys with the number of values each encrypts.
func (s *Store) KeyStatus(ctx context.Context) (KeyStatus, error) {
	if err := s.begin(); err != nil {
		return KeyStatus{}, err
	}
	defer s.ops.Done()
	if err := ctx.Err(); err != nil {
		return KeyStatus{}, err
	}

	ring := s.ring.Load()
	counts, err := s.countValues()
	if err != nil {
		return KeyStatus{}, fmt.Errorf("key status: %w", err)
	}
	status := KeyStatus{Rotating: ring.hdr.Rotating, Passphrase: ring.master.IsPassphrase(), DataKeys: []DataKeyInfo{}}
	for _, e := range ring.hdr.DataKeys {
		status.DataKeys = append(status.DataKeys, DataKeyInfo{ID: e.ID, CreatedAt: e.Created, Active: e.ID == ring.activeID(), Values: counts[e.ID]})
	}
	return status, nil
}

// RetireDataKey removes a data key that no stored version uses. Errors are
// *DataKeyError wrapping ErrDataKeyNotFound, or ErrDataKeyInUse for the
// active key or a key that still encrypts values.
func (s *Store) RetireDataKey(ctx context.Context, id uint32) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.ops.Done()

	err := s.retireDataKey(id)
	outcome := outcomeOf(err)
	if errors.Is(err, ErrDataKeyInUse) {
		outcome = OutcomeDenied
	}
	s.audit(AuditEntry{Actor: ActorFrom(ctx), Action: ActionRetire, Outcome: outcome, Detail: fmt.Sprintf("data key %d", id)})
	if err == nil {
		s.log.Info("data key retired", "data_key", id)
	}
	return err
}

func (s *Store) retireDataKey(id uint32) error {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	ring := s.ring.Load()
	if _, ok := ring.dataKeys[id]; !ok {
		return &DataKeyError{Op: "retire data key", ID: id, Err: ErrDataKeyNotFound}
	}
	counts, err := s.countValues()
	if err != nil {
		return fmt.Errorf("retire data key %d: %w", id, err)
	}
	if id == ring.activeID() {
		return &DataKeyError{Op: "retire data key", ID: id, Active: true, Values: counts[id], Err: ErrDataKeyInUse}
	}
	if counts[id] > 0 {
		return &DataKeyError{Op: "retire data key", ID: id, Values: counts[id], Err: ErrDataKeyInUse}
	}
	next := ring.withoutDataKey(id)
	if err := writeHeader(s.hdrPath, next.hdr); err != nil {
		return fmt.Errorf("retire data key %d: %w", id, err)
	}
	s.ring.Store(next)
	return nil
}

// RewrapKEK changes the master key: the data keys and the storage key are
// re-wrapped under next and the header is replaced atomically, so no value
// is rewritten and a crash leaves either key working. A passphrase gets a
// new salt and Config.KDF parameters. Open the store with next from then on.
func (s *Store) RewrapKEK(ctx context.Context, next MasterKey) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.ops.Done()
	if next.IsZero() {
		return fmt.Errorf("change master key: %w: the new key is empty", ErrNoMasterKey)
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	s.keyMu.Lock()
	if s.ring.Load().master.equal(next) {
		s.keyMu.Unlock()
		err := fmt.Errorf("change master key: %w: the new key is the current one, so nothing would change; use a newly generated key", ErrInvalidKey)
		s.audit(AuditEntry{Actor: ActorFrom(ctx), Action: ActionRewrap, Outcome: OutcomeError, Detail: err.Error()})
		return err
	}
	ring, err := s.ring.Load().rewrapped(next, s.cfg.KDF)
	if err == nil {
		err = writeHeader(s.hdrPath, ring.hdr)
	}
	if err != nil {
		s.keyMu.Unlock()
		err = fmt.Errorf("change master key: %w", err)
		s.audit(AuditEntry{Actor: ActorFrom(ctx), Action: ActionRewrap, Outcome: OutcomeError, Detail: err.Error()})
		return err
	}
	s.ring.Store(ring)
	s.keyMu.Unlock()

	s.cache.purge()
	s.audit(AuditEntry{Actor: ActorFrom(ctx), Action: ActionRewrap, Outcome: OutcomeOK, Detail: count(len(ring.hdr.DataKeys), "data key") + " re-wrapped"})
	s.log.Info("master key changed", "passphrase", next.IsPassphrase())
	return nil
}
