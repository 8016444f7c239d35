package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/execvault/execvault/plugins"
)

func TestEnqueueSameIDReturnsExistingJob(t *testing.T) {
	rc := newReceiver(t, statusAlways(http.StatusOK))
	h := startDispatcher(t, nil, testConfig(), nil)

	first := h.deliver(t, Job{ID: "evt-42", URL: rc.URL})
	again, err := h.d.Enqueue(t.Context(), Job{ID: "evt-42", Executor: "crm-sync", URL: rc.URL, Body: []byte(`{"other":1}`)})
	if err != nil {
		t.Fatalf("second enqueue: %v", err)
	}

	if again.Status != StatusSuccess || string(again.Body) != string(first.Body) {
		t.Errorf("second enqueue = {%s, body %s}, want the stored job {SUCCESS, body %s}", again.Status, again.Body, first.Body)
	}
	if n := rc.count.Load(); n != 1 {
		t.Errorf("receiver got %d requests, want 1", n)
	}
	jobs, err := h.d.Jobs(t.Context(), "crm-sync", "")
	if err != nil || len(jobs) != 1 {
		t.Errorf("jobs = %d (%v), want 1", len(jobs), err)
	}
}

func TestEnqueueRejectsInvalidJob(t *testing.T) {
	tests := []struct {
		name string
		job  Job
		want string
	}{
		{"no executor", Job{URL: "http://127.0.0.1/"}, "executor"},
		{"id with space", Job{ID: "a b", Executor: "x", URL: "http://127.0.0.1/"}, "printable ASCII"},
		{"id too long", Job{ID: strings.Repeat("a", 257), Executor: "x", URL: "http://127.0.0.1/"}, "1 to 256"},
		{"user info", Job{Executor: "x", URL: "http://user:hunter2@127.0.0.1/"}, "user info"},
		{"reserved header", Job{Executor: "x", URL: "http://127.0.0.1/", Headers: []plugins.Header{{Name: "Webhook-Id", Value: "x"}}}, "sets this header"},
		{"negative attempts", Job{Executor: "x", URL: "http://127.0.0.1/", Policy: Policy{MaxAttempts: -1}}, "max attempts"},
		{"body too large", Job{Executor: "x", URL: "http://127.0.0.1/", Body: make([]byte, maxBodyBytes+1)}, "body of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, testConfig(), nil)
			_, err := h.d.Enqueue(t.Context(), tt.job)
			if !errors.Is(err, ErrInvalidJob) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("enqueue error = %v, want ErrInvalidJob mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q contains the URL password", err)
			}
		})
	}
}

func TestRetryStartsFreshRound(t *testing.T) {
	var healthy atomic.Bool
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		if healthy.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	h := startDispatcher(t, nil, testConfig(), nil)
	failed := h.deliver(t, Job{URL: rc.URL, Policy: Policy{MaxAttempts: 2}})
	if failed.Status != StatusFailed {
		t.Fatalf("status = %s, want FAILED", failed.Status)
	}

	if _, err := h.d.Cancel(t.Context(), failed.ID); !errors.Is(err, ErrInvalidState) {
		t.Errorf("cancel of FAILED job error = %v, want ErrInvalidState", err)
	}
	healthy.Store(true)
	retried, err := h.d.Retry(t.Context(), failed.ID)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if retried.Status != StatusPending || retried.Round != 2 || retried.ID != failed.ID {
		t.Errorf("retried = {%s, round %d, id %s}, want {PENDING, 2, %s}", retried.Status, retried.Round, retried.ID, failed.ID)
	}
	done, err := h.d.Wait(t.Context(), failed.ID)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}

	if done.Status != StatusSuccess || len(done.Attempts) != 3 || done.AttemptsInRound() != 1 {
		t.Errorf("done = {%s, %d attempts, %d in round}, want {SUCCESS, 3, 1}", done.Status, len(done.Attempts), done.AttemptsInRound())
	}
	if last, _ := done.LastAttempt(); last.Round != 2 || last.Number != 1 {
		t.Errorf("last attempt = round %d number %d, want round 2 number 1", last.Round, last.Number)
	}
	if _, err := h.d.Retry(t.Context(), failed.ID); !errors.Is(err, ErrInvalidState) {
		t.Errorf("retry of SUCCESS job error = %v, want ErrInvalidState", err)
	}
	if _, err := h.d.Retry(t.Context(), "no-such-job"); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("retry of unknown job error = %v, want ErrJobNotFound", err)
	}
}

