package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/runtime"
	"github.com/execvault/execvault/secrets"
	"github.com/execvault/execvault/webhook"
)

func TestParseRewrites(t *testing.T) {
	tests := []struct {
		name    string
		flag    string
		want    []runtime.URLRewrite
		wantErr string // substring of the error, empty when valid
	}{
		{"host to loopback", "https://crm.example.com=http://127.0.0.1:9000",
			[]runtime.URLRewrite{{From: "https://crm.example.com", To: "http://127.0.0.1:9000"}}, ""},
		{"path prefix", "https://crm.example.com/api/=http://[::1]:9000/crm/",
			[]runtime.URLRewrite{{From: "https://crm.example.com/api/", To: "http://[::1]:9000/crm/"}}, ""},
		{"missing equals sign", "https://crm.example.com", nil, `invalid --url-override "https://crm.example.com"`},
		{"empty to", "https://crm.example.com=", nil, "use FROM=TO"},
		{"to without scheme", "https://crm.example.com=127.0.0.1:9000", nil, `TO "127.0.0.1:9000"`},
		{"to host without scheme", "https://crm.example.com=localhost:9000", nil, `TO "localhost:9000"`},
		{"to with other scheme", "https://crm.example.com=ftp://127.0.0.1", nil, `TO "ftp://127.0.0.1"`},
		{"to without host", "https://crm.example.com=http://", nil, `TO "http://"`},
		{"from without scheme", "crm.example.com=http://127.0.0.1:9000", nil, `FROM "crm.example.com"`},
		{"from without host", "https://=http://127.0.0.1:9000", nil, `FROM "https://"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRewrites([]string{tt.flag})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parseRewrites(%q) error = %v, want nil", tt.flag, err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("parseRewrites(%q) = %v, want %v", tt.flag, got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("parseRewrites(%q) = %v, want an error containing %q", tt.flag, got, tt.wantErr)
			}
			var usage *usageError
			if !errors.As(err, &usage) {
				t.Errorf("parseRewrites(%q) error %v is not a usage error", tt.flag, err)
			}
			for _, want := range []string{tt.wantErr, "https://api.example.com=http://127.0.0.1:8080"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("parseRewrites(%q) error = %q, want it to contain %q", tt.flag, err, want)
				}
			}
		})
	}
}

func FuzzParseRewrites(f *testing.F) {
	f.Add("https://crm.example.com=http://127.0.0.1:9000")
	f.Add("https://crm.example.com=localhost:9000")
	f.Add("crm=http://[::1]:9000/x?y=1")
	f.Add("=")
	f.Fuzz(func(t *testing.T, flag string) {
		got, err := parseRewrites([]string{flag})
		if err != nil {
			return
		}
		if len(got) != 1 {
			t.Fatalf("parseRewrites(%q) = %d rewrites, want 1", flag, len(got))
		}
		if !isHTTPURL(got[0].From) || !isHTTPURL(got[0].To) {
			t.Errorf("parseRewrites(%q) accepted %+v, want both http or https URLs with a host", flag, got[0])
		}
	})
}

func TestUnmatchedRewrites(t *testing.T) {
	executor := func(name, url string) *runtime.Executor {
		e := &runtime.Executor{}
		e.Name, e.Operation.URL = name, url
		return e
	}
	execs := []*runtime.Executor{
		executor("crm", "https://crm.example.com/api/v1/orders"),
		executor("notify", "https://api.example.com/orders"),
		executor("notify-copy", "https://api.example.com/copies"),
		executor("computed", ""),
	}
	tests := []struct {
		name      string
		rewrites  []runtime.URLRewrite
		unmatched []string
	}{
		{"host matches", []runtime.URLRewrite{{From: "https://crm.example.com"}}, nil},
		{"path prefix matches", []runtime.URLRewrite{{From: "https://api.example.com/orders"}}, nil},
		{"shorter host name", []runtime.URLRewrite{{From: "https://crm.example.co"}}, []string{"https://crm.example.co"}},
		{"other scheme", []runtime.URLRewrite{{From: "http://crm.example.com"}}, []string{"http://crm.example.com"}},
		{
			"one of two",
			[]runtime.URLRewrite{{From: "https://api.example.com"}, {From: "https://billing.example.com"}},
			[]string{"https://billing.example.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unmatched, origins, dynamic := unmatchedRewrites(execs, tt.rewrites)
			if !reflect.DeepEqual(unmatched, tt.unmatched) {
				t.Errorf("unmatched = %q, want %q", unmatched, tt.unmatched)
			}
			if want := []string{"https://api.example.com", "https://crm.example.com"}; !reflect.DeepEqual(origins, want) {
				t.Errorf("origins = %q, want %q", origins, want)
			}
			if want := []string{"computed"}; !reflect.DeepEqual(dynamic, want) {
				t.Errorf("dynamic = %q, want %q", dynamic, want)
			}
		})
	}
}

// TestUnmatchedOverrideIsRejected checks that replay and executor trigger
// refuse an override whose FROM matches no executor's webhook URL, and
// send nothing, since the webhooks would otherwise go to the real host.
func TestUnmatchedOverrideIsRejected(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"external-api-token": externalToken, "api-secret": apiSecret,
		"crm-api-token": crmToken, "crm-api-key": crmKey})
	recv := newReceiver(t)
	events := writeEvents(t, orderEvent("ord-warn"))

	code, stdout, stderr := env.run("", "replay", "--plugins", pluginDir,
		"--url-override", "https://crm.example.co="+recv.URL,
		"--url-override", "https://api.example.com="+recv.URL, events)
	if code != exitUsage {
		t.Errorf("replay exit status = %d, want %d; stderr:\n%s", code, exitUsage, stderr)
	}
	for _, want := range []string{`FROM "https://crm.example.co" matches no loaded executor's webhook URL`, "https://api.example.com, https://crm.example.com"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("replay stderr lacks %q; got:\n%s", want, stderr)
		}
	}
	if stdout != "" {
		t.Errorf("replay stdout = %q, want nothing replayed", stdout)
	}

	code, _, stderr = env.run("", "executor", "trigger", "sync-to-external-crm", "--plugins", pluginDir,
		"--url-override", "https://crm.example.co="+recv.URL, "--data", `{"newRecord":{"id":"so-typo","totalPrice":100001}}`)
	if code != exitUsage || !strings.Contains(stderr, "https://crm.example.com/api/v1/orders") {
		t.Errorf("trigger with a misspelt override: exit status %d, stderr %q; want %d naming the executor's URL", code, stderr, exitUsage)
	}
	if n := len(recv.got); n != 0 {
		t.Errorf("receiver got %d requests, want none", n)
	}
	env.assertNoCanary()
}

