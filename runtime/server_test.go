package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/execvault/execvault/runtime/statedb"
	"github.com/execvault/execvault/triggers"
	"github.com/execvault/execvault/webhook"
)

// batchRecorder is a BatchDeliverer that records the order of its calls
// and how many events were still pending at each Sync.
type batchRecorder struct {
	recordingDeliverer
	events *triggers.EventLog

	mu            sync.Mutex
	submitted     int
	enqueued      int
	syncs         int
	pendingAtSync []int
	syncErr       error
	// submitErr, when set, fails the Submit of the job of event
	// failEventID.
	submitErr   error
	failEventID string
}

func (d *batchRecorder) Enqueue(ctx context.Context, job webhook.Job) (webhook.Job, error) {
	d.mu.Lock()
	d.enqueued++
	d.mu.Unlock()
	return d.recordingDeliverer.Enqueue(ctx, job)
}

func (d *batchRecorder) Submit(ctx context.Context, job webhook.Job) (webhook.Job, error) {
	d.mu.Lock()
	d.submitted++
	d.mu.Unlock()
	if d.submitErr != nil && job.EventID == d.failEventID {
		return webhook.Job{}, d.submitErr
	}
	return d.recordingDeliverer.Enqueue(ctx, job)
}

func (d *batchRecorder) Sync(ctx context.Context) error {
	pending, err := d.events.Pending(ctx)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.syncs++
	d.pendingAtSync = append(d.pendingAtSync, len(pending))
	return d.syncErr
}

// newBatchServer returns a server over an in-memory event log holding n
// created-order events, for the echo guest, which fires on each.
func newBatchServer(t *testing.T, n int, deliverer func(*triggers.EventLog) Deliverer) (*Server, *triggers.EventLog) {
	t.Helper()
	db, err := statedb.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	events := openEventLog(t, db, quiet)
	appendOrders(t, events, 0, n)
	return newEchoServer(t, events, deliverer(events), quiet), events
}

