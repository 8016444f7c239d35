package webhook

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Environment variables that turn the test binary into the crash helper.
const (
	crashEnvDir = "WEBHOOK_CRASH_HELPER_DIR"
	crashEnvURL = "WEBHOOK_CRASH_HELPER_URL"
)

const crashJobs = 500

// TestCrashHelper is the child process of TestCrashResume: it enqueues
// crashJobs jobs, half before Start and half while delivering, printing
// each id once Enqueue returns, and delivers them until the parent kills
// it. It does nothing in a normal test run.
func TestCrashHelper(t *testing.T) {
	dir, url := os.Getenv(crashEnvDir), os.Getenv(crashEnvURL)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashResume")
	}
	db := openDB(t, dir)
	h := newHarness(t, db, testConfig(), nil)
	for i := range crashJobs {
		if i == crashJobs/2 {
			if err := h.d.Start(context.Background()); err != nil {
				t.Fatalf("start: %v", err)
			}
		}
		id := fmt.Sprintf("crash-%04d", i)
		body := fmt.Sprintf(`{"job":%q}`, id)
		if _, err := h.d.Enqueue(context.Background(), Job{ID: id, Executor: "crash", URL: url, Body: []byte(body)}); err != nil {
			t.Fatalf("enqueue %s: %v", id, err)
		}
		fmt.Printf("enqueued %s\n", id)
	}
	// The parent kills this process long before the timeout.
	<-time.After(time.Minute)
	t.Fatal("crash helper was not killed")
}

func TestCrashResume(t *testing.T) {
	if os.Getenv(crashEnvDir) != "" {
		t.Skip("running as the crash helper")
	}
	if testing.Short() {
		t.Skip("starts a subprocess")
	}

	var mu sync.Mutex
	seen := map[string]int{}
	var mismatched []string
	var total atomic.Int64
	killAt := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		var body struct{ Job string }
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &body); err != nil {
			t.Errorf("receiver: decode body %q: %v", data, err)
		}
		id := r.Header.Get(HeaderID)
		mu.Lock()
		seen[id]++
		if id != body.Job {
			mismatched = append(mismatched, fmt.Sprintf("webhook-id %q for body of %q", id, body.Job))
		}
		mu.Unlock()
		if total.Add(1) == crashJobs*2/5 {
			close(killAt)
		}
		w.WriteHeader(http.StatusNoContent)
	})

	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvDir+"="+dir, crashEnvURL+"="+rc.URL)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start crash helper: %v", err)
	}

	var acked []string
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "enqueued "); ok {
				acked = append(acked, id)
			}
		}
	}()

	select {
	case <-killAt:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("crash helper delivered %d jobs in 30 s, want %d; stderr: %s", total.Load(), crashJobs*2/5, stderr.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill crash helper: %v", err)
	}
	<-scanned
	_ = cmd.Wait()
	deliveredBeforeRestart := total.Load()
	t.Logf("killed after %d deliveries and %d acknowledged enqueues", deliveredBeforeRestart, len(acked))

	db := openDB(t, dir)
	h := startDispatcher(t, db, testConfig(), nil)
	for _, id := range acked {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		j, err := h.d.Wait(ctx, id)
		cancel()
		if err != nil {
			t.Fatalf("wait for acknowledged job %s: %v", id, err)
		}
		if j.Status != StatusSuccess {
			t.Errorf("job %s status = %s, want %s", id, j.Status, StatusSuccess)
		}
	}
	jobs, err := h.d.Jobs(t.Context(), "crash", "")
	if err != nil {
		t.Fatalf("list jobs: %v", err)
	}
	for _, j := range jobs {
		if !j.Status.Finished() {
			if _, err := h.d.Wait(t.Context(), j.ID); err != nil {
				t.Fatalf("wait for job %s: %v", j.ID, err)
			}
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if len(mismatched) > 0 {
		t.Errorf("deliveries with the wrong webhook-id: %v", mismatched)
	}
	for _, id := range acked {
		if seen[id] < 1 {
			t.Errorf("receiver never got acknowledged job %s", id)
		}
	}
	if len(jobs) < len(acked) {
		t.Errorf("stored jobs = %d, want at least the %d acknowledged", len(jobs), len(acked))
	}
	stored := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		stored[j.ID] = true
	}
	for id := range seen {
		if !stored[id] {
			t.Errorf("receiver got job %s, which is not stored", id)
		}
	}
	duplicates := 0
	for _, n := range seen {
		duplicates += n - 1
	}
	t.Logf("%d jobs stored, %d delivered more than once", len(jobs), duplicates)
}