func TestCancelAbortsRunningAttempt(t *testing.T) {
	arrived := make(chan struct{}, 4)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		if n == 1 {
			_, _ = io.Copy(io.Discard, r.Body)
			arrived <- struct{}{}
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h := startDispatcher(t, nil, testConfig(), nil)
	job, err := h.d.Enqueue(t.Context(), Job{Executor: "crm-sync", URL: rc.URL, Body: []byte(`{}`)})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	<-arrived

	canceled, err := h.d.Cancel(t.Context(), job.ID)
	if err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if canceled.Status != StatusCanceled {
		t.Errorf("cancel returned status %s, want CANCELED", canceled.Status)
	}
	done, err := h.d.Wait(t.Context(), job.ID)
	if err != nil || done.Status != StatusCanceled {
		t.Fatalf("wait = {%s, %v}, want CANCELED", done.Status, err)
	}

	// The aborted attempt is recorded once the attempt returns; retrying
	// then delivers the job in a new round.
	retried, err := h.d.Retry(t.Context(), job.ID)
	if err != nil {
		t.Fatalf("retry canceled job: %v", err)
	}
	final, err := h.d.Wait(t.Context(), retried.ID)
	if err != nil || final.Status != StatusSuccess {
		t.Fatalf("after retry = {%s, %v}, want SUCCESS", final.Status, err)
	}
	var aborted int
	for _, a := range final.Attempts {
		if a.Round == 1 && strings.Contains(a.Error, "job canceled") {
			aborted++
		}
	}
	if aborted != 1 || final.AttemptsInRound() != 1 {
		t.Errorf("attempts = %+v, want one aborted in round 1 and one in round 2", final.Attempts)
	}
}

func TestJobsFiltersByExecutorAndStatus(t *testing.T) {
	ok := newReceiver(t, statusAlways(http.StatusOK))
	bad := newReceiver(t, statusAlways(http.StatusBadRequest))
	h := startDispatcher(t, nil, testConfig(), nil)
	h.deliver(t, Job{Executor: "alpha", URL: ok.URL})
	h.deliver(t, Job{Executor: "alpha", URL: bad.URL, Policy: Policy{MaxAttempts: 1}})
	h.deliver(t, Job{Executor: "alpha-two", URL: ok.URL})
	h.deliver(t, Job{Executor: "beta", URL: ok.URL})

	tests := []struct {
		executor string
		status   Status
		want     int
	}{
		{"alpha", "", 2},
		{"alpha", StatusSuccess, 1},
		{"alpha", StatusFailed, 1},
		{"alpha-two", "", 1},
		{"beta", StatusFailed, 0},
		{"", StatusSuccess, 3},
		{"", "", 4},
		{"gamma", "", 0},
	}
	for _, tt := range tests {
		jobs, err := h.d.Jobs(t.Context(), tt.executor, tt.status)
		if err != nil {
			t.Fatalf("jobs(%q, %q): %v", tt.executor, tt.status, err)
		}
		if len(jobs) != tt.want {
			t.Errorf("jobs(%q, %q) = %d, want %d", tt.executor, tt.status, len(jobs), tt.want)
		}
		for _, j := range jobs {
			if (tt.executor != "" && j.Executor != tt.executor) || (tt.status != "" && j.Status != tt.status) {
				t.Errorf("jobs(%q, %q) returned {%s, %s}", tt.executor, tt.status, j.Executor, j.Status)
			}
		}
	}
	if _, err := h.d.Jobs(t.Context(), "alpha", "DONE"); !errors.Is(err, ErrInvalidState) {
		t.Errorf("jobs with unknown status error = %v, want ErrInvalidState", err)
	}
}

func TestExecutorsListsNamesWithJobs(t *testing.T) {
	ok := newReceiver(t, statusAlways(http.StatusOK))
	db := openDB(t, "")
	h := startDispatcher(t, db, testConfig(), nil)
	if names, err := h.d.Executors(t.Context()); err != nil || len(names) != 0 {
		t.Fatalf("executors without jobs = %q, %v; want none", names, err)
	}
	for _, executor := range []string{"beta", "alpha-two", "alpha", "alpha", "beta"} {
		h.deliver(t, Job{Executor: executor, URL: ok.URL})
	}
	if err := h.d.Close(); err != nil {
		t.Fatal(err)
	}

	// An unstarted dispatcher lists the checkpointed jobs from the index
	// and a new one from its pending changes.
	idle := newHarness(t, db, testConfig(), nil)
	if _, err := idle.d.Enqueue(t.Context(), Job{Executor: "gamma", URL: ok.URL}); err != nil {
		t.Fatal(err)
	}
	names, err := idle.d.Executors(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alpha", "alpha-two", "beta", "gamma"}; !slices.Equal(names, want) {
		t.Errorf("executors = %q, want %q", names, want)
	}
}

func TestDeleteFinishedKeepsRecentAndOpenJobs(t *testing.T) {
	ok := newReceiver(t, statusAlways(http.StatusOK))
	clock := newFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cfg := testConfig()
	cfg.Clock = clock
	db := openDB(t, "")
	h := startDispatcher(t, db, cfg, nil)
	old := h.deliver(t, Job{URL: ok.URL})
	oldFailed := h.deliver(t, Job{URL: "ftp://invalid.example/"})
	clock.Advance(48 * time.Hour)
	recent := h.deliver(t, Job{URL: ok.URL})

	// An unstarted dispatcher on another database leaves this job PENDING.
	pendingDB := openDB(t, "")
	idle := newHarness(t, pendingDB, cfg, nil)
	pending, err := idle.d.Enqueue(t.Context(), Job{Executor: "crm-sync", URL: ok.URL, Body: []byte(`{}`)})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	clock.Advance(48 * time.Hour)
	if n, err := idle.d.DeleteFinished(t.Context(), time.Hour); err != nil || n != 0 {
		t.Errorf("delete on pending-only database = (%d, %v), want (0, nil)", n, err)
	}
	if _, err := idle.d.Job(t.Context(), pending.ID); err != nil {
		t.Errorf("pending job after sweep: %v", err)
	}

	n, err := h.d.DeleteFinished(t.Context(), 72*time.Hour)
	if err != nil {
		t.Fatalf("delete finished: %v", err)
	}
	if n != 2 {
		t.Errorf("deleted = %d, want 2", n)
	}
	for _, id := range []string{old.ID, oldFailed.ID} {
		if _, err := h.d.Job(t.Context(), id); !errors.Is(err, ErrJobNotFound) {
			t.Errorf("job %s after sweep: error %v, want ErrJobNotFound", id, err)
		}
	}
	if _, err := h.d.Job(t.Context(), recent.ID); err != nil {
		t.Errorf("recent job after sweep: %v", err)
	}
	if keys := keysMentioning(t, db, old.ID); len(keys) != 0 {
		t.Errorf("keys left for a deleted job: %q", keys)
	}
}

func keysMentioning(t *testing.T, db *badger.DB, id string) []string {
	t.Helper()
	var keys []string
	err := db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if k := string(it.Item().Key()); strings.Contains(k, id) {
				keys = append(keys, k)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan keys: %v", err)
	}
	return keys
}

func TestNilResolverFailsSecretJobs(t *testing.T) {
	rc := newReceiver(t, statusAlways(http.StatusOK))
	d, err := NewDispatcher(openDB(t, ""), testConfig(), nil, nil)
	if err != nil {
		t.Fatalf("new dispatcher without resolver: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := d.Start(t.Context()); err != nil {
		t.Fatalf("start: %v", err)
	}
	ref := plugins.SecretRef{Vault: "api-keys", Key: "crm-api-token"}
	job, err := d.Enqueue(t.Context(), Job{Executor: "crm-sync", URL: rc.URL, Body: []byte(`{}`), Headers: []plugins.Header{{Name: "X-Key", Secret: &ref}}})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	done, err := d.Wait(t.Context(), job.ID)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	if done.Status != StatusFailed || !strings.Contains(done.LastError, "no secret resolver") {
		t.Errorf("job = {%s, %q}, want FAILED with no secret resolver", done.Status, done.LastError)
	}
}

func TestStartResumesInterruptedJob(t *testing.T) {
	rc := newReceiver(t, statusAlways(http.StatusOK))
	db := openDB(t, "")
	now := time.Now()
	interrupted := Job{
		ID: "job-running", Executor: "crm-sync", URL: rc.URL, Body: []byte(`{}`),
		Policy: DefaultPolicy(), Status: StatusRunning, Round: 1,
		CreatedAt: now, UpdatedAt: now, NextAttemptAt: now,
	}
	s, err := openStore(db, nil, nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	if _, _, err := s.insert(context.Background(), interrupted); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if err := s.close(); err != nil {
		t.Fatalf("close store: %v", err)
	}
	h := startDispatcher(t, db, testConfig(), nil)

	done, err := h.d.Wait(t.Context(), "job-running")
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	if done.Status != StatusSuccess || len(done.Attempts) != 1 {
		t.Errorf("resumed job = {%s, %d attempts}, want {SUCCESS, 1}", done.Status, len(done.Attempts))
	}
	if n := rc.count.Load(); n != 1 {
		t.Errorf("receiver got %d requests, want 1", n)
	}
	if logs := h.logs.String(); !strings.Contains(logs, `"msg":"webhook jobs left RUNNING by an earlier version made PENDING","component":"webhook","jobs":1`) {
		t.Errorf("logs lack the resumed RUNNING job; got:\n%s", logs)
	}
}

// TestStartLogsNoInterruptedJobs checks that a start without RUNNING
// records does not report interrupted jobs. Attempts in flight are not
// recorded, so such a count could only ever be zero.
func TestStartLogsNoInterruptedJobs(t *testing.T) {
	h := startDispatcher(t, nil, testConfig(), nil)
	if logs := h.logs.String(); !strings.Contains(logs, `"msg":"webhook dispatcher started"`) || strings.Contains(logs, "interrupted") || strings.Contains(logs, "left RUNNING") {
		t.Errorf("start logs = %s, want the start without interrupted jobs", logs)
	}
}

func TestLifecycleErrors(t *testing.T) {
	h := newHarness(t, nil, testConfig(), nil)
	if err := h.d.Start(t.Context()); err != nil {
		t.Fatalf("start: %v", err)
	}
	if err := h.d.Start(t.Context()); !errors.Is(err, ErrAlreadyStarted) {
		t.Errorf("second start error = %v, want ErrAlreadyStarted", err)
	}
	if _, err := h.d.Wait(t.Context(), "missing"); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("wait for unknown job error = %v, want ErrJobNotFound", err)
	}
	job, err := h.d.Enqueue(t.Context(), Job{Executor: "crm-sync", URL: "http://127.0.0.1:9/never", Body: []byte(`{}`), Policy: Policy{BackoffBase: time.Hour, BackoffMax: time.Hour}})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.d.Wait(ctx, job.ID); !errors.Is(err, context.Canceled) {
		t.Errorf("wait with canceled context error = %v, want context.Canceled", err)
	}
	if err := h.d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := h.d.Wait(t.Context(), job.ID); !errors.Is(err, ErrClosed) {
		t.Errorf("wait after close error = %v, want ErrClosed", err)
	}
	if err := h.d.Start(t.Context()); !errors.Is(err, ErrClosed) && !errors.Is(err, ErrAlreadyStarted) {
		t.Errorf("start after close error = %v, want ErrClosed or ErrAlreadyStarted", err)
	}
}

func TestNewDispatcherRejectsBadArguments(t *testing.T) {
	db := openDB(t, "")
	if _, err := NewDispatcher(nil, testConfig(), newFakeSecrets(nil), nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("nil database error = %v, want ErrInvalidConfig", err)
	}
	cfg := testConfig()
	cfg.Workers = 0
	if _, err := NewDispatcher(db, cfg, newFakeSecrets(nil), nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("zero workers error = %v, want ErrInvalidConfig", err)
	}
}

func TestRetryOfCanceledBackoffRunsNow(t *testing.T) {
	var healthy atomic.Bool
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		if healthy.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	h := newHarness(t, nil, testConfig(), nil)
	recorded := make(chan Job, 4)
	h.d.afterAttempt = func(j Job) { recorded <- j }
	if err := h.d.Start(t.Context()); err != nil {
		t.Fatalf("start: %v", err)
	}
	job, err := h.d.Enqueue(t.Context(), Job{Executor: "crm-sync", URL: rc.URL, Body: []byte(`{}`),
		Policy: Policy{BackoffBase: time.Hour, BackoffMax: time.Hour}})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	if first := <-recorded; first.Status != StatusPending {
		t.Fatalf("status after 500 = %s, want PENDING", first.Status)
	}

	if _, err := h.d.Cancel(t.Context(), job.ID); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	healthy.Store(true)
	if _, err := h.d.Retry(t.Context(), job.ID); err != nil {
		t.Fatalf("retry: %v", err)
	}

	// The hour-long wait of the canceled round must not delay the new one.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done, err := h.d.Wait(ctx, job.ID)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	if done.Status != StatusSuccess || done.Round != 2 {
		t.Errorf("job = {%s, round %d}, want {SUCCESS, 2}", done.Status, done.Round)
	}
}

// TestJobsShowsAttemptInFlightAsRunning checks that a job whose attempt is
// in flight, which stays PENDING in the database, is listed as RUNNING and
// found by that status, and is stored as PENDING so that a crash resumes it.
func TestJobsShowsAttemptInFlightAsRunning(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		close(arrived)
		<-release
		w.WriteHeader(http.StatusOK)
	})
	h := startDispatcher(t, nil, testConfig(), nil)
	ctx := t.Context()
	j, err := h.d.Enqueue(ctx, Job{ID: "job-in-flight", Executor: "crm-sync", URL: rc.URL, Body: []byte(`{}`)})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	<-arrived

	got, err := h.d.Job(ctx, j.ID)
	if err != nil || got.Status != StatusRunning {
		t.Errorf("Job = {%s, %v}, want RUNNING", got.Status, err)
	}
	for _, tc := range []struct {
		status Status
		want   int
	}{{StatusRunning, 1}, {StatusPending, 0}, {"", 1}} {
		jobs, err := h.d.Jobs(ctx, "crm-sync", tc.status)
		if err != nil || len(jobs) != tc.want || (tc.want == 1 && jobs[0].Status != StatusRunning) {
			t.Errorf("Jobs(status %q) = %v, %v; want %d job RUNNING", tc.status, jobs, err, tc.want)
		}
	}
	stored, err := h.d.store.get(j.ID)
	if err != nil || stored.Status != StatusPending {
		t.Errorf("stored job = {%s, %v}, want PENDING", stored.Status, err)
	}

	close(release)
	done, err := h.d.Wait(ctx, j.ID)
	if err != nil || done.Status != StatusSuccess {
		t.Fatalf("Wait = {%s, %v}, want SUCCESS", done.Status, err)
	}
	if jobs, err := h.d.Jobs(ctx, "crm-sync", StatusRunning); err != nil || len(jobs) != 0 {
		t.Errorf("Jobs(RUNNING) after delivery = %v, %v; want none", jobs, err)
	}
}

