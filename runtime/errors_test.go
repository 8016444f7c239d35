package runtime

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/runtime/statedb"
	"github.com/execvault/execvault/triggers"
	"github.com/tetratelabs/wazero/sys"
)

// TestGuestErrorNamesExecutorOnce decodes error results as the SDKs and
// the host write them: the error names the executor once, whether or not
// the message already starts with its name.
func TestGuestErrorNamesExecutorOnce(t *testing.T) {
	exec := &Executor{Executor: plugins.Executor{Name: "big-order"}}
	tests := []struct {
		name    string
		message string
		want    string
	}{
		{
			"TypeScript engine message",
			`executor "big-order": url failed: TypeError: Cannot read property 'path' of undefined`,
			`executor "big-order": url failed: TypeError: Cannot read property 'path' of undefined`,
		},
		{
			"Go SDK message",
			`executor "big-order": request body: callback panicked: assignment to entry in nil map`,
			`executor "big-order": request body: callback panicked: assignment to entry in nil map`,
		},
		{"message without the name", "amount must be positive", `executor "big-order": amount must be positive`},
		{
			"message naming another executor",
			`executor "big-order-2": url failed: boom`,
			`executor "big-order": executor "big-order-2": url failed: boom`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeResult(exec, append([]byte{statusError}, tt.message...))
			var ge *GuestError
			if !errors.As(err, &ge) || ge.Error() != tt.want {
				t.Errorf("error = %v, want a GuestError %q", err, tt.want)
			}
		})
	}

	// An error the host detects names the executor too.
	_, err := decodeResult(exec, nil)
	if want := `executor "big-order": execvault_fire returned an empty result`; err == nil || err.Error() != want {
		t.Errorf("empty result: error = %v, want %q", err, want)
	}
}

// TestFailedFiringNotLoggedByRuntime fires a Go SDK guest
// whose body callback panics. The firing's error names the executor once,
// and HandleRecordEvent logs nothing about it: its caller reports it.
func TestFailedFiringNotLoggedByRuntime(t *testing.T) {
	dir := goGuestDir(t)
	logs := &syncWriter{}
	cfg := testConfig(dir)
	cfg.Limits.Timeout = 10 * time.Second
	cfg.Limits.MemoryPages = 1024
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rt := newTestRuntime(t, cfg)

	var failed *Firing
	firings := rt.HandleRecordEvent(t.Context(), &recordingDeliverer{}, orderCreated("evt-1"), DispatchOptions{})
	for i, f := range firings {
		if f.Executor == "test-go-panic" {
			failed = &firings[i]
		}
	}
	if failed == nil || failed.State != FiringFailed || failed.Err == nil {
		t.Fatalf("firings = %+v, want test-go-panic failed", firings)
	}
	msg := failed.Err.Error()
	if n := strings.Count(msg, "test-go-panic"); n != 1 {
		t.Errorf("error %q names the executor %d times, want once", msg, n)
	}
	if !strings.HasPrefix(msg, `executor "test-go-panic": `) || !strings.Contains(msg, "panic") {
		t.Errorf("error %q, want it to start with the executor and report the panic", msg)
	}
	if !errors.Is(failed.Err, ErrGuest) {
		t.Errorf("error %v, want ErrGuest", failed.Err)
	}
	for _, rec := range logs.lines() {
		if rec["executor"] == "test-go-panic" && rec["level"] != slog.LevelDebug.String() {
			line, _ := json.Marshal(rec)
			t.Errorf("runtime logged the failed firing: %s", line)
		}
	}
}

// TestProcessLogsFailedFiringOnce processes an event whose executor traps:
// the run log holds one record of the failure, at error level, with the
// executor, the event id and the reason.
func TestProcessLogsFailedFiringOnce(t *testing.T) {
	logs := &syncWriter{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := testConfig(copyPlugins(t, "trap.wasm"))
	cfg.Logger = logger
	rt := newTestRuntime(t, cfg)
	db, err := statedb.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	events, err := triggers.OpenEventLog(t.Context(), db, triggers.EventLogConfig{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.Append(t.Context(), []triggers.RecordEvent{*orderCreated("evt-1")}); err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(rt, ServerConfig{Deliverer: &recordingDeliverer{}, Events: events, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := events.Pending(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	if !srv.processEvents(t.Context(), pending) {
		t.Fatal("processEvents = false, want true")
	}

	var failures []map[string]any
	for _, rec := range logs.lines() {
		if rec["executor"] == "test-trap" {
			failures = append(failures, rec)
		}
	}
	if len(failures) != 1 {
		t.Fatalf("log records of the failed firing = %v, want one", failures)
	}
	rec := failures[0]
	if rec["level"] != "ERROR" || rec["msg"] != "firing failed" || rec["event_id"] != "evt-1" ||
		!strings.Contains(rec["error"].(string), "unreachable") {
		t.Errorf("log record = %v, want level ERROR, msg \"firing failed\", event_id evt-1 and the trap", rec)
	}
}

// TestLoadErrorsNameNoExecutor classifies failures of calls made while a
// plugin loads, which run for no executor: the errors report a failed
// load and where to look, and name no executor.
func TestLoadErrorsNameNoExecutor(t *testing.T) {
	memoryHit := &cappedAllocator{limit: 64 << 20}
	memoryHit.hit.Store(true)
	tests := []struct {
		name   string
		memory *cappedAllocator
		err    error
		want   string
	}{
		{"timeout", &cappedAllocator{}, sys.NewExitError(sys.ExitCodeDeadlineExceeded),
			"loading the plugin exceeded its timeout limit: the call ran longer than 30s: code that runs when the plugin loads"},
		{"memory", memoryHit, errors.New("out of memory"),
			"loading the plugin exceeded its memory limit: the guest tried to grow its memory beyond 1024 pages (64 MiB): code that runs when the plugin loads"},
		{"trap", &cappedAllocator{}, errors.New("wasm error: unreachable\nwasm stack trace: ..."),
			"loading the plugin: trap: wasm error: unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &instance{memory: tt.memory, stderr: &tailWriter{max: 64}}
			got := in.classify(nil, tt.err).Error()
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("error = %q, want it to start with %q", got, tt.want)
			}
			if strings.Contains(got, `executor "`) {
				t.Errorf("error = %q names an executor", got)
			}
		})
	}
}