// flakyReceiver responds with 503 to the first failures requests and 204 to the
// rest.
func flakyReceiver(t *testing.T, failures int) *httptest.Server {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) <= int64(failures) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestReplayRetryNotice(t *testing.T) {
	tests := []struct {
		name     string
		failures int
		notices  int
		summary  string
	}{
		{"delivered at once", 0, 0, "1 delivered"},
		{"delivered on retry", 1, 1, "1 delivered"},
		{"failed after retries", 3, 1, "1 failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newCLIEnv(t)
			env.storeSecrets(map[string]string{"external-api-token": externalToken, "api-secret": apiSecret})
			recv := flakyReceiver(t, tt.failures)
			events := writeEvents(t, orderEvent("ord-retry"))

			_, stdout, stderr := env.run("", "replay", "--plugins", pluginDir,
				"--url-override", "https://api.example.com="+recv.URL, "--max-attempts", "3", "--backoff", "1ms", events)
			if !strings.Contains(stdout, tt.summary) {
				t.Errorf("stdout lacks %q; got:\n%s", tt.summary, stdout)
			}
			var notices []string
			for _, line := range strings.Split(stderr, "\n") {
				if strings.HasPrefix(line, "line 1: notify-external-service: attempt") {
					notices = append(notices, line)
				}
			}
			if len(notices) != tt.notices {
				t.Fatalf("retry notices = %d, want %d; stderr:\n%s", len(notices), tt.notices, stderr)
			}
			for _, n := range notices {
				for _, want := range []string{"attempt 1 of 3 failed", "HTTP 503", "Next attempt at", "Replay waits for every attempt of each webhook."} {
					if !strings.Contains(n, want) {
						t.Errorf("retry notice %q lacks %q", n, want)
					}
				}
				// Both flags were given, so the notice suggests neither.
				for _, flag := range []string{"--max-attempts", "--backoff"} {
					if strings.Contains(n, flag) {
						t.Errorf("retry notice %q suggests %s, which was given", n, flag)
					}
				}
			}
			env.assertNoCanary()
		})
	}
}