// TestSubmitThenSync submits jobs without waiting for each flush, syncs
// once, and abandons the store as a killed process would: every job must
// come back from the journal, and be delivered after a restart.
func TestSubmitThenSync(t *testing.T) {
	rc := newReceiver(t, statusAlways(http.StatusNoContent))
	dir := t.TempDir()
	db := openDB(t, dir)
	h := newHarness(t, db, testConfig(), nil)
	ids := []string{"job-a", "job-b", "job-c"}
	for _, id := range ids {
		got, err := h.d.Submit(t.Context(), Job{ID: id, Executor: "crm-sync", URL: rc.URL, Body: []byte(`{}`)})
		if err != nil {
			t.Fatalf("submit %s: %v", id, err)
		}
		if got.Status != StatusPending {
			t.Errorf("submitted %s has status %s, want PENDING", id, got.Status)
		}
	}
	if err := h.d.Sync(t.Context()); err != nil {
		t.Fatalf("sync: %v", err)
	}
	abandon(t, h.d.store)
	if err := db.Close(); err != nil {
		t.Fatalf("close database: %v", err)
	}

	h = startDispatcher(t, openDB(t, dir), testConfig(), nil)
	for _, id := range ids {
		done, err := h.d.Wait(t.Context(), id)
		if err != nil {
			t.Fatalf("wait %s: %v", id, err)
		}
		if done.Status != StatusSuccess {
			t.Errorf("job %s after restart is %s, want SUCCESS", id, done.Status)
		}
	}
	if n := rc.count.Load(); n != int64(len(ids)) {
		t.Errorf("receiver got %d requests, want %d", n, len(ids))
	}
}

