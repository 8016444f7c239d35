package runtime

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/runtime/statedb"
	"github.com/execvault/execvault/secrets"
	"github.com/execvault/execvault/webhook"
)

// startMemoryDispatcher starts a dispatcher over an in-memory state
// database with resolver, and closes both when the test ends.
func startMemoryDispatcher(t *testing.T, resolver webhook.SecretResolver) *webhook.Dispatcher {
	t.Helper()
	db, err := statedb.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d, err := webhook.NewDispatcher(db, webhook.DefaultConfig(), resolver, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(func() { stop(); d.Close() })
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestWaitErrorNamesJobOnce checks the error of a firing whose wait for
// its webhook ends with the caller's context: it names the executor and
// the job, each once.
func TestWaitErrorNamesJobOnce(t *testing.T) {
	d := startMemoryDispatcher(t, staticResolver{})

	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The receiver holds the attempt until the caller has given up.
		cancel()
		<-release
	}))
	t.Cleanup(sink.Close)
	t.Cleanup(func() { close(release) })

	cfg := testConfig(goExamplePlugins(t))
	cfg.Secrets = &fakeSecrets{}
	rt := newTestRuntime(t, cfg)
	ev := salesOrder(1)
	firings := rt.HandleRecordEvent(ctx, d, &ev, DispatchOptions{
		Wait:     true,
		Rewrites: []URLRewrite{{From: "https://crm.example.com", To: sink.URL}},
	})
	if len(firings) != 1 || firings[0].State != FiringFailed {
		t.Fatalf("firings = %+v, want one failed", firings)
	}
	msg := firings[0].Err.Error()
	if n := strings.Count(msg, firings[0].JobID); n != 1 {
		t.Errorf("error %q names job %s %d times, want once", msg, firings[0].JobID, n)
	}
	if n := strings.Count(msg, "wait for job"); n != 1 {
		t.Errorf("error %q says \"wait for job\" %d times, want once", msg, n)
	}
	if !strings.Contains(msg, `executor "sync-to-external-crm"`) {
		t.Errorf("error %q does not name the executor", msg)
	}
}

// staticResolver resolves every secret reference to the same value.
type staticResolver struct{}

func (staticResolver) Resolve(context.Context, plugins.SecretRef, string) ([]byte, error) {
	return []byte("static-canary-value"), nil
}

// TestFailedFiringCountsAttempts checks the error of a failed job: it
// counts the attempts, once. A job that used up its attempts already
// counts them in its last error.
func TestFailedFiringCountsAttempts(t *testing.T) {
	tests := []struct {
		attempts  int
		retryable bool
		lastError string
		want      string
	}{
		{1, false, "HTTP 500", "job j1 failed after 1 attempt: HTTP 500"},
		{3, false, "HTTP 500", "job j1 failed after 3 attempts: HTTP 500"},
		{3, true, "HTTP 500 (attempt 3 of 3)", "job j1 failed: HTTP 500 (attempt 3 of 3)"},
	}
	for _, tt := range tests {
		job := webhook.Job{ID: "j1", Status: webhook.StatusFailed, Round: 1, LastError: tt.lastError, Policy: webhook.Policy{MaxAttempts: 3}}
		for range tt.attempts {
			job.Attempts = append(job.Attempts, webhook.Attempt{Round: 1, StatusCode: 500, Retryable: tt.retryable})
		}
		f := withJobResult(Firing{}, job)
		if f.Err == nil || f.Err.Error() != tt.want {
			t.Errorf("%d attempts: error %v, want %q", tt.attempts, f.Err, tt.want)
		}
	}
}

// missingSecretStore is a secret store that holds no secret.
type missingSecretStore struct{}

func (missingSecretStore) Resolve(_ context.Context, vault, name, _ string) (secrets.Value, error) {
	return secrets.Value{}, &secrets.SecretError{Op: "resolve secret", Vault: vault, Name: name, Err: secrets.ErrSecretNotFound}
}

// TestStoreSecretsErrorNamesSecretOnce checks the error of a webhook whose
// secret header is missing from the store: it names the header and the
// secret once each, and keeps the store's advice.
func TestStoreSecretsErrorNamesSecretOnce(t *testing.T) {
	d := startMemoryDispatcher(t, StoreSecrets{Store: missingSecretStore{}})
	ctx := t.Context()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(sink.Close)

	ref := plugins.SecretRef{Vault: "api-keys", Key: "gone"}
	job, err := d.Enqueue(ctx, webhook.Job{ID: "msg_missing", Executor: "crm", URL: sink.URL, Body: []byte(`{}`),
		Headers: []plugins.Header{{Name: "Authorization", Secret: &ref}}})
	if err != nil {
		t.Fatal(err)
	}
	job, err = d.Wait(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	msg := job.LastError
	if n := strings.Count(msg, "gone"); n != 1 {
		t.Errorf("error %q names the secret %d times, want once", msg, n)
	}
	for _, want := range []string{`header "Authorization"`, "api-keys/gone", "secret not found", "create it first"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
}
