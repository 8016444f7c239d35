package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultySyncer replaces the state database's flush. Sync returns the error
// set with fail, as on a full disk.
type faultySyncer struct {
	mu  sync.Mutex
	err error
}

func (f *faultySyncer) Sync(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *faultySyncer) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// useSyncer makes checkpoints of s flush the database through sy.
func useSyncer(s *store, sy dbSyncer) {
	s.checkpointMu.Lock()
	defer s.checkpointMu.Unlock()
	s.syncer = sy
}

// recordHandler is a slog.Handler that keeps every record, so that a
// test can count them. It drops the attributes of With.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// withMessage returns the records with message msg, each as its level and
// its "failures" attribute.
func (h *recordHandler) withMessage(msg string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.records {
		if r.Message != msg {
			continue
		}
		line := r.Level.String()
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "failures" {
				line += " failures=" + a.Value.String()
			}
			return true
		})
		out = append(out, line)
	}
	return out
}

var errDiskFull = errors.New("no space left on device")

// TestCheckpointFailuresBackOffAndRecover makes every checkpoint fail while
// two minutes pass on a fake clock, a second at a time, with a job
// pending. The checkpoints must be retried after 1, 2, 4, 8, 16 and 32
// seconds and then every minute, each failure logged once with its count,
// and the first success after them logged once as a recovery.
func TestCheckpointFailuresBackOffAndRecover(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := newFakeClock(start)
	timers := clock.watchTimers()
	logs := &recordHandler{}
	s, err := openStore(openDB(t, ""), clock, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	next := <-timers
	syncer := &faultySyncer{err: errDiskFull}
	useSyncer(s, syncer)
	if _, _, err := s.insert(t.Context(), testJob("job-1", start)); err != nil {
		t.Fatal(err)
	}

	// advance moves the clock a second at a time, and after each timer
	// that fires waits until the checkpoint loop armed the next one.
	var delays []time.Duration
	advance := func(seconds int) {
		t.Helper()
		for range seconds {
			clock.Advance(time.Second)
			if next -= time.Second; next <= 0 {
				next = <-timers
				delays = append(delays, next)
			}
		}
	}
	advance(120)

	const failedMsg = "webhook job checkpoint failed; the journal keeps the jobs"
	wantDelays := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 32 * time.Second, time.Minute}
	if !slices.Equal(delays, wantDelays) {
		t.Errorf("checkpoint delays over two failing minutes = %v, want %v", delays, wantDelays)
	}
	wantLogs := []string{"ERROR failures=1", "ERROR failures=2", "ERROR failures=3", "ERROR failures=4",
		"ERROR failures=5", "ERROR failures=6", "ERROR failures=7"}
	if got := logs.withMessage(failedMsg); !slices.Equal(got, wantLogs) {
		t.Errorf("failure logs over two failing minutes = %q, want %q", got, wantLogs)
	}
	f := s.failure()
	if !errors.Is(f.Err, errDiskFull) {
		t.Errorf("failure's error = %v, want the disk's error", f.Err)
	}
	f.Err = nil
	if want := (CheckpointFailure{Since: start.Add(time.Second), Failures: 7, Pending: 1}); f != want {
		t.Errorf("failure = %+v, want %+v", f, want)
	}

	// The disk has room again: the next retry, a minute after the last
	// one, succeeds, and checkpoints return to every second.
	syncer.fail(nil)
	delays = nil
	advance(4)
	if !slices.Equal(delays, []time.Duration{time.Second}) {
		t.Errorf("delay after the recovery = %v, want [1s]", delays)
	}
	if got := logs.withMessage("webhook job checkpoint recovered"); !slices.Equal(got, []string{"INFO failures=7"}) {
		t.Errorf("recovery logs = %q, want one at INFO with failures=7", got)
	}
	if got := logs.withMessage(failedMsg); len(got) != 7 {
		t.Errorf("%d failure logs after the recovery, want the 7 before it", len(got))
	}
	if f := s.failure(); f != (CheckpointFailure{}) {
		t.Errorf("failure after the recovery = %+v, want none and nothing pending", f)
	}
	readStored(t, s, "job-1")
}

