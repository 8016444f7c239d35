package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// readStored reads job id from the database, bypassing the store's copy.
func readStored(t *testing.T, s *store, id string) Job {
	t.Helper()
	var j Job
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		j, _, err = getJob(txn, id)
		return err
	})
	if err != nil {
		t.Fatalf("read job %q from the database: %v", id, err)
	}
	return j
}

// openTestStore opens a job store on db and closes it at the end of the
// test, before db.
func openTestStore(t *testing.T, db *badger.DB) *store {
	t.Helper()
	s, err := openStore(db, nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// TestStoreCacheMatchesDatabase takes jobs through their statuses with a
// cache too small for all of them. After every step, what the store
// returns must equal what the database contains, and the cache must keep
// only unfinished jobs, within its bounds.
func TestStoreCacheMatchesDatabase(t *testing.T) {
	s := openTestStore(t, openDB(t, ""))
	s.maxJobs = 2
	s.maxBytes = 10

	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	bodies := []string{`{}`, `{"a":1}`, `{"large":"body"}`, `[]`}
	var ids []string
	for i, body := range bodies {
		j := Job{ID: fmt.Sprintf("job-%d", i), Executor: "crm-sync", URL: "http://127.0.0.1:1/", Body: []byte(body),
			Policy: DefaultPolicy(), Status: StatusPending, Round: 1, CreatedAt: now, UpdatedAt: now, NextAttemptAt: now}
		if _, created, err := s.insert(j); err != nil || !created {
			t.Fatalf("insert %s = created %v, %v; want created", j.ID, created, err)
		}
		ids = append(ids, j.ID)
	}

	check := func(step string) {
		t.Helper()
		if err := s.checkpoint(); err != nil {
			t.Fatalf("%s: checkpoint: %v", step, err)
		}
		for _, id := range ids {
			got, err := s.get(id)
			if err != nil {
				t.Fatalf("%s: get %s: %v", step, id, err)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(readStored(t, s, id))
			if !bytes.Equal(gotJSON, wantJSON) {
				t.Fatalf("%s: get %s = %s, database holds %s", step, id, gotJSON, wantJSON)
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.cache) > s.maxJobs || s.cacheBytes > s.maxBytes {
			t.Fatalf("%s: cache holds %d jobs and %d bytes, bounds are %d and %d", step, len(s.cache), s.cacheBytes, s.maxJobs, s.maxBytes)
		}
		for id, c := range s.cache {
			if c.job.Status.Finished() {
				t.Fatalf("%s: cache holds %s, which is %s", step, id, c.job.Status)
			}
		}
	}
	check("after insert")

	attempt := Attempt{Round: 1, Number: 1, StatusCode: 500, Error: "HTTP 500", Retryable: true}
	for _, id := range ids {
		if _, err := s.update(id, func(j *Job) error {
			j.Attempts = append(j.Attempts, attempt)
			j.LastError = attempt.Error
			return nil
		}); err != nil {
			t.Fatalf("record attempt of %s: %v", id, err)
		}
	}
	check("after a failed attempt")

	if _, err := s.update(ids[0], func(*Job) error { return errSkipWrite }); err != nil {
		t.Fatalf("skipped update: %v", err)
	}
	check("after a skipped update")

	for i, id := range ids {
		status := StatusSuccess
		if i%2 == 1 {
			status = StatusCanceled
		}
		if _, err := s.update(id, func(j *Job) error { j.Status = status; return nil }); err != nil {
			t.Fatalf("finish %s: %v", id, err)
		}
	}
	check("after finishing")
	if _, err := s.update(ids[1], func(j *Job) error { j.Status = StatusPending; j.Round++; return nil }); err != nil {
		t.Fatalf("retry %s: %v", ids[1], err)
	}
	check("after a retry")

	// A job returned by get is a copy: changing it changes neither the
	// cache nor the next read.
	got, err := s.get(ids[1])
	if err != nil {
		t.Fatal(err)
	}
	got.Body[0] = 'X'
	got.Attempts[0].Error = "changed"
	check("after changing a returned job")

	// Retention deletes the finished jobs, which get then no longer finds,
	// though they were among the recently finished ones kept in memory.
	n, err := s.deleteFinished(now.Add(time.Hour))
	if err != nil || n != len(ids)-1 {
		t.Fatalf("deleteFinished = %d, %v; want %d deleted", n, err, len(ids)-1)
	}
	for _, id := range ids {
		_, err := s.get(id)
		if deleted := id != ids[1]; deleted != errors.Is(err, ErrJobNotFound) {
			t.Errorf("get %s after retention = %v, want ErrJobNotFound: %v", id, err, deleted)
		}
	}
}
