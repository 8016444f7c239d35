package webhook

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestBreakerTransitions(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var b breaker
	const threshold, cooldown = 2, time.Minute

	if ok, _ := b.allow(now); !ok {
		t.Fatalf("closed breaker rejects an attempt")
	}
	b.record(false, now, threshold, cooldown)
	if b.state != breakerClosed {
		t.Fatalf("state after 1 of 2 failures = %s, want closed", b.state)
	}
	b.record(false, now, threshold, cooldown)
	if b.state != breakerOpen {
		t.Fatalf("state after 2 of 2 failures = %s, want open", b.state)
	}
	if ok, retryAt := b.allow(now.Add(cooldown - time.Second)); ok || !retryAt.Equal(now.Add(cooldown)) {
		t.Errorf("allow during cool-down = (%v, %v), want (false, %v)", ok, retryAt, now.Add(cooldown))
	}
	if ok, _ := b.allow(now.Add(cooldown)); !ok {
		t.Fatalf("allow after cool-down = false, want a probe")
	}
	if ok, _ := b.allow(now.Add(cooldown)); ok {
		t.Errorf("second allow while probing = true, want false")
	}
	b.record(false, now.Add(cooldown), threshold, cooldown)
	if b.state != breakerOpen || !b.openUntil.Equal(now.Add(2*cooldown)) {
		t.Errorf("after failed probe = {%s, until %v}, want {open, until %v}", b.state, b.openUntil, now.Add(2*cooldown))
	}
	if ok, _ := b.allow(now.Add(2 * cooldown)); !ok {
		t.Fatalf("allow after second cool-down = false, want a probe")
	}
	b.record(true, now.Add(2*cooldown), threshold, cooldown)
	if b.state != breakerClosed || b.failures != 0 {
		t.Errorf("after successful probe = {%s, %d failures}, want {closed, 0}", b.state, b.failures)
	}
}

// pauseDestination enqueues five jobs to a failing receiver with a breaker
// that opens after three failures, and returns once it is open.
func pauseDestination(t *testing.T, h *harness, url string, recorded chan Job) []string {
	t.Helper()
	var ids []string
	for range 5 {
		j, err := h.d.Enqueue(t.Context(), Job{Executor: "crm-sync", URL: url, Body: []byte(`{}`)})
		if err != nil {
			t.Fatalf("enqueue: %v", err)
		}
		ids = append(ids, j.ID)
	}
	for range 3 {
		<-recorded
	}
	// The scheduler may not have moved the last enqueued jobs to the ready
	// queue yet. This pass moves them, and the open breaker keeps them waiting.
	h.d.dispatchDue()

	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	dst := h.d.dests[destinationKey(url)]
	if dst == nil || dst.breaker.state != breakerOpen {
		t.Fatalf("breaker after 3 failures is not open")
	}
	if len(dst.ready) != 2 {
		t.Errorf("jobs waiting on the paused destination = %d, want 2", len(dst.ready))
	}
	return ids
}

func breakerConfig(clock Clock) Config {
	cfg := testConfig()
	cfg.Clock = clock
	cfg.PerHostConcurrency = 1
	cfg.BreakerFailures = 3
	cfg.BreakerCooldown = time.Minute
	return cfg
}

func TestBreakerPausesAndResumesDestination(t *testing.T) {
	var healthy atomic.Bool
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		if healthy.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	})
	clock := newFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	h := newHarness(t, nil, breakerConfig(clock), nil)
	recorded := make(chan Job, 16)
	h.d.afterAttempt = func(j Job) { recorded <- j }
	if err := h.d.Start(t.Context()); err != nil {
		t.Fatalf("start: %v", err)
	}

	ids := pauseDestination(t, h, rc.URL, recorded)

	if n := rc.count.Load(); n != 3 {
		t.Errorf("requests while paused = %d, want 3", n)
	}
	attempts := 0
	for _, id := range ids {
		j, err := h.d.Job(t.Context(), id)
		if err != nil {
			t.Fatalf("get job: %v", err)
		}
		if j.Status != StatusPending {
			t.Errorf("job %s status while paused = %s, want PENDING", id, j.Status)
		}
		attempts += len(j.Attempts)
	}
	if attempts != 3 {
		t.Errorf("attempts used while paused = %d, want 3", attempts)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "webhook destination paused") {
		t.Errorf("logs lack the pause event: %s", logs)
	}

	healthy.Store(true)
	clock.Advance(time.Minute)
	for _, id := range ids {
		j, err := h.d.Wait(t.Context(), id)
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		if j.Status != StatusSuccess {
			t.Errorf("job %s status after resume = %s, want SUCCESS", id, j.Status)
		}
	}
	if n := rc.count.Load(); n != 8 {
		t.Errorf("requests in all = %d, want 8 (3 failures, 5 deliveries)", n)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "webhook destination resumed") {
		t.Errorf("logs lack the resume event")
	}
}

func TestBreakerBacklogSurvivesRestart(t *testing.T) {
	var healthy atomic.Bool
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		if healthy.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	db := openDB(t, "")
	clock := newFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	first := newHarness(t, db, breakerConfig(clock), nil)
	recorded := make(chan Job, 16)
	first.d.afterAttempt = func(j Job) { recorded <- j }
	if err := first.d.Start(t.Context()); err != nil {
		t.Fatalf("start: %v", err)
	}
	ids := pauseDestination(t, first, rc.URL, recorded)
	if err := first.d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	healthy.Store(true)
	second := startDispatcher(t, db, testConfig(), nil)
	for _, id := range ids {
		j, err := second.d.Wait(t.Context(), id)
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		if j.Status != StatusSuccess {
			t.Errorf("job %s status after restart = %s, want SUCCESS", id, j.Status)
		}
	}
}

func TestDisableBreakerKeepsDestinationOpen(t *testing.T) {
	rc := newReceiver(t, statusAlways(http.StatusBadGateway))
	clock := newFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cfg := breakerConfig(clock)
	cfg.DisableBreaker = true
	h := newHarness(t, nil, cfg, nil)
	recorded := make(chan Job, 16)
	h.d.afterAttempt = func(j Job) { recorded <- j }
	if err := h.d.Start(t.Context()); err != nil {
		t.Fatalf("start: %v", err)
	}

	// Five jobs of one attempt each fail in a row, two more than the
	// threshold, and the clock never moves: every attempt must still run.
	for i := range 5 {
		j, err := h.d.Enqueue(t.Context(), Job{Executor: "crm-sync", URL: rc.URL, Body: []byte(`{}`), Policy: Policy{MaxAttempts: 1}})
		if err != nil {
			t.Fatalf("enqueue: %v", err)
		}
		<-recorded
		h.d.mu.Lock()
		dst := h.d.dests[destinationKey(rc.URL)]
		open := dst != nil && dst.breaker.state != breakerClosed
		h.d.mu.Unlock()
		if open {
			t.Fatalf("breaker after %d failures is %s, want closed", i+1, dst.breaker.state)
		}
		done, err := h.d.Wait(t.Context(), j.ID)
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		if done.Status != StatusFailed || len(done.Attempts) != 1 {
			t.Errorf("job %d = %s after %d attempts, want FAILED after 1", i+1, done.Status, len(done.Attempts))
		}
	}
	if n := rc.count.Load(); n != 5 {
		t.Errorf("requests = %d, want 5", n)
	}
	if logs := h.logs.String(); strings.Contains(logs, "webhook destination paused") {
		t.Errorf("logs show a pause with the breaker off: %s", logs)
	}
}
