package triggers

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// overwriteQueued replaces the stored value of the pending event seq.
func overwriteQueued(t *testing.T, db *badger.DB, seq uint64, value []byte) {
	t.Helper()
	err := db.Update(func(txn *badger.Txn) error { return txn.Set(queueKey(seq), value) })
	if err != nil {
		t.Fatal(err)
	}
}

// storedValue returns the value stored under the pending event seq.
func storedValue(t *testing.T, db *badger.DB, seq uint64) []byte {
	t.Helper()
	var v []byte
	err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(queueKey(seq))
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatalf("read event %d: %v", seq, err)
	}
	return v
}

// TestEventLogSetsAsideUndecodableEvents damages three of 600 pending
// events in different ways and reads the backlog in pages of 256, as the
// server does. Every other event comes back in order, the damaged ones are
// set aside with their bytes and logged once, a resend of one of them is
// accepted, and after reopening they stay aside.
func TestEventLogSetsAsideUndecodableEvents(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	db := openBadger(t, dir)
	defer func() { db.Close() }()
	clock := newFakeClock(mustTime(t, "2026-05-01T00:00:00Z"))
	var logs bytes.Buffer
	l := openLog(t, db, EventLogConfig{Clock: clock, Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	const total = 600
	batch := make([]RecordEvent, total)
	for i := range batch {
		batch[i] = created(fmt.Sprintf("e%d", i+1), i+1)
	}
	if _, err := l.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	acceptedAt := clock.Now()
	clock.Advance(time.Hour)

	// Seq 256 ends the first page, 257 would start the second.
	truncated := storedValue(t, db, 256)[:10]
	newer := append([]byte{2}, storedValue(t, db, 300)[1:]...)
	wrongSeq := encodeEvent(&LoggedEvent{Seq: 999, AcceptedAt: acceptedAt, Event: created("e400", 400)})
	damaged := map[uint64][]byte{256: truncated, 300: newer, 400: wrongSeq}
	for seq, v := range damaged {
		overwriteQueued(t, db, seq, v)
	}

	var got []uint64
	var afterSeq uint64
	for {
		page, err := l.PendingPage(ctx, afterSeq, 256)
		if err != nil {
			t.Fatalf("PendingPage after %d: %v", afterSeq, err)
		}
		if len(page) == 0 {
			break
		}
		seqs := make([]uint64, len(page))
		for i, e := range page {
			seqs[i] = e.Seq
			if want := fmt.Sprintf("e%d", e.Seq); e.Event.ID != want {
				t.Errorf("event %d has id %q, want %q", e.Seq, e.Event.ID, want)
			}
		}
		got = append(got, seqs...)
		if err := l.MarkDone(ctx, seqs...); err != nil {
			t.Fatal(err)
		}
		afterSeq = seqs[len(seqs)-1]
	}
	var want []uint64
	for seq := uint64(1); seq <= total; seq++ {
		if damaged[seq] == nil {
			want = append(want, seq)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("read %d events, want %d in order without 256, 300 and 400:\n got %v", len(got), len(want), got)
	}

	wantErrors := map[uint64]string{
		256: "10 bytes, shorter than the 17-byte header",
		300: "format tag 0x02, this version reads 0x01",
		400: "stored under sequence number 400 but contains 999",
	}
	checkSetAside := func(l *EventLog) {
		t.Helper()
		aside, err := l.SetAsideEvents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(aside) != 3 || l.SetAsideCount() != 3 {
			t.Fatalf("set aside %d entries, count %d; want 3 and 3: %+v", len(aside), l.SetAsideCount(), aside)
		}
		for i, seq := range []uint64{256, 300, 400} {
			a := aside[i]
			if a.Seq != seq || a.EventID != fmt.Sprintf("e%d", seq) {
				t.Errorf("entry %d: seq %d id %q, want %d e%d", i, a.Seq, a.EventID, seq, seq)
			}
			if !bytes.Equal(a.Raw, damaged[seq]) {
				t.Errorf("entry %d: raw bytes %x, want the stored %x", seq, a.Raw, damaged[seq])
			}
			if !strings.Contains(a.Error, wantErrors[seq]) {
				t.Errorf("entry %d: error %q, want it to contain %q", seq, a.Error, wantErrors[seq])
			}
			if !a.AcceptedAt.Equal(acceptedAt) || !a.SetAsideAt.Equal(clock.Now()) {
				t.Errorf("entry %d: accepted %s, set aside %s; want %s and %s", seq, a.AcceptedAt, a.SetAsideAt, acceptedAt, clock.Now())
			}
		}
	}
	checkSetAside(l)

	for seq, msg := range wantErrors {
		line := fmt.Sprintf("seq=%d event_id=e%d error=", seq, seq)
		if n := strings.Count(logs.String(), line); n != 1 {
			t.Errorf("log lines naming seq %d: %d, want 1:\n%s", seq, n, logs.String())
		}
		if !strings.Contains(logs.String(), msg) || !strings.Contains(logs.String(), "'execvault event aside' lists them") {
			t.Errorf("logs do not give the error %q and what to do:\n%s", msg, logs.String())
		}
	}

	// A resend of a set-aside event is accepted; other ids stay remembered.
	res, err := l.Append(ctx, []RecordEvent{created("e300", 300), created("e301", 301)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Accepted) != 1 || res.Accepted[0].Event.ID != "e300" || res.Accepted[0].Seq != total+1 {
		t.Errorf("accepted %+v, want e300 as event %d", res.Accepted, total+1)
	}
	if len(res.Duplicates) != 1 || res.Duplicates[0].ID != "e301" {
		t.Errorf("duplicates %+v, want e301", res.Duplicates)
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openBadger(t, dir)
	logs.Reset()
	l = openLog(t, db, EventLogConfig{Clock: clock, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if n := l.SetAsideCount(); n != 3 {
		t.Errorf("SetAsideCount after reopening = %d, want 3", n)
	}
	pending, err := l.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	assertSeqs(t, pending, total+1)
	checkSetAside(l)
	if logs.String() != "" {
		t.Errorf("reopened log wrote:\n%s", logs.String())
	}
	assertKeyPrefixes(t, db, "event/", "eventid/")
}

// TestSetAsideEventsUnreadableRecord lists a set-aside record that is
// itself damaged: it comes back whole, with an error saying so, instead of
// failing the listing.
func TestSetAsideEventsUnreadableRecord(t *testing.T) {
	db := openBadger(t, t.TempDir())
	defer db.Close()
	l := openLog(t, db, EventLogConfig{})
	garbage := []byte{9, 9, 9}
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set(asideKey(7), garbage) }); err != nil {
		t.Fatal(err)
	}
	aside, err := l.SetAsideEvents(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(aside) != 1 || aside[0].Seq != 7 || !bytes.Equal(aside[0].Raw, garbage) || !strings.Contains(aside[0].Error, "invalid set-aside record") {
		t.Errorf("SetAsideEvents = %+v, want seq 7 with the record in Raw and an error", aside)
	}
}
