package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncWriter serialises writes to a buffer shared by the logger.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) lines() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(w.buf.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

// TestGuestLogRateLimited fires a Go guest that logs four lines per
// firing, and checks that its lines reach slog with the executor's name,
// at most the configured rate, and that dropped lines are counted.
func TestGuestLogRateLimited(t *testing.T) {
	dir := goGuestDir(t)
	out := &syncWriter{}
	cfg := testConfig(dir)
	cfg.Limits.Timeout = 10 * time.Second
	cfg.Limits.MemoryPages = 1024
	cfg.LogRate = 10
	cfg.Env = []byte(`{"base":"http://127.0.0.1:9"}`)
	cfg.Logger = slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rt := newTestRuntime(t, cfg)
	exec, err := rt.Executor("test-go-log-url")
	if err != nil {
		t.Fatal(err)
	}

	args := []byte(`{"typeName":"order","newRecord":{"id":"o-7"},"env":{"base":"http://127.0.0.1:9"},"event":"created","rawEvent":"tailordb.type_record.created"}`)
	start := time.Now()
	const firings = 20
	for i := 0; i < firings; i++ {
		o, err := rt.Fire(context.Background(), exec, args)
		if err != nil {
			t.Fatalf("firing %d: %v", i, err)
		}
		if o.URL != "http://127.0.0.1:9/orders/o-7" {
			t.Fatalf("computed URL = %q, want http://127.0.0.1:9/orders/o-7", o.URL)
		}
	}
	elapsed := time.Since(start)

	var guestLines, dropped, limitWarnings int
	for _, rec := range out.lines() {
		if rec["msg"] == "guest log rate limit reached; dropping lines" {
			limitWarnings++
			continue
		}
		if rec["msg"] != "guest log" {
			continue
		}
		guestLines++
		if rec["executor"] != "test-go-log-url" {
			t.Errorf("guest log line without the executor's name: %v", rec)
		}
		if n, ok := rec["dropped_lines"].(float64); ok {
			dropped += int(n)
		}
	}
	t.Logf("%d guest log lines reached slog, %d reported dropped, in %s", guestLines, dropped, elapsed)

	// A burst of LogRate lines, plus what the bucket refilled meanwhile.
	allowed := 10 + int(elapsed.Seconds()*10) + 1
	if guestLines == 0 || guestLines > allowed {
		t.Errorf("guest log lines = %d, want between 1 and %d for a rate of 10 per second over %s", guestLines, allowed, elapsed)
	}
	if guestLines >= firings*4 {
		t.Errorf("guest log lines = %d for %d lines written, want some dropped", guestLines, firings*4)
	}
	if limitWarnings != 1 {
		t.Errorf("rate limit warnings = %d, want 1 when the guest starts losing lines", limitWarnings)
	}
}

// goGuestDir returns a new plugin directory holding the Go SDK guest of
// testdata/plugins/go-guest.
func goGuestDir(t *testing.T) string {
	t.Helper()
	wasm, err := buildWasmGuest("..", "./testdata/plugins/go-guest")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go-guest.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
