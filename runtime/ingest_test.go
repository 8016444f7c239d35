package runtime

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/execvault/execvault/triggers"
)

// TestIngestJoinedJSONL posts JSONL whose line breaks were stripped, as
// curl --data sends a file: the client gets 400 with advice to keep the
// line breaks, and no event is stored.
func TestIngestJoinedJSONL(t *testing.T) {
	srv, events := newBatchServer(t, 0, func(*triggers.EventLog) Deliverer { return &recordingDeliverer{} })
	event := func(id string) string {
		return `{"id":"` + id + `","eventType":"tailordb.type_record.created","typeName":"order","newRecord":{"id":"1"}}`
	}
	body := event("evt-1") + event("evt-2")

	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(body)))

	if rec.Code != http.StatusBadRequest {
		t.Errorf("status = %d, want 400", rec.Code)
	}
	for _, want := range []string{"several JSON values on one line", "--data-binary"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("body = %s, want it to contain %q", rec.Body.String(), want)
		}
	}
	if n := pendingCount(t, events); n != 0 {
		t.Errorf("%d events pending, want 0", n)
	}
}
