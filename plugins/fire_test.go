package plugins

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// registerForTest replaces the registry with defs for the duration of t.
func registerForTest(t testing.TB, defs ...Definition) {
	t.Helper()
	resetRegistry()
	t.Cleanup(resetRegistry)
	for _, d := range defs {
		if err := CreateExecutor(d); err != nil {
			t.Fatalf("CreateExecutor(%q): %v", d.Name, err)
		}
	}
}

// crmDefinition mirrors the sync-to-external-crm example.
func crmDefinition() Definition {
	return Definition{
		Name:        "sync-to-external-crm",
		Description: "Sync sales orders to external CRM system",
		Trigger: RecordCreatedTrigger(RecordTriggerOptions{
			Type: "salesOrder",
			Condition: func(a *Args) bool {
				return a.NewRecord().NumberOr("totalPrice", 0) > 100000
			},
		}),
		Operation: Webhook{
			URL: "https://crm.example.com/api/v1/orders",
			Headers: []Header{
				PlainHeader("Content-Type", "application/json"),
				SecretHeader("Authorization", "api-keys", "crm-api-token"),
				SecretHeader("X-API-Key", "api-keys", "crm-api-key"),
			},
			RequestBody: func(a *Args, w *JSONWriter) error {
				rec := a.NewRecord()
				w.BeginObject()
				w.Field("orderId", rec.Get("id"))
				w.Field("customerId", rec.Get("customerID"))
				w.Field("totalPrice", rec.Get("totalPrice"))
				w.Field("status", rec.Get("status"))
				w.Field("createdAt", rec.Get("createdAt"))
				w.EndObject()
				return nil
			},
		},
	}
}

// decodedResult is a result buffer split into its parts.
type decodedResult struct {
	status  byte
	url     string
	body    string
	message string
}

func decodeResult(t testing.TB, res []byte) decodedResult {
	t.Helper()
	if len(res) == 0 {
		t.Fatalf("result is empty, want at least a status byte")
	}
	r := decodedResult{status: res[0]}
	switch r.status {
	case StatusSkip:
		if len(res) != 1 {
			t.Fatalf("skip result has %d bytes, want 1", len(res))
		}
	case StatusFire:
		if len(res) < fireHeaderLen {
			t.Fatalf("fire result has %d bytes, want at least %d", len(res), fireHeaderLen)
		}
		n := int(binary.LittleEndian.Uint32(res[1:fireHeaderLen]))
		if fireHeaderLen+n > len(res) {
			t.Fatalf("fire result URL length %d exceeds the %d bytes left", n, len(res)-fireHeaderLen)
		}
		r.url = string(res[fireHeaderLen : fireHeaderLen+n])
		r.body = string(res[fireHeaderLen+n:])
	case StatusError:
		r.message = string(res[1:])
	default:
		t.Fatalf("status byte = %#x, want 0, 1 or 2", r.status)
	}
	return r
}

func TestFireSyncToCRM(t *testing.T) {
	registerForTest(t, crmDefinition())
	tests := []struct {
		name       string
		args       string
		wantStatus byte
		wantBody   string
	}{
		{
			name:       "large order fires",
			args:       `{"workspaceId":"ws","typeName":"salesOrder","newRecord":{"id":"so-1","customerID":"c-9","totalPrice":150000,"status":"open","createdAt":"2026-01-02T03:04:05Z"}}`,
			wantStatus: StatusFire,
			wantBody:   `{"orderId":"so-1","customerId":"c-9","totalPrice":150000,"status":"open","createdAt":"2026-01-02T03:04:05Z"}`,
		},
		{
			name:       "small order skipped",
			args:       `{"newRecord":{"id":"so-2","totalPrice":99}}`,
			wantStatus: StatusSkip,
		},
		{
			name:       "missing total skipped",
			args:       `{"newRecord":{"id":"so-3"}}`,
			wantStatus: StatusSkip,
		},
		{
			name:       "null total skipped",
			args:       `{"newRecord":{"id":"so-4","totalPrice":null}}`,
			wantStatus: StatusSkip,
		},
		{
			name:       "string total compared as number",
			args:       `{"newRecord":{"id":"so-5","totalPrice":"250000"}}`,
			wantStatus: StatusFire,
			wantBody:   `{"orderId":"so-5","totalPrice":"250000"}`,
		},
		{
			name:       "absent fields omitted and null kept",
			args:       `{"newRecord":{"id":"so-6","totalPrice":200000,"status":null}}`,
			wantStatus: StatusFire,
			wantBody:   `{"orderId":"so-6","totalPrice":200000,"status":null}`,
		},
		{
			name:       "huge number passed through exactly",
			args:       `{"newRecord":{"id":1,"totalPrice":123456789012345678901234567890.000000001}}`,
			wantStatus: StatusFire,
			wantBody:   `{"orderId":1,"totalPrice":123456789012345678901234567890.000000001}`,
		},
		{
			name:       "no new record skipped",
			args:       `{"oldRecord":{"totalPrice":500000}}`,
			wantStatus: StatusSkip,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeResult(t, Fire(0, []byte(tc.args)))
			if got.status != tc.wantStatus {
				t.Fatalf("status = %#x (message %q), want %#x", got.status, got.message, tc.wantStatus)
			}
			if got.url != "" {
				t.Errorf("url = %q, want empty for a fixed URL", got.url)
			}
			if got.body != tc.wantBody {
				t.Errorf("body = %s, want %s", got.body, tc.wantBody)
			}
		})
	}
}

