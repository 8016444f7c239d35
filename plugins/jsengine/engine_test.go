package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"github.com/execvault/execvault/plugins/manifest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/execvault/execvault/plugins/jsengine/jsbundle"
	"github.com/execvault/execvault/plugins/tsbuild"
)

const examples = "../examples/ts"

// logRecord is one console message the engine passed to the host.
type logRecord struct {
	level int32
	msg   string
}

// newTestEngine bundles entries with tsbuild and loads the bundle into a
// native engine whose clock is fixed and whose log is recorded.
func newTestEngine(t testing.TB, entries ...string) (*engine, *[]logRecord) {
	t.Helper()
	b, err := tsbuild.Bundle(context.Background(), tsbuild.Options{Entries: entries, BaseDir: "../.."})
	if err != nil {
		t.Fatalf("bundle %v: %v", entries, err)
	}
	payload, err := jsbundle.Encode(b)
	if err != nil {
		t.Fatalf("encode bundle: %v", err)
	}
	var logs []logRecord
	e := newEngine(host{
		log: func(level int32, msg string) { logs = append(logs, logRecord{level, msg}) },
		now: func() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC) },
	})
	if err := e.load(payload); err != nil {
		t.Fatalf("load bundle: %v", err)
	}
	return e, &logs
}

// firing is a decoded execvault_fire result.
type firing struct {
	status byte
	url    string
	body   string
	errMsg string
}

func decodeResult(t testing.TB, result []byte) firing {
	t.Helper()
	if len(result) == 0 {
		t.Fatal("empty result buffer")
	}
	f := firing{status: result[0]}
	switch f.status {
	case statusSkip:
		if len(result) != 1 {
			t.Fatalf("skip result has %d trailing bytes", len(result)-1)
		}
	case statusFire:
		if len(result) < 5 {
			t.Fatalf("fire result is %d bytes, shorter than its header", len(result))
		}
		n := binary.LittleEndian.Uint32(result[1:5])
		if int(n) > len(result)-5 {
			t.Fatalf("fire result declares a %d-byte URL in %d bytes", n, len(result)-5)
		}
		f.url = string(result[5 : 5+n])
		f.body = string(result[5+n:])
	case statusError:
		f.errMsg = string(result[1:])
	default:
		t.Fatalf("unknown status byte %#x", f.status)
	}
	return f
}

func fireByName(t testing.TB, e *engine, name, args string) firing {
	t.Helper()
	for i, ex := range e.executors {
		if ex.def.Name == name {
			return decodeResult(t, e.fire(int32(i), []byte(args)))
		}
	}
	t.Fatalf("no executor named %q", name)
	return firing{}
}

func TestManifestOfPlatformExamples(t *testing.T) {
	e, _ := newTestEngine(t, examples)
	data, err := e.manifestJSON()
	if err != nil {
		t.Fatalf("manifestJSON: %v", err)
	}
	var got manifest.Manifest
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("manifest is not JSON: %v", err)
	}
	if got.ABIVersion != 1 || got.SDK != sdkName {
		t.Errorf("abiVersion, sdk = %d, %q; want 1, %q", got.ABIVersion, got.SDK, sdkName)
	}
	if len(got.Executors) != 2 {
		t.Fatalf("manifest has %d executors, want 2: %s", len(got.Executors), data)
	}

	notify, crm := got.Executors[0], got.Executors[1]
	want := []struct {
		name     string
		got      any
		expected any
	}{
		{"notify name", notify.Name, "notify-external-service"},
		{"notify trigger", notify.Trigger.Kind + " " + notify.Trigger.TypeName + " " + strings.Join(notify.Trigger.Events, ","), "record order created"},
		{"notify condition", notify.Trigger.Condition, false},
		{"notify url", notify.Operation.URL, "https://api.example.com/orders"},
		{"notify body", notify.Operation.RequestBody, true},
		{"crm name", crm.Name, "sync-to-external-crm"},
		{"crm description", crm.Description, "Sync sales orders to external CRM system"},
		{"crm type", crm.Trigger.TypeName, "salesOrder"},
		{"crm condition", crm.Trigger.Condition, true},
		{"crm dynamic url", crm.Operation.DynamicURL, false},
	}
	for _, w := range want {
		if w.got != w.expected {
			t.Errorf("%s = %v, want %v", w.name, w.got, w.expected)
		}
	}

	wantHeaders := []manifest.Header{
		{Name: "Content-Type", Value: "application/json"},
		{Name: "Authorization", Secret: &manifest.SecretRef{Vault: "api-keys", Key: "crm-api-token"}},
		{Name: "X-API-Key", Secret: &manifest.SecretRef{Vault: "api-keys", Key: "crm-api-key"}},
	}
	gotHeaders, _ := json.Marshal(crm.Operation.Headers)
	wantJSON, _ := json.Marshal(wantHeaders)
	if string(gotHeaders) != string(wantJSON) {
		t.Errorf("crm headers = %s, want %s", gotHeaders, wantJSON)
	}
}

