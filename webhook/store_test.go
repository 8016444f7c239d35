package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	s, err := openStore(db, nil, nil)
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
		if _, created, err := s.insert(context.Background(), j); err != nil || !created {
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
		if _, err := s.update(context.Background(), id, func(j *Job) error {
			j.Attempts = append(j.Attempts, attempt)
			j.LastError = attempt.Error
			return nil
		}); err != nil {
			t.Fatalf("record attempt of %s: %v", id, err)
		}
	}
	check("after a failed attempt")

	if _, err := s.update(context.Background(), ids[0], func(*Job) error { return errSkipWrite }); err != nil {
		t.Fatalf("skipped update: %v", err)
	}
	check("after a skipped update")

	for i, id := range ids {
		status := StatusSuccess
		if i%2 == 1 {
			status = StatusCanceled
		}
		if _, err := s.update(context.Background(), id, func(j *Job) error { j.Status = status; return nil }); err != nil {
			t.Fatalf("finish %s: %v", id, err)
		}
	}
	check("after finishing")
	if _, err := s.update(context.Background(), ids[1], func(j *Job) error { j.Status = StatusPending; j.Round++; return nil }); err != nil {
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

// abandon stops s the way a killed process would: the journal's records
// are written, but no checkpoint moves them to the database.
func abandon(t *testing.T, s *store) {
	t.Helper()
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.stopped
		if err := s.journal.Close(); err != nil {
			t.Fatalf("close journal: %v", err)
		}
	})
}

func testJob(id string, now time.Time) Job {
	return Job{ID: id, Executor: "crm-sync", URL: "http://127.0.0.1:1/", Body: []byte(`{"id":"` + id + `"}`),
		Policy: DefaultPolicy(), Status: StatusPending, Round: 1, CreatedAt: now, UpdatedAt: now, NextAttemptAt: now}
}