func TestFireErrors(t *testing.T) {
	noop := RecordCreatedTrigger(RecordTriggerOptions{Type: "order"})
	registerForTest(t,
		Definition{
			Name:    "panics-in-condition",
			Trigger: RecordCreatedTrigger(RecordTriggerOptions{Type: "order", Condition: func(*Args) bool { panic("boom in condition") }}),
			Operation: Webhook{
				URL: "https://example.com/",
			},
		},
		Definition{
			Name:    "panics-in-body",
			Trigger: noop,
			Operation: Webhook{
				URL: "https://example.com/",
				RequestBody: func(a *Args, w *JSONWriter) error {
					var m map[string]int
					//lint:ignore SA5000 this body exists to raise a runtime panic.
					m["x"] = 1
					return nil
				},
			},
		},
		Definition{
			Name:    "returns-error",
			Trigger: noop,
			Operation: Webhook{
				URL:         "https://example.com/",
				RequestBody: func(*Args, *JSONWriter) error { return errors.New("no customer on record") },
			},
		},
		Definition{
			Name:    "misuses-writer",
			Trigger: noop,
			Operation: Webhook{
				URL:         "https://example.com/",
				RequestBody: func(_ *Args, w *JSONWriter) error { w.BeginObject(); return nil },
			},
		},
		Definition{
			Name:    "bad-dynamic-url",
			Trigger: noop,
			Operation: Webhook{
				URLFunc: func(*Args) (string, error) { return "ftp://example.com/", nil },
			},
		},
		Definition{
			Name:    "panics-in-url",
			Trigger: noop,
			Operation: Webhook{
				URLFunc: func(*Args) (string, error) { panic(errors.New("url exploded")) },
			},
		},
	)
	tests := []struct {
		name     string
		index    int
		args     string
		wantText []string
	}{
		{"condition panic", 0, `{}`, []string{`executor "panics-in-condition": condition`, "callback panicked", "boom in condition"}},
		{"runtime panic in body", 1, `{}`, []string{`executor "panics-in-body": request body`, "callback panicked", "nil map"}},
		{"body error", 2, `{}`, []string{`executor "returns-error": request body: no customer on record`}},
		{"writer misuse", 3, `{}`, []string{`executor "misuses-writer"`, "unclosed"}},
		{"bad url", 4, `{}`, []string{`executor "bad-dynamic-url": url`, `"ftp://example.com/"`}},
		{"url panic", 5, `{}`, []string{"url exploded"}},
		{"invalid arguments", 0, `{"newRecord":`, []string{`executor "panics-in-condition"`, "invalid JSON", "offset 13"}},
		{"arguments not an object", 0, `[1]`, []string{"expected an object"}},
		{"unknown executor", 9, `{}`, []string{"fire executor 9", "no such executor", "registers 6 executors"}},
		{"negative executor", -1, `{}`, []string{"no such executor"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeResult(t, Fire(tc.index, []byte(tc.args)))
			if got.status != StatusError {
				t.Fatalf("status = %#x, want StatusError", got.status)
			}
			for _, want := range tc.wantText {
				if !strings.Contains(got.message, want) {
					t.Errorf("message = %q, want it to contain %q", got.message, want)
				}
			}
		})
	}

	// A failed firing leaves nothing behind for the next one.
	registerForTest(t, crmDefinition())
	got := decodeResult(t, Fire(0, []byte(`{"newRecord":{"id":"x","totalPrice":100001}}`)))
	if got.status != StatusFire || got.body != `{"orderId":"x","totalPrice":100001}` {
		t.Errorf("firing after failures = %#x %s, want fire with the record's fields", got.status, got.body)
	}
}

