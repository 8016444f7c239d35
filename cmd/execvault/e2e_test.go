package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// pluginDir holds the example plugins, built once by TestMain.
var pluginDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "execvault-plugins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for name, src := range map[string]string{
		"notify-external-service": "../../plugins/examples/notify-external-service",
		"sync-to-external-crm":    "../../plugins/examples/sync-to-external-crm",
		"products-weight":         "../../testdata/plugins/products-weight",
		"hooks-and-schedules":     "../../testdata/plugins/hooks-and-schedules",
	} {
		if err := buildPlugin(filepath.Join(dir, name+".wasm"), src); err != nil {
			fmt.Fprintf(os.Stderr, "build example plugin %s: %v\n", name, err)
			os.Exit(1)
		}
	}
	pluginDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildPlugin builds the Go plugin in the package directory src into out,
// passing any further arguments to go build before the package.
func buildPlugin(out, src string, flags ...string) error {
	args := append([]string{"build", "-buildmode=c-shared", "-o", out}, flags...)
	cmd := exec.Command("go", append(args, src)...)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w\n%s", err, output)
	}
	return nil
}

// cliEnv runs the CLI in process against one temporary data directory.
type cliEnv struct {
	t       *testing.T
	dataDir string
	keyFile string
	// logs collects everything every command wrote, to check for leaks.
	logs bytes.Buffer
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("EXECVAULT_CACHE_DIR", filepath.Join(os.TempDir(), "execvault-test-cache"))
	t.Setenv("EXECVAULT_MASTER_KEY", "")
	return &cliEnv{t: t, dataDir: filepath.Join(dir, "data"), keyFile: filepath.Join(dir, "keys", "master.key")}
}

// run executes one command line and returns its exit status, stdout and
// stderr.
func (e *cliEnv) run(stdin string, args ...string) (int, string, string) {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	full := append([]string{"--data-dir", e.dataDir, "--key-file", e.keyFile}, args...)
	code := run(context.Background(), full, strings.NewReader(stdin), &stdout, &stderr)
	e.logs.Write(stdout.Bytes())
	e.logs.Write(stderr.Bytes())
	return code, stdout.String(), stderr.String()
}

// mustRun runs a command that must succeed. Its output is not printed on
// failure when it may hold a secret, so only the exit status is reported.
func (e *cliEnv) mustRun(stdin string, args ...string) string {
	e.t.Helper()
	code, stdout, _ := e.run(stdin, args...)
	if code != 0 {
		e.t.Fatalf("execvault %s: exit status %d, want 0", strings.Join(args, " "), code)
	}
	return stdout
}

// receiver records the webhooks it gets.
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []receivedRequest
}

