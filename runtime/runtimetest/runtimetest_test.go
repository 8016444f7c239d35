package runtimetest

import (
	"context"
	"strings"
	"testing"

	"github.com/execvault/execvault/runtime"
	"github.com/execvault/execvault/triggers"
)

func orderEvent(id string) triggers.RecordEvent {
	return triggers.RecordEvent{ID: "evt-" + id, EventType: triggers.EventTypeCreated, TypeName: "order",
		NewRecord: []byte(`{"id":"` + id + `"}`)}
}

func TestLoopbackCaptureGoesOverHTTP(t *testing.T) {
	h := New(t, Options{
		PluginDir: "../../testdata/plugins/echo-only",
		Env:       map[string]string{"url": "https://hooks.example.com/orders?x=1"},
		Capture:   Loopback,
		Status:    204,
	})

	firings := h.Fire(context.Background(), orderEvent("o-1"), orderEvent("o-2"))
	delivered := 0
	for _, f := range firings {
		if f.State == runtime.FiringDelivered {
			delivered++
			if f.HTTPStatus != 204 {
				t.Errorf("firing %s: HTTP status %d, want 204", f.EventID, f.HTTPStatus)
			}
		}
	}
	if delivered != 2 {
		t.Fatalf("delivered firings = %d, want 2; firings %+v", delivered, firings)
	}

	got := h.RequestsTo("https://hooks.example.com/orders?x=1")
	if len(got) != 2 {
		t.Fatalf("captured requests = %d, want 2", len(got))
	}
	SortByURL(got)
	if !strings.Contains(string(got[0].Body), `"id":"o-1"`) || got[0].Header.Get("Webhook-Id") == "" {
		t.Errorf("first request body %s, webhook-id %q", got[0].Body, got[0].Header.Get("Webhook-Id"))
	}
}

func TestFireJSONLReportsMalformedLine(t *testing.T) {
	h := New(t, Options{PluginDir: "../../testdata/plugins/echo-only", Env: map[string]string{"url": "http://x.example/"}})
	input := `{"eventType":"tailordb.type_record.created","typeName":"order","newRecord":{"id":"a"}}
not json
{"eventType":"tailordb.type_record.created","typeName":"order","newRecord":{"id":"b"}}
`
	firings, err := h.FireJSONL(context.Background(), strings.NewReader(input))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error = %v, want one naming line 2", err)
	}
	if len(h.Requests()) != 2 {
		t.Errorf("requests = %d, want 2 from the two good lines; firings %+v", len(h.Requests()), firings)
	}
}