func TestFireDynamicURLAndEvents(t *testing.T) {
	registerForTest(t, Definition{
		Name: "audit-orders",
		Trigger: RecordTrigger(RecordTriggerOptions{
			Type: "order",
			Condition: func(a *Args) bool {
				return a.Event() != EventDeleted || a.OldRecord().Has("id")
			},
		}, EventCreated, EventUpdated, EventDeleted),
		Operation: Webhook{
			URLFunc: func(a *Args) (string, error) {
				base, _ := a.Env().String("auditBase")
				return base + "/" + a.Event(), nil
			},
			RequestBody: func(a *Args, w *JSONWriter) error {
				w.BeginObject()
				w.StringField("rawEvent", a.RawEvent())
				w.StringField("workspace", a.WorkspaceID())
				w.StringField("namespace", a.AppNamespace())
				w.StringField("type", a.TypeName())
				w.Field("before", a.OldRecord().Get("status"))
				w.Field("after", a.NewRecord().Get("status"))
				w.EndObject()
				return nil
			},
		},
	})

	args := `{"workspaceId":"ws-1","appNamespace":"shop","typeName":"order","event":"updated","rawEvent":"tailordb.type_record.updated",` +
		`"env":{"auditBase":"https://audit.example.com/hooks"},"oldRecord":{"id":"o","status":"open"},"newRecord":{"id":"o","status":"paid"}}`
	got := decodeResult(t, Fire(0, []byte(args)))
	if got.status != StatusFire {
		t.Fatalf("status = %#x (message %q), want StatusFire", got.status, got.message)
	}
	if want := "https://audit.example.com/hooks/updated"; got.url != want {
		t.Errorf("url = %q, want %q", got.url, want)
	}
	wantBody := `{"rawEvent":"tailordb.type_record.updated","workspace":"ws-1","namespace":"shop","type":"order","before":"open","after":"paid"}`
	if got.body != wantBody {
		t.Errorf("body = %s, want %s", got.body, wantBody)
	}

	deleted := `{"event":"deleted","env":{"auditBase":"https://audit.example.com"},"newRecord":null}`
	if got := decodeResult(t, Fire(0, []byte(deleted))); got.status != StatusSkip {
		t.Errorf("delete without old id: status = %#x, want StatusSkip", got.status)
	}
}

func TestFireScheduleAndIncomingWebhookArgs(t *testing.T) {
	registerForTest(t,
		Definition{
			Name:    "nightly-report",
			Trigger: ScheduleTrigger(ScheduleTriggerOptions{Cron: "0 2 * * *", Timezone: "Asia/Tokyo"}),
			Operation: Webhook{
				URL: "https://reports.example.com/",
				RequestBody: func(a *Args, w *JSONWriter) error {
					ts, ok := a.ScheduledTime()
					if !ok {
						return errors.New("no scheduledTime")
					}
					w.BeginObject()
					w.IntField("unix", ts.Unix())
					w.Field("region", a.Env().Get("region"))
					w.EndObject()
					return nil
				},
			},
		},
		Definition{
			Name:    "relay-github",
			Trigger: IncomingWebhookTrigger(IncomingWebhookTriggerOptions{Token: &SecretRef{Vault: "hooks", Key: "github-token"}}),
			Operation: Webhook{
				URL: "https://relay.example.com/",
				RequestBody: func(a *Args, w *JSONWriter) error {
					w.BeginObject()
					w.StringField("method", a.Method())
					w.Field("event", a.Headers().Get("x-github-event"))
					w.Field("action", a.Body().Get("action"))
					w.IntField("rawLength", int64(len(a.RawBody())))
					w.EndObject()
					return nil
				},
			},
		},
	)

	got := decodeResult(t, Fire(0, []byte(`{"env":{"region":"jp"},"scheduledTime":"2026-03-01T02:00:00+09:00"}`)))
	if want := `{"unix":1772298000,"region":"jp"}`; got.body != want {
		t.Errorf("schedule body = %s (message %q), want %s", got.body, got.message, want)
	}

	got = decodeResult(t, Fire(1, []byte(`{"method":"POST","headers":{"x-github-event":"push"},"body":{"action":"opened"},"rawBody":"{\"action\":\"opened\"}","env":{}}`)))
	if want := `{"method":"POST","event":"push","action":"opened","rawLength":19}`; got.body != want {
		t.Errorf("incoming webhook body = %s (message %q), want %s", got.body, got.message, want)
	}
}

func TestFireWithoutBody(t *testing.T) {
	registerForTest(t, Definition{
		Name:      "ping",
		Trigger:   RecordCreatedTrigger(RecordTriggerOptions{Type: "order"}),
		Operation: Webhook{URL: "https://example.com/ping"},
	})
	got := decodeResult(t, Fire(0, []byte(`{}`)))
	if got.status != StatusFire || got.url != "" || got.body != "" {
		t.Errorf("result = %#x url %q body %q, want fire with no URL and no body", got.status, got.url, got.body)
	}
}