type receivedRequest struct {
	path   string
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, receivedRequest{path: req.URL.Path, header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests(path string) []receivedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []receivedRequest
	for _, g := range r.got {
		if g.path == path {
			out = append(out, g)
		}
	}
	return out
}

const (
	crmToken      = "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.canary-crm-token-7f3a"
	crmKey        = "sk_live_canary_abc123xyz789"
	externalToken = "Bearer canary-external-token-91c2"
	apiSecret     = "canary-api-secret-5d8e"
)

func salesOrderEvent(id string, totalPrice string) string {
	record := fmt.Sprintf(`{"id":%q,"customerID":"cust-1","status":"confirmed","createdAt":"2026-11-30T09:00:00Z"`, id)
	if totalPrice != "" {
		record += `,"totalPrice":` + totalPrice
	}
	record += "}"
	return fmt.Sprintf(`{"id":"evt-%s","eventType":"tailordb.type_record.created","workspaceId":"ws","namespaceName":"app","typeName":"salesOrder","newRecord":%s,"oldRecord":null}`, id, record)
}

func orderEvent(id string) string {
	return fmt.Sprintf(`{"id":"evt-%s","eventType":"tailordb.type_record.created","workspaceId":"ws","namespaceName":"app","typeName":"order","newRecord":{"id":%q,"total":42.5},"oldRecord":null}`, id, id)
}

func writeEvents(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (e *cliEnv) storeSecrets(secrets map[string]string) {
	e.t.Helper()
	e.mustRun("", "secret", "vault", "create", "--name", "api-keys")
	for name, value := range secrets {
		e.mustRun(value, "secret", "create", "-V", "api-keys", "-n", name, "--value-stdin")
	}
}

func (e *cliEnv) replay(recv *receiver, events string, extra ...string) (int, string, string) {
	args := append([]string{"replay", "--plugins", pluginDir,
		"--url-override", "https://api.example.com=" + recv.URL + "/notify",
		"--url-override", "https://crm.example.com=" + recv.URL + "/crm",
		"--log-level", "debug", "--max-attempts", "2", "--backoff", "10ms"}, extra...)
	return e.run("", append(args, events)...)
}

func TestReplayDeliversExampleExecutors(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{
		"crm-api-token": crmToken, "crm-api-key": crmKey,
		"external-api-token": externalToken, "api-secret": apiSecret,
	})
	recv := newReceiver(t)
	events := writeEvents(t,
		salesOrderEvent("so-1", "100000"),
		salesOrderEvent("so-2", "100001"),
		salesOrderEvent("so-3", ""),
		orderEvent("ord-1"),
	)

	code, stdout, _ := env.replay(recv, events)
	if code != 0 {
		t.Fatalf("replay exit status = %d, want 0; stdout:\n%s", code, stdout)
	}

	crm := recv.requests("/crm/api/v1/orders")
	if len(crm) != 1 {
		t.Fatalf("CRM requests = %d, want 1 (only totalPrice 100001 passes the condition)", len(crm))
	}
	if crm[0].header.Get("Authorization") != crmToken {
		t.Error("CRM Authorization header does not equal the stored crm-api-token")
	}
	if crm[0].header.Get("X-API-Key") != crmKey {
		t.Error("CRM X-API-Key header does not equal the stored crm-api-key")
	}
	if got := crm[0].header.Get("Content-Type"); got != "application/json" {
		t.Errorf("CRM Content-Type = %q, want application/json", got)
	}
	var body map[string]any
	if err := json.Unmarshal(crm[0].body, &body); err != nil {
		t.Fatalf("CRM body is not JSON: %v", err)
	}
	want := map[string]any{"orderId": "so-2", "customerId": "cust-1", "totalPrice": 100001.0, "status": "confirmed", "createdAt": "2026-11-30T09:00:00Z"}
	if fmt.Sprint(body) != fmt.Sprint(want) {
		t.Errorf("CRM body = %v, want %v", body, want)
	}

	notify := recv.requests("/notify/orders")
	if len(notify) != 1 {
		t.Fatalf("notify requests = %d, want 1", len(notify))
	}
	if notify[0].header.Get("Authorization") != externalToken || notify[0].header.Get("X-API-Key") != apiSecret {
		t.Error("notify secret headers do not equal the stored secrets")
	}
	if got, want := string(notify[0].body), `{"orderId":"ord-1","amount":42.5}`; got != want {
		t.Errorf("notify body = %s, want %s", got, want)
	}

	for _, want := range []string{
		"evt-so-1  salesOrder created  sync-to-external-crm     skipped by condition",
		"evt-so-2  salesOrder created  sync-to-external-crm     delivered (HTTP 204, 1 attempt)",
		"evt-so-3  salesOrder created  sync-to-external-crm     skipped by condition",
		"evt-ord-1  order created       notify-external-service  delivered (HTTP 204, 1 attempt)",
		"4 events, 4 firings: 2 delivered, 2 skipped by condition, 0 failed; 0 malformed lines",
	} {
		if !strings.Contains(oneLine(stdout), oneLine(want)) {
			t.Errorf("replay output lacks %q; got:\n%s", want, stdout)
		}
	}

	env.assertNoCanary()
}

func TestReplayMissingSecretFailsOnlyThatFiring(t *testing.T) {
	env := newCLIEnv(t)
	// crm-api-key is missing; the notify executor's secrets are present.
	env.storeSecrets(map[string]string{"crm-api-token": crmToken, "external-api-token": externalToken, "api-secret": apiSecret})
	recv := newReceiver(t)
	events := writeEvents(t, salesOrderEvent("so-9", "200000"), orderEvent("ord-9"))

	code, stdout, _ := env.replay(recv, events)
	if code != 1 {
		t.Errorf("replay exit status = %d, want 1 when a firing failed", code)
	}
	if n := len(recv.requests("/crm/api/v1/orders")); n != 0 {
		t.Errorf("CRM requests = %d, want 0 when its secret is missing", n)
	}
	if n := len(recv.requests("/notify/orders")); n != 1 {
		t.Errorf("notify requests = %d, want 1: the other firing must still be delivered", n)
	}
	failLine := ""
	for _, line := range strings.Split(stdout, "\n") {
		if strings.Contains(line, "sync-to-external-crm") {
			failLine = line
		}
	}
	if !strings.Contains(failLine, "failed") || !strings.Contains(failLine, "api-keys") || !strings.Contains(failLine, "crm-api-key") {
		t.Errorf("CRM firing line = %q, want a failure naming vault api-keys and key crm-api-key", failLine)
	}
	if !strings.Contains(stdout, "1 delivered, 0 skipped by condition, 1 failed") {
		t.Errorf("summary missing or wrong; got:\n%s", stdout)
	}
	env.assertNoCanary()
}

func TestReplayReportsMalformedLineAndGoesOn(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"external-api-token": externalToken, "api-secret": apiSecret})
	recv := newReceiver(t)
	events := writeEvents(t, `{"eventType": "tailordb.type_record.created", "typeName": `, orderEvent("ord-7"))

	code, stdout, stderr := env.replay(recv, events)
	if code != 1 {
		t.Errorf("replay exit status = %d, want 1 with a malformed line", code)
	}
	if !strings.Contains(stderr, "line 1:") {
		t.Errorf("stderr does not name line 1; got:\n%s", stderr)
	}
	if n := len(recv.requests("/notify/orders")); n != 1 {
		t.Errorf("notify requests = %d, want 1: the line after the malformed one must still run", n)
	}
	if !strings.Contains(stdout, "1 malformed line") {
		t.Errorf("summary does not count the malformed line; got:\n%s", stdout)
	}
}