func openEventLog(t *testing.T, db *badger.DB, logger *slog.Logger) *triggers.EventLog {
	t.Helper()
	events, err := triggers.OpenEventLog(t.Context(), db, triggers.EventLogConfig{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// appendOrders appends created-order events evt-first to evt-(first+n-1).
func appendOrders(t *testing.T, events *triggers.EventLog, first, n int) {
	t.Helper()
	batch := make([]triggers.RecordEvent, n)
	for i := range batch {
		batch[i] = *orderCreated(fmt.Sprintf("evt-%d", first+i))
	}
	if _, err := events.Append(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
}

// newEchoServer returns a server over events for the echo guest.
func newEchoServer(t *testing.T, events *triggers.EventLog, d Deliverer, logger *slog.Logger) *Server {
	t.Helper()
	rt := newTestRuntime(t, testConfig(copyPlugins(t, "echo.wasm")))
	srv, err := NewServer(rt, ServerConfig{Deliverer: d, Events: events, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func pendingCount(t *testing.T, events *triggers.EventLog) int {
	t.Helper()
	pending, err := events.Pending(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return len(pending)
}

// TestProcessBatchSyncsBeforeMarkingDone processes more events than one
// batch holds: each batch submits its jobs, syncs once while every one of
// its events is still pending, and only then marks them done.
func TestProcessBatchSyncsBeforeMarkingDone(t *testing.T) {
	total := processBatch + 44
	d := &batchRecorder{}
	srv, events := newBatchServer(t, total, func(l *triggers.EventLog) Deliverer { d.events = l; return d })
	pending, err := events.Pending(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	if ok := srv.processEvents(t.Context(), pending[:processBatch]); !ok {
		t.Fatal("processEvents = false, want true")
	}
	if ok := srv.processEvents(t.Context(), pending[processBatch:]); !ok {
		t.Fatal("processEvents of the rest = false, want true")
	}

	if d.submitted != total || d.enqueued != 0 {
		t.Errorf("submitted %d jobs and enqueued %d, want %d and 0", d.submitted, d.enqueued, total)
	}
	if fmt.Sprint(d.pendingAtSync) != fmt.Sprint([]int{total, total - processBatch}) {
		t.Errorf("events pending at each sync = %v, want [%d %d]", d.pendingAtSync, total, total-processBatch)
	}
	if n := pendingCount(t, events); n != 0 {
		t.Errorf("%d events pending after processing, want 0", n)
	}
}

// TestProcessBatchKeepsEventsWhenSyncFails makes the flush fail: no event
// of the batch may be marked done, so they all run again.
func TestProcessBatchKeepsEventsWhenSyncFails(t *testing.T) {
	d := &batchRecorder{syncErr: errors.New("disk full")}
	srv, events := newBatchServer(t, 10, func(l *triggers.EventLog) Deliverer { d.events = l; return d })
	pending, err := events.Pending(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ok := srv.processEvents(t.Context(), pending); ok {
		t.Error("processEvents with a failing sync = true, want false")
	}
	if n := pendingCount(t, events); n != 10 {
		t.Errorf("%d events pending after a failed sync, want 10", n)
	}
}

// TestProcessEnqueuesWithPlainDeliverer uses a Deliverer without Submit:
// every job is enqueued, which waits for its own flush, and the events are
// marked done.
func TestProcessEnqueuesWithPlainDeliverer(t *testing.T) {
	d := &recordingDeliverer{}
	srv, events := newBatchServer(t, 5, func(*triggers.EventLog) Deliverer { return d })
	pending, err := events.Pending(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ok := srv.processEvents(t.Context(), pending); !ok {
		t.Fatal("processEvents = false, want true")
	}
	if len(d.jobs) != 5 {
		t.Errorf("enqueued %d jobs, want 5", len(d.jobs))
	}
	if n := pendingCount(t, events); n != 0 {
		t.Errorf("%d events pending after processing, want 0", n)
	}
}

// TestProcessBatchSubmitFailure fails the Submit of one event's job. A
// storage failure keeps the whole batch pending so that the event fires
// again, while a job the dispatcher rejects as invalid cannot be stored
// by another try, so the batch is marked done.
func TestProcessBatchSubmitFailure(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		wantOK      bool
		wantPending int
	}{
		{"journal write fails", errors.New("write journal: no space left on device"), false, 10},
		{"invalid job", fmt.Errorf("submit job: %w: body too large", webhook.ErrInvalidJob), true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &batchRecorder{submitErr: tt.err, failEventID: "evt-4"}
			srv, events := newBatchServer(t, 10, func(l *triggers.EventLog) Deliverer { d.events = l; return d })
			pending, err := events.Pending(t.Context())
			if err != nil {
				t.Fatal(err)
			}

			ok := srv.processEvents(t.Context(), pending)
			if ok != tt.wantOK {
				t.Errorf("processEvents = %v, want %v", ok, tt.wantOK)
			}
			if n := pendingCount(t, events); n != tt.wantPending {
				t.Errorf("%d events pending, want %d", n, tt.wantPending)
			}
		})
	}
}

// TestProcessBacksOffWhileJobsFail runs Process while the jobs of a batch
// cannot be stored. Each failed pass fires the batch once, and the wait
// before the next pass starts at 1 s and doubles. Once the jobs are
// stored, Process waits for new events again.
func TestProcessBacksOffWhileJobsFail(t *testing.T) {
	d := &batchRecorder{submitErr: errors.New("write journal: no space left on device"), failEventID: "evt-4"}
	srv, events := newBatchServer(t, 10, func(l *triggers.EventLog) Deliverer { d.events = l; return d })
	ctx, cancel := context.WithCancel(t.Context())
	waits := make(chan time.Duration)
	fire := make(chan time.Time)
	srv.after = func(delay time.Duration) <-chan time.Time {
		select {
		case waits <- delay:
		case <-ctx.Done():
		}
		return fire
	}
	done := make(chan error, 1)
	go func() { done <- srv.Process(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	submitted := func() int {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.submitted
	}
	for pass, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if got := <-waits; got != want {
			t.Fatalf("wait after failed pass %d = %s, want %s", pass+1, got, want)
		}
		// Each pass submits the jobs of evt-0 to evt-4 and stops at the
		// failing one.
		if got := submitted(); got != 5*(pass+1) {
			t.Errorf("jobs submitted after pass %d = %d, want %d", pass+1, got, 5*(pass+1))
		}
		srv.notify()
		if pass == 2 {
			d.mu.Lock()
			d.submitErr = nil
			d.mu.Unlock()
		}
		fire <- time.Time{}
	}
	if got := <-waits; got != processIdleWait {
		t.Errorf("wait after the pass that stored the jobs = %s, want %s", got, processIdleWait)
	}
	if n := pendingCount(t, events); n != 0 {
		t.Errorf("%d events pending after the jobs were stored, want 0", n)
	}
}

// TestProcessWait lists the waits of Process after failed passes.
func TestProcessWait(t *testing.T) {
	tests := []struct {
		failures int
		delay    time.Duration
		wake     bool
	}{
		{0, processIdleWait, true},
		{1, time.Second, false},
		{2, 2 * time.Second, false},
		{5, 16 * time.Second, false},
		{6, processMaxRetryWait, false},
		{1000, processMaxRetryWait, false},
	}
	for _, tt := range tests {
		delay, wake := processWait(tt.failures)
		if delay != tt.delay || wake != tt.wake {
			t.Errorf("processWait(%d) = %s, %v; want %s, %v", tt.failures, delay, wake, tt.delay, tt.wake)
		}
	}
}

// heapProbe is a Deliverer that, at its first Enqueue, records how much
// heap is live and then ends Process through cancel.
type heapProbe struct {
	recordingDeliverer
	cancel context.CancelFunc

	once sync.Once
	heap uint64
}

func (d *heapProbe) Enqueue(ctx context.Context, job webhook.Job) (webhook.Job, error) {
	d.once.Do(func() {
		d.heap = liveHeap()
		d.cancel()
	})
	return d.recordingDeliverer.Enqueue(ctx, job)
}

func liveHeap() uint64 {
	goruntime.GC()
	var stats goruntime.MemStats
	goruntime.ReadMemStats(&stats)
	return stats.HeapAlloc
}

// TestProcessBacklogMemoryBounded starts Process on a backlog of 32 MiB of
// records and measures the heap when the first job is enqueued: Process
// may hold a batch of events in memory, not the whole backlog.
func TestProcessBacklogMemoryBounded(t *testing.T) {
	const (
		total       = 4000
		recordBytes = 8 << 10
		appendBatch = 100
	)
	db, err := statedb.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	quiet := slog.New(slog.DiscardHandler)
	events, err := triggers.OpenEventLog(t.Context(), db, triggers.EventLogConfig{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	padding := strings.Repeat("x", recordBytes)
	for start := 0; start < total; start += appendBatch {
		batch := make([]triggers.RecordEvent, appendBatch)
		for i := range batch {
			batch[i] = *orderCreated(fmt.Sprintf("evt-%d", start+i))
			batch[i].NewRecord = []byte(`{"id":"evt","padding":"` + padding + `"}`)
		}
		if _, err := events.Append(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}

	rt := newTestRuntime(t, testConfig(copyPlugins(t, "echo.wasm")))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	probe := &heapProbe{cancel: cancel}
	srv, err := NewServer(rt, ServerConfig{Deliverer: probe, Events: events, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}

	before := liveHeap()
	if err := srv.Process(ctx); err != nil {
		t.Fatal(err)
	}

	if probe.heap == 0 {
		t.Fatal("Process enqueued no job")
	}
	growth := int64(probe.heap) - int64(before)
	if limit := int64(total * recordBytes / 2); growth > limit {
		t.Errorf("heap grew by %d bytes before the first job, want at most %d", growth, limit)
	}
}

// TestIngestRejectsUnstorableBody posts bodies that decode but that the
// event log cannot store however often they are sent. The client gets a
// 4xx naming the problem, not a 503 that invites it to retry the same body.
func TestIngestRejectsUnstorableBody(t *testing.T) {
	event := func(id, padding string) string {
		return `{"id":"` + id + `","eventType":"tailordb.type_record.created","typeName":"order","newRecord":{"padding":"` + padding + `"}}`
	}
	var large []string
	for i := range 40 {
		large = append(large, event(fmt.Sprintf("evt-%d", i), strings.Repeat("x", 100<<10)))
	}
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantError  string
	}{
		{"id too long", event(strings.Repeat("a", triggers.MaxEventIDBytes+1), ""), http.StatusBadRequest, "id of 257 bytes"},
		{"batch too large", "[" + strings.Join(large, ",") + "]", http.StatusRequestEntityTooLarge, "split it into smaller batches"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, events := newBatchServer(t, 0, func(*triggers.EventLog) Deliverer { return &recordingDeliverer{} })
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(tt.body)))

			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Body.String(); !strings.Contains(got, tt.wantError) {
				t.Errorf("body = %s, want it to contain %q", got, tt.wantError)
			}
			if n := pendingCount(t, events); n != 0 {
				t.Errorf("%d events pending, want 0", n)
			}
		})
	}
}

// TestIngestLogsOutcome checks that every ingest request leaves one log
// line: accepted events at info, a rejected body at warn with its reason.
func TestIngestLogsOutcome(t *testing.T) {
	srv, _ := newBatchServer(t, 0, func(*triggers.EventLog) Deliverer { return &recordingDeliverer{} })
	var logs bytes.Buffer
	srv.log = slog.New(slog.NewTextHandler(&logs, nil))
	post := func(body string) int {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(body)))
		return rec.Code
	}
	event := `{"id":"evt-1","eventType":"tailordb.type_record.created","typeName":"order","newRecord":{"id":"1"}}`

	if code := post("[" + event + "," + event + "]"); code != http.StatusAccepted {
		t.Fatalf("status = %d, want 202", code)
	}
	if code := post(`{"eventType":"nope"}`); code != http.StatusBadRequest {
		t.Fatalf("status of a bad event = %d, want 400", code)
	}
	got := logs.String()
	for _, want := range []string{
		`level=INFO msg="events accepted" remote_addr=192.0.2.1:1234 accepted=1 duplicates=1`,
		`level=WARN msg="events rejected" remote_addr=192.0.2.1:1234 status=400 error="event 0: `,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("logs:\n%s\nwant a line containing %s", got, want)
		}
	}
}