// TestStoreReplaysJournal changes jobs without a checkpoint, abandons the
// store, and opens it again: every change must be back, in the database
// too, and the old journal segments gone.
func TestStoreReplaysJournal(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	s := openTestStore(t, db)
	s.checkpointJobs = 1 << 30
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, id := range []string{"job-pending", "job-done", "job-retried"} {
		if _, _, err := s.insert(context.Background(), testJob(id, now)); err != nil {
			t.Fatalf("insert %s: %v", id, err)
		}
	}
	finish := func(j *Job) error {
		j.Attempts = append(j.Attempts, Attempt{Round: j.Round, Number: 1, StatusCode: 204, Retryable: true})
		j.Status = StatusSuccess
		j.UpdatedAt = now.Add(time.Second)
		return nil
	}
	for _, id := range []string{"job-done", "job-retried"} {
		if _, err := s.update(context.Background(), id, finish); err != nil {
			t.Fatalf("finish %s: %v", id, err)
		}
	}
	if _, err := s.update(context.Background(), "job-retried", func(j *Job) error { j.Status = StatusPending; j.Round++; return nil }); err != nil {
		t.Fatalf("retry: %v", err)
	}
	want := make(map[string]Job)
	for _, id := range []string{"job-pending", "job-done", "job-retried"} {
		j, err := s.get(id)
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		want[id] = j
	}
	if err := s.sync(t.Context()); err != nil {
		t.Fatalf("sync: %v", err)
	}
	abandon(t, s)
	if err := db.Close(); err != nil {
		t.Fatalf("close database: %v", err)
	}

	db = openDB(t, dir)
	s = openTestStore(t, db)
	for id, w := range want {
		wantJSON, _ := json.Marshal(w)
		got, err := s.get(id)
		if err != nil {
			t.Fatalf("get %s after replay: %v", id, err)
		}
		if gotJSON, _ := json.Marshal(got); !bytes.Equal(gotJSON, wantJSON) {
			t.Errorf("get %s after replay = %s, want %s", id, gotJSON, wantJSON)
		}
		if gotJSON, _ := json.Marshal(readStored(t, s, id)); !bytes.Equal(gotJSON, wantJSON) {
			t.Errorf("database holds %s after replay as %s, want %s", id, gotJSON, wantJSON)
		}
	}
	open, err := s.openJobs()
	if err != nil {
		t.Fatalf("open jobs: %v", err)
	}
	var openIDs []string
	for _, j := range open {
		openIDs = append(openIDs, j.ID)
	}
	if fmt.Sprint(openIDs) != "[job-pending job-retried]" {
		t.Errorf("open jobs after replay = %v, want [job-pending job-retried]", openIDs)
	}
	entries, err := os.ReadDir(filepath.Join(dir, journalDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("journal directory holds %d files after replay, want only the new segment", len(entries))
	}
}

// TestStoreReplayKeepsNewerDatabase puts a later version of a job in the
// database than the journal holds, as a checkpoint that raced a crash can:
// the replay must not roll the job back.
func TestStoreReplayKeepsNewerDatabase(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	s := openTestStore(t, db)
	s.checkpointJobs = 1 << 30
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, _, err := s.insert(context.Background(), testJob("job-1", now)); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if err := s.sync(t.Context()); err != nil {
		t.Fatalf("sync: %v", err)
	}
	abandon(t, s)

	later := testJob("job-1", now)
	later.Status = StatusSuccess
	later.UpdatedAt = now.Add(time.Minute)
	rec := appendJob(appendRecord(nil, recordJob, 5), later)
	if err := db.Update(func(txn *badger.Txn) error { return putJob(txn, later, rec, true) }); err != nil {
		t.Fatalf("write later version: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close database: %v", err)
	}

	s = openTestStore(t, openDB(t, dir))
	got, err := s.get("job-1")
	if err != nil {
		t.Fatalf("get after replay: %v", err)
	}
	if got.Status != StatusSuccess {
		t.Errorf("status after replay = %s, want SUCCESS from the database", got.Status)
	}
}

// TestStoreDeletionSurvivesReplay deletes a finished job and abandons the
// store before its next checkpoint: the job must stay deleted.
func TestStoreDeletionSurvivesReplay(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	s := openTestStore(t, db)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	j := testJob("job-old", now)
	j.Status = StatusSuccess
	if _, _, err := s.insert(context.Background(), j); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if _, _, err := s.insert(context.Background(), testJob("job-new", now)); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if n, err := s.deleteFinished(now.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("deleteFinished = %d, %v; want 1 deleted", n, err)
	}
	if _, err := s.get("job-old"); !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("get after deleteFinished = %v, want ErrJobNotFound", err)
	}
	if _, _, err := s.insert(context.Background(), j); err != nil {
		t.Fatalf("insert again: %v", err)
	}
	if err := s.checkpoint(); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	// Delete it again, and insert it once more while the deletion is
	// still pending. The new job's versions start above the deletion's,
	// so replaying the deletion cannot remove it.
	s.checkpointJobs = 1 << 30
	deleted, err := s.deleteIfFinished(doneKey(j.UpdatedAt, j.ID), now.Add(time.Hour))
	if err != nil || !deleted {
		t.Fatalf("deleteIfFinished = %v, %v; want deleted", deleted, err)
	}
	if _, _, err := s.insert(context.Background(), j); err != nil {
		t.Fatalf("insert again: %v", err)
	}
	if _, err := s.update(context.Background(), "job-old", func(j *Job) error { j.LastError = "again"; return nil }); err != nil {
		t.Fatalf("update: %v", err)
	}
	if err := s.sync(t.Context()); err != nil {
		t.Fatalf("sync: %v", err)
	}
	abandon(t, s)
	if err := db.Close(); err != nil {
		t.Fatalf("close database: %v", err)
	}

	s = openTestStore(t, openDB(t, dir))
	got, err := s.get("job-old")
	if err != nil {
		t.Fatalf("get the job inserted again: %v", err)
	}
	if got.LastError != "again" {
		t.Errorf("job inserted again has last error %q, want %q", got.LastError, "again")
	}
	jobs, err := s.list("", "")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(jobs) != 2 {
		t.Errorf("list after replay has %d jobs, want 2", len(jobs))
	}
}

// journalRecordBytes returns the bytes of the journal's segments beyond
// their headers.
func journalRecordBytes(t *testing.T, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, journalDir))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += info.Size() - int64(len("execvault journal 1\n"))
	}
	return n
}

