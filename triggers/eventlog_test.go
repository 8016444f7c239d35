package triggers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func created(id string, n int) RecordEvent {
	return RecordEvent{
		ID: id, EventType: EventTypeCreated, WorkspaceID: "ws", NamespaceName: "ns", TypeName: "T",
		NewRecord: json.RawMessage(fmt.Sprintf(`{ "n" : %d, "price": 1.50, "html": "<b>" }`, n)),
	}
}

func openLog(t *testing.T, db *badger.DB, cfg EventLogConfig) *EventLog {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discardLogger
	}
	l, err := OpenEventLog(t.Context(), db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestEventLogAppendPendingDone(t *testing.T) {
	db := openBadger(t, t.TempDir())
	defer db.Close()
	l := openLog(t, db, EventLogConfig{})
	ctx := t.Context()

	res, err := l.Append(ctx, []RecordEvent{created("a", 1), created("", 2), created("a", 3), created("b", 4)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(res.Accepted), 3; got != want {
		t.Fatalf("accepted = %d, want %d", got, want)
	}
	for i, want := range []uint64{1, 2, 3} {
		if got := res.Accepted[i].Seq; got != want {
			t.Errorf("accepted[%d].Seq = %d, want %d", i, got, want)
		}
	}
	if id := res.Accepted[1].Event.ID; !strings.HasPrefix(id, "evt-") || len(id) != 30 {
		t.Errorf("assigned id = %q, want evt- and 26 characters", id)
	}
	if len(res.Duplicates) != 1 || res.Duplicates[0] != (Duplicate{Index: 2, ID: "a"}) {
		t.Errorf("duplicates = %+v, want index 2 id a", res.Duplicates)
	}

	res, err = l.Append(ctx, []RecordEvent{created("b", 5), created("c", 6)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Duplicates) != 1 || res.Duplicates[0] != (Duplicate{Index: 0, ID: "b", Seq: 3}) {
		t.Errorf("duplicates = %+v, want index 0 id b seq 3", res.Duplicates)
	}
	if len(res.Accepted) != 1 || res.Accepted[0].Seq != 4 {
		t.Errorf("accepted = %+v, want seq 4", res.Accepted)
	}

	pending, err := l.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	assertSeqs(t, pending, 1, 2, 3, 4)
	if got, want := string(pending[0].Event.NewRecord), `{ "n" : 1, "price": 1.50, "html": "<b>" }`; got != want {
		t.Errorf("stored record = %s, want byte-for-byte %s", got, want)
	}
	if pending[0].Event.OldRecord != nil {
		t.Errorf("absent oldRecord came back as %q", pending[0].Event.OldRecord)
	}

	page, err := l.PendingPage(ctx, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	assertSeqs(t, page, 2, 3)
	page, _ = l.PendingPage(ctx, 3, 2)
	assertSeqs(t, page, 4)

	if err := l.MarkDone(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkDone(ctx, 2); !errors.Is(err, ErrEventNotFound) {
		t.Errorf("second MarkDone = %v, want ErrEventNotFound", err)
	}
	pending, _ = l.Pending(ctx)
	assertSeqs(t, pending, 1, 3, 4)

	// A done event's id is still remembered.
	res, _ = l.Append(ctx, []RecordEvent{created(pending[0].Event.ID, 7)})
	if len(res.Accepted) != 0 {
		t.Errorf("redelivered done event was accepted: %+v", res.Accepted)
	}

	// Several at once: the pending ones go, and the error names the
	// first sequence number that was not pending.
	err = l.MarkDone(ctx, 1, 2, 4, 99)
	if !errors.Is(err, ErrEventNotFound) || !strings.Contains(err.Error(), "event 2 ") {
		t.Errorf("MarkDone(1, 2, 4, 99) = %v, want ErrEventNotFound naming event 2", err)
	}
	pending, _ = l.Pending(ctx)
	assertSeqs(t, pending, 3)
	assertKeyPrefixes(t, db, "event/", "eventid/")
}

func assertSeqs(t *testing.T, events []LoggedEvent, want ...uint64) {
	t.Helper()
	var got []uint64
	for _, e := range events {
		got = append(got, e.Seq)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sequences = %v, want %v", got, want)
	}
}

func TestEventLogRejectsInvalidBatch(t *testing.T) {
	db := openBadger(t, t.TempDir())
	defer db.Close()
	l := openLog(t, db, EventLogConfig{})

	tests := []struct {
		name  string
		batch []RecordEvent
		index int
	}{
		{"no type name", []RecordEvent{created("a", 1), {EventType: EventTypeCreated, NewRecord: json.RawMessage(`{}`)}}, 1},
		{"long id", []RecordEvent{created(strings.Repeat("x", MaxEventIDBytes+1), 1)}, 0},
		{"record not object", []RecordEvent{{EventType: EventTypeCreated, TypeName: "T", NewRecord: json.RawMessage(`[1]`)}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := l.Append(t.Context(), tt.batch)
			var ie *ItemError
			if !errors.As(err, &ie) || ie.Index != tt.index || !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("Append = %v, want ItemError at index %d wrapping ErrInvalidEvent", err, tt.index)
			}
		})
	}
	if pending, _ := l.Pending(t.Context()); len(pending) != 0 {
		t.Errorf("pending after rejected batches = %d, want 0", len(pending))
	}
}

func TestEventLogReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()

	db := openBadger(t, dir)
	l := openLog(t, db, EventLogConfig{})
	if _, err := l.Append(ctx, []RecordEvent{created("a", 1), created("b", 2)}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkDone(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openBadger(t, dir)
	defer db.Close()
	l = openLog(t, db, EventLogConfig{})
	pending, err := l.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	assertSeqs(t, pending, 2)

	res, err := l.Append(ctx, []RecordEvent{created("a", 1), created("c", 3)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Duplicates) != 1 || res.Duplicates[0].ID != "a" {
		t.Errorf("duplicates after reopen = %+v, want id a", res.Duplicates)
	}
	if len(res.Accepted) != 1 || res.Accepted[0].Seq != 3 {
		t.Errorf("accepted after reopen = %+v, want seq 3", res.Accepted)
	}
}

func TestEventLogDedupeRetention(t *testing.T) {
	tests := []struct {
		name      string
		cfg       EventLogConfig
		step      time.Duration
		forgotten []string
		kept      []string
	}{
		{"count limit", EventLogConfig{MaxDedupeIDs: 2, DedupeWindow: -1}, time.Second, []string{"e1", "e2", "e3"}, []string{"e4", "e5"}},
		{"age limit", EventLogConfig{MaxDedupeIDs: 100, DedupeWindow: 90 * time.Minute}, time.Hour, []string{"e1", "e2", "e3"}, []string{"e4", "e5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openBadger(t, t.TempDir())
			defer db.Close()
			clock := newFakeClock(mustTime(t, "2026-05-01T00:00:00Z"))
			tt.cfg.Clock = clock
			l := openLog(t, db, tt.cfg)
			ctx := t.Context()

			for i := 1; i <= 4; i++ {
				res, err := l.Append(ctx, []RecordEvent{created(fmt.Sprintf("e%d", i), i)})
				if err != nil {
					t.Fatal(err)
				}
				if err := l.MarkDone(ctx, res.Accepted[0].Seq); err != nil {
					t.Fatal(err)
				}
				clock.Advance(tt.step)
			}
			// One more append runs the prune pass after the last MarkDone.
			if _, err := l.Append(ctx, []RecordEvent{created("e5", 5)}); err != nil {
				t.Fatal(err)
			}

			// Remembered ids first: a duplicate adds no sequence number, so
			// checking it prunes nothing.
			for _, id := range tt.kept {
				res, _ := l.Append(ctx, []RecordEvent{created(id, 0)})
				if len(res.Duplicates) != 1 {
					t.Errorf("id %s was forgotten, want remembered", id)
				}
			}
			for _, id := range tt.forgotten {
				res, err := l.Append(ctx, []RecordEvent{created(id, 0)})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Accepted) != 1 {
					t.Errorf("id %s was still remembered, want forgotten", id)
				}
			}
		})
	}
}

func TestEventLogKeepsIDsOfPendingEvents(t *testing.T) {
	db := openBadger(t, t.TempDir())
	defer db.Close()
	l := openLog(t, db, EventLogConfig{MaxDedupeIDs: 1, DedupeWindow: -1})
	ctx := t.Context()

	for i := 1; i <= 3; i++ {
		if _, err := l.Append(ctx, []RecordEvent{created(fmt.Sprintf("p%d", i), i)}); err != nil {
			t.Fatal(err)
		}
	}
	res, _ := l.Append(ctx, []RecordEvent{created("p1", 1)})
	if len(res.Duplicates) != 1 {
		t.Errorf("id of a pending event was forgotten: %+v", res)
	}
}

const childDirEnv = "EXECVAULT_TEST_EVENTLOG_DIR"

// TestEventLogSurvivesKill runs Append in a child process, kills it with
// SIGKILL once Append has returned, and checks that every event is still
// pending after reopening the database.
func TestEventLogSurvivesKill(t *testing.T) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		appendThenBlock(dir)
		return
	}

	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEventLogSurvivesKill$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "appended 50" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child output %q, %v; want \"appended 50\"", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	db := openBadger(t, dir)
	defer db.Close()
	l := openLog(t, db, EventLogConfig{})
	pending, err := l.Pending(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(pending), 50; got != want {
		t.Fatalf("pending after SIGKILL = %d, want %d", got, want)
	}
	for i, ev := range pending {
		if want := fmt.Sprintf("k%d", i); ev.Event.ID != want {
			t.Errorf("pending[%d].ID = %q, want %q", i, ev.Event.ID, want)
		}
	}
}

// appendThenBlock is the child side of TestEventLogSurvivesKill: it appends
// events, reports that Append returned, and waits to be killed.
func appendThenBlock(dir string) {
	opts := badger.DefaultOptions(dir).WithSyncWrites(false).WithLogger(nil).WithMemTableSize(16 << 20).WithValueLogFileSize(16 << 20)
	db, err := badger.Open(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open badger:", err)
		os.Exit(2)
	}
	l, err := OpenEventLog(context.Background(), db, EventLogConfig{Logger: discardLogger})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open event log:", err)
		os.Exit(2)
	}
	total := 0
	for batch := range 5 {
		events := make([]RecordEvent, 10)
		for i := range events {
			events[i] = created(fmt.Sprintf("k%d", batch*10+i), i)
		}
		res, err := l.Append(context.Background(), events)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child: append:", err)
			os.Exit(2)
		}
		total += len(res.Accepted)
	}
	fmt.Printf("appended %d\n", total)
	select {}
}

func FuzzDecodeStoredEvent(f *testing.F) {
	f.Add(encodeEvent(&LoggedEvent{Seq: 7, AcceptedAt: time.Unix(1, 2), Event: created("x", 1)}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		logged, err := decodeEvent(data)
		if err != nil {
			return
		}
		again := encodeEvent(&logged)
		back, err := decodeEvent(again)
		if err != nil || back.Seq != logged.Seq || back.Event.ID != logged.Event.ID || string(back.Event.NewRecord) != string(logged.Event.NewRecord) {
			t.Fatalf("round trip changed the event: %+v vs %+v (%v)", back, logged, err)
		}
	})
}

func BenchmarkEventLogAppend(b *testing.B) {
	db := openBadger(b, b.TempDir())
	defer db.Close()
	l, err := OpenEventLog(context.Background(), db, EventLogConfig{Logger: discardLogger})
	if err != nil {
		b.Fatal(err)
	}
	events := make([]RecordEvent, 10)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for j := range events {
			events[j] = created(fmt.Sprintf("b%d", i), i)
			i++
		}
		if _, err := l.Append(context.Background(), events); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEventLogDuplicateWaitsForFlush makes the flush to disk fail, by
// moving the database directory away, after Append committed an event. A
// client that resends the event gets no acknowledgement either until a
// flush succeeds, because the first copy may still be lost to a power
// failure.
func TestEventLogDuplicateWaitsForFlush(t *testing.T) {
	dir := t.TempDir() + "/state"
	db := openBadger(t, dir)
	defer db.Close()
	l := openLog(t, db, EventLogConfig{})
	ctx := t.Context()

	moved := dir + ".moved"
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	_, err := l.Append(ctx, []RecordEvent{created("a", 1)})
	if err == nil {
		t.Fatal("Append with a failing flush returned no error")
	}
	res, err := l.Append(ctx, []RecordEvent{created("a", 1)})
	if err == nil {
		t.Errorf("resent Append with a failing flush returned no error and %+v", res)
	}

	if err := os.Rename(moved, dir); err != nil {
		t.Fatal(err)
	}
	res, err = l.Append(ctx, []RecordEvent{created("a", 1)})
	if err != nil {
		t.Fatalf("Append after the disk recovered: %v", err)
	}
	if len(res.Duplicates) != 1 || res.Duplicates[0] != (Duplicate{Index: 0, ID: "a", Seq: 1}) {
		t.Errorf("duplicates = %+v, want index 0 id a seq 1", res.Duplicates)
	}
}
