package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/runtime"
	"github.com/execvault/execvault/runtime/statedb"
	"github.com/execvault/execvault/secrets"
	"github.com/execvault/execvault/triggers"
	"github.com/execvault/execvault/webhook"
)

// syncBuffer is a bytes.Buffer that is safe for concurrent use, for
// reading what a command prints while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listeningPattern = regexp.MustCompile(`Listening on (http://[0-9.:]+)`)

// startServer runs "execvault run" in process and returns its base URL.
func (e *cliEnv) startServer(t *testing.T, extra ...string) string {
	t.Helper()
	base, _ := e.startServerLogs(t, extra...)
	return base
}

// startServerLogs is startServer that also returns what run writes to
// stdout and stderr.
func (e *cliEnv) startServerLogs(t *testing.T, extra ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int)
	args := append([]string{"--data-dir", e.dataDir, "--key-file", e.keyFile, "run", "--plugins", pluginDir, "--listen", "127.0.0.1:0"}, extra...)
	go func() { done <- run(ctx, args, strings.NewReader(""), stderr, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("run did not stop within 20s of cancellation")
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningPattern.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stderr
		}
		select {
		case code := <-done:
			t.Fatalf("run exited with status %d before listening", code)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("run did not start listening within 60s")
	return "", nil
}

// TestRunLogsStopLast stops run and checks that its last record is
// "execvault stopped", after the dispatcher's own stop.
func TestRunLogsStopLast(t *testing.T) {
	env := newCLIEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan int, 1)
	args := []string{"--data-dir", env.dataDir, "--key-file", env.keyFile, "run", "--plugins", pluginDir, "--listen", "127.0.0.1:0", "--no-auth"}
	go func() { done <- run(ctx, args, strings.NewReader(""), out, out) }()
	for !listeningPattern.MatchString(out.String()) {
		select {
		case code := <-done:
			t.Fatalf("run exited with status %d before listening; output:\n%s", code, out)
		case <-time.After(20 * time.Millisecond):
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit status after cancellation = %d, want %d", code, exitOK)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("run did not stop within 60s of cancellation")
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	dispatcher := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, `msg="webhook dispatcher stopped"`) })
	if dispatcher < 0 || !strings.Contains(lines[len(lines)-1], `msg="execvault stopped"`) {
		t.Errorf("stop records out of order: the dispatcher's at line %d, last line %q; want the dispatcher's stop, then \"execvault stopped\" last", dispatcher, lines[len(lines)-1])
	}
}