// TestCheckpointKeepsChangeWhoseRecordOutlivesIt deletes a job while a
// checkpoint runs, many times. A deletion whose record lands in the
// segment after the one the checkpoint removes must stay pending: dropped,
// a job inserted again under its id would start below its version, and a
// replay would delete that job.
func TestCheckpointKeepsChangeWhoseRecordOutlivesIt(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, openDB(t, dir))
	s.checkpointJobs = 1 << 30
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	j := testJob("job-1", now)
	j.Status = StatusSuccess
	for round := range 100 {
		if _, _, err := s.insert(context.Background(), j); err != nil {
			t.Fatal(err)
		}
		if err := s.checkpoint(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.checkpoint() }()
		if _, err := s.deleteIfFinished(doneKey(j.UpdatedAt, j.ID), now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := s.sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		_, pending := s.pending[j.ID]
		s.mu.Unlock()
		if n := journalRecordBytes(t, dir); !pending && n > 0 {
			t.Fatalf("round %d: the deletion left the pending changes while %d bytes of records remain in the journal", round, n)
		}
		if err := s.checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckpointIndexesFromDatabase puts a later state of a job in the
// database than the store wrote, as a checkpoint that failed halfway can
// leave: the next checkpoint must replace the index entries of what the
// database holds.
func TestCheckpointIndexesFromDatabase(t *testing.T) {
	s := openTestStore(t, openDB(t, ""))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, _, err := s.insert(context.Background(), testJob("job-x", now)); err != nil {
		t.Fatal(err)
	}
	if err := s.checkpoint(); err != nil {
		t.Fatal(err)
	}

	finished, err := s.update(context.Background(), "job-x", func(j *Job) error {
		j.Status = StatusSuccess
		j.UpdatedAt = now.Add(time.Second)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The database gets the finished state, as a checkpoint that wrote it
	// and then failed would leave it, and the store then retries the job.
	rec := appendJob(appendRecord(nil, recordJob, 2), finished)
	if err := s.db.Update(func(txn *badger.Txn) error { return putJob(txn, finished, rec, true) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.update(context.Background(), "job-x", func(j *Job) error {
		j.Status = StatusPending
		j.Round++
		j.UpdatedAt = now.Add(2 * time.Second)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.checkpoint(); err != nil {
		t.Fatal(err)
	}

	keys, _ := storedKeys(t, s.db)
	if stale := string(doneKey(finished.UpdatedAt, "job-x")); keys[stale] {
		t.Errorf("the database holds done key %q of job-x, which is PENDING", stale)
	}
	if open := string(openKey("job-x")); !keys[open] {
		t.Errorf("the database lacks open key %q", open)
	}
}

// TestStoreRejectsRecordOverDatabaseLimit stores a job too large for an
// in-memory database: insert must refuse it, instead of every later
// checkpoint failing, while a disk database takes the largest body.
func TestStoreRejectsRecordOverDatabaseLimit(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	large := testJob("job-large", now)
	large.Body = make([]byte, 2<<20)

	s := openTestStore(t, openDB(t, ""))
	_, _, err := s.insert(context.Background(), large)
	if !errors.Is(err, ErrInvalidJob) {
		t.Fatalf("insert of a %d-byte body in memory = %v, want ErrInvalidJob", len(large.Body), err)
	}
	if err := s.checkpoint(); err != nil {
		t.Errorf("checkpoint after the rejected job: %v", err)
	}

	s = openTestStore(t, openDB(t, t.TempDir()))
	large.Body = make([]byte, maxBodyBytes)
	if _, _, err := s.insert(context.Background(), large); err != nil {
		t.Fatalf("insert of a %d-byte body on disk: %v", len(large.Body), err)
	}
	if err := s.checkpoint(); err != nil {
		t.Errorf("checkpoint of a %d-byte body on disk: %v", len(large.Body), err)
	}
}

// TestStoreRejectsChangesAfterClose changes a job after the store closed:
// the change must fail with ErrClosed rather than wait for a checkpoint
// that never comes.
func TestStoreRejectsChangesAfterClose(t *testing.T) {
	s, err := openStore(openDB(t, ""), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, _, err := s.insert(context.Background(), testJob("job-late", now)); !errors.Is(err, ErrClosed) {
		t.Errorf("insert after close = %v, want ErrClosed", err)
	}
}

// TestStoreWritersFailWhenCheckpointsFail fills the pending changes to
// their limit while checkpoints cannot write: a change must fail with the
// checkpoint's error and name what to do, instead of waiting forever.
func TestStoreWritersFailWhenCheckpointsFail(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	s, err := openStore(db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.checkpointJobs = 1 << 30
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range pendingLimit {
		if _, _, err := s.insert(context.Background(), testJob(fmt.Sprintf("job-%d", i), now)); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	s.checkpointJobs = 1
	s.mu.Unlock()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := s.update(context.Background(), "job-0", func(j *Job) error { j.LastError = "changed"; return nil })
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, badger.ErrDBClosed) || !strings.Contains(err.Error(), "free space in the state directory "+dir+" or check the log") {
			t.Errorf("update with failing checkpoints = %v, want the checkpoint's error, %s and the log", err, dir)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("update still waits 10 s after checkpoints started failing")
	}
	// The journal keeps the changes; closing reports the failed write.
	if err := s.close(); err == nil {
		t.Error("close with a closed database = nil, want the checkpoint's error")
	}
}

// TestStoreWriterWaitEndsWithContext holds off checkpoints until the
// pending changes reach their limit. The next insert must wait, and
// return the context's error once its context ends.
func TestStoreWriterWaitEndsWithContext(t *testing.T) {
	s := openTestStore(t, openDB(t, t.TempDir()))
	s.mu.Lock()
	s.checkpointJobs = 1
	s.mu.Unlock()
	s.checkpointMu.Lock()
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			s.checkpointMu.Unlock()
		}
	}
	defer unlock()

	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range pendingLimit {
		if _, _, err := s.insert(context.Background(), testJob(fmt.Sprintf("job-%d", i), now)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := s.insert(ctx, testJob("job-over-limit", now))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("insert over the pending limit = %v, want context.DeadlineExceeded", err)
	}

	// Once checkpoints run again, the same insert succeeds.
	unlock()
	if _, created, err := s.insert(context.Background(), testJob("job-over-limit", now)); err != nil || !created {
		t.Errorf("insert after checkpoints resumed = created %v, %v; want created", created, err)
	}
}

// TestCheckpointSplitsTooBigTransaction checkpoints jobs into a database
// whose memtable is so small that Badger rejects the checkpoint's
// transaction as too big partway through. Every job must still be in the
// database after a reopen.
func TestCheckpointSplitsTooBigTransaction(t *testing.T) {
	dir := t.TempDir()
	open := func() *badger.DB {
		t.Helper()
		// Badger limits a transaction to a fraction of the memtable,
		// here below the checkpoint's own 1 MiB bound.
		opts := badger.DefaultOptions(dir).WithLogger(nil).WithNumVersionsToKeep(1).
			WithMemTableSize(2 << 20).WithValueThreshold(100 << 10).WithValueLogFileSize(16 << 20).
			WithBlockCacheSize(1 << 20).WithIndexCacheSize(1 << 20)
		db, err := badger.Open(opts)
		if err != nil {
			t.Fatalf("open database: %v", err)
		}
		return db
	}
	db := open()
	s, err := openStore(db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.checkpointJobs = 1 << 30
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const jobs = 8
	for i := range jobs {
		j := testJob(fmt.Sprintf("job-%d", i), now)
		j.Body = bytes.Repeat([]byte("x"), 90<<10)
		if _, _, err := s.insert(context.Background(), j); err != nil {
			t.Fatalf("insert: %v", err)
		}
	}
	if err := s.close(); err != nil {
		t.Fatalf("close store: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close database: %v", err)
	}

	db = open()
	t.Cleanup(func() { db.Close() })
	s = openTestStore(t, db)
	for i := range jobs {
		if _, err := s.get(fmt.Sprintf("job-%d", i)); err != nil {
			t.Errorf("get job-%d after the checkpoint: %v", i, err)
		}
	}
}
