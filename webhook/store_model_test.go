package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// storeModel is the state a job store must show: the latest version of
// every job that exists.
type storeModel map[string]Job

// sorted returns the model's jobs in the store's list order.
func (m storeModel) sorted(keep func(Job) bool) []Job {
	var jobs []Job
	for _, j := range m {
		if keep(j) {
			jobs = append(jobs, j)
		}
	}
	slices.SortFunc(jobs, func(a, b Job) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return jobs
}

func jobJSON(t *testing.T, j Job) string {
	t.Helper()
	data, err := json.Marshal(j)
	if err != nil {
		t.Fatalf("marshal job %q: %v", j.ID, err)
	}
	return string(data)
}

func jobsJSON(t *testing.T, jobs []Job) string {
	t.Helper()
	parts := make([]string, len(jobs))
	for i, j := range jobs {
		parts[i] = jobJSON(t, j)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// storedKeys returns every job and index key in db, and the jobs that the
// job keys hold.
func storedKeys(t *testing.T, db *badger.DB) (keys map[string]bool, jobs map[string]Job) {
	t.Helper()
	keys = make(map[string]bool)
	jobs = make(map[string]Job)
	err := db.View(func(txn *badger.Txn) error {
		for _, prefix := range []string{prefixJob, "jobidx/"} {
			opts := badger.DefaultIteratorOptions
			opts.Prefix = []byte(prefix)
			it := txn.NewIterator(opts)
			for it.Rewind(); it.Valid(); it.Next() {
				key := string(it.Item().KeyCopy(nil))
				keys[key] = true
				if prefix != prefixJob {
					continue
				}
				j, _, err := getJob(txn, key[len(prefixJob):])
				if err != nil {
					it.Close()
					return err
				}
				jobs[j.ID] = j
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read the database's job keys: %v", err)
	}
	return keys, jobs
}

// checkDatabase checks, with no change pending, that the database holds
// exactly the model's jobs, each with its executor entry, an open entry
// while unfinished and a done entry for its last update once finished, and
// no other index entry.
func checkDatabase(t *testing.T, s *store, model storeModel, step string) {
	t.Helper()
	s.mu.Lock()
	pending := len(s.pending)
	s.mu.Unlock()
	if pending != 0 {
		t.Fatalf("%s: %d changes pending after a checkpoint, want 0", step, pending)
	}

	keys, jobs := storedKeys(t, s.db)
	want := make(map[string]bool)
	for id, j := range model {
		want[string(jobKey(id))] = true
		want[string(executorKey(j.Executor, id))] = true
		if j.Status.Finished() {
			want[string(doneKey(j.UpdatedAt, id))] = true
		} else {
			want[string(openKey(id))] = true
		}
		got, ok := jobs[id]
		if !ok {
			t.Fatalf("%s: the database lacks job %q", step, id)
		}
		if g, w := jobJSON(t, got), jobJSON(t, j); g != w {
			t.Fatalf("%s: the database holds job %q as %s, want %s", step, id, g, w)
		}
	}
	for key := range keys {
		if !want[key] {
			t.Errorf("%s: the database holds key %q, which no job accounts for", step, key)
		}
	}
	for key := range want {
		if !keys[key] {
			t.Errorf("%s: the database lacks key %q", step, key)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// checkReads checks that get, list and openJobs return the model's jobs.
func checkReads(t *testing.T, s *store, model storeModel, ids []string, executors []string, step string) {
	t.Helper()
	for _, id := range ids {
		got, err := s.get(id)
		want, exists := model[id]
		switch {
		case !exists && !errors.Is(err, ErrJobNotFound):
			t.Fatalf("%s: get %s = %v, %v; want ErrJobNotFound", step, id, jobJSON(t, got), err)
		case exists && err != nil:
			t.Fatalf("%s: get %s: %v", step, id, err)
		case exists && jobJSON(t, got) != jobJSON(t, want):
			t.Fatalf("%s: get %s = %s, want %s", step, id, jobJSON(t, got), jobJSON(t, want))
		}
	}

	type filter struct {
		executor string
		status   Status
	}
	filters := []filter{{"", ""}, {"", StatusPending}, {"", StatusSuccess}}
	for _, e := range executors {
		filters = append(filters, filter{e, ""}, filter{e, StatusFailed})
	}
	for _, f := range filters {
		got, err := s.list(f.executor, f.status)
		if err != nil {
			t.Fatalf("%s: list %q %q: %v", step, f.executor, f.status, err)
		}
		want := model.sorted(func(j Job) bool {
			return (f.executor == "" || j.Executor == f.executor) && (f.status == "" || j.Status == f.status)
		})
		if g, w := jobsJSON(t, got), jobsJSON(t, want); g != w {
			t.Fatalf("%s: list %q %q = %s, want %s", step, f.executor, f.status, g, w)
		}
	}

	open, err := s.openJobs()
	if err != nil {
		t.Fatalf("%s: open jobs: %v", step, err)
	}
	want := model.sorted(func(j Job) bool { return !j.Status.Finished() })
	if g, w := jobsJSON(t, open), jobsJSON(t, want); g != w {
		t.Fatalf("%s: open jobs = %s, want %s", step, g, w)
	}
}

// TestStoreMatchesModel runs a random sequence of inserts, attempts,
// finishes, retries, deletions, checkpoints and restarts, clean or
// abandoned, on a store backed by a directory. After every step get, list
// and openJobs must return what a map of the latest jobs holds, and after
// every checkpoint the database's job and index keys must be exactly those
// of the model's jobs. The seed is printed on failure; set it in seeds to
// run that sequence again.
func TestStoreMatchesModel(t *testing.T) {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	seeds := []uint64{1, 2, 3, h.Sum64()}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runStoreModel(t, seed, 250)
		})
	}
}

func runStoreModel(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	dir := t.TempDir()
	ids := []string{"job-a", "job-b", "job-c", "job-d", "job-e", "job-f"}
	executors := []string{"crm-sync", "billing"}

	var db *badger.DB
	var s *store
	open := func() {
		t.Helper()
		db = openDB(t, dir)
		var err error
		if s, err = openStore(db, nil, nil); err != nil {
			t.Fatalf("seed %d: open store: %v", seed, err)
		}
		// No number of pending changes starts a checkpoint, so they run at
		// checkpoint, retention and restart steps and on the store's
		// timer. Reads go to the database for all but two unfinished jobs.
		s.checkpointJobs = 1 << 30
		s.maxJobs = 2
		// Runs before openDB's cleanup, which closes this database.
		opened := s
		t.Cleanup(func() {
			if err := opened.close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
	}
	open()

	model := make(storeModel)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tick := func() time.Time {
		clock = clock.Add(time.Duration(1+rng.IntN(3)) * time.Second)
		return clock
	}
	var trace []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d, steps %s: %s", seed, strings.Join(trace, "; "), fmt.Sprintf(format, args...))
	}

	for range steps {
		id := ids[rng.IntN(len(ids))]
		var step string
		switch op := rng.IntN(100); {
		case op < 25:
			step = "insert " + id
			j := testJob(id, tick())
			// A job inserted again after a deletion may belong to
			// another executor.
			j.Executor = executors[rng.IntN(len(executors))]
			if rng.IntN(4) == 0 {
				j.Status = StatusSuccess
			}
			got, created, err := s.insert(context.Background(), j)
			if err != nil {
				fail("%s: %v", step, err)
			}
			if want, exists := model[id]; exists {
				if created || jobJSON(t, got) != jobJSON(t, want) {
					fail("%s = %s, created %v; want the existing %s", step, jobJSON(t, got), created, jobJSON(t, want))
				}
			} else {
				if !created {
					fail("%s = %s, not created; want created", step, jobJSON(t, got))
				}
				model[id] = j
			}

		case op < 65:
			var status Status
			var change func(j *Job)
			switch rng.IntN(4) {
			case 0:
				status = StatusRunning
				change = func(j *Job) {
					j.Attempts = append(j.Attempts, Attempt{Round: j.Round, Number: len(j.Attempts) + 1, StatusCode: 503, Error: "HTTP 503", Retryable: true})
					j.LastError = "HTTP 503"
				}
			case 1:
				status = []Status{StatusSuccess, StatusFailed, StatusCanceled}[rng.IntN(3)]
			case 2:
				status = StatusPending
				change = func(j *Job) { j.Round++ }
			default:
				status = ""
			}
			step = fmt.Sprintf("update %s to %q", id, status)
			updated := tick()
			fn := func(j *Job) error {
				if status == "" {
					return errSkipWrite
				}
				j.Status = status
				j.UpdatedAt = updated
				if change != nil {
					change(j)
				}
				return nil
			}
			got, err := s.update(context.Background(), id, fn)
			want, exists := model[id]
			if !exists {
				if !errors.Is(err, ErrJobNotFound) {
					fail("%s = %v, want ErrJobNotFound", step, err)
				}
				break
			}
			if err != nil {
				fail("%s: %v", step, err)
			}
			want = want.clone()
			_ = fn(&want)
			if jobJSON(t, got) != jobJSON(t, want) {
				fail("%s = %s, want %s", step, jobJSON(t, got), jobJSON(t, want))
			}
			model[id] = want

		case op < 75:
			// The deletion stays pending until the next checkpoint, so
			// later steps insert the job again over its tombstone.
			j, exists := model[id]
			if !exists || !j.Status.Finished() {
				continue
			}
			step = "delete " + id
			deleted, err := s.deleteIfFinished(doneKey(j.UpdatedAt, id), j.UpdatedAt.Add(time.Nanosecond))
			if err != nil || !deleted {
				fail("%s = %v, %v; want deleted", step, deleted, err)
			}
			delete(model, id)

		case op < 82:
			cutoff := clock.Add(-time.Duration(rng.IntN(10)) * time.Second)
			step = "delete finished before " + cutoff.Format(time.TimeOnly)
			n, err := s.deleteFinished(cutoff)
			if err != nil {
				fail("%s: %v", step, err)
			}
			want := 0
			for id, j := range model {
				if j.Status.Finished() && j.UpdatedAt.Before(cutoff) {
					delete(model, id)
					want++
				}
			}
			if n != want {
				fail("%s deleted %d jobs, want %d", step, n, want)
			}

		case op < 92:
			step = "checkpoint"
			if err := s.checkpoint(); err != nil {
				fail("%s: %v", step, err)
			}

		default:
			abandoned := rng.IntN(2) == 0
			step = "restart"
			if abandoned {
				step = "restart after a crash"
				if err := s.sync(t.Context()); err != nil {
					fail("%s: sync: %v", step, err)
				}
				abandon(t, s)
			} else if err := s.close(); err != nil {
				fail("%s: close: %v", step, err)
			}
			if err := db.Close(); err != nil {
				fail("%s: close database: %v", step, err)
			}
			open()
		}

		trace = append(trace, step)
		checkReads(t, s, model, ids, executors, fmt.Sprintf("seed %d, step %d (%s)", seed, len(trace), step))
		if step == "checkpoint" || strings.HasPrefix(step, "restart") {
			checkDatabase(t, s, model, fmt.Sprintf("seed %d, step %d (%s)", seed, len(trace), step))
		}
	}
}

// TestStoreUpdateDuringCheckpoint changes jobs while checkpoints run in
// another goroutine, then checks that the database's job and index keys
// match the last state of every job once a final checkpoint is done.
func TestStoreUpdateDuringCheckpoint(t *testing.T) {
	s := openTestStore(t, openDB(t, t.TempDir()))
	s.checkpointJobs = 1 << 30
	s.maxJobs = 4

	stop := make(chan struct{})
	checkpoints := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				checkpoints <- nil
				return
			default:
			}
			if err := s.checkpoint(); err != nil {
				checkpoints <- err
				return
			}
		}
	}()

	model := make(storeModel)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	statuses := []Status{StatusRunning, StatusSuccess, StatusPending, StatusFailed, StatusPending, StatusCanceled}
	for round := range 40 {
		for i := range 8 {
			id := fmt.Sprintf("job-%d", i)
			clock = clock.Add(time.Second)
			if round == 0 {
				j := testJob(id, clock)
				if _, _, err := s.insert(context.Background(), j); err != nil {
					t.Fatalf("insert %s: %v", id, err)
				}
				model[id] = j
				continue
			}
			status := statuses[(round+i)%len(statuses)]
			updated := clock
			j, err := s.update(context.Background(), id, func(j *Job) error {
				j.Status = status
				j.UpdatedAt = updated
				return nil
			})
			if err != nil {
				t.Fatalf("round %d: update %s to %s: %v", round, id, status, err)
			}
			model[id] = j
		}
	}
	close(stop)
	if err := <-checkpoints; err != nil {
		t.Fatalf("checkpoint while updating: %v", err)
	}
	if err := s.checkpoint(); err != nil {
		t.Fatalf("final checkpoint: %v", err)
	}
	checkDatabase(t, s, model, "after updates during checkpoints")

	for _, j := range model.sorted(func(Job) bool { return true }) {
		got, err := s.get(j.ID)
		if err != nil {
			t.Fatalf("get %s: %v", j.ID, err)
		}
		if g, w := jobJSON(t, got), jobJSON(t, j); g != w {
			t.Errorf("get %s = %s, want %s", j.ID, g, w)
		}
	}
}

// TestStorePendingLimitWaits lowers the checkpoint trigger to two changes
// and inserts jobs from several goroutines. Every insert must finish, and
// the pending changes must never exceed pendingLimit times the trigger.
func TestStorePendingLimitWaits(t *testing.T) {
	s := openTestStore(t, openDB(t, t.TempDir()))
	s.mu.Lock()
	s.checkpointJobs = 2
	s.mu.Unlock()
	limit := pendingLimit * 2

	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const writers, perWriter = 4, 50
	errs := make(chan error, writers)
	over := make(chan int, writers*perWriter)
	for w := range writers {
		go func() {
			for i := range perWriter {
				id := fmt.Sprintf("job-%d-%d", w, i)
				if _, _, err := s.insert(context.Background(), testJob(id, now)); err != nil {
					errs <- fmt.Errorf("insert %s: %w", id, err)
					return
				}
				s.mu.Lock()
				if n := len(s.pending); n > limit {
					over <- n
				}
				s.mu.Unlock()
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(over)
	for n := range over {
		t.Errorf("%d changes pending, want at most %d", n, limit)
	}

	jobs, err := s.list("", "")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(jobs) != writers*perWriter {
		t.Errorf("list returned %d jobs, want %d", len(jobs), writers*perWriter)
	}
}

// TestStoreListDuringCheckpoint lists jobs while another goroutine changes
// them and checkpoints run. Every listing must contain each job once.
func TestStoreListDuringCheckpoint(t *testing.T) {
	s := openTestStore(t, openDB(t, t.TempDir()))
	s.checkpointJobs = 1 << 30
	s.maxJobs = 4

	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const jobs = 20
	for i := range jobs {
		if _, _, err := s.insert(context.Background(), testJob(fmt.Sprintf("job-%02d", i), now)); err != nil {
			t.Fatalf("insert: %v", err)
		}
	}

	stop := make(chan struct{})
	errs := make(chan error, 2)
	go func() {
		for {
			select {
			case <-stop:
				errs <- nil
				return
			default:
			}
			if err := s.checkpoint(); err != nil {
				errs <- fmt.Errorf("checkpoint: %w", err)
				return
			}
		}
	}()
	go func() {
		statuses := []Status{StatusRunning, StatusSuccess, StatusPending}
		for round := 0; ; round++ {
			select {
			case <-stop:
				errs <- nil
				return
			default:
			}
			id := fmt.Sprintf("job-%02d", round%jobs)
			status := statuses[round%len(statuses)]
			if _, err := s.update(context.Background(), id, func(j *Job) error { j.Status = status; return nil }); err != nil {
				errs <- fmt.Errorf("update %s: %w", id, err)
				return
			}
		}
	}()

	for range 200 {
		got, err := s.list("", "")
		if err != nil {
			t.Errorf("list: %v", err)
			break
		}
		seen := make(map[string]bool)
		for _, j := range got {
			if seen[j.ID] {
				t.Errorf("list returned %s twice", j.ID)
			}
			seen[j.ID] = true
		}
		if len(seen) != jobs {
			t.Errorf("list returned %d distinct jobs, want %d", len(seen), jobs)
			break
		}
	}
	close(stop)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