func TestRunIngestsEventsAndDelivers(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"crm-api-token": crmToken, "crm-api-key": crmKey})
	recv := newReceiver(t)
	base := env.startServer(t, "--no-auth", "--url-override", "https://crm.example.com="+recv.URL+"/crm")

	body := "[" + salesOrderEvent("so-20", "150000") + "," + salesOrderEvent("so-21", "5") + "]"
	resp, err := http.Post(base+"/v1/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/events status = %d, want 202", resp.StatusCode)
	}

	deadline := time.Now().Add(30 * time.Second)
	for len(recv.requests("/crm/api/v1/orders")) < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := recv.requests("/crm/api/v1/orders")
	if len(got) != 1 {
		t.Fatalf("CRM requests = %d, want 1", len(got))
	}
	if got[0].header.Get("Authorization") != crmToken {
		t.Error("Authorization header does not equal the stored secret")
	}

	// The executors and jobs of the running server, through the admin
	// socket. Replay keeps its jobs in memory and runs beside the server.
	code, stdout, stderr := env.run("", "executor", "list", "--json")
	if code != 0 || !strings.Contains(stdout, `"name": "sync-to-external-crm"`) {
		t.Errorf("executor list beside the server: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = env.run("", "replay", "--dry-run", "--plugins", pluginDir, writeEvents(t, salesOrderEvent("so-x", "100001")))
	if code != 0 || !strings.Contains(stdout, "would send") {
		t.Errorf("replay --dry-run beside the server: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	code, stdout, stderr = env.run("", "executor", "jobs", "sync-to-external-crm", "--json")
	if code != 0 {
		t.Fatalf("executor jobs: exit status %d, stderr %q", code, stderr)
	}
	var jobs []struct {
		ID, Status, EventID string
	}
	if err := json.Unmarshal([]byte(stdout), &jobs); err != nil {
		t.Fatalf("executor jobs --json output is not JSON: %v", err)
	}
	if len(jobs) != 1 || jobs[0].EventID != "evt-so-20" {
		t.Fatalf("jobs = %+v, want one for event evt-so-20", jobs)
	}
	deadline = time.Now().Add(10 * time.Second)
	for jobs[0].Status != "SUCCESS" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		_, stdout, _ = env.run("", "executor", "jobs", "sync-to-external-crm", "--json")
		_ = json.Unmarshal([]byte(stdout), &jobs)
	}
	if jobs[0].Status != "SUCCESS" {
		t.Errorf("job status = %s, want SUCCESS", jobs[0].Status)
	}
	code, stdout, _ = env.run("", "executor", "jobs", "sync-to-external-crm", jobs[0].ID, "--attempts")
	if code != 0 || !strings.Contains(stdout, "HTTP 204") || !strings.Contains(stdout, "Authorization: [secret api-keys/crm-api-token]") {
		t.Errorf("executor jobs --attempts: status %d, output:\n%s", code, stdout)
	}
	if strings.Contains(stdout, crmToken) {
		t.Error("the attempt listing shows a secret value")
	}

	// The secret CLI works beside the running server, through the admin
	// socket, and an update is used by the next dispatch.
	code, stdout, _ = env.run("", "secret", "list", "-V", "api-keys")
	if code != 0 || !strings.Contains(stdout, "crm-api-key") {
		t.Errorf("secret list beside the server: status %d, stdout %q", code, stdout)
	}
	const rotatedToken = "Bearer rotated-canary-token-3c1d"
	env.mustRun(rotatedToken, "secret", "update", "-V", "api-keys", "-n", "crm-api-token", "--value-stdin")
	resp, err = http.Post(base+"/v1/events", "application/json", strings.NewReader(salesOrderEvent("so-22", "300000")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "the second CRM delivery", 30*time.Second, func() bool { return len(recv.requests("/crm/api/v1/orders")) >= 2 })
	if got := recv.requests("/crm/api/v1/orders"); got[1].header.Get("Authorization") != rotatedToken {
		t.Error("the dispatch after a secret update did not use the new value")
	}
}

func TestRunRejectsMissingIngestToken(t *testing.T) {
	env := newCLIEnv(t)
	env.mustRun("", "secret", "vault", "create", "ops")
	code, _, stderr := env.run("", "run", "--plugins", pluginDir, "--listen", "127.0.0.1:0", "--ingest-token", "ops/nope")
	if code != exitError || !strings.Contains(stderr, "--ingest-token ops/nope") || !strings.Contains(stderr, "not found") {
		t.Errorf("exit status %d, stderr %q; want a start failure naming the token", code, stderr)
	}
}

func TestRunRejectsNoAuthOffLoopback(t *testing.T) {
	env := newCLIEnv(t)
	code, _, stderr := env.run("", "run", "--plugins", pluginDir, "--listen", "0.0.0.0:0", "--no-auth")
	if code != exitUsage {
		t.Errorf("exit status = %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr, "loopback") {
		t.Errorf("stderr = %q, want it to explain the loopback rule", stderr)
	}
}

// TestRunRejectsInvalidListenPort checks that a port out of range is a
// usage error before run creates a store in a new data directory.
func TestRunRejectsInvalidListenPort(t *testing.T) {
	env := newCLIEnv(t)
	code, _, stderr := env.run("", "run", "--plugins", pluginDir, "--listen", "127.0.0.1:99999", "--no-auth")
	if want := `port "99999" is not a number from 0 to 65535`; code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("exit status %d, stderr %q; want %d and %q", code, stderr, exitUsage, want)
	}
	if _, err := os.Stat(env.keyFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("key file after the rejected start: %v, want none created", err)
	}
}

// TestRunRejectsOpenHookOffLoopback checks that run does not start off
// loopback while an incoming webhook trigger without a token is loaded,
// because anyone who reaches the address could fire it.
func TestRunRejectsOpenHookOffLoopback(t *testing.T) {
	env := newCLIEnv(t)
	code, _, stderr := env.run("", "run", "--plugins", pluginDir, "--listen", "0.0.0.0:0", "--ingest-token", "ops/ingest")
	if code != exitUsage {
		t.Errorf("exit status = %d, want %d", code, exitUsage)
	}
	if want := `executor "hook-open" has an incoming webhook trigger without a token`; !strings.Contains(stderr, want) || !strings.Contains(stderr, "loopback") {
		t.Errorf("stderr = %q, want it to contain %q and explain the loopback rule", stderr, want)
	}
}

func TestExecutorListHookPaths(t *testing.T) {
	env := newCLIEnv(t)
	code, stdout, stderr := env.run("", "executor", "list", "--plugins", pluginDir)
	if code != exitOK {
		t.Fatalf("executor list: exit status %d, stderr %q", code, stderr)
	}
	for _, want := range []string{
		"incomingWebhook /v1/hooks/hook-relay/TOKEN (token hooks/relay-token)",
		"incomingWebhook /v1/hooks/hook-open (no token: loopback only)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("executor list lacks %q; got:\n%s", want, stdout)
		}
	}

	_, stdout, _ = env.run("", "executor", "list", "--plugins", pluginDir, "--json")
	var infos []executorInfo
	if err := json.Unmarshal([]byte(stdout), &infos); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for _, e := range infos {
		paths[e.Name] = e.HookPath
	}
	want := map[string]string{"hook-relay": "/v1/hooks/hook-relay/TOKEN", "hook-open": "/v1/hooks/hook-open", "nightly-report": ""}
	for name, path := range want {
		if paths[name] != path {
			t.Errorf("hookPath of %s = %q, want %q", name, paths[name], path)
		}
	}
}

// openTestPlugins returns a runtime with the plugins of dir, which the
// test's cleanup closes. Compiled plugins are cached across tests.
func openTestPlugins(t *testing.T, dir string) *runtime.Runtime {
	t.Helper()
	cfg := runtime.DefaultConfig()
	cfg.PluginDir = dir
	cfg.CacheDir = filepath.Join(os.TempDir(), "execvault-test-cache")
	cfg.Logger = slog.New(slog.DiscardHandler)
	rt, err := runtime.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

// TestLogHooksOffLoopback checks what run logs after a reload off
// loopback: the paths of the triggers with a token, and an error for one
// without, which is not served.
func TestLogHooksOffLoopback(t *testing.T) {
	ctx := context.Background()
	rt := openTestPlugins(t, pluginDir)

	var out bytes.Buffer
	logHooks(ctx, slog.New(slog.NewTextHandler(&out, nil)), rt, false, fakeSecrets{})
	for _, want := range []string{
		`level=INFO msg="incoming webhook served" executor=hook-relay path=/v1/hooks/hook-relay/TOKEN token_secret=hooks/relay-token`,
		`level=ERROR msg="incoming webhook not served: it has no token and run does not listen on a loopback address; give the trigger a token { vault, key }" executor=hook-open path=/v1/hooks/hook-open`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %s; got:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "nightly-report") {
		t.Errorf("log names the schedule executor; got:\n%s", out.String())
	}
}

// fakeSecrets finds every secret unless err is set.
type fakeSecrets struct{ err error }

func (f fakeSecrets) GetSecret(_ context.Context, vault, name string) (secrets.SecretInfo, error) {
	return secrets.SecretInfo{Vault: vault, Name: name, Version: 1}, f.err
}

// TestLogHooksMissingToken checks that run warns, with the vault and key
// and how to create the secret, when a trigger's token secret does not
// exist, and stays quiet when it does.
func TestLogHooksMissingToken(t *testing.T) {
	ctx := context.Background()
	rt := openTestPlugins(t, pluginDir)

	var out bytes.Buffer
	logHooks(ctx, slog.New(slog.NewTextHandler(&out, nil)), rt, true, fakeSecrets{err: secrets.ErrSecretNotFound})
	want := `level=WARN msg="incoming webhook token secret cannot be read, so every request gets 404; create the secret or fix the trigger's token" executor=hook-relay token_secret=hooks/relay-token error="secret not found" create_with="execvault secret create -V hooks -n relay-token --value-stdin"`
	if !strings.Contains(out.String(), want) {
		t.Errorf("log lacks %s; got:\n%s", want, out.String())
	}

	out.Reset()
	logHooks(ctx, slog.New(slog.NewTextHandler(&out, nil)), rt, true, fakeSecrets{})
	if strings.Contains(out.String(), "WARN") {
		t.Errorf("log warns though the token secret exists; got:\n%s", out.String())
	}
}

func TestRunIncomingWebhook(t *testing.T) {
	env := newCLIEnv(t)
	env.mustRun("", "secret", "vault", "create", "hooks")
	env.mustRun("hook-token-canary-1f9b", "secret", "create", "-V", "hooks", "-n", "relay-token", "--value-stdin")
	recv := newReceiver(t)
	base, logs := env.startServerLogs(t, "--no-auth", "--url-override", "https://relay.example.com="+recv.URL)
	for _, want := range []string{
		`msg="incoming webhook served" executor=hook-relay path=/v1/hooks/hook-relay/TOKEN token_secret=hooks/relay-token`,
		`msg="incoming webhook served without a token" executor=hook-open path=/v1/hooks/hook-open`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("start-up log lacks %s; got:\n%s", want, logs)
		}
	}
	if strings.Contains(logs.String(), "hook-token-canary-1f9b") {
		t.Error("the start-up log contains the token's value")
	}

	do := func(method, path, contentType, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if code, _ := do("POST", "/v1/hooks/hook-relay/wrong-token", "application/json", `{}`); code != http.StatusNotFound {
		t.Errorf("wrong token: status %d, want 404", code)
	}
	if code, _ := do("POST", "/v1/hooks/no-such-executor/hook-token-canary-1f9b", "application/json", `{}`); code != http.StatusNotFound {
		t.Errorf("unknown executor: status %d, want 404", code)
	}
	if code, _ := do("PATCH", "/v1/hooks/hook-relay/hook-token-canary-1f9b", "application/json", `{}`); code != http.StatusMethodNotAllowed {
		t.Errorf("PATCH: status %d, want 405", code)
	}
	if code, _ := do("POST", "/v1/hooks/hook-relay/hook-token-canary-1f9b", "application/json", strings.Repeat("x", 2<<20)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB body: status %d, want 413", code)
	}

	if code, _ := do("POST", "/v1/hooks/hook-relay/hook-token-canary-1f9b", "application/json", `{"order":7}`); code != http.StatusNoContent {
		t.Errorf("JSON POST: status %d, want the default 204", code)
	}
	if code, _ := do("PUT", "/v1/hooks/hook-relay/hook-token-canary-1f9b", "application/x-www-form-urlencoded", "tag=a&tag=b&one=1"); code != http.StatusNoContent {
		t.Errorf("form PUT: status %d, want 204", code)
	}
	code, body := do("GET", "/v1/hooks/hook-accepted/hook-token-canary-1f9b", "", "")
	if code != http.StatusAccepted || body != `{"queued":true}` {
		t.Errorf("declared response: status %d body %q, want 202 {\"queued\":true}", code, body)
	}

	// A trigger without a token is served on loopback at the path
	// without one, and only there; one with a token needs it.
	if code, body := do("POST", "/v1/hooks/hook-open", "application/json", `{}`); code != http.StatusOK || body != "open" {
		t.Errorf("trigger without a token: status %d body %q, want 200 open", code, body)
	}
	if code, _ := do("POST", "/v1/hooks/hook-open/anything", "application/json", `{}`); code != http.StatusNotFound {
		t.Errorf("trigger without a token, with a token in the path: status %d, want 404", code)
	}
	if code, _ := do("POST", "/v1/hooks/hook-relay", "application/json", `{}`); code != http.StatusNotFound {
		t.Errorf("trigger with a token, without it in the path: status %d, want 404", code)
	}

	waitFor(t, "two relayed webhooks", 20*time.Second, func() bool { return len(recv.requests("/in")) == 2 })
	waitFor(t, "the webhook of the trigger without a token", 20*time.Second, func() bool { return len(recv.requests("/open")) == 1 })

	// While run serves, executor trigger fires through it, with its
	// plugins and URL overrides, and rejects flags it would not use.
	code, _, stderr := env.run("", "executor", "trigger", "nightly-report", "--plugins", t.TempDir(),
		"--url-override", "https://relay.example.com="+recv.URL, "--max-attempts", "1")
	if code != exitUsage {
		t.Errorf("trigger with flags run does not use: exit status %d, want %d", code, exitUsage)
	}
	for _, flag := range []string{"--plugins", "--url-override", "--max-attempts"} {
		if !strings.Contains(stderr, flag) {
			t.Errorf("trigger with flags run does not use: stderr %q, want it to name %s", stderr, flag)
		}
	}
	if got := recv.requests("/report"); len(got) != 0 {
		t.Errorf("trigger with flags run does not use sent %d requests, want none", len(got))
	}
	code, stdout, stderr := env.run("", "executor", "trigger", "nightly-report")
	if code != 0 || !strings.Contains(stdout, "delivered") {
		t.Errorf("trigger through run: exit status %d, stdout %q, stderr %q; want delivered", code, stdout, stderr)
	}
	var bodies []string
	for _, r := range recv.requests("/in") {
		bodies = append(bodies, string(r.body))
	}
	joined := strings.Join(bodies, "\n")
	for _, want := range []string{
		`{"method":"POST","body":{"order":7},"contentType":"application/json","rawBody":"{\"order\":7}"}`,
		`{"method":"PUT","body":{"one":"1","tag":["a","b"]},"contentType":"application/x-www-form-urlencoded","rawBody":"tag=a&tag=b&one=1"}`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("relayed bodies lack %s; got:\n%s", want, joined)
		}
	}
}

func TestRunIngestAuthentication(t *testing.T) {
	env := newCLIEnv(t)
	env.mustRun("", "secret", "vault", "create", "ops")
	env.mustRun("ingest-token-canary-77aa", "secret", "create", "-V", "ops", "-n", "ingest", "--value-stdin")
	base := env.startServer(t, "--ingest-token", "ops/ingest")

	post := func(token, body string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/v1/events", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	event := orderEvent("ord-auth")
	if code := post("", event); code != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", code)
	}
	if code := post("wrong", event); code != http.StatusUnauthorized {
		t.Errorf("wrong token: status %d, want 401", code)
	}
	if code := post("ingest-token-canary-77aa", `{"eventType":"nope"}`); code != http.StatusBadRequest {
		t.Errorf("invalid event: status %d, want 400", code)
	}
	if code := post("ingest-token-canary-77aa", event); code != http.StatusAccepted {
		t.Errorf("right token: status %d, want 202", code)
	}
	if code := post("ingest-token-canary-77aa", "["+strings.Repeat(event+",", 12<<20/len(event))+event+"]"); code != http.StatusRequestEntityTooLarge {
		t.Errorf("12 MiB body: status %d, want 413", code)
	}
}

func TestExecutorTriggerSchedule(t *testing.T) {
	env := newCLIEnv(t)
	recv := newReceiver(t)
	code, stdout, stderr := env.run("", "executor", "trigger", "nightly-report", "--plugins", pluginDir,
		"--url-override", "https://relay.example.com="+recv.URL)
	if code != 0 || !strings.Contains(stdout, "delivered") {
		t.Fatalf("trigger schedule: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	got := recv.requests("/report")
	if len(got) != 1 || string(got[0].body) != `{"hasTime":true}` {
		t.Errorf("report requests = %d (first body %q), want one with hasTime true", len(got), firstBody(got))
	}

	// A firing by hand does not take the event id of a due time, which
	// would make a second firing in the same second, or the scheduler's
	// own firing at that time, a duplicate that sends nothing.
	code, stdout, stderr = env.run("", "executor", "trigger", "nightly-report", "--plugins", pluginDir,
		"--url-override", "https://relay.example.com="+recv.URL)
	if code != 0 || !strings.Contains(stdout, "delivered") {
		t.Fatalf("second trigger: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if got := recv.requests("/report"); len(got) != 2 {
		t.Errorf("report requests after two triggers = %d, want 2", len(got))
	}
	out := env.mustRun("", "executor", "jobs", "nightly-report", "--json")
	var jobs []struct {
		ID      string `json:"id"`
		EventID string `json:"eventId"`
	}
	if err := json.Unmarshal([]byte(out), &jobs); err != nil {
		t.Fatalf("jobs --json: %v\n%s", err, out)
	}
	if len(jobs) != 2 {
		t.Errorf("jobs after two triggers = %d, want 2", len(jobs))
	}
	for _, j := range jobs {
		if strings.HasPrefix(j.EventID, "schedule:") {
			t.Errorf("job %s of a firing by hand has event id %q, the id of a due time", j.ID, j.EventID)
		}
	}
}

func TestManualScheduleArgsUseScheduleZone(t *testing.T) {
	// 09:18:22 UTC, read on a host whose zone is five hours behind UTC.
	now := time.Date(2026, 12, 5, 9, 18, 22, 0, time.UTC).In(time.FixedZone("host", -5*3600))
	tests := []struct {
		zone string
		want string
	}{
		{"Europe/Berlin", `"scheduledTime":"2026-12-05T10:18:22+01:00"`},
		{"", `"scheduledTime":"2026-12-05T09:18:22Z"`},
	}
	for _, tt := range tests {
		args, err := manualScheduleArgs(plugins.Trigger{Kind: plugins.TriggerSchedule, Cron: "* * * * *", Timezone: tt.zone}, now, nil)
		if err != nil {
			t.Fatalf("zone %q: %v", tt.zone, err)
		}
		if !strings.Contains(string(args), tt.want) {
			t.Errorf("zone %q: arguments %s, want them to contain %s", tt.zone, args, tt.want)
		}
	}
}

func TestExecutorTriggerUnknownName(t *testing.T) {
	env := newCLIEnv(t)
	code, stdout, stderr := env.run("", "executor", "trigger", "sync-to-crm", "--plugins", pluginDir)
	if code != exitError || stdout != "" || !strings.Contains(stderr, `"sync-to-crm"`) || !strings.Contains(stderr, `(did you mean "sync-to-external-crm"?)`) {
		t.Errorf("trigger of a misspelt name: exit status %d, stdout %q, stderr %q; want 1 and a suggestion", code, stdout, stderr)
	}
}

func firstBody(rs []receivedRequest) string {
	if len(rs) == 0 {
		return ""
	}
	return string(rs[0].body)
}

// TestSchedulesFollowReload checks that a reload which removes or adds a
// schedule executor updates the scheduler.
func TestSchedulesFollowReload(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(pluginDir, "hooks-and-schedules.wasm")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt := openTestPlugins(t, dir)
	quiet := slog.New(slog.DiscardHandler)
	sched, err := triggers.NewScheduler(triggers.SchedulerConfig{
		Fire:   func(context.Context, triggers.Firing) error { return nil },
		Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &schedules{sched: sched, log: quiet, specs: map[string]string{}}

	if err := s.sync(ctx, rt); err != nil || len(s.specs) != 0 {
		t.Fatalf("empty directory: specs %v, error %v; want none", s.specs, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hooks.wasm"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rt.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.sync(ctx, rt); err != nil || s.specs["nightly-report"] != "0 2 * * * Europe/Berlin" {
		t.Fatalf("after adding the plugin: specs %v, error %v; want nightly-report", s.specs, err)
	}
	if err := os.Remove(filepath.Join(dir, "hooks.wasm")); err != nil {
		t.Fatal(err)
	}
	if err := rt.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.sync(ctx, rt); err != nil || len(s.specs) != 0 {
		t.Errorf("after removing the plugin: specs %v, error %v; want none", s.specs, err)
	}
	if s.sched.Remove("nightly-report") {
		t.Error("nightly-report is still scheduled after its plugin was removed")
	}
}

// fixedClock is a triggers.Clock whose time moves only when the test sets
// it. Its timers never fire; each one it starts is reported on waits, which
// the scheduler does after every pass over its due schedules.
type fixedClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan struct{}
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fixedClock) set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

func (c *fixedClock) After(time.Duration) <-chan time.Time {
	select {
	case c.waits <- struct{}{}:
	default:
	}
	return nil
}

// TestScheduleSpecChangeOnReload schedules nightly-report ("0 2 * * *" in
// Europe/Berlin) at 10:00 Berlin time, then at 10:32 reloads a build of the
// plugin that runs it every five minutes. The reload fires nothing: the
// 10:30 due time passed before the new spec existed.
func TestScheduleSpecChangeOnReload(t *testing.T) {
	dir := t.TempDir()
	every5 := filepath.Join(t.TempDir(), "every-5.wasm")
	if err := buildPlugin(every5, "../../testdata/plugins/hooks-and-schedules", "-ldflags=-X 'main.nightlyCron=*/5 * * * *'"); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(pluginDir, "hooks-and-schedules.wasm"), filepath.Join(dir, "hooks.wasm"))

	ctx := t.Context()
	cfg := runtime.DefaultConfig()
	cfg.PluginDir = dir
	cfg.CacheDir = filepath.Join(os.TempDir(), "execvault-test-cache")
	cfg.Logger = slog.New(slog.DiscardHandler)
	rt, err := runtime.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	db, err := statedb.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := triggers.NewBadgerRunStore(db)

	clock := &fixedClock{now: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC), waits: make(chan struct{}, 1)}
	var mu sync.Mutex
	var fired []triggers.Firing
	sched, err := triggers.NewScheduler(triggers.SchedulerConfig{
		Fire: func(_ context.Context, f triggers.Firing) error {
			mu.Lock()
			defer mu.Unlock()
			fired = append(fired, f)
			return nil
		},
		Store:  store,
		Clock:  clock,
		Logger: cfg.Logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &schedules{sched: sched, log: cfg.Logger, specs: map[string]string{}}
	if err := s.sync(ctx, rt); err != nil {
		t.Fatal(err)
	}

	clock.set(time.Date(2026, 5, 1, 8, 32, 0, 0, time.UTC))
	copyFile(t, every5, filepath.Join(dir, "hooks.wasm"))
	if err := rt.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.sync(ctx, rt); err != nil || s.specs["nightly-report"] != "*/5 * * * * Europe/Berlin" {
		t.Fatalf("after the reload: specs %v, error %v; want nightly-report every five minutes", s.specs, err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sched.Run(runCtx) }()
	<-clock.waits
	cancel()
	<-done

	mu.Lock()
	defer mu.Unlock()
	if len(fired) != 0 {
		t.Errorf("firings after the reload = %+v, want none", fired)
	}
	got, ok, err := store.LastRun(ctx, "nightly-report")
	if want := "*/5 * * * * (Europe/Berlin)"; err != nil || !ok || !got.Time.Equal(clock.Now()) || got.Spec != want {
		t.Errorf("stored last run = %+v, %v, %v; want %v under %q", got, ok, err, clock.Now(), want)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestJobsRetry fails a job, retries it while no execvault run serves the
// data directory, and checks that run then delivers it with the same
// webhook-id. Jobs that are not FAILED or CANCELED cannot be retried.
func TestJobsRetry(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"crm-api-token": crmToken, "crm-api-key": crmKey})
	var healthy atomic.Bool
	var ids []string
	var mu sync.Mutex
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ids = append(ids, r.Header.Get("webhook-id"))
		mu.Unlock()
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	override := "https://crm.example.com=" + recv.URL

	id := failedJobID(t, env, override, "so-retry")

	code, _, stderr := env.run("", "executor", "jobs", "retry", id)
	if code != exitOK || !strings.Contains(stderr, "is PENDING again") || !strings.Contains(stderr, "execvault run delivers it when it starts") {
		t.Fatalf("retry without run: exit status %d, stderr %q; want PENDING and when it is delivered", code, stderr)
	}
	code, _, stderr = env.run("", "executor", "jobs", "retry", id)
	if code != exitError || !strings.Contains(stderr, id) {
		t.Errorf("retry of a PENDING job: exit status %d, stderr %q; want an error naming the job", code, stderr)
	}

	healthy.Store(true)
	env.startServer(t, "--no-auth", "--url-override", override)
	waitFor(t, "the retried job to succeed", 20*time.Second, func() bool {
		_, stdout, _ := env.run("", "executor", "jobs", "sync-to-external-crm", id, "--json")
		var j webhook.Job
		return json.Unmarshal([]byte(stdout), &j) == nil && j.Status == webhook.StatusSuccess
	})
	mu.Lock()
	got := slices.Clone(ids)
	mu.Unlock()
	if len(got) != 2 || got[0] != id || got[1] != id {
		t.Errorf("webhook-id of the requests = %q, want %s twice", got, id)
	}

	code, _, stderr = env.run("", "executor", "jobs", "retry", id)
	if code != exitError || !strings.Contains(stderr, "SUCCESS") {
		t.Errorf("retry of a SUCCESS job: exit status %d, stderr %q; want an error naming its status", code, stderr)
	}
}

// TestRunHelpNamesIngestBodyForms checks that run --help lists every body
// form POST /v1/events accepts, JSONL included, and how to send a file.
func TestRunHelpNamesIngestBodyForms(t *testing.T) {
	env := newCLIEnv(t)
	code, stdout, stderr := env.run("", "run", "--help")
	if code != exitOK {
		t.Fatalf("run --help: exit %d, stderr %q", code, stderr)
	}
	help := strings.Join(strings.Fields(stdout), " ")
	for _, want := range []string{"one record event, a JSON array of them, or JSONL", "one event per line", "curl --data-binary @FILE"} {
		if !strings.Contains(help, want) {
			t.Errorf("run --help does not say %q:\n%s", want, stdout)
		}
	}
}

// TestRunLogsFailedManualFiring checks that a firing started by executor
// trigger through run, which fails, is logged by run as well as printed by
// the command.
func TestRunLogsFailedManualFiring(t *testing.T) {
	env := newCLIEnv(t)
	env.mustRun("", "secret", "vault", "create", "api-keys")
	recv := newReceiver(t)
	_, logs := env.startServerLogs(t, "--no-auth", "--url-override", "https://crm.example.com="+recv.URL)

	// The executor's header secrets do not exist, a configuration error
	// that fails the job at once.
	code, stdout, _ := env.run("", "executor", "trigger", "sync-to-external-crm",
		"--data", `{"newRecord":{"id":"so-9","totalPrice":100001}}`)
	if code != exitError || !strings.Contains(stdout, "failed") {
		t.Fatalf("trigger through run: exit status %d, stdout %q; want failed", code, stdout)
	}
	waitFor(t, "run to log the failed firing", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), `msg="firing failed" executor=sync-to-external-crm trigger=manual`)
	})
}

// TestJobsCancel cancels a job while no execvault run serves the data
// directory, and another through run's admin socket while its receiver
// keeps failing. Finished jobs cannot be canceled.
func TestJobsCancel(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{
		"crm-api-token": crmToken, "crm-api-key": crmKey,
		"external-api-token": externalToken, "api-secret": apiSecret,
	})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(recv.Close)
	jobStatus := func(executor, id string) webhook.Status {
		t.Helper()
		_, stdout, _ := env.run("", "executor", "jobs", executor, id, "--json")
		var j webhook.Job
		if err := json.Unmarshal([]byte(stdout), &j); err != nil {
			t.Fatalf("jobs %s %s --json: %v", executor, id, err)
		}
		return j.Status
	}

	id := failedJobID(t, env, "https://crm.example.com="+recv.URL, "so-cancel")

	code, _, stderr := env.run("", "executor", "jobs", "cancel", id)
	if code != exitError || !strings.Contains(stderr, id) || !strings.Contains(stderr, "FAILED") {
		t.Errorf("cancel of a FAILED job: exit status %d, stderr %q; want an error naming the job and its status", code, stderr)
	}
	env.mustRun("", "executor", "jobs", "retry", id)
	code, _, stderr = env.run("", "executor", "jobs", "cancel", id)
	if code != exitOK || !strings.Contains(stderr, "is CANCELED") {
		t.Fatalf("cancel without run: exit status %d, stderr %q; want CANCELED", code, stderr)
	}
	if got := jobStatus("sync-to-external-crm", id); got != webhook.StatusCanceled {
		t.Errorf("status after cancel without run = %s, want CANCELED", got)
	}
	code, _, stderr = env.run("", "executor", "jobs", "cancel", id)
	if code != exitError || !strings.Contains(stderr, id) || !strings.Contains(stderr, "CANCELED") {
		t.Errorf("cancel of a CANCELED job: exit status %d, stderr %q; want an error naming the job and its status", code, stderr)
	}
	code, _, stderr = env.run("", "executor", "jobs", "cancel", "msg_no_such_job")
	if code != exitError || !strings.Contains(stderr, "msg_no_such_job") {
		t.Errorf("cancel of an unknown job: exit status %d, stderr %q; want an error naming it", code, stderr)
	}

	// Through run: a job of the default policy, with 10 attempts, against
	// a receiver that keeps failing.
	base := env.startServer(t, "--no-auth", "--url-override", "https://api.example.com="+recv.URL)
	resp, err := http.Post(base+"/v1/events", "application/json", strings.NewReader(orderEvent("ord-cancel")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var live string
	waitFor(t, "the event's job", 20*time.Second, func() bool {
		_, stdout, _ := env.run("", "executor", "jobs", "notify-external-service", "--json")
		var jobs []webhook.Job
		if json.Unmarshal([]byte(stdout), &jobs) != nil || len(jobs) != 1 {
			return false
		}
		live = jobs[0].ID
		return true
	})
	code, _, stderr = env.run("", "executor", "jobs", "cancel", live)
	if code != exitOK || !strings.Contains(stderr, "is CANCELED") {
		t.Fatalf("cancel through run: exit status %d, stderr %q; want CANCELED", code, stderr)
	}
	if got := jobStatus("notify-external-service", live); got != webhook.StatusCanceled {
		t.Errorf("status after cancel through run = %s, want CANCELED", got)
	}
	code, _, stderr = env.run("", "executor", "jobs", "cancel", live)
	if code != exitError || !strings.Contains(stderr, "CANCELED") {
		t.Errorf("second cancel through run: exit status %d, stderr %q; want an error naming its status", code, stderr)
	}
}

// TestJobsUnknownExecutorNames checks which executor names executor jobs
// accepts. Without execvault run they are those of the stored jobs, and
// through it also those of the loaded executors.
func TestJobsUnknownExecutorNames(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"crm-api-token": crmToken, "crm-api-key": crmKey})
	recv := newReceiver(t)
	env.mustRun("", "executor", "trigger", "sync-to-external-crm", "--plugins", pluginDir,
		"--url-override", "https://crm.example.com="+recv.URL, "--data", `{"newRecord":{"id":"so-names","totalPrice":100001}}`)

	code, stdout, stderr := env.run("", "executor", "jobs", "sync-to-crm")
	if code != exitError || stdout != "" || !strings.Contains(stderr, `unknown executor "sync-to-crm": no job in `) ||
		!strings.Contains(stderr, `(did you mean "sync-to-external-crm"?)`) {
		t.Errorf("misspelt name without run: exit status %d, stdout %q, stderr %q; want 1 and a suggestion", code, stdout, stderr)
	}
	// Without run, a real executor that has not fired yet cannot be told
	// apart from a typo with no known name near it.
	if code, _, stderr := env.run("", "executor", "jobs", "nightly-report"); code != exitOK || !strings.Contains(stderr, `No jobs for executor "nightly-report"`) {
		t.Errorf("executor without jobs, without run: exit status %d, stderr %q; want 0 and no jobs", code, stderr)
	}

	env.startServer(t, "--no-auth")
	if code, _, stderr := env.run("", "executor", "jobs", "nightly-report"); code != exitOK || !strings.Contains(stderr, `No jobs for executor "nightly-report"`) {
		t.Errorf("loaded executor without jobs, through run: exit status %d, stderr %q; want 0 and no jobs", code, stderr)
	}
	code, _, stderr = env.run("", "executor", "jobs", "nightly-reprot")
	if code != exitError || !strings.Contains(stderr, `(did you mean "nightly-report"?)`) {
		t.Errorf("misspelt loaded name through run: exit status %d, stderr %q; want 1 and a suggestion", code, stderr)
	}
}

// failedJobID fires sync-to-external-crm once for record id with one
// attempt, through override to a receiver that fails, and returns the id
// of the FAILED job that leaves.
func failedJobID(t *testing.T, env *cliEnv, override, id string) string {
	t.Helper()
	code, stdout, _ := env.run("", "executor", "trigger", "sync-to-external-crm", "--plugins", pluginDir, "--url-override", override,
		"--max-attempts", "1", "--data", `{"newRecord":{"id":"`+id+`","totalPrice":100001}}`)
	if code != exitError || !strings.Contains(stdout, "failed") {
		t.Fatalf("trigger against a failing receiver: exit status %d, stdout %q; want failed", code, stdout)
	}
	var jobs []webhook.Job
	_, stdout, _ = env.run("", "executor", "jobs", "sync-to-external-crm", "--status", "FAILED", "--json")
	if err := json.Unmarshal([]byte(stdout), &jobs); err != nil || len(jobs) != 1 {
		t.Fatalf("FAILED jobs = %q (%v), want one", stdout, err)
	}
	return jobs[0].ID
}

// TestRunMissingPluginDirCreatesNothing starts run with a --plugins
// directory that does not exist. It fails naming the directory before it
// creates a store and a master key file in the new data directory.
func TestRunMissingPluginDirCreatesNothing(t *testing.T) {
	env := newCLIEnv(t)
	missing := filepath.Join(t.TempDir(), "plugins-typo")
	code, _, stderr := env.run("", "run", "--plugins", missing, "--listen", "127.0.0.1:0", "--no-auth")
	if code != exitError {
		t.Errorf("exit status %d, want %d", code, exitError)
	}
	if !strings.Contains(stderr, missing) || !strings.Contains(stderr, "--plugins") {
		t.Errorf("stderr %q, want it to name %s and --plugins", stderr, missing)
	}
	for _, path := range []string{env.dataDir, env.keyFile} {
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after the failed start: %v, want it not to exist", path, err)
		}
	}
}