// TestAttemptStartsAfterJobIsWritten submits jobs to a started
// dispatcher: when the receiver gets a request, the job must already be
// in the journal's file, where killing the process cannot lose it.
func TestAttemptStartsAfterJobIsWritten(t *testing.T) {
	dir := t.TempDir()
	var missing atomic.Int64
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		found, err := journalFilesContain(filepath.Join(dir, journalDir), r.Header.Get(HeaderID))
		if err != nil {
			t.Errorf("read journal: %v", err)
		}
		if !found {
			missing.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	h := startDispatcher(t, openDB(t, dir), testConfig(), nil)
	var ids []string
	for i := range 50 {
		j, err := h.d.Submit(t.Context(), Job{ID: fmt.Sprintf("job-%d", i), Executor: "crm-sync", URL: rc.URL, Body: []byte(`{}`)})
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		ids = append(ids, j.ID)
	}
	for _, id := range ids {
		if _, err := h.d.Wait(t.Context(), id); err != nil {
			t.Fatalf("wait %s: %v", id, err)
		}
	}
	if n := missing.Load(); n != 0 {
		t.Errorf("%d of %d requests reached the receiver before their job was in the journal's file", n, len(ids))
	}
}

func TestSubmitRejectsInvalidJob(t *testing.T) {
	h := newHarness(t, nil, testConfig(), nil)
	_, err := h.d.Submit(t.Context(), Job{ID: "job-1", URL: "http://127.0.0.1:1/"})
	if !errors.Is(err, ErrInvalidJob) {
		t.Fatalf("submit without executor = %v, want ErrInvalidJob", err)
	}
	if _, err := h.d.Job(t.Context(), "job-1"); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("rejected job lookup = %v, want ErrJobNotFound", err)
	}
}

