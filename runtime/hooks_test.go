package runtime

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/runtime/statedb"
	"github.com/execvault/execvault/triggers"
)

func TestHookPath(t *testing.T) {
	tests := []struct {
		name    string
		trigger plugins.Trigger
		want    string
	}{
		{"with token", plugins.Trigger{Kind: plugins.TriggerIncomingWebhook, Token: &plugins.SecretRef{Vault: "hooks", Key: "relay-token"}}, "/v1/hooks/relay/TOKEN"},
		{"without token", plugins.Trigger{Kind: plugins.TriggerIncomingWebhook}, "/v1/hooks/relay"},
		{"schedule", plugins.Trigger{Kind: plugins.TriggerSchedule, Cron: "0 2 * * *"}, ""},
	}
	for _, tt := range tests {
		if got := HookPath("relay", tt.trigger); got != tt.want {
			t.Errorf("%s: HookPath = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// hookTokens resolves hooks/relay-token and counts the reads.
type hookTokens struct{ reads atomic.Int32 }

func (h *hookTokens) Resolve(_ context.Context, ref plugins.SecretRef, _ string) ([]byte, error) {
	h.reads.Add(1)
	if ref != (plugins.SecretRef{Vault: "hooks", Key: "relay-token"}) {
		return nil, errors.New("no such secret")
	}
	return []byte("relay-token-value"), nil
}

// newHooksRuntime returns a runtime with the hooks-and-schedules test
// plugin, an event log in a state database in memory, and a logger that
// discards its records.
func newHooksRuntime(t *testing.T) (*Runtime, *triggers.EventLog, *slog.Logger) {
	t.Helper()
	wasm, err := buildWasmGuest("..", "./testdata/plugins/hooks-and-schedules")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hooks.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(dir)
	cfg.Limits.Timeout = 10 * time.Second
	cfg.Limits.MemoryPages = 1024
	rt := newTestRuntime(t, cfg)
	db, err := statedb.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return rt, openEventLog(t, db, quiet), quiet
}

// TestServerHooksWithoutToken checks the paths of incoming webhook
// triggers with and without a token, with OpenHooks on and off, and that
// a request without a token reads no secret.
func TestServerHooksWithoutToken(t *testing.T) {
	rt, events, quiet := newHooksRuntime(t)

	tests := []struct {
		path       string
		open, shut int // status with OpenHooks on and off
	}{
		{"/v1/hooks/hook-open", http.StatusOK, http.StatusNotFound},
		{"/v1/hooks/hook-open/anything", http.StatusNotFound, http.StatusNotFound},
		{"/v1/hooks/hook-relay", http.StatusNotFound, http.StatusNotFound},
		{"/v1/hooks/hook-relay/wrong", http.StatusNotFound, http.StatusNotFound},
		{"/v1/hooks/hook-relay/relay-token-value", http.StatusNoContent, http.StatusNoContent},
	}
	for _, openHooks := range []bool{true, false} {
		tokens := &hookTokens{}
		srv, err := NewServer(rt, ServerConfig{Deliverer: &recordingDeliverer{}, Events: events, Secrets: tokens, OpenHooks: openHooks, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		h := srv.Handler()
		for _, tt := range tests {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(`{}`)))
			want := tt.shut
			if openHooks {
				want = tt.open
			}
			if rec.Code != want {
				t.Errorf("OpenHooks %v, POST %s: status %d, want %d", openHooks, tt.path, rec.Code, want)
			}
		}
		if got := tokens.reads.Load(); got != 2 {
			t.Errorf("OpenHooks %v: %d token reads, want 2 (one per request that carries a token)", openHooks, got)
		}
	}
}

// TestServerHookMethodNotAllowed sends a PATCH to an incoming webhook: the
// response is 405 with an Allow header that lists the methods a hook accepts.
func TestServerHookMethodNotAllowed(t *testing.T) {
	rt, events, quiet := newHooksRuntime(t)
	srv, err := NewServer(rt, ServerConfig{Deliverer: &recordingDeliverer{}, Events: events, Secrets: &hookTokens{}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}

	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPatch, "/v1/hooks/hook-relay/relay-token-value", strings.NewReader(`{}`)))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("status %d, want %d", rec.Code, http.StatusMethodNotAllowed)
	}
	if got, want := rec.Header().Get("Allow"), "POST, GET, PUT, DELETE"; got != want {
		t.Errorf("Allow = %q, want %q", got, want)
	}
}
