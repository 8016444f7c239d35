package triggers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/execvault/execvault/runtime/statedb"
)

// runStorePrefix starts every key that BadgerRunStore writes.
const runStorePrefix = "sched/"

// BadgerRunStore is a RunStore on a Badger database that the caller opens
// and closes. It writes only keys "sched/<name>", each holding a JSON
// object {"time": RFC 3339 time with nanoseconds, "spec": the schedule's
// String}. It also reads the bare RFC 3339 time that earlier versions
// stored, as a record without a spec. It is safe for concurrent use.
type BadgerRunStore struct {
	db     *badger.DB
	syncer *statedb.Syncer
}

// storedRun is the JSON form of a RunRecord under a "sched/" key.
type storedRun struct {
	Time time.Time `json:"time"`
	Spec string    `json:"spec"`
}

// NewBadgerRunStore returns a RunStore on db, normally opened with
// statedb.Open. SetLastRun returns once the record is on disk.
func NewBadgerRunStore(db *badger.DB) *BadgerRunStore {
	return &BadgerRunStore{db: db, syncer: statedb.NewSyncer(db)}
}

// LastRun returns the record stored for name, and false when none is
// stored. A stored value that does not decode is an error naming the key.
func (s *BadgerRunStore) LastRun(ctx context.Context, name string) (RunRecord, bool, error) {
	if err := ctx.Err(); err != nil {
		return RunRecord{}, false, err
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
		return RunRecord{}, false, nil
	}
	if err != nil {
		return RunRecord{}, false, fmt.Errorf("read last run of schedule %q: %w", name, err)
	}

	run, err := decodeRun(value)
	if err != nil {
		return RunRecord{}, false, fmt.Errorf("read last run of schedule %q: invalid value %q under key %s%s: %v: delete the key", name, value, runStorePrefix, name, err)
	}
	return run, true, nil
}

// decodeRun decodes a stored value: a JSON object, or a bare RFC 3339 time
// from a version that did not store the spec.
func decodeRun(value []byte) (RunRecord, error) {
	if !bytes.HasPrefix(value, []byte("{")) {
		t, err := time.Parse(time.RFC3339Nano, string(value))
		if err != nil {
			return RunRecord{}, errors.New("expected a JSON object or an RFC 3339 time")
		}
		return RunRecord{Time: t}, nil
	}
	var stored storedRun
	if err := json.Unmarshal(value, &stored); err != nil {
		return RunRecord{}, fmt.Errorf("expected a JSON object with \"time\" and \"spec\": %w", err)
	}
	if stored.Time.IsZero() {
		return RunRecord{}, errors.New("expected a JSON object with \"time\" and \"spec\": \"time\" is missing")
	}
	return RunRecord(stored), nil
}

// SetLastRun stores run for name.
func (s *BadgerRunStore) SetLastRun(ctx context.Context, name string, run RunRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	value, err := json.Marshal(storedRun{Time: run.Time.UTC(), Spec: run.Spec})
	if err != nil {
		return fmt.Errorf("store last run of schedule %q: %w", name, err)
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte(runStorePrefix+name), value)
	})
	if err == nil {
		err = s.syncer.Sync(ctx)
	}
	if err != nil {
		return fmt.Errorf("store last run of schedule %q: %w", name, err)
	}
	return nil
}