// journalFilesContain reports whether a file in dir contains s. It may
// run on a handler's goroutine, so it reports read errors rather than
// failing the test.
func journalFilesContain(dir, s string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return false, err
		}
		if bytes.Contains(data, []byte(s)) {
			return true, nil
		}
	}
	return false, nil
}

// TestGeneratedJobIDIsLowerCase enqueues jobs without an id: each gets
// "msg_" and 26 lower-case base32 characters, the form of the ids the
// runtime derives from event ids.
func TestGeneratedJobIDIsLowerCase(t *testing.T) {
	rc := newReceiver(t, statusAlways(http.StatusOK))
	h := startDispatcher(t, nil, testConfig(), nil)
	form := regexp.MustCompile(`^msg_[a-z2-7]{26}$`)
	for range 20 {
		job, err := h.d.Enqueue(t.Context(), Job{Executor: "crm-sync", URL: rc.URL, Body: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		if !form.MatchString(job.ID) {
			t.Fatalf("generated id %q, want msg_ and 26 lower-case base32 characters", job.ID)
		}
		if err := validateJobID(job.ID); err != nil {
			t.Fatalf("generated id %q: %v", job.ID, err)
		}
	}
}

// A dispatcher sweeps finished jobs past Retention when it starts, and then
// every Retention when that is shorter than RetentionInterval, so a short
// retention takes effect even when the process restarts more often than
// RetentionInterval.
func TestRetentionSweepAtStartAndInterval(t *testing.T) {
	ok := newReceiver(t, statusAlways(http.StatusOK))
	clock := newFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cfg := testConfig()
	cfg.Clock = clock
	cfg.Retention = 2 * time.Hour
	cfg.RetentionInterval = 5 * time.Hour
	db := openDB(t, "")
	first := startDispatcher(t, db, cfg, nil)
	old := first.deliver(t, Job{URL: ok.URL})
	if err := first.d.Close(); err != nil {
		t.Fatalf("close first dispatcher: %v", err)
	}
	clock.Advance(3 * time.Hour)

	timers := clock.watchTimers()
	armed := make(chan struct{})
	go func() {
		for d := range timers {
			if d == cfg.Retention {
				close(armed)
				break
			}
		}
		for range timers {
		}
	}()
	h := startDispatcher(t, db, cfg, nil)
	select {
	case <-armed:
	case <-time.After(30 * time.Second):
		t.Fatalf("no retention timer of %s was armed", cfg.Retention)
	}
	if _, err := h.d.Job(t.Context(), old.ID); !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("job finished %s ago, after start: error %v, want ErrJobNotFound", 3*time.Hour, err)
	}
}

func TestRetentionSweepInterval(t *testing.T) {
	tests := []struct {
		retention, interval, want time.Duration
	}{
		{30 * 24 * time.Hour, time.Hour, time.Hour},
		{10 * time.Minute, time.Hour, 10 * time.Minute},
		{time.Nanosecond, time.Hour, time.Second},
		{time.Hour, time.Millisecond, time.Millisecond},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		cfg.Retention = tt.retention
		cfg.RetentionInterval = tt.interval
		if got := retentionSweepInterval(cfg); got != tt.want {
			t.Errorf("retention %s, interval %s: sweep every %s, want %s", tt.retention, tt.interval, got, tt.want)
		}
	}
}
