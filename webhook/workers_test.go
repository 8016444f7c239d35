package webhook

import (
	"fmt"
	"net/http"
	"testing"
)

// TestCloseRunsAttemptSentToWorker closes the dispatcher just after an
// attempt was sent to an idle worker. The attempt is in flight, so Close
// must run it before it returns.
func TestCloseRunsAttemptSentToWorker(t *testing.T) {
	// A worker that chose between the attempt and the shutdown at random
	// would skip the attempt in about half of the rounds.
	for round := range 16 {
		t.Run(fmt.Sprintf("round=%d", round), func(t *testing.T) {
			rc := newReceiver(t, statusAlways(http.StatusNoContent))
			cfg := testConfig()
			cfg.Workers = 1
			h := newHarness(t, nil, cfg, nil)

			// The only worker stops in afterAttempt after its first
			// attempt, already counted idle.
			paused, release := make(chan struct{}), make(chan struct{})
			first := true
			h.d.afterAttempt = func(Job) {
				if first {
					first = false
					close(paused)
					<-release
				}
			}
			// The scheduler reports when it has sent job "second".
			sent := make(chan struct{}, 1)
			h.d.afterDispatch = func() {
				h.d.mu.Lock()
				_, running := h.d.running["second"]
				h.d.mu.Unlock()
				if running {
					select {
					case sent <- struct{}{}:
					default:
					}
				}
			}
			if err := h.d.Start(t.Context()); err != nil {
				t.Fatalf("start: %v", err)
			}

			enqueue := func(id string) {
				if _, err := h.d.Enqueue(t.Context(), Job{ID: id, Executor: "crm-sync", URL: rc.URL, Body: []byte(`{}`)}); err != nil {
					t.Fatalf("enqueue %s: %v", id, err)
				}
			}
			enqueue("first")
			<-paused
			enqueue("second")
			<-sent

			h.d.shutdown()
			close(release)
			if err := h.d.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if got := rc.count.Load(); got != 2 {
				t.Errorf("requests received before Close returned = %d, want 2", got)
			}
		})
	}
}