// assertNoCanary checks that no secret value, nor its base64, URL-escaped
// or JSON-escaped form, appears in any CLI output or log line, or in any
// file of the data directory. Failures name the form, never the value.
func (e *cliEnv) assertNoCanary() {
	e.t.Helper()
	forms := e.assertNoCanaryInOutput()
	err := filepath.Walk(e.dataDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || info.Mode()&os.ModeSocket != 0 {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for form, b := range forms {
			if bytes.Contains(data, b) {
				e.t.Errorf("secret %s appears in data directory file %s", form, path)
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// assertNoCanaryInOutput checks what every command printed, without the
// data directory, which a running execvault run holds open. It returns the
// encoded forms of the canaries it looked for, by name.
func (e *cliEnv) assertNoCanaryInOutput() map[string][]byte {
	e.t.Helper()
	forms := map[string][]byte{}
	for name, v := range map[string]string{"crm-api-token": crmToken, "crm-api-key": crmKey, "external-api-token": externalToken, "api-secret": apiSecret} {
		quoted, _ := json.Marshal(v)
		forms[name+" (plain)"] = []byte(v)
		forms[name+" (base64)"] = []byte(base64.StdEncoding.EncodeToString([]byte(v)))
		forms[name+" (url-escaped)"] = []byte(url.QueryEscape(v))
		forms[name+" (json-escaped)"] = quoted[1 : len(quoted)-1]
	}
	for form, b := range forms {
		if bytes.Contains(e.logs.Bytes(), b) {
			e.t.Errorf("secret %s appears in CLI output or logs", form)
		}
	}
	return forms
}

func TestExecutorTriggerRecordByHand(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"crm-api-token": crmToken, "crm-api-key": crmKey})
	recv := newReceiver(t)
	override := "https://crm.example.com=" + recv.URL + "/crm"

	code, stdout, _ := env.run("", "executor", "trigger", "sync-to-external-crm", "--plugins", pluginDir, "--url-override", override,
		"--data", `{"newRecord":{"id":"so-77","totalPrice":100001}}`)
	if code != 0 || !strings.Contains(stdout, "delivered (HTTP 204") {
		t.Fatalf("trigger: exit status %d, stdout %q; want delivered", code, stdout)
	}
	got := recv.requests("/crm/api/v1/orders")
	if len(got) != 1 || !strings.Contains(string(got[0].body), `"orderId":"so-77"`) {
		t.Fatalf("receiver got %d requests, want one for so-77", len(got))
	}

	code, stdout, _ = env.run("", "executor", "trigger", "sync-to-external-crm", "--plugins", pluginDir, "--url-override", override,
		"--data", `{"newRecord":{"id":"so-78","totalPrice":3}}`)
	if code != 0 || !strings.Contains(stdout, "skipped by condition") {
		t.Errorf("trigger below the threshold: exit status %d, stdout %q; want skipped", code, stdout)
	}

	code, _, stderr := env.run("", "executor", "trigger", "sync-to-external-crm", "--plugins", pluginDir, "--data", `{not json`)
	if code != exitUsage || !strings.Contains(stderr, "--data is not valid JSON") {
		t.Errorf("trigger with bad --data: exit status %d, stderr %q", code, stderr)
	}

	code, _, stderr = env.run("", "executor", "trigger", "sync-to-external-crm", "--plugins", pluginDir, "--url-override", override,
		"--data", `{"event":"deleted","oldRecord":{"id":"so-79","totalPrice":100001}}`)
	if code != exitError {
		t.Errorf("trigger with an event the trigger does not watch: exit status %d, want %d", code, exitError)
	}
	if !strings.Contains(stderr, `"deleted"`) || !strings.Contains(stderr, "created") {
		t.Errorf("trigger with an event the trigger does not watch: stderr %q, want the event and the watched ones named", stderr)
	}
	if got := recv.requests("/crm/api/v1/orders"); len(got) != 1 {
		t.Errorf("receiver got %d requests after the unwatched event, want still 1", len(got))
	}
}

func TestReplayDebeziumWeightChanges(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
	}{
		{"snapshot reads as created", nil},
		{"snapshot reads skipped", []string{"--skip-snapshot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newCLIEnv(t)
			recv := newReceiver(t)
			args := append([]string{"replay", "--plugins", pluginDir, "--url-override", "https://inventory.example.com=" + recv.URL}, tt.flags...)
			code, stdout, _ := env.run("", append(args, "../../testdata/events/debezium/postgres-products.jsonl")...)
			if code != 0 {
				t.Fatalf("replay exit status = %d, want 0; stdout:\n%s", code, stdout)
			}

			got := recv.requests("/weights")
			var bodies []string
			for _, r := range got {
				bodies = append(bodies, string(r.body))
			}
			want := []string{
				`{"id":107,"oldWeight":5.3,"newWeight":5.1}`,
				`{"id":110,"oldWeight":0.2,"newWeight":0.5}`,
				`{"id":111,"oldWeight":5.18,"newWeight":5.17}`,
			}
			if strings.Join(bodies, "\n") != strings.Join(want, "\n") {
				t.Errorf("receiver got:\n%s\nwant:\n%s", strings.Join(bodies, "\n"), strings.Join(want, "\n"))
			}
			if !strings.Contains(stdout, "3 delivered, 1 skipped by condition, 0 failed") {
				t.Errorf("summary wrong; got:\n%s", stdout)
			}
		})
	}
}

// TestReplayDebeziumMongoDB replays MongoDB change events through the echo
// executor, whose webhook body is the callback arguments, and checks the
// records it received: plain JSON made of the Extended JSON documents.
func TestReplayDebeziumMongoDB(t *testing.T) {
	env := newCLIEnv(t)
	recv := newReceiver(t)
	code, stdout, stderr := env.run("", "replay", "--plugins", "../../testdata/plugins/echo-only", "--env", "url="+recv.URL+"/echo",
		"--type-map", "shop.orders=order", "../../testdata/events/debezium/mongodb-orders.jsonl")
	if code != 0 {
		t.Fatalf("replay exit status = %d, want 0; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "10 delivered") {
		t.Errorf("summary wrong; got:\n%s", stdout)
	}

	got := recv.requests("/echo")
	if len(got) != 10 {
		t.Fatalf("receiver got %d requests, want 10", len(got))
	}
	var update struct {
		TypeName  string          `json:"typeName"`
		Event     string          `json:"event"`
		NewRecord json.RawMessage `json:"newRecord"`
		OldRecord json.RawMessage `json:"oldRecord"`
	}
	if err := json.Unmarshal(got[3].body, &update); err != nil {
		t.Fatalf("fourth body: %v", err)
	}
	shipped := `{"_id":"65a1f0c2e4b0a1b2c3d4e5f3","customer":"Edward Walker","status":"shipped","items":[{"sku":"hammer-3","qty":4,"price":7.25}],` +
		`"total":29.00,"ledgerId":"9007199254740993","token":"12345678-9012-3456-7890-123456789012","placedAt":"2024-06-01T12:00:00.000Z"}`
	if update.TypeName != "order" || update.Event != "updated" || string(update.NewRecord) != shipped ||
		string(update.OldRecord) != strings.Replace(shipped, "shipped", "placed", 1) {
		t.Errorf("fourth body = %s\nwant the update of order 65a1f0c2e4b0a1b2c3d4e5f3 to shipped", got[3].body)
	}

	t.Run("update without the full document", func(t *testing.T) {
		line := `{"updateDescription":{"removedFields":null,"updatedFields":"{\"status\": \"shipped\"}","truncatedArrays":null},` +
			`"source":{"connector":"mongodb","name":"shop","ts_ms":1717243500000,"db":"shop","collection":"orders","ord":1},"op":"u"}`
		code, _, stderr := env.run("", "replay", "--plugins", "../../testdata/plugins/echo-only", "--env", "url="+recv.URL+"/echo", writeEvents(t, line))
		if code != exitError {
			t.Errorf("exit status = %d, want %d", code, exitError)
		}
		for _, want := range []string{`line 1: skipped: debezium "u" event on collection "shop.orders"`, "capture.mode to change_streams_update_full"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr %q does not contain %q", stderr, want)
			}
		}
	})
}

// TestReplayWATExecutorMatchesGo replays the same event through the notify
// executor written in WebAssembly text and through the Go one: both must
// deliver the same body with the same secret headers.
func TestReplayWATExecutorMatchesGo(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"external-api-token": externalToken, "api-secret": apiSecret})
	watDir := t.TempDir()
	wasm, err := os.ReadFile("../../plugins/examples/wat-notify/notify.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(watDir, "wat-notify.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	events := writeEvents(t, orderEvent("ord-42"))

	var bodies []string
	for _, dir := range []string{watDir, pluginDir} {
		recv := newReceiver(t)
		code, stdout, _ := env.run("", "replay", "--plugins", dir, "--url-override", "https://api.example.com="+recv.URL+"/notify", events)
		if code != 0 {
			t.Fatalf("replay with %s: exit status %d; stdout:\n%s", dir, code, stdout)
		}
		got := recv.requests("/notify/orders")
		if len(got) != 1 {
			t.Fatalf("replay with %s: %d requests, want 1", dir, len(got))
		}
		if got[0].header.Get("Authorization") != externalToken || got[0].header.Get("X-API-Key") != apiSecret {
			t.Errorf("replay with %s: secret headers do not equal the stored secrets", dir)
		}
		bodies = append(bodies, string(got[0].body))
	}
	if bodies[0] != bodies[1] {
		t.Errorf("WAT body %s differs from Go body %s", bodies[0], bodies[1])
	}
	env.assertNoCanary()
}

func TestReplayDryRunSendsNothing(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"crm-api-token": crmToken, "crm-api-key": crmKey})
	recv := newReceiver(t)
	events := writeEvents(t, salesOrderEvent("so-5", "100001"), salesOrderEvent("so-6", "1"))

	code, stdout, _ := env.replay(recv, events, "--dry-run")
	if code != 0 {
		t.Fatalf("replay --dry-run: exit status %d; stdout:\n%s", code, stdout)
	}
	if n := len(recv.requests("/crm/api/v1/orders")); n != 0 {
		t.Errorf("receiver got %d requests during a dry run, want 0", n)
	}
	for _, want := range []string{
		"POST " + recv.URL + "/crm/api/v1/orders",
		"Authorization: [secret api-keys/crm-api-token]",
		"X-API-Key: [secret api-keys/crm-api-key]",
		`body: {"orderId":"so-5","customerId":"cust-1","totalPrice":100001,"status":"confirmed","createdAt":"2026-11-30T09:00:00Z"}`,
		"would send as job",
		"skipped by condition",
		"2 firings: 1 would be sent (dry run), 1 skipped by condition, 0 failed",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry-run output lacks %q; got:\n%s", want, stdout)
		}
	}
	env.assertNoCanary()
}

// TestReplayEgressDenyPrivate checks that the egress policy applies to the
// resolved address: the loopback receiver is denied before any request.
func TestReplayEgressDenyPrivate(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"external-api-token": externalToken, "api-secret": apiSecret})
	recv := newReceiver(t)
	events := writeEvents(t, orderEvent("ord-egress"))

	code, stdout, _ := env.replay(recv, events, "--egress-deny-private")
	if code != 1 {
		t.Errorf("replay exit status = %d, want 1", code)
	}
	if n := len(recv.requests("/notify/orders")); n != 0 {
		t.Errorf("receiver got %d requests, want 0: loopback is a denied network", n)
	}
	if !strings.Contains(stdout, "failed") || !strings.Contains(stdout, "127.0.0.1") {
		t.Errorf("replay output does not report the denied address; got:\n%s", stdout)
	}

	code, _, stderr := env.run("", "replay", "--plugins", pluginDir, "--egress-deny", "not-a-cidr", events)
	if code != exitUsage || !strings.Contains(stderr, `invalid --egress-deny "not-a-cidr"`) {
		t.Errorf("bad CIDR: exit status %d, stderr %q", code, stderr)
	}
}