func TestFireReusesBuffers(t *testing.T) {
	registerForTest(t, crmDefinition())
	args := []byte(`{"newRecord":{"id":"so-1","customerID":"c-9","totalPrice":150000,"status":"open","createdAt":"2026-01-02T03:04:05Z"}}`)
	Fire(0, args) // grow the buffers once

	allocs := testing.AllocsPerRun(100, func() { Fire(0, args) })
	if allocs != 0 {
		t.Errorf("allocations per firing = %v, want 0", allocs)
	}
}

// BenchmarkSDKConditionAndBody measures the SDK side of one firing of the
// sync-to-external-crm executor: argument validation, the condition, and the
// five-field body, without the Wasm boundary.
func BenchmarkSDKConditionAndBody(b *testing.B) {
	registerForTest(b, crmDefinition())
	args := []byte(`{"workspaceId":"8a7d3f6e-1c2b-4d5e-9f80-a1b2c3d4e5f6","appNamespace":"sales","typeName":"salesOrder",` +
		`"event":"created","rawEvent":"tailordb.type_record.created","env":{"stage":"production"},` +
		`"newRecord":{"id":"5f0c8e2a-7b1d-4c3e-8a9f-0b1c2d3e4f50","customerID":"c0ffee00-1234-4abc-9def-001122334455",` +
		`"totalPrice":150000,"status":"confirmed","note":"deliver before noon \"sharp\"","createdAt":"2026-03-01T09:30:00Z",` +
		`"updatedAt":null},"oldRecord":null}`)
	b.SetBytes(int64(len(args)))
	b.ReportAllocs()
	for b.Loop() {
		if res := Fire(0, args); res[0] != StatusFire {
			b.Fatalf("status = %#x, want StatusFire", res[0])
		}
	}
}

func TestParseArgs(t *testing.T) {
	a, err := ParseArgs([]byte(` {"workspaceId":"ws","newRecord":null,"scheduledTime":"not a time"} `))
	if err != nil {
		t.Fatalf("ParseArgs: %v", err)
	}
	if got := a.WorkspaceID(); got != "ws" {
		t.Errorf("WorkspaceID() = %q, want ws", got)
	}
	if a.NewRecord().IsObject() || a.NewRecord().Has("id") {
		t.Errorf("NewRecord() of null: IsObject %v, Has(id) %v, want false, false", a.NewRecord().IsObject(), a.NewRecord().Has("id"))
	}
	if a.OldRecord().IsObject() || a.Env().Len() != 0 || a.Headers().Len() != 0 {
		t.Errorf("absent objects: OldRecord.IsObject %v, Env.Len %d, Headers.Len %d, want false, 0, 0",
			a.OldRecord().IsObject(), a.Env().Len(), a.Headers().Len())
	}
	if got := a.Method() + a.RawBody() + a.Event() + a.RawEvent() + a.TypeName() + a.AppNamespace(); got != "" {
		t.Errorf("absent string arguments = %q, want all empty", got)
	}
	if _, ok := a.ScheduledTime(); ok {
		t.Errorf("ScheduledTime() of an invalid time: ok = true, want false")
	}
	if a.Body().Exists() {
		t.Errorf("Body() = %s, want undefined", a.Body().Raw())
	}

	for _, bad := range []string{``, `[]`, `"x"`, `{"a":1`, `{} {}`} {
		if _, err := ParseArgs([]byte(bad)); !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("ParseArgs(%q) error = %v, want ErrInvalidJSON", bad, err)
		}
	}
}

// FuzzFire checks that any arguments produce a well-formed result and, when
// the executor fires, a body that is valid JSON.
func FuzzFire(f *testing.F) {
	for _, s := range []string{
		`{"newRecord":{"id":"so-1","customerID":"c-9","totalPrice":150000,"status":"open"}}`,
		`{"newRecord":{"totalPrice":"1e6","id":[1,{"a":"\u00e9"}]}}`,
		`{"newRecord":null}`,
		`{"newRecord":`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	registerForTest(f, crmDefinition())
	f.Fuzz(func(t *testing.T, args []byte) {
		got := decodeResult(t, Fire(0, args))
		if got.status == StatusFire && !json.Valid([]byte(got.body)) {
			t.Fatalf("body %q for arguments %q is not valid JSON", got.body, args)
		}
		isObject := json.Valid(args) && bytes.TrimSpace(args)[0] == '{'
		if got.status == StatusError && isObject {
			t.Fatalf("valid object arguments %q failed: %s", args, got.message)
		}
		if got.status != StatusError && !isObject {
			t.Fatalf("arguments %q that are not a JSON object returned status %#x, want StatusError", args, got.status)
		}
	})
}
