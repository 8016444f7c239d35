package triggers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/execvault/execvault/runtime/statedb"
)

// runStorePrefix starts every key that BadgerRunStore writes.
const runStorePrefix = "sched/"

// BadgerRunStore is a RunStore on a Badger database that the caller opens
// and closes. It writes only keys "sched/<name>", each holding an RFC 3339
// time with nanoseconds. It is safe for concurrent use.
type BadgerRunStore struct {
	db     *badger.DB
	syncer *statedb.Syncer
}

// NewBadgerRunStore returns a RunStore on db, normally opened with
// statedb.Open. SetLastRun returns once the time is on disk.
func NewBadgerRunStore(db *badger.DB) *BadgerRunStore {
	return &BadgerRunStore{db: db, syncer: statedb.NewSyncer(db)}
}

// LastRun returns the time stored for name, and false when none is stored.
// A stored value that does not parse is an error naming the key.
func (s *BadgerRunStore) LastRun(ctx context.Context, name string) (time.Time, bool, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, false, err
	}
	var value []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(runStorePrefix + name))
		if err != nil {
			return err
		}
		value, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read last run of schedule %q: %w", name, err)
	}

	t, err := time.Parse(time.RFC3339Nano, string(value))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read last run of schedule %q: invalid value %q under key %s%s, expected an RFC 3339 time: delete the key", name, runStorePrefix, name, value)
	}
	return t, true, nil
}

// SetLastRun stores t for name.
func (s *BadgerRunStore) SetLastRun(ctx context.Context, name string, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	value := t.UTC().Format(time.RFC3339Nano)
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte(runStorePrefix+name), []byte(value))
	})
	if err == nil {
		err = s.syncer.Sync(ctx)
	}
	if err != nil {
		return fmt.Errorf("store last run of schedule %q: %w", name, err)
	}
	return nil
}
