package runtime

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/execvault/execvault/triggers"
	"github.com/execvault/execvault/webhook"
)

// failingCheckpoints is a Deliverer whose checkpoints fail while failure
// has failures.
type failingCheckpoints struct {
	recordingDeliverer
	failure webhook.CheckpointFailure
}

func (d *failingCheckpoints) CheckpointFailure() (webhook.CheckpointFailure, bool) {
	return d.failure, d.failure.Failures > 0
}

// TestHealthReportsFailingCheckpoints requests GET /healthz while the
// webhook jobs' checkpoints succeed and while they fail. The body must be
// "ok", then "degraded" with since when, how often, the error and what to
// do, and the status 200 both times.
func TestHealthReportsFailingCheckpoints(t *testing.T) {
	d := &failingCheckpoints{}
	srv, _ := newBatchServer(t, 0, func(*triggers.EventLog) Deliverer { return d })
	health := func() (int, string) {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		return rec.Code, rec.Body.String()
	}

	if code, body := health(); code != http.StatusOK || body != "ok\nevents set aside: 0\n" {
		t.Errorf("GET /healthz with working checkpoints = %d %q, want 200 and ok", code, body)
	}

	d.failure = webhook.CheckpointFailure{
		Err:      errors.New("sync state database: no space left on device"),
		Since:    time.Date(2026, 3, 1, 13, 0, 1, 0, time.FixedZone("CET", 3600)),
		Failures: 7,
		Pending:  12,
		Dir:      "/var/lib/execvault/state",
	}
	want := "degraded\nevents set aside: 0\n" +
		"webhook job checkpoints failing since 2026-03-01T12:00:01Z: 7 failures, 12 jobs waiting in the journal\n" +
		"last checkpoint error: sync state database: no space left on device\n" +
		"free space in the state directory /var/lib/execvault/state or check the log for the checkpoint's error; " +
		"the checkpoint is retried at least once a minute\n"
	if code, body := health(); code != http.StatusOK || body != want {
		t.Errorf("GET /healthz with failing checkpoints = %d %q, want 200 and %q", code, body, want)
	}
}