func TestFireSyncToExternalCRM(t *testing.T) {
	e, _ := newTestEngine(t, examples)
	tests := []struct {
		name   string
		record string
		status byte
		body   string
	}{
		{name: "at threshold skips", record: `{"id":"o1","totalPrice":100000}`, status: statusSkip},
		{
			name:   "above threshold fires",
			record: `{"id":"o2","customerID":"c9","totalPrice":100001,"status":"open","createdAt":"2024-01-02T03:04:05Z"}`,
			status: statusFire,
			body:   `{"orderId":"o2","customerId":"c9","totalPrice":100001,"status":"open","createdAt":"2024-01-02T03:04:05Z"}`,
		},
		{name: "missing total skips", record: `{"id":"o3"}`, status: statusSkip},
		{name: "null total skips", record: `{"id":"o4","totalPrice":null}`, status: statusSkip},
		{
			name:   "missing fields dropped from body",
			record: `{"id":"o5","totalPrice":250000.5}`,
			status: statusFire,
			body:   `{"orderId":"o5","totalPrice":250000.5}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := `{"workspaceId":"w","appNamespace":"app","typeName":"salesOrder","event":"created","newRecord":` + tt.record + `}`
			got := fireByName(t, e, "sync-to-external-crm", args)
			if got.status != tt.status {
				t.Fatalf("status = %#x (%s), want %#x", got.status, got.errMsg, tt.status)
			}
			if got.url != "" {
				t.Errorf("url = %q, want empty for a fixed URL", got.url)
			}
			if got.body != tt.body {
				t.Errorf("body = %s, want %s", got.body, tt.body)
			}
		})
	}
}

func TestFireDynamicURLAndBody(t *testing.T) {
	e, _ := newTestEngine(t, filepath.Join(examples, "fixtures/dynamic-url.ts"))
	got := fireByName(t, e, "update-crm-order", `{"newRecord":{"id":"a/b"},"oldRecord":{"id":"a/b"}}`)
	if got.status != statusFire {
		t.Fatalf("status = %#x (%s), want fire", got.status, got.errMsg)
	}
	if want := "https://crm.example.com/api/v2/orders/a%2Fb"; got.url != want {
		t.Errorf("url = %q, want %q", got.url, want)
	}
	if want := `{"orderId":"a/b","syncedAt":"2024-01-02T03:04:05.000Z","nested":{"kept":1}}`; got.body != want {
		t.Errorf("body = %s, want %s", got.body, want)
	}
}

func TestFireRecordTriggerEvents(t *testing.T) {
	e, _ := newTestEngine(t, filepath.Join(examples, "fixtures/record-events.ts"))
	tests := []struct {
		event  string
		args   string
		status byte
		body   string
	}{
		{
			event:  "created",
			args:   `{"event":"created","rawEvent":"tailordb.type_record.created","newRecord":{"id":"c1"}}`,
			status: statusFire,
			body:   `{"event":"created","rawEvent":"tailordb.type_record.created","id":"c1"}`,
		},
		{
			event:  "updated",
			args:   `{"event":"updated","rawEvent":"tailordb.type_record.updated","newRecord":{"id":"c1"},"oldRecord":{"id":"c1"}}`,
			status: statusSkip,
		},
		{
			event:  "deleted",
			args:   `{"event":"deleted","rawEvent":"tailordb.type_record.deleted","newRecord":null,"oldRecord":{"id":"c2"}}`,
			status: statusFire,
			body:   `{"event":"deleted","rawEvent":"tailordb.type_record.deleted","id":"c2"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			got := fireByName(t, e, "audit-customer", tt.args)
			if got.status != tt.status {
				t.Fatalf("status = %#x (%s), want %#x", got.status, got.errMsg, tt.status)
			}
			if got.body != tt.body {
				t.Errorf("body = %s, want %s", got.body, tt.body)
			}
		})
	}

	data, _ := e.manifestJSON()
	if !strings.Contains(string(data), `"events":["created","updated","deleted"]`) {
		t.Errorf("manifest = %s, want all three events", data)
	}
}