func TestRetryNoticeSuggestsUnsetFlags(t *testing.T) {
	tests := []struct {
		name      string
		flags     deliveryFlags
		suggested []string
	}{
		{"neither given", deliveryFlags{}, []string{"--max-attempts 2", "--backoff 1s"}},
		{"backoff given", deliveryFlags{backoff: time.Second}, []string{"--max-attempts 2"}},
		{"max attempts given", deliveryFlags{maxAttempts: 2}, []string{"--backoff 1s"}},
		{"both given", deliveryFlags{maxAttempts: 2, backoff: time.Second}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
			n := &retryNotices{out: &out, now: func() time.Time { return now }, command: "Replay", hint: tt.flags.waitHint()}
			n.setLine(4)
			n.attempt(webhook.Job{ID: "msg_a", Executor: "notify", Status: webhook.StatusPending, NextAttemptAt: now.Add(time.Second),
				LastError: "HTTP 503", Policy: webhook.Policy{MaxAttempts: 2}, Round: 1,
				Attempts: []webhook.Attempt{{Round: 1, Number: 1, Error: "HTTP 503"}}})
			notice := out.String()
			if !strings.HasPrefix(notice, "line 4: notify: attempt 1 of 2 failed: HTTP 503.") || !strings.HasSuffix(notice, ".\n") {
				t.Errorf("notice = %q, want line 4's failed attempt, ending with a full stop", notice)
			}
			for _, flag := range []string{"--max-attempts", "--backoff"} {
				want := slices.ContainsFunc(tt.suggested, func(s string) bool { return strings.HasPrefix(s, flag) })
				if got := strings.Contains(notice, flag); got != want {
					t.Errorf("notice mentions %s: %v, want %v; notice %q", flag, got, want, notice)
				}
			}
			for _, s := range tt.suggested {
				if !strings.Contains(notice, s) {
					t.Errorf("notice lacks the example %q; notice %q", s, notice)
				}
			}
		})
	}
}

func TestReplayDuplicateEventID(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		name := "send"
		if dryRun {
			name = "dry run"
		}
		t.Run(name, func(t *testing.T) {
			env := newCLIEnv(t)
			env.storeSecrets(map[string]string{"external-api-token": externalToken, "api-secret": apiSecret})
			recv := newReceiver(t)
			events := writeEvents(t, orderEvent("ord-dup"), orderEvent("ord-other"), orderEvent("ord-dup"))
			var extra []string
			if dryRun {
				extra = []string{"--dry-run"}
			}

			code, stdout, _ := env.replay(recv, events, extra...)
			if code != 0 {
				t.Errorf("replay exit status = %d, want 0; stdout:\n%s", code, stdout)
			}
			if got, want := strings.Count(stdout, "POST "), 2; dryRun && got != want {
				t.Errorf("dry-run requests printed = %d, want %d; stdout:\n%s", got, want, stdout)
			}
			if got, want := len(recv.requests("/notify/orders")), 0; dryRun && got != want {
				t.Errorf("receiver requests = %d, want %d", got, want)
			}
			if got, want := len(recv.requests("/notify/orders")), 2; !dryRun && got != want {
				t.Errorf("receiver requests = %d, want %d", got, want)
			}
			third := ""
			for _, line := range strings.Split(stdout, "\n") {
				if strings.HasPrefix(line, "line 3") {
					third = line
				}
			}
			if !strings.Contains(third, "duplicate of line 1 (same event id), not sent") {
				t.Errorf("line 3 status = %q, want it reported as a duplicate of line 1", third)
			}
			for _, want := range []string{"3 firings:", "1 duplicate not sent", "0 failed"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("summary lacks %q; stdout:\n%s", want, stdout)
				}
			}
		})
	}
}

func TestReplayEmptyPluginDir(t *testing.T) {
	env := newCLIEnv(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a plugin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	events := writeEvents(t, orderEvent("ord-none"))

	code, stdout, stderr := env.run("", "replay", "--plugins", dir, events)
	if code != exitError {
		t.Errorf("replay exit status = %d, want %d", code, exitError)
	}
	for _, want := range []string{dir, ".wasm", "execvault plugin build"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q; got:\n%s", want, stderr)
		}
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing when no plugin is loaded", stdout)
	}
}