// TestDispatcherReportsCheckpointFailure fails a checkpoint of a
// dispatcher's jobs: CheckpointFailure must report it with its error, the
// time of the clock and what to do, and report nothing once a checkpoint
// succeeds again.
func TestDispatcherReportsCheckpointFailure(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	clock := newFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cfg.Clock = clock
	h := newHarness(t, openDB(t, dir), cfg, nil)
	if _, failing := h.d.CheckpointFailure(); failing {
		t.Fatal("CheckpointFailure reports a failure before any checkpoint failed")
	}
	syncer := &faultySyncer{err: errDiskFull}
	useSyncer(h.d.store, syncer)
	if _, err := h.d.Submit(t.Context(), Job{ID: "job-1", Executor: "crm-sync", URL: "http://127.0.0.1:1/", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := h.d.store.checkpoint(); !errors.Is(err, errDiskFull) {
			t.Fatalf("checkpoint = %v, want the disk's error", err)
		}
	}

	f, failing := h.d.CheckpointFailure()
	if !failing || !errors.Is(f.Err, errDiskFull) {
		t.Errorf("CheckpointFailure = %v, %v; want true and the disk's error", failing, f.Err)
	}
	remedy := f.Remedy()
	f.Err = nil
	if want := (CheckpointFailure{Since: clock.Now(), Failures: 2, Pending: 1, Dir: dir}); f != want {
		t.Errorf("CheckpointFailure = %+v, want %+v", f, want)
	}
	if !strings.Contains(remedy, "free space in the state directory "+dir+" or check the log") {
		t.Errorf("Remedy = %q, want it to name %s and the log", remedy, dir)
	}

	syncer.fail(nil)
	if err := h.d.store.checkpoint(); err != nil {
		t.Fatal(err)
	}
	if f, failing := h.d.CheckpointFailure(); failing {
		t.Errorf("CheckpointFailure after a checkpoint succeeded = %+v, want none", f)
	}
}

// TestAttemptRecordRefusedIsStoredLater delivers jobs while the store
// refuses every change, because checkpoints fail and the change limit is
// reached. Each request is made once. Once a checkpoint succeeds, the
// record of each attempt is stored without a second request, and the
// jobs end SUCCESS with one attempt.
func TestAttemptRecordRefusedIsStoredLater(t *testing.T) {
	rcv := newReceiver(t, statusAlways(http.StatusOK))
	h := newHarness(t, openDB(t, t.TempDir()), testConfig(), nil)
	h.d.store.mu.Lock()
	h.d.store.checkpointJobs = 1
	h.d.store.mu.Unlock()
	syncer := &faultySyncer{err: errDiskFull}
	useSyncer(h.d.store, syncer)

	// pendingLimit jobs fill the store's room for changes.
	ids := make([]string, pendingLimit)
	for i := range ids {
		ids[i] = fmt.Sprintf("job-%d", i)
		if _, err := h.d.Submit(t.Context(), Job{ID: ids[i], Executor: "crm-sync", URL: rcv.URL, Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.d.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := h.d.store.checkpoint(); !errors.Is(err, errDiskFull) {
		t.Fatalf("checkpoint error = %v, want the disk fault", err)
	}
	if err := h.d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every job's request", func() bool { return rcv.count.Load() == int64(len(ids)) })
	waitFor(t, "the refused records", func() bool {
		return strings.Count(h.logs.String(), "webhook attempt not recorded") == len(ids)
	})

	syncer.fail(nil)
	if err := h.d.store.checkpoint(); err != nil {
		t.Fatalf("checkpoint after the fault cleared: %v", err)
	}
	// The minute only stops a wait for a job that never finishes.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for _, id := range ids {
		j, err := h.d.Wait(ctx, id)
		if err != nil || j.Status != StatusSuccess || len(j.Attempts) != 1 {
			t.Errorf("job %s = %s with %d attempts, %v; want SUCCESS with 1 attempt", id, j.Status, len(j.Attempts), err)
		}
	}
	if n := rcv.count.Load(); n != int64(len(ids)) {
		t.Errorf("receiver got %d requests, want %d: a refused record must not send the request again", n, len(ids))
	}
	if n := strings.Count(h.logs.String(), "webhook attempt not recorded"); n != len(ids) {
		t.Errorf("refused records logged %d times, want once per job (%d)", n, len(ids))
	}
}