func TestFireThrowingCallback(t *testing.T) {
	e, _ := newTestEngine(t, filepath.Join(examples, "fixtures/throwing.ts"))
	got := fireByName(t, e, "charge-invoice", `{"newRecord":{"id":"i1","amount":-5}}`)
	if got.status != statusError {
		t.Fatalf("status = %#x, want error", got.status)
	}
	for _, want := range []string{
		`executor "charge-invoice": requestBody failed`,
		"RangeError: amount must be positive, got -5",
		"requirePositive (plugins/examples/ts/fixtures/lib/crm.ts:12:11)",
		"plugins/examples/ts/fixtures/throwing.ts:12:",
	} {
		if !strings.Contains(got.errMsg, want) {
			t.Errorf("message = %q\nwant it to contain %q", got.errMsg, want)
		}
	}
}

func TestFireScheduleAsyncBody(t *testing.T) {
	e, _ := newTestEngine(t, filepath.Join(examples, "fixtures/nightly-report.ts"))
	got := fireByName(t, e, "nightly-report", `{"env":{},"scheduledTime":"2024-05-06T17:00:00Z"}`)
	if got.status != statusFire {
		t.Fatalf("status = %#x (%s), want fire", got.status, got.errMsg)
	}
	if want := `{"day":"2024-05-06"}`; got.body != want {
		t.Errorf("body = %s, want %s", got.body, want)
	}
}

func TestFireIncomingWebhook(t *testing.T) {
	e, _ := newTestEngine(t, filepath.Join(examples, "fixtures/incoming-webhook.ts"))
	tests := []struct {
		name   string
		args   string
		status byte
		body   string
	}{
		{
			name:   "matching event",
			args:   `{"method":"POST","headers":{"x-event":"payment.succeeded"},"body":{"id":"p1"},"rawBody":"{}"}`,
			status: statusFire,
			body:   `{"method":"POST","payment":"p1"}`,
		},
		{
			name:   "other event",
			args:   `{"method":"POST","headers":{"x-event":"payment.failed"},"body":{"id":"p1"},"rawBody":"{}"}`,
			status: statusSkip,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fireByName(t, e, "relay-payment-event", tt.args)
			if got.status != tt.status {
				t.Fatalf("status = %#x (%s), want %#x", got.status, got.errMsg, tt.status)
			}
			if got.body != tt.body {
				t.Errorf("body = %s, want %s", got.body, tt.body)
			}
		})
	}

	data, _ := e.manifestJSON()
	if want := `"token":{"vault":"webhooks","key":"payment-token"},"response":{"status":202,"body":"accepted"}`; !strings.Contains(string(data), want) {
		t.Errorf("manifest = %s, want it to contain %s", data, want)
	}
}

// crmArguments are the arguments of a sync-to-external-crm firing that
// passes the condition, with every field the runtime sends.
const crmArguments = `{"workspaceId":"ws-1","appNamespace":"sales","typeName":"salesOrder","event":"created",` +
	`"rawEvent":"tailordb.type_record.created","env":{"stage":"dev"},"newRecord":{"id":"0f8e4c2a-1b3d-4e5f-8a9b-0c1d2e3f4a5b",` +
	`"customerID":"c-42","totalPrice":250000,"status":"confirmed","createdAt":"2024-05-06T07:08:09Z","lines":3}}`

// BenchmarkFireNative measures execvault_fire's work for
// sync-to-external-crm outside Wasm, to profile the engine natively.
func BenchmarkFireNative(b *testing.B) {
	e, _ := newTestEngine(b, filepath.Join(examples, "sync-to-external-crm.ts"))
	args := []byte(crmArguments)
	b.ReportAllocs()
	for b.Loop() {
		if res := e.fire(0, args); res[0] != statusFire {
			b.Fatalf("status = %#x (%s), want fire", res[0], res[1:])
		}
	}
}