func TestReplayInterrupted(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"external-api-token": externalToken, "api-secret": apiSecret})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The first request is delivered. The second cancels the replay, as
	// Ctrl-C does, and fails, so its job waits 20 minutes for a retry.
	var calls atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		cancel()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(recv.Close)
	events := writeEvents(t, orderEvent("ord-a"), orderEvent("ord-b"), orderEvent("ord-c"))

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--data-dir", env.dataDir, "--key-file", env.keyFile, "replay", "--plugins", pluginDir,
		"--url-override", "https://api.example.com=" + recv.URL, "--backoff", "20m", events},
		strings.NewReader(""), &stdout, &stderr)

	if code != exitError {
		t.Errorf("replay exit status = %d, want %d", code, exitError)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("receiver requests = %d, want 2: line 3 must not run", n)
	}
	for _, want := range []string{
		"line 1 evt-ord-a order created notify-external-service delivered (HTTP 204, 1 attempt)",
		"line 2 evt-ord-b order created notify-external-service interrupted before its webhook was delivered",
		"2 events, 2 firings: 1 delivered, 0 skipped by condition, 0 failed, 1 interrupted; 0 malformed lines",
	} {
		if !strings.Contains(oneLine(stdout.String()), want) {
			t.Errorf("stdout lacks %q; got:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stdout.String(), "line 3") {
		t.Errorf("stdout reports line 3 after the interruption; got:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "Replay interrupted after line 2") {
		t.Errorf("stderr does not say that replay was interrupted; got:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "context canceled") {
		t.Errorf("stderr shows the bare context error; got:\n%s", stderr.String())
	}
}

func TestReplayWhileRunServes(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"external-api-token": externalToken, "api-secret": apiSecret})
	env.startServer(t, "--no-auth")
	recv := newReceiver(t)
	events := writeEvents(t, orderEvent("ord-live"))

	code, stdout, stderr := env.replay(recv, events)
	if code != 0 {
		t.Fatalf("replay exit status = %d, want 0; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	got := recv.requests("/notify/orders")
	if len(got) != 1 {
		t.Fatalf("notify requests = %d, want 1", len(got))
	}
	if got[0].header.Get("Authorization") != externalToken {
		t.Error("Authorization header does not equal the secret stored in the served data directory")
	}
	if got[0].header.Get("X-API-Key") != apiSecret {
		t.Error("X-API-Key header does not equal the secret stored in the served data directory")
	}
	env.assertNoCanary()
}

// TestDeliveryFlagsRejectInvalidPolicy checks that each delivery flag
// given with a value that would make every job invalid, 0 included, is a
// usage error that names that flag.
func TestDeliveryFlagsRejectInvalidPolicy(t *testing.T) {
	env := newCLIEnv(t)
	events := writeEvents(t, orderEvent("ord-flags"))
	tests := []struct {
		flags []string
		want  string // part of the error, or "" for none
	}{
		{[]string{"--max-attempts", "1", "--backoff", "1s", "--attempt-timeout", "1s"}, ""},
		{[]string{"--backoff", "1h"}, "invalid --backoff 1h0m0s: it is above the longest delay between attempts, 30m0s"},
		{[]string{"--max-attempts", "0"}, "invalid --max-attempts 0: "},
		{[]string{"--max-attempts", "-1"}, "invalid --max-attempts -1: "},
		{[]string{"--max-attempts", "1001"}, "invalid --max-attempts 1001: "},
		{[]string{"--backoff", "0"}, "invalid --backoff 0s: "},
		{[]string{"--attempt-timeout", "-1s"}, "invalid --attempt-timeout -1s: "},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.flags, " "), func(t *testing.T) {
			args := append([]string{"replay", "--plugins", pluginDir, "--dry-run"}, tt.flags...)
			code, _, stderr := env.run("", append(args, events)...)
			switch {
			case tt.want == "" && code == exitUsage:
				t.Errorf("exit status %d, want no usage error; stderr:\n%s", code, stderr)
			case tt.want != "" && (code != exitUsage || !strings.Contains(stderr, tt.want)):
				t.Errorf("exit status %d, stderr %q; want %d and an error containing %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
}

// TestFiringWithoutSecretStore checks replay and executor trigger in a data
// directory without a secret store. They create neither a store nor a key
// file, and a firing whose headers reference secrets fails, naming the
// missing store and how to create one.
func TestFiringWithoutSecretStore(t *testing.T) {
	env := newCLIEnv(t)
	recv := newReceiver(t)
	events := writeEvents(t, orderEvent("ord-nostore"))
	commands := map[string][]string{
		"replay":  {"replay", "--plugins", pluginDir, "--url-override", "https://api.example.com=" + recv.URL, events},
		"dry run": {"replay", "--plugins", pluginDir, "--dry-run", "--url-override", "https://api.example.com=" + recv.URL, events},
		"trigger": {"executor", "trigger", "sync-to-external-crm", "--plugins", pluginDir,
			"--url-override", "https://crm.example.com=" + recv.URL, "--data", `{"newRecord":{"id":"so-1","totalPrice":100001}}`},
	}
	for name, args := range commands {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := env.run("", args...)
			if _, err := os.Stat(env.keyFile); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("key file %s after %s: stat error %v, want it missing", env.keyFile, name, err)
			}
			if _, err := os.Stat(filepath.Join(env.dataDir, "secrets.header")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("secret store header after %s: stat error %v, want it missing", name, err)
			}
			if code != exitError {
				t.Errorf("exit status = %d, want %d", code, exitError)
			}
			for _, want := range []string{"no secrets store", "execvault secret vault create"} {
				if !strings.Contains(stdout+stderr, want) {
					t.Errorf("output lacks %q; stdout:\n%s\nstderr:\n%s", want, stdout, stderr)
				}
			}
		})
	}
	if n := len(recv.got); n != 0 {
		t.Errorf("receiver got %d requests, want none without the secrets", n)
	}
}

// TestReplayWebhookConfig checks that replay turns the circuit breaker
// off, so that --max-attempts and --backoff alone bound the wait for a
// receiver that is down, and that it keeps the retry notices.
func TestReplayWebhookConfig(t *testing.T) {
	cfg := webhook.DefaultConfig()
	called := false
	waitingWebhookConfig(func(webhook.Job) { called = true })(&cfg)
	if !cfg.DisableBreaker {
		t.Error("replay leaves the circuit breaker on")
	}
	if !cfg.QuietAttempts {
		t.Error("replay logs failed attempts that its notices and rows report")
	}
	if cfg.OnAttempt == nil {
		t.Fatal("replay sets no OnAttempt callback")
	}
	cfg.OnAttempt(webhook.Job{})
	if !called {
		t.Error("OnAttempt does not call the retry notices")
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("replay's dispatcher config is invalid: %v", err)
	}
}

// TestReplayPrintsEachLineAtOnce checks that the row of a line is on
// standard output before the next line's webhook is sent, and that the
// rows of different executors align.
func TestReplayPrintsEachLineAtOnce(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{
		"crm-api-token": crmToken, "crm-api-key": crmKey,
		"external-api-token": externalToken, "api-secret": apiSecret,
	})
	var stdout syncBuffer
	// Each line fires one webhook, so request n belongs to line n. The
	// handler notes which earlier lines had no row yet when it came.
	var mu sync.Mutex
	var missing []string
	var calls atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := calls.Add(1)
		printed := stdout.String()
		for line := int64(1); line < n; line++ {
			if !strings.Contains(printed, fmt.Sprintf("line %d ", line)) {
				mu.Lock()
				missing = append(missing, fmt.Sprintf("line %d at request %d", line, n))
				mu.Unlock()
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	events := writeEvents(t, orderEvent("ord-1"), salesOrderEvent("so-1", "100001"), orderEvent("ord-2"))

	var stderr bytes.Buffer
	code := run(context.Background(), []string{"--data-dir", env.dataDir, "--key-file", env.keyFile, "replay", "--plugins", pluginDir,
		"--url-override", "https://api.example.com=" + recv.URL, "--url-override", "https://crm.example.com=" + recv.URL, events},
		strings.NewReader(""), &stdout, &stderr)
	env.logs.WriteString(stdout.String() + stderr.String())
	if code != 0 {
		t.Fatalf("replay exit status = %d, want 0; stdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("receiver requests = %d, want 3", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(missing) > 0 {
		t.Errorf("rows not printed before the next line's webhook: %s; stdout:\n%s", strings.Join(missing, ", "), stdout.String())
	}

	status := -1
	for _, line := range strings.Split(stdout.String(), "\n") {
		if !strings.HasPrefix(line, "line ") {
			continue
		}
		at := strings.Index(line, "delivered")
		if status == -1 {
			status = at
		}
		if at != status {
			t.Errorf("status column of %q starts at %d, want %d as in the first row; stdout:\n%s", line, at, status, stdout.String())
		}
	}
	env.assertNoCanary()
}

// TestReplayShowsEachFailureOnce checks that a failed attempt, a failed
// webhook and a failed executor each appear once by default, in a notice
// or a row, and that --log-level debug adds the structured records.
func TestReplayShowsEachFailureOnce(t *testing.T) {
	plugins := t.TempDir()
	for src, dst := range map[string]string{
		filepath.Join(pluginDir, "notify-external-service.wasm"): "notify-external-service.wasm",
		"../../testdata/plugins/trap.wasm":                       "trap.wasm",
	} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(plugins, dst), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, debug := range []bool{false, true} {
		env := newCLIEnv(t)
		env.storeSecrets(map[string]string{"external-api-token": externalToken, "api-secret": apiSecret})
		recv := flakyReceiver(t, 1000)
		args := []string{"replay", "--plugins", plugins, "--url-override", "https://api.example.com=" + recv.URL,
			"--max-attempts", "2", "--backoff", "1ms", writeEvents(t, orderEvent("ord-fail"))}
		if debug {
			args = append(args, "--log-level", "debug")
		}

		code, stdout, stderr := env.run("", args...)
		if code != exitError {
			t.Errorf("debug %v: exit status = %d, want %d", debug, code, exitError)
		}
		for _, want := range []string{"wasm error: unreachable", "HTTP 503 Service Unavailable (attempt 2 of 2)"} {
			if n := strings.Count(stdout, want); n != 1 {
				t.Errorf("debug %v: stdout shows %q %d times, want once; stdout:\n%s", debug, want, n, stdout)
			}
		}
		if !regexp.MustCompile(`notify-external-service +job msg_[a-z0-9]+ failed: HTTP 503`).MatchString(stdout) || strings.Contains(stdout, "failed: job") {
			t.Errorf("debug %v: the failed job's row should start with its id and say failed once; stdout:\n%s", debug, stdout)
		}
		if n := strings.Count(stderr, "line 1: notify-external-service: attempt 1 of 2 failed"); n != 1 {
			t.Errorf("debug %v: retry notices = %d, want 1; stderr:\n%s", debug, n, stderr)
		}
		for _, level := range []string{"level=WARN", "level=ERROR"} {
			if strings.Contains(stderr, level) {
				t.Errorf("debug %v: stderr has a %s record, which repeats a row or notice; stderr:\n%s", debug, level, stderr)
			}
		}
		for _, msg := range []string{`msg="webhook attempt failed, will retry"`, `msg="webhook job failed"`} {
			if got := strings.Contains(stderr, "level=DEBUG "+msg); got != debug {
				t.Errorf("debug %v: stderr has the debug record %s: %v; stderr:\n%s", debug, msg, got, stderr)
			}
		}
		env.assertNoCanary()
	}
}

func TestInterruptedFiring(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	failed := func(err error) runtime.Firing { return runtime.Firing{State: runtime.FiringFailed, Err: err} }
	tests := []struct {
		name string
		ctx  context.Context
		f    runtime.Firing
		want bool
	}{
		{"wait canceled", canceled, failed(fmt.Errorf("wait for job: %w", context.Canceled)), true},
		{"dispatcher stopped", canceled, failed(fmt.Errorf("wait for job: %w", webhook.ErrClosed)), true},
		{"receiver failed", canceled, failed(errors.New("job failed after 1 attempt: HTTP 503")), false},
		{"delivered", canceled, runtime.Firing{State: runtime.FiringDelivered}, false},
		{"not interrupted", context.Background(), failed(fmt.Errorf("wait for job: %w", webhook.ErrClosed)), false},
	}
	for _, tt := range tests {
		if got := interruptedFiring(tt.ctx, tt.f); got != tt.want {
			t.Errorf("%s: interruptedFiring = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestReplayInterruptedWhileLoading checks that Ctrl-C before the plugins
// are loaded is reported as an interruption, not as a broken plugin.
func TestReplayInterruptedWhileLoading(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"external-api-token": externalToken, "api-secret": apiSecret})
	events := writeEvents(t, orderEvent("ord-a"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--data-dir", env.dataDir, "--key-file", env.keyFile, "replay", "--plugins", pluginDir,
		"--url-override", "https://api.example.com=http://127.0.0.1:1", events},
		strings.NewReader(""), &stdout, &stderr)

	if code != exitError {
		t.Errorf("replay exit status = %d, want %d", code, exitError)
	}
	want := "Replay interrupted while loading the plugins of " + pluginDir + "; no line was replayed."
	if got := strings.TrimSpace(stderr.String()); got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
}

// TestReplayDryRunChecksSecrets checks that a dry run reports a webhook
// whose secret is missing as failed, naming the secret as the real run
// does, without reading any secret value.
func TestReplayDryRunChecksSecrets(t *testing.T) {
	env := newCLIEnv(t)
	// api-secret, which the X-API-Key header references, is missing.
	env.storeSecrets(map[string]string{"external-api-token": externalToken})
	recv := newReceiver(t)
	events := writeEvents(t, orderEvent("ord-dry"))
	const missing = `header "X-API-Key": resolve secret api-keys/api-secret: secret not found; create it first or check the vault and name`

	code, stdout, stderr := env.replay(recv, events, "--dry-run")
	if code != exitError {
		t.Errorf("dry run exit status = %d, want %d; stderr:\n%s", code, exitError, stderr)
	}
	for _, want := range []string{
		"notify-external-service failed: job msg_",
		"would fail at its first attempt: webhook configuration error: " + missing,
		"1 firing: 0 would be sent", "1 failed",
	} {
		if !strings.Contains(oneLine(stdout), want) {
			t.Errorf("dry-run output lacks %q; got:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "api-keys/external-api-token: secret not found") {
		t.Errorf("dry run reports the stored secret as missing; got:\n%s", stdout)
	}
	for _, want := range []string{
		"Content-Type: application/json", "User-Agent: execvault-webhook/1", "webhook-id: msg_",
		"Authorization: [secret api-keys/external-api-token]", "X-API-Key: [secret api-keys/api-secret]",
	} {
		if !strings.Contains(stdout, "  "+want) {
			t.Errorf("dry-run request lacks the header line %q; got:\n%s", want, stdout)
		}
	}
	if n := len(recv.requests("/notify/orders")); n != 0 {
		t.Errorf("receiver got %d requests during a dry run, want 0", n)
	}
	audit := env.mustRun("", "secret", "audit", "--json")
	if strings.Contains(audit, `"executor:`) {
		t.Errorf("the dry run read secrets as an executor; audit log:\n%s", audit)
	}

	// The real run fails the same webhook for the same secret.
	code, stdout, _ = env.replay(recv, events)
	if code != exitError || !strings.Contains(oneLine(stdout), "webhook configuration error: "+missing) {
		t.Errorf("real run: exit status %d, want %d and the same missing secret; stdout:\n%s", code, exitError, stdout)
	}
	env.assertNoCanary()
}

func TestDryRunDelivererSigningAndMissingSecrets(t *testing.T) {
	db, err := openState("", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dispatcher, err := webhook.NewDispatcher(db, webhook.DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dispatcher.Close() })

	stored := plugins.SecretRef{Vault: "api-keys", Key: "token"}
	missingKey := plugins.SecretRef{Vault: "api-keys", Key: "absent"}
	missingVault := plugins.SecretRef{Vault: "signing-keys", Key: "orders"}
	var checks int
	var out bytes.Buffer
	d := &dryRunDeliverer{out: &out, headers: dispatcher.RequestHeaders,
		secretExists: func(_ context.Context, _ string, ref plugins.SecretRef) error {
			checks++
			switch ref {
			case stored:
				return nil
			case missingKey:
				return &secrets.SecretError{Op: "get secret", Vault: ref.Vault, Name: ref.Key, Err: secrets.ErrSecretNotFound}
			default:
				return &secrets.SecretError{Op: "get secret", Vault: ref.Vault, Name: ref.Key, Err: secrets.ErrVaultNotFound}
			}
		}}
	job := func(id string) webhook.Job {
		return webhook.Job{ID: id, Executor: "orders", URL: "http://127.0.0.1:9/orders", Body: []byte(`{}`),
			Headers: []plugins.Header{{Name: "Authorization", Secret: &stored}, {Name: "X-API-Key", Secret: &missingKey}},
			Signing: &plugins.Signing{Secret: missingVault}}
	}
	for _, id := range []string{"msg_1", "msg_2"} {
		if _, err := d.Enqueue(context.Background(), job(id)); err != nil {
			t.Fatalf("Enqueue(%s) = %v", id, err)
		}
	}

	for _, want := range []string{
		"  webhook-signature: [signed with secret signing-keys/orders]",
		"  webhook-timestamp: [time of the attempt]",
		"  Content-Type: application/json",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q; got:\n%s", want, out.String())
		}
	}
	f := d.result(runtime.Firing{Executor: "orders", JobID: "msg_2", State: runtime.FiringQueued})
	if f.State != runtime.FiringFailed || !errors.Is(f.Err, webhook.ErrConfiguration) {
		t.Fatalf("firing = %s, %v; want failed with a configuration error", f.State, f.Err)
	}
	want := `job msg_2 would fail at its first attempt: webhook configuration error: ` +
		`header "X-API-Key": resolve secret api-keys/absent: secret not found; ` +
		`signing: resolve secret signing-keys/orders: vault not found; create them first or check the vault and secret names`
	if f.Err.Error() != want {
		t.Errorf("error = %q\nwant    %q", f.Err, want)
	}
	if checks != 3 {
		t.Errorf("secret checks = %d, want 3: one per secret, not per job", checks)
	}
}

// TestReplayWhileRunServesOtherPlugins checks the error of a replay whose
// executor the execvault run serving the data directory has not loaded,
// in a real run and a dry run.
func TestReplayWhileRunServesOtherPlugins(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"external-api-token": externalToken, "api-secret": apiSecret})
	crmOnly := t.TempDir()
	data, err := os.ReadFile(filepath.Join(pluginDir, "sync-to-external-crm.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crmOnly, "sync-to-external-crm.wasm"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	env.startServer(t, "--no-auth", "--plugins", crmOnly)
	recv := newReceiver(t)
	events := writeEvents(t, orderEvent("ord-other"))
	want := `header "Authorization": resolve secret api-keys/external-api-token: access denied: ` +
		`the execvault run that serves ` + env.dataDir + ` has not loaded executor "notify-external-service", ` +
		`and it gives secrets only to the executors it has loaded; copy the plugin into the --plugins directory of execvault run`

	for _, extra := range [][]string{nil, {"--dry-run"}} {
		code, stdout, stderr := env.replay(recv, events, extra...)
		if code != exitError {
			t.Errorf("replay %q: exit status = %d, want %d; stderr:\n%s", extra, code, exitError, stderr)
		}
		if !strings.Contains(oneLine(stdout), want) {
			t.Errorf("replay %q: output lacks %q; got:\n%s", extra, want, stdout)
		}
		if n := strings.Count(stdout, "has not loaded"); n != 1 {
			t.Errorf("replay %q: output says %d times that run has not loaded the executor, want once; got:\n%s", extra, n, stdout)
		}
	}
	if n := len(recv.requests("/notify/orders")); n != 0 {
		t.Errorf("receiver requests = %d, want 0", n)
	}
	env.assertNoCanaryInOutput()
}

// TestTriggerWaitsLikeReplay checks that executor trigger without run
// reports a failed attempt once, in a notice rather than log records, and
// that on Ctrl-C it reports the job left PENDING.
func TestTriggerWaitsLikeReplay(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"crm-api-token": crmToken, "crm-api-key": crmKey})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The first request fails; the second fails too and cancels the
	// command, as Ctrl-C does, so its retry never comes.
	var calls atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 2 {
			cancel()
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(recv.Close)

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--data-dir", env.dataDir, "--key-file", env.keyFile, "executor", "trigger", "sync-to-external-crm",
		"--plugins", pluginDir, "--url-override", "https://crm.example.com=" + recv.URL, "--max-attempts", "3", "--backoff", "1ms",
		"--data", `{"newRecord":{"id":"so-wait","totalPrice":100001}}`}, strings.NewReader(""), &stdout, &stderr)
	if code != exitError {
		t.Errorf("exit status = %d, want %d", code, exitError)
	}
	if n := strings.Count(stderr.String(), "sync-to-external-crm: attempt 1 of 3 failed: HTTP 503"); n != 1 {
		t.Errorf("retry notices = %d, want 1; stderr:\n%s", n, stderr.String())
	}
	for _, level := range []string{"level=WARN", "level=ERROR"} {
		if strings.Contains(stderr.String(), level) {
			t.Errorf("stderr has a %s record, which repeats the notice; stderr:\n%s", level, stderr.String())
		}
	}
	if !strings.Contains(stdout.String(), "interrupted before its webhook was delivered") ||
		!strings.Contains(stderr.String(), "stays PENDING") {
		t.Errorf("stdout %q, stderr %q; want the interruption and the PENDING job reported", stdout.String(), stderr.String())
	}
	// The stored job keeps the URL that the override gave it.
	if want := "execvault run delivers it to " + recv.URL + "/api/v1/orders when it starts, since --url-override changes only new jobs"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q; want the stored job's URL: %q", stderr.String(), want)
	}
	env.assertNoCanary()
}

// TestReplayNotesUnknownTypes replays events of types that no executor
// has a record trigger on. They print no row, so a note names each type
// with its count and the types the executors take. Types that matched are
// not named.
func TestReplayNotesUnknownTypes(t *testing.T) {
	env := newCLIEnv(t)
	dir := t.TempDir()
	copyFile(t, filepath.Join(pluginDir, "notify-external-service.wasm"), filepath.Join(dir, "notify.wasm"))
	typed := func(id, typeName string) string {
		return strings.Replace(orderEvent(id), `"typeName":"order"`, `"typeName":"`+typeName+`"`, 1)
	}
	deleted := `{"id":"d","eventType":"tailordb.type_record.deleted","typeName":"order","oldRecord":{"id":"d"}}`
	file := writeEvents(t, typed("a", "Order"), typed("b", "Order"), typed("c", "invoice"), deleted)

	code, stdout, stderr := env.run("", "replay", "--plugins", dir, "--dry-run", file)
	if code != exitOK || !strings.Contains(stdout, "4 events, 0 firings") {
		t.Errorf("exit status %d, stdout %q; want 0 and no firing", code, stdout)
	}
	want := `Note: no executor has a record trigger on types "Order" (2 events), "invoice" (1 event), so those events fired nothing. The executors take order:`
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, want it to contain %q", stderr, want)
	}

	// An event of a known type that fires nothing, such as a delete,
	// needs no note.
	code, _, stderr = env.run("", "replay", "--plugins", dir, "--dry-run", writeEvents(t, deleted))
	if code != exitOK || strings.Contains(stderr, "Note:") {
		t.Errorf("known type: exit status %d, stderr %q; want 0 and no note", code, stderr)
	}
}

// TestReplayNotesNoRecordTrigger checks that replay prints why it fires
// nothing when no loaded executor has a record trigger.
func TestReplayNotesNoRecordTrigger(t *testing.T) {
	env := newCLIEnv(t)
	dir := t.TempDir()
	copyFile(t, filepath.Join(pluginDir, "hooks-and-schedules.wasm"), filepath.Join(dir, "hooks.wasm"))
	code, stdout, stderr := env.run("", "replay", "--plugins", dir, writeEvents(t, orderEvent("ord-none")))
	if code != exitOK || !strings.Contains(stdout, "0 firings") {
		t.Errorf("exit status %d, stdout %q; want 0 and no firing", code, stdout)
	}
	if !strings.Contains(stderr, "has a record trigger, so replay fires none") {
		t.Errorf("stderr %q, want a note that no executor has a record trigger", stderr)
	}
}
