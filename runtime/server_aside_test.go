package runtime

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/execvault/execvault/runtime/statedb"
)

// TestProcessSetsAsideUndecodableEvent damages one stored event in the
// middle of a backlog of 600, more than two pages of processBatch. Every
// other event is delivered in order, the damaged one is set aside with its
// bytes and named in the log, /healthz counts it, and after a restart it
// does not run.
func TestProcessSetsAsideUndecodableEvent(t *testing.T) {
	const total = 600
	dir := t.TempDir()
	db, err := statedb.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	events := openEventLog(t, db, slog.New(slog.NewTextHandler(&logs, nil)))
	appendOrders(t, events, 0, total)

	// The event log stores a pending event under "event/q/" and its 8-byte
	// big-endian sequence number; evt-300 has sequence number 301.
	damaged := []byte("\x02 a format this version does not read")
	err = db.Update(func(txn *badger.Txn) error {
		return txn.Set(binary.BigEndian.AppendUint64([]byte("event/q/"), 301), damaged)
	})
	if err != nil {
		t.Fatal(err)
	}

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := &recordingDeliverer{}
	srv := newEchoServer(t, events, d, quiet)
	srv.processPending(t.Context())

	var got []string
	for _, job := range d.jobs {
		got = append(got, job.EventID)
	}
	var want []string
	for i := range total {
		if i != 300 {
			want = append(want, fmt.Sprintf("evt-%d", i))
		}
	}
	if !slices.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Errorf("delivered jobs for %d events, want %d in order without evt-300; they differ from job %d on", len(got), len(want), i)
	}
	if n := pendingCount(t, events); n != 0 {
		t.Errorf("%d events pending after processing, want 0", n)
	}

	line := `seq=301 event_id=evt-300 error="stored event cannot be decoded: format tag 0x02, this version reads 0x01`
	if n := strings.Count(logs.String(), line); n != 1 || !strings.Contains(logs.String(), "'execvault event aside' lists them") {
		t.Errorf("log has %d lines containing %s, want 1 that says what to do:\n%s", n, line, logs.String())
	}
	aside, err := events.SetAsideEvents(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(aside) != 1 || aside[0].Seq != 301 || aside[0].EventID != "evt-300" || !bytes.Equal(aside[0].Raw, damaged) {
		t.Errorf("set aside %+v, want event 301 (evt-300) with its stored bytes", aside)
	}

	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\nevents set aside: 1\n" {
		t.Errorf("GET /healthz = %d %q, want 200 and one event set aside", rec.Code, rec.Body.String())
	}

	// Restart on the same data directory.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = statedb.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logs.Reset()
	events = openEventLog(t, db, slog.New(slog.NewTextHandler(&logs, nil)))
	d = &recordingDeliverer{}
	newEchoServer(t, events, d, quiet).processPending(t.Context())
	if len(d.jobs) != 0 {
		t.Errorf("after a restart %d jobs were delivered, want none", len(d.jobs))
	}
	if n := events.SetAsideCount(); n != 1 {
		t.Errorf("SetAsideCount after a restart = %d, want 1", n)
	}
	if logs.Len() != 0 {
		t.Errorf("event log after a restart wrote:\n%s", logs.String())
	}
}
