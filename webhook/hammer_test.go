package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestHammerConcurrentJobs delivers many jobs to several flaky receivers
// while another goroutine cancels and retries jobs, then checks that no
// job was ever attempted twice at once and that every round's attempt
// numbers are exact.
func TestHammerConcurrentJobs(t *testing.T) {
	const (
		receivers   = 3
		jobs        = 300
		maxAttempts = 4
	)
	var mu sync.Mutex
	inFlight := map[string]int{}
	var overlaps []string
	var urls []string
	for r := range receivers {
		rng := rand.New(rand.NewPCG(uint64(r), 7))
		var rngMu sync.Mutex
		rc := newReceiver(t, func(w http.ResponseWriter, req *http.Request, _ int64) {
			_, _ = io.Copy(io.Discard, req.Body)
			id := req.Header.Get(HeaderID)
			mu.Lock()
			inFlight[id]++
			if inFlight[id] > 1 {
				overlaps = append(overlaps, id)
			}
			mu.Unlock()
			defer func() {
				mu.Lock()
				inFlight[id]--
				mu.Unlock()
			}()

			rngMu.Lock()
			fail := rng.IntN(10) < 4
			rngMu.Unlock()
			if fail {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		urls = append(urls, rc.URL)
	}

	cfg := testConfig()
	cfg.Workers = 8
	cfg.PerHostConcurrency = 3
	cfg.Policy.MaxAttempts = maxAttempts
	h := startDispatcher(t, nil, cfg, nil)

	ids := make([]string, jobs)
	for i := range jobs {
		j, err := h.d.Enqueue(t.Context(), Job{
			ID: fmt.Sprintf("hammer-%03d", i), Executor: "hammer", URL: urls[i%receivers], Body: []byte(`{}`),
		})
		if err != nil {
			t.Fatalf("enqueue: %v", err)
		}
		ids[i] = j.ID
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for range 80 {
		id := ids[rng.IntN(jobs)]
		if _, err := h.d.Cancel(t.Context(), id); err != nil && !errors.Is(err, ErrInvalidState) {
			t.Fatalf("cancel %s: %v", id, err)
		}
		if _, err := h.d.Retry(t.Context(), id); err != nil && !errors.Is(err, ErrInvalidState) {
			t.Fatalf("retry %s: %v", id, err)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for _, id := range ids {
		j, err := h.d.Wait(ctx, id)
		if err != nil {
			t.Fatalf("wait for %s: %v", id, err)
		}
		if j.Status != StatusSuccess && j.Status != StatusFailed {
			t.Errorf("job %s status = %s, want SUCCESS or FAILED", id, j.Status)
		}
		checkRounds(t, j, maxAttempts)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(overlaps) > 0 {
		t.Errorf("jobs attempted twice at once: %v", overlaps)
	}
}

// checkRounds verifies that attempt numbers run 1, 2, … within each round,
// that no round exceeds maxAttempts, and that a FAILED job's last round
// used all of them.
func checkRounds(t *testing.T, j Job, maxAttempts int) {
	t.Helper()
	next := map[int]int{}
	for _, a := range j.Attempts {
		next[a.Round]++
		if a.Number != next[a.Round] {
			t.Errorf("job %s round %d attempt number = %d, want %d", j.ID, a.Round, a.Number, next[a.Round])
		}
		if a.Number > maxAttempts {
			t.Errorf("job %s round %d has attempt %d, want at most %d", j.ID, a.Round, a.Number, maxAttempts)
		}
	}
	if j.Status == StatusFailed && next[j.Round] != maxAttempts {
		t.Errorf("failed job %s used %d attempts in its last round, want %d", j.ID, next[j.Round], maxAttempts)
	}
}
