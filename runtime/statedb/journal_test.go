package statedb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// openJournal opens the journal in dir and closes it when the test ends.
func openJournal(t *testing.T, dir string) *Journal {
	t.Helper()
	j, err := OpenJournal(dir, nil)
	if err != nil {
		t.Fatalf("OpenJournal(%s) = %v, want nil", dir, err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// appendRecord appends rec to j and returns Append's error.
func appendRecord(j *Journal, rec []byte) error {
	_, err := j.Append(rec)
	return err
}

// replayAll returns copies of the records Replay passes to its callback.
func replayAll(t *testing.T, j *Journal) [][]byte {
	t.Helper()
	var recs [][]byte
	err := j.Replay(func(rec []byte) error {
		recs = append(recs, slices.Clone(rec))
		return nil
	})
	if err != nil {
		t.Fatalf("Replay = %v, want nil", err)
	}
	return recs
}

// frameRecord returns rec framed as a segment stores it.
func frameRecord(rec []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(rec)))
	b = binary.LittleEndian.AppendUint32(b, recordChecksum(rec))
	return append(b, rec...)
}

// writeJournal appends recs to a new journal in dir, syncs and closes it,
// and returns the path of the segment that contains them.
func writeJournal(t *testing.T, dir string, recs [][]byte) string {
	t.Helper()
	j, err := OpenJournal(dir, nil)
	if err != nil {
		t.Fatalf("OpenJournal = %v, want nil", err)
	}
	for _, rec := range recs {
		if err := appendRecord(j, rec); err != nil {
			t.Fatalf("Append(%d bytes) = %v, want nil", len(rec), err)
		}
	}
	if err := j.Sync(t.Context()); err != nil {
		t.Fatalf("Sync = %v, want nil", err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}
	return segmentName(dir, j.first)
}

// segmentFiles returns the names of the segment files in dir.
func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range segs {
		names = append(names, filepath.Base(segmentName(dir, n)))
	}
	return names
}

// testRecords returns n records whose sizes and contents differ.
func testRecords(n int) [][]byte {
	recs := make([][]byte, n)
	for i := range recs {
		rec := make([]byte, (i*37)%200)
		for k := range rec {
			rec[k] = byte(i + k)
		}
		recs[i] = rec
	}
	return recs
}

func equalRecords(a, b [][]byte) bool {
	return slices.EqualFunc(a, b, bytes.Equal)
}

func TestJournalRoundTrip(t *testing.T) {
	recs := [][]byte{
		{},
		{0x01},
		[]byte("seven b"),
		[]byte("eight by"),
		bytes.Repeat([]byte{0xab}, 100),
		{},
		bytes.Repeat([]byte("page"), 1024),
		bytes.Repeat([]byte{0x00}, 70_000),
		bytes.Repeat([]byte("0123456789abcdef"), 1<<16),
	}
	dir := t.TempDir()
	writeJournal(t, dir, recs)

	j := openJournal(t, dir)
	got := replayAll(t, j)
	if !equalRecords(got, recs) {
		t.Fatalf("replayed %d records, want the %d appended ones in order", len(got), len(recs))
	}
	for i, rec := range got {
		if len(rec) != len(recs[i]) {
			t.Errorf("record %d has %d bytes, want %d", i, len(rec), len(recs[i]))
		}
	}

	seg, err := j.Rotate()
	if err != nil {
		t.Fatalf("Rotate = %v, want nil", err)
	}
	if err := j.Remove(seg); err != nil {
		t.Fatalf("Remove(%d) = %v, want nil", seg, err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}

	j = openJournal(t, dir)
	if got := replayAll(t, j); len(got) != 0 {
		t.Errorf("replayed %d records after Remove, want 0", len(got))
	}
}

func TestJournalEmptyRecord(t *testing.T) {
	dir := t.TempDir()
	seg := writeJournal(t, dir, [][]byte{{}})

	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(data), len(journalMagic)+headerSize; got != want {
		t.Errorf("segment contains %d bytes, want %d (header and one empty record)", got, want)
	}

	j := openJournal(t, dir)
	got := replayAll(t, j)
	if len(got) != 1 || len(got[0]) != 0 {
		t.Errorf("replayed %q, want one empty record", got)
	}
}

func TestJournalTornTail(t *testing.T) {
	recs := [][]byte{[]byte("a"), {}, []byte("twelve bytes"), bytes.Repeat([]byte{0x5a}, 33)}
	original := writeJournal(t, t.TempDir(), recs)
	full, err := os.ReadFile(original)
	if err != nil {
		t.Fatal(err)
	}

	// ends[i] is the offset where record i ends.
	var ends []int
	off := len(journalMagic)
	for _, rec := range recs {
		off += headerSize + len(rec)
		ends = append(ends, off)
	}
	if off != len(full) {
		t.Fatalf("segment contains %d bytes, want %d", len(full), off)
	}

	for cut := len(journalMagic); cut < len(full); cut++ {
		t.Run(fmt.Sprintf("cut at %d", cut), func(t *testing.T) {
			whole := 0
			boundary := len(journalMagic)
			for whole < len(ends) && ends[whole] <= cut {
				boundary = ends[whole]
				whole++
			}
			checkTornTail(t, full[:cut], recs[:whole], int64(boundary))
		})
	}

	recordWithBadSum := frameRecord([]byte("payload"))
	recordWithBadSum[4] ^= 0xff
	overLimit := binary.LittleEndian.AppendUint32(nil, maxRecord+1)
	overLimit = append(overLimit, 1, 2, 3, 4, 5, 6, 7, 8)
	pastEnd := binary.LittleEndian.AppendUint32(nil, 1000)
	pastEnd = append(pastEnd, 0, 0, 0, 0, 'x', 'y')

	garbage := []struct {
		name string
		tail []byte
	}{
		{"three bytes", []byte{0xde, 0xad, 0xbe}},
		{"checksum mismatch", recordWithBadSum},
		{"length over the limit", overLimit},
		{"length past the end", pastEnd},
		{"text", []byte("this is not a journal record at all")},
	}
	for _, tc := range garbage {
		t.Run("garbage "+tc.name, func(t *testing.T) {
			data := append(slices.Clone(full), tc.tail...)
			checkTornTail(t, data, recs, int64(len(full)))
		})
	}
}

// checkTornTail opens a journal whose only segment contains data and checks
// that it replays want, that the segment was cut to size bytes, and that
// records appended afterwards replay after want.
func checkTornTail(t *testing.T, data []byte, want [][]byte, size int64) {
	t.Helper()
	dir := t.TempDir()
	name := segmentName(dir, 1)
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}

	j := openJournal(t, dir)
	if got := replayAll(t, j); !equalRecords(got, want) {
		t.Fatalf("replayed %q, want %q", got, want)
	}
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != size {
		t.Errorf("segment size after open = %d, want %d", fi.Size(), size)
	}

	later := []byte("appended after the cut")
	if err := appendRecord(j, later); err != nil {
		t.Fatalf("Append = %v, want nil", err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}
	j = openJournal(t, dir)
	wantAll := append(slices.Clone(want), later)
	if got := replayAll(t, j); !equalRecords(got, wantAll) {
		t.Errorf("replayed %q after reopening, want %q", got, wantAll)
	}
}

func TestJournalTornHeader(t *testing.T) {
	for cut := range len(journalMagic) {
		t.Run(fmt.Sprintf("cut at %d", cut), func(t *testing.T) {
			dir := t.TempDir()
			name := segmentName(dir, 1)
			if err := os.WriteFile(name, []byte(journalMagic[:cut]), 0o600); err != nil {
				t.Fatal(err)
			}

			j := openJournal(t, dir)
			if got := replayAll(t, j); len(got) != 0 {
				t.Errorf("replayed %d records, want 0", len(got))
			}
			if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("stat torn segment = %v, want %v", err, os.ErrNotExist)
			}
		})
	}
}

func TestJournalOpenRejectsForeignLastSegment(t *testing.T) {
	dir := t.TempDir()
	name := segmentName(dir, 7)
	content := strings.Repeat("x", len(journalMagic)) + "more bytes"
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}

	j, err := OpenJournal(dir, nil)
	if err == nil {
		j.Close()
		t.Fatal("OpenJournal = nil, want an error")
	}
	if !errors.Is(err, ErrJournalCorrupt) {
		t.Errorf("OpenJournal = %v, want an error wrapping %v", err, ErrJournalCorrupt)
	}
	if !strings.Contains(err.Error(), name) {
		t.Errorf("OpenJournal = %v, want it to name %s", err, name)
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != content {
		t.Errorf("segment contains %q after the failed open, want it unchanged", got)
	}
}

func TestJournalReplayCorruptOlderSegment(t *testing.T) {
	first := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
	// secondAt is the offset of the second record in segment 1.
	secondAt := len(journalMagic) + headerSize + len(first[0])

	tests := []struct {
		name    string
		corrupt func(data []byte) []byte
		offset  int
	}{
		{
			name:    "payload byte flipped",
			corrupt: func(data []byte) []byte { data[secondAt+headerSize+1] ^= 0x01; return data },
			offset:  secondAt,
		},
		{
			name:    "checksum byte flipped",
			corrupt: func(data []byte) []byte { data[secondAt+5] ^= 0x80; return data },
			offset:  secondAt,
		},
		{
			name:    "length grown",
			corrupt: func(data []byte) []byte { data[secondAt] = 200; return data },
			offset:  secondAt,
		},
		{
			name:    "record cut short",
			corrupt: func(data []byte) []byte { return data[:secondAt+headerSize+1] },
			offset:  secondAt,
		},
		{
			name:    "no journal header",
			corrupt: func(data []byte) []byte { copy(data, "XXXX"); return data },
			offset:  0,
		},
		{
			name:    "header cut short",
			corrupt: func(data []byte) []byte { return data[:5] },
			offset:  0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			j := openJournal(t, dir)
			for _, rec := range first {
				if err := appendRecord(j, rec); err != nil {
					t.Fatal(err)
				}
			}
			seg, err := j.Rotate()
			if err != nil {
				t.Fatalf("Rotate = %v, want nil", err)
			}
			if err := appendRecord(j, []byte("in the next segment")); err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}

			name := segmentName(dir, seg)
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, tc.corrupt(data), 0o600); err != nil {
				t.Fatal(err)
			}

			j = openJournal(t, dir)
			err = j.Replay(func([]byte) error { return nil })
			if !errors.Is(err, ErrJournalCorrupt) {
				t.Fatalf("Replay = %v, want an error wrapping %v", err, ErrJournalCorrupt)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("Replay = %v, want it to name %s", err, name)
			}
			if want := fmt.Sprintf("offset %d:", tc.offset); !strings.Contains(err.Error(), want) {
				t.Errorf("Replay = %v, want it to contain %q", err, want)
			}
		})
	}
}

func TestJournalReplaySkipsOwnSegments(t *testing.T) {
	dir := t.TempDir()
	old := testRecords(3)
	writeJournal(t, dir, old)

	j := openJournal(t, dir)
	for _, rec := range [][]byte{[]byte("new 1"), []byte("new 2")} {
		if err := appendRecord(j, rec); err != nil {
			t.Fatal(err)
		}
		if _, err := j.Rotate(); err != nil {
			t.Fatalf("Rotate = %v, want nil", err)
		}
	}
	if got := replayAll(t, j); !equalRecords(got, old) {
		t.Errorf("replayed %q, want only the %d records of the earlier process", got, len(old))
	}
}

func TestJournalReplayReturnsCallbackError(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, testRecords(5))
	j := openJournal(t, dir)

	stop := errors.New("stop here")
	calls := 0
	err := j.Replay(func([]byte) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("Replay = %v, want %v", err, stop)
	}
	if calls != 2 {
		t.Errorf("callback ran %d times, want 2", calls)
	}
}

func TestJournalRotateRemove(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir)
	appendAll := func(recs ...string) {
		t.Helper()
		for _, rec := range recs {
			if err := appendRecord(j, []byte(rec)); err != nil {
				t.Fatalf("Append(%q) = %v, want nil", rec, err)
			}
		}
	}
	segmentRecords := func(n uint64) []string {
		t.Helper()
		data, err := os.ReadFile(segmentName(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		var recs []string
		if _, err := scanSegment(data, func(rec []byte) error {
			recs = append(recs, string(rec))
			return nil
		}); err != nil {
			t.Fatalf("scan segment %d: %v", n, err)
		}
		return recs
	}

	appendAll("a1", "a2")
	first, err := j.Rotate()
	if err != nil {
		t.Fatalf("Rotate = %v, want nil", err)
	}
	appendAll("b1")
	second, err := j.Rotate()
	if err != nil {
		t.Fatalf("Rotate = %v, want nil", err)
	}
	appendAll("c1", "c2")
	if err := j.Sync(t.Context()); err != nil {
		t.Fatalf("Sync = %v, want nil", err)
	}

	if second != first+1 {
		t.Errorf("second Rotate = %d, want %d", second, first+1)
	}
	if got, want := segmentRecords(first), []string{"a1", "a2"}; !slices.Equal(got, want) {
		t.Errorf("segment %d contains %q, want %q", first, got, want)
	}
	if got, want := segmentRecords(second), []string{"b1"}; !slices.Equal(got, want) {
		t.Errorf("segment %d contains %q, want %q", second, got, want)
	}
	if got, want := segmentRecords(second+1), []string{"c1", "c2"}; !slices.Equal(got, want) {
		t.Errorf("segment %d contains %q, want %q", second+1, got, want)
	}

	if err := j.Remove(first); err != nil {
		t.Fatalf("Remove(%d) = %v, want nil", first, err)
	}
	if _, err := os.Stat(segmentName(dir, first)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat removed segment %d = %v, want %v", first, err, os.ErrNotExist)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}

	j = openJournal(t, dir)
	var got []string
	for _, rec := range replayAll(t, j) {
		got = append(got, string(rec))
	}
	if want := []string{"b1", "c1", "c2"}; !slices.Equal(got, want) {
		t.Errorf("replayed %q after Remove, want %q", got, want)
	}
}

func TestJournalRemoveNothing(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir)
	before := segmentFiles(t, dir)
	if err := j.Remove(0); err != nil {
		t.Fatalf("Remove(0) = %v, want nil", err)
	}
	if got := segmentFiles(t, dir); !slices.Equal(got, before) {
		t.Errorf("segments after Remove(0) = %q, want %q", got, before)
	}
}

// TestJournalZeroTailIsNotRecords appends zero bytes after the last
// record, as a file system can leave after a crash: they must not replay
// as empty records.
func TestJournalZeroTailIsNotRecords(t *testing.T) {
	dir := t.TempDir()
	seg := writeJournal(t, dir, [][]byte{[]byte("a")})
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	j := openJournal(t, dir)
	if got := replayAll(t, j); len(got) != 1 {
		t.Errorf("replayed %d records, want 1", len(got))
	}
}

// waitPrepared waits until j has a spare segment ready.
func waitPrepared(t *testing.T, j *Journal) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j.mu.Lock()
		ready := j.prepared != nil
		j.mu.Unlock()
		if ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no spare segment 30 s after a rotation of a large segment")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestJournalSpareSegment fills a segment past minSpare and rotates it, so
// that the next rotation uses a prepared segment. The records must replay
// in order across the segment with a zero tail, and reopening must cut
// the zero tail off the last segment and remove an unused spare.
func TestJournalSpareSegment(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir)
	j.freeSpace = func(string) (int64, bool) { return 1 << 40, true }
	var want [][]byte
	appendN := func(n int) {
		t.Helper()
		for range n {
			rec := bytes.Repeat([]byte{byte(len(want))}, 1000+len(want)%50)
			if err := appendRecord(j, rec); err != nil {
				t.Fatalf("Append = %v, want nil", err)
			}
			want = append(want, rec)
		}
	}

	appendN(minSpare/1000 + 1)
	if _, err := j.Rotate(); err != nil {
		t.Fatalf("Rotate = %v, want nil", err)
	}
	waitPrepared(t, j)
	appendN(10)
	second, err := j.Rotate()
	if err != nil {
		t.Fatalf("Rotate = %v, want nil", err)
	}
	fi, err := os.Stat(segmentName(dir, second+1))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < minSpare {
		t.Errorf("segment %d after the rotation has %d bytes, want a prepared segment of at least %d", second+1, fi.Size(), minSpare)
	}

	// Segment second+1 is prepared too, and takes records of its own.
	appendN(10)
	third, err := j.Rotate()
	if err != nil {
		t.Fatalf("Rotate = %v, want nil", err)
	}
	appendN(10)
	if err := j.Close(); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}
	if _, err := os.Stat(filepath.Join(dir, spareName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat spare after Close = %v, want %v", err, os.ErrNotExist)
	}

	j = openJournal(t, dir)
	if got := replayAll(t, j); !equalRecords(got, want) {
		t.Errorf("replayed %d records, want %d in the order appended", len(got), len(want))
	}
	last, err := os.ReadFile(segmentName(dir, third+1))
	if err != nil {
		t.Fatal(err)
	}
	if end, reason := scanSegment(last, nil); reason != nil || end != len(last) {
		t.Errorf("last segment after reopening: records end at %d of %d bytes (%v), want the zero tail cut off", end, len(last), reason)
	}
}

// TestJournalNoSpareOnFullDisk rotates a segment large enough for a spare
// while the file system has too little free space, or an unknown amount:
// no spare may be requested.
func TestJournalNoSpareOnFullDisk(t *testing.T) {
	tests := []struct {
		name string
		free int64
		ok   bool
	}{
		{"below the minimum", minFreeForSpare - 1, true},
		{"unknown", 1 << 40, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := openJournal(t, t.TempDir())
			var checked atomic.Bool
			j.freeSpace = func(string) (int64, bool) {
				checked.Store(true)
				return tc.free, tc.ok
			}
			for range minSpare/1000 + 1 {
				if err := appendRecord(j, make([]byte, 1000)); err != nil {
					t.Fatalf("Append = %v, want nil", err)
				}
			}
			if _, err := j.Rotate(); err != nil {
				t.Fatalf("Rotate = %v, want nil", err)
			}
			if !checked.Load() {
				t.Fatal("Rotate of a large segment did not look at the free space")
			}
			j.mu.Lock()
			size, prepared := j.prepareSize, j.prepared
			j.mu.Unlock()
			if size != 0 || prepared != nil {
				t.Errorf("after Rotate: spare of %d bytes requested, prepared %v; want none", size, prepared != nil)
			}
		})
	}
}

// TestJournalSpareLeftByCrash reopens a journal beside a spare segment
// that a killed process left half filled: it must be removed, and never
// read as a segment.
func TestJournalSpareLeftByCrash(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, [][]byte{[]byte("kept")})
	spare := filepath.Join(dir, spareName)
	if err := os.WriteFile(spare, []byte(journalMagic+"half"), 0o600); err != nil {
		t.Fatal(err)
	}

	j := openJournal(t, dir)
	if got := replayAll(t, j); !equalRecords(got, [][]byte{[]byte("kept")}) {
		t.Errorf("replayed %q, want %q", got, "kept")
	}
	if _, err := os.Stat(spare); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat spare after OpenJournal = %v, want %v", err, os.ErrNotExist)
	}
}

// TestJournalSpareNotRefilledBeforeRename wakes the preparer, with a spare
// requested, while a rotation has taken the prepared spare but not yet
// renamed it. A new spare then would reopen the same file and write zeros
// over the records of the current segment.
func TestJournalSpareNotRefilledBeforeRename(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir)
	j.mu.Lock()
	j.prepareSize = minSpare
	poke(j.prepareWake)
	j.mu.Unlock()
	waitPrepared(t, j)
	// A request left pending, as by a rotation of a large segment while
	// the spare was being prepared.
	j.mu.Lock()
	j.prepareSize = minSpare
	j.spareTaken = func() {
		j.mu.Lock()
		takenSpare := j.prepared
		j.mu.Unlock()
		poke(j.prepareWake)
		// Wait for another spare, which must not come before the rename.
		for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); {
			j.mu.Lock()
			ready := j.prepared != nil && j.prepared != takenSpare
			j.mu.Unlock()
			if ready {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	j.mu.Unlock()

	if _, err := j.Rotate(); err != nil {
		t.Fatalf("Rotate = %v, want nil", err)
	}
	want := testRecords(20)
	for _, rec := range want {
		if err := appendRecord(j, rec); err != nil {
			t.Fatalf("Append = %v, want nil", err)
		}
	}
	if err := j.Sync(context.Background()); err != nil {
		t.Fatalf("Sync = %v, want nil", err)
	}
	waitPrepared(t, j)
	j.mu.Lock()
	cur, seg, spare := j.f, j.seg, j.prepared
	j.mu.Unlock()
	curInfo, err := cur.Stat()
	if err != nil {
		t.Fatal(err)
	}
	spareInfo, err := spare.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(curInfo, spareInfo) {
		t.Errorf("the new spare segment is the file of the current segment %s", segmentName(dir, seg))
	}

	if err := j.Close(); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}
	j = openJournal(t, dir)
	if got := replayAll(t, j); !equalRecords(got, want) {
		t.Errorf("replayed %d records, want the %d synced", len(got), len(want))
	}
}

// TestJournalReplayBytesAfterZeros puts a byte after the zeros that end
// the records of a segment. In an older segment, which was flushed whole,
// that is corruption. In the last segment it is a torn write, cut off.
func TestJournalReplayBytesAfterZeros(t *testing.T) {
	data := append([]byte(journalMagic), frameRecord([]byte("first"))...)
	data = append(data, make([]byte, 64)...)
	data = append(data, 'x')

	t.Run("older segment", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(segmentName(dir, 1), data, 0o600); err != nil {
			t.Fatal(err)
		}
		next := append([]byte(journalMagic), frameRecord([]byte("second"))...)
		if err := os.WriteFile(segmentName(dir, 2), next, 0o600); err != nil {
			t.Fatal(err)
		}
		j := openJournal(t, dir)
		err := j.Replay(func([]byte) error { return nil })
		if !errors.Is(err, ErrJournalCorrupt) {
			t.Fatalf("Replay = %v, want %v", err, ErrJournalCorrupt)
		}
		if !strings.Contains(err.Error(), "offset "+strconv.Itoa(len(journalMagic)+headerSize+len("first"))) {
			t.Errorf("Replay = %v, want the offset of the zeros", err)
		}
	})
	t.Run("last segment", func(t *testing.T) {
		checkTornTail(t, data, [][]byte{[]byte("first")}, int64(len(journalMagic)+headerSize+len("first")))
	})
}

// TestJournalRemoveRejectsCurrentSegment calls Remove with the segment
// being written: it must reject it and keep the records written to it.
func TestJournalRemoveRejectsCurrentSegment(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Remove(j.first); err == nil {
		t.Errorf("Remove(%d) of the segment being written = nil, want an error", j.first)
	}
	if err := appendRecord(j, []byte("after remove")); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := replayAll(t, openJournal(t, dir)); len(got) != 1 {
		t.Errorf("replayed %d records, want 1", len(got))
	}
}

// TestJournalCloseAfterWriteError makes the segment's writes fail: Sync
// must return the error, and Close must still return.
func TestJournalCloseAfterWriteError(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	breakWrites(t, j, dir)

	if err := appendRecord(j, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := j.Sync(t.Context()); err == nil {
		t.Fatal("Sync = nil, want the write error")
	}
	done := make(chan error, 1)
	go func() { done <- j.Close() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Close = nil, want the write error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10 s after a write error")
	}
}

// TestJournalFailed makes the segment's writes fail: Failed must close,
// and Err must name the segment, say what to do, and be the error of
// every later call.
func TestJournalFailed(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir)
	select {
	case <-j.Failed():
		t.Fatal("Failed is closed on a working journal")
	default:
	}
	if err := j.Err(); err != nil {
		t.Fatalf("Err on a working journal = %v, want nil", err)
	}

	breakWrites(t, j, dir)

	if err := appendRecord(j, []byte("x")); err != nil {
		t.Fatal(err)
	}
	syncErr := j.Sync(t.Context())
	select {
	case <-j.Failed():
	default:
		t.Fatalf("Failed is open after Sync returned %v", syncErr)
	}
	failure := j.Err()
	if failure == nil {
		t.Fatal("Err = nil after a write error")
	}
	if syncErr != failure {
		t.Errorf("Sync = %v, want Err, %v", syncErr, failure)
	}
	for _, want := range []string{segmentName(dir, j.first), "free disk space or check the disk"} {
		if !strings.Contains(failure.Error(), want) {
			t.Errorf("Err = %q, want it to contain %q", failure, want)
		}
	}
	if err := appendRecord(j, []byte("y")); err != failure {
		t.Errorf("Append after the failure = %v, want %v", err, failure)
	}
	if _, err := j.Rotate(); err != failure {
		t.Errorf("Rotate after the failure = %v, want %v", err, failure)
	}
	if err := j.Close(); err != failure {
		t.Errorf("Close after the failure = %v, want %v", err, failure)
	}
}

func TestJournalConcurrentSync(t *testing.T) {
	const (
		writers   = 32
		perWriter = 8
	)
	dir := t.TempDir()
	j := openJournal(t, dir)

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if err := appendRecord(j, fmt.Appendf(nil, "%d/%d", w, i)); err != nil {
					errs <- fmt.Errorf("writer %d: Append = %w", w, err)
					return
				}
				if err := j.Sync(t.Context()); err != nil {
					errs <- fmt.Errorf("writer %d: Sync = %w", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Copy the segments while the journal stays open, as a crash would
	// leave them, and replay the copy.
	copyDir := t.TempDir()
	for _, name := range segmentFiles(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copied := openJournal(t, copyDir)
	next := make([]int, writers)
	count := 0
	for _, rec := range replayAll(t, copied) {
		w, i, ok := strings.Cut(string(rec), "/")
		wn, werr := strconv.Atoi(w)
		in, ierr := strconv.Atoi(i)
		if !ok || werr != nil || ierr != nil || wn < 0 || wn >= writers {
			t.Fatalf("replayed record %q, want writer/index", rec)
		}
		if in != next[wn] {
			t.Errorf("writer %d: replayed record %d, want %d", wn, in, next[wn])
		}
		next[wn] = in + 1
		count++
	}
	if count != writers*perWriter {
		t.Errorf("replayed %d records, want %d", count, writers*perWriter)
	}
}

func TestJournalSyncCanceled(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() context.Context
	}{
		{"canceled before the call", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}},
		{"canceled during the call", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			go cancel()
			return ctx
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := openJournal(t, t.TempDir())
			// Writing and flushing a 16 MiB record takes far longer than
			// Sync needs to check its context, so Sync almost always
			// returns the context's error. A flush that finishes first
			// makes Sync return nil, which the contract allows, and the
			// test tries again.
			const attempts = 5
			canceled := 0
			for range attempts {
				if err := appendRecord(j, make([]byte, 16<<20)); err != nil {
					t.Fatalf("Append = %v, want nil", err)
				}
				done := make(chan error, 1)
				go func() { done <- j.Sync(tc.ctx()) }()
				select {
				case err := <-done:
					switch {
					case errors.Is(err, context.Canceled):
						canceled++
					case err != nil:
						t.Fatalf("Sync = %v, want nil or an error wrapping %v", err, context.Canceled)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("Sync did not return 10 s after its context was canceled")
				}
				if canceled > 0 {
					break
				}
			}
			if canceled == 0 {
				t.Fatalf("Sync returned nil in all %d attempts, want %v at least once", attempts, context.Canceled)
			}

			// The canceled call leaves the journal usable.
			if err := j.Sync(t.Context()); err != nil {
				t.Errorf("Sync after the canceled one = %v, want nil", err)
			}
			if err := j.Close(); err != nil {
				t.Errorf("Close = %v, want nil", err)
			}
		})
	}
}

func TestJournalClosed(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t, dir)
	recs := testRecords(10)
	for _, rec := range recs {
		if err := appendRecord(j, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := appendRecord(j, []byte("late")); !errors.Is(err, ErrJournalClosed) {
		t.Errorf("Append after Close = %v, want %v", err, ErrJournalClosed)
	}
	if _, err := j.Rotate(); !errors.Is(err, ErrJournalClosed) {
		t.Errorf("Rotate after Close = %v, want %v", err, ErrJournalClosed)
	}

	j = openJournal(t, dir)
	if got := replayAll(t, j); !equalRecords(got, recs) {
		t.Errorf("replayed %d records, want the %d appended before Close", len(got), len(recs))
	}
}

func TestJournalInMemory(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)

	j, err := OpenJournal("", nil)
	if err != nil {
		t.Fatalf("OpenJournal(\"\") = %v, want nil", err)
	}
	if err := appendRecord(j, []byte("record")); err != nil {
		t.Errorf("Append = %v, want nil", err)
	}
	if err := j.Sync(t.Context()); err != nil {
		t.Errorf("Sync = %v, want nil", err)
	}
	seg, err := j.Rotate()
	if err != nil {
		t.Errorf("Rotate = %v, want nil", err)
	}
	if err := j.Remove(seg); err != nil {
		t.Errorf("Remove(%d) = %v, want nil", seg, err)
	}
	calls := 0
	if err := j.Replay(func([]byte) error { calls++; return nil }); err != nil {
		t.Errorf("Replay = %v, want nil", err)
	}
	if calls != 0 {
		t.Errorf("Replay called back %d times, want 0", calls)
	}
	if err := j.Close(); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	select {
	case <-j.Failed():
		t.Error("Failed is closed on a journal that keeps nothing")
	default:
	}

	entries, err := os.ReadDir(cwd)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("working directory contains %d entries, want 0", len(entries))
	}
}

func TestJournalAppendOversized(t *testing.T) {
	j := openJournal(t, t.TempDir())
	// The slice's pages are never touched, because Append checks the
	// length before it reads the record.
	rec := make([]byte, maxRecord+1)
	err := appendRecord(j, rec)
	if err == nil {
		t.Fatal("Append = nil, want an error")
	}
	if want := strconv.Itoa(maxRecord + 1); !strings.Contains(err.Error(), want) {
		t.Errorf("Append = %v, want it to name the size %s", err, want)
	}
	if err := appendRecord(j, []byte("small")); err != nil {
		t.Errorf("Append after the oversized record = %v, want nil", err)
	}
}

func FuzzScanSegment(f *testing.F) {
	var valid []byte
	valid = append(valid, journalMagic...)
	for _, rec := range testRecords(4) {
		valid = append(valid, frameRecord(rec)...)
	}
	f.Add([]byte{})
	f.Add([]byte(journalMagic))
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(append(slices.Clone(valid), 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0))
	f.Add(append(slices.Clone(valid), make([]byte, 20)...))
	f.Add(append(append(slices.Clone(valid), make([]byte, 20)...), 1))
	f.Add([]byte(journalMagic[:7]))

	f.Fuzz(func(t *testing.T, data []byte) {
		var reframed []byte
		off, reason := scanSegment(data, func(rec []byte) error {
			reframed = append(reframed, frameRecord(rec)...)
			return nil
		})
		if off < 0 || off > len(data) {
			t.Fatalf("offset = %d, want within [0, %d]", off, len(data))
		}
		if off == 0 {
			if reason == nil || len(reframed) != 0 {
				t.Fatalf("offset 0 with reason %v and %d record bytes, want a reason and no records", reason, len(reframed))
			}
			return
		}
		if (reason == nil) != allZero(data[off:]) {
			t.Fatalf("offset = %d and reason %v for %d bytes, want a nil reason exactly when only zeros follow the offset", off, reason, len(data))
		}
		reframed = append([]byte(journalMagic), reframed...)
		if !bytes.Equal(reframed, data[:off]) {
			t.Fatalf("reframed records differ from data[:%d]", off)
		}
	})
}

// crashEnvDir names the environment variable that turns the test binary
// into the child of TestJournalCrash.
const crashEnvDir = "STATEDB_JOURNAL_CRASH_DIR"

// crashRecord returns record seq of the crash test: seq in 8 bytes and a
// filler whose length and content depend on seq.
func crashRecord(seq uint64) []byte {
	rec := binary.LittleEndian.AppendUint64(nil, seq)
	return append(rec, bytes.Repeat([]byte{byte(seq)}, int(seq*131%3000))...)
}

// TestJournalCrashHelper is the child process of TestJournalCrash. It
// continues the numbering of the records it replays, appending and
// syncing one record at a time and printing each number once Sync
// returned, until the parent kills it.
func TestJournalCrashHelper(t *testing.T) {
	dir := os.Getenv(crashEnvDir)
	if dir == "" {
		t.Skip("runs only as the child of TestJournalCrash")
	}
	j, err := OpenJournal(dir, nil)
	if err != nil {
		t.Fatalf("OpenJournal = %v", err)
	}
	var next uint64
	err = j.Replay(func(rec []byte) error {
		next = binary.LittleEndian.Uint64(rec) + 1
		return nil
	})
	if err != nil {
		t.Fatalf("Replay = %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for ; time.Now().Before(deadline); next++ {
		if err := appendRecord(j, crashRecord(next)); err != nil {
			t.Fatalf("Append(%d) = %v", next, err)
		}
		if err := j.Sync(context.Background()); err != nil {
			t.Fatalf("Sync after %d = %v", next, err)
		}
		fmt.Printf("synced %d\n", next)
		// About 1.2 MB per segment, so that rotations use spare segments.
		if next%800 == 799 {
			if _, err := j.Rotate(); err != nil {
				t.Fatalf("Rotate after %d = %v", next, err)
			}
		}
	}
	t.Fatal("crash helper was not killed")
}

func TestJournalCrash(t *testing.T) {
	if os.Getenv(crashEnvDir) != "" {
		t.Skip("running as the crash helper")
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}

	dir := t.TempDir()
	var reported uint64 // one past the highest number a child reported
	for round := range 4 {
		last, ok := runCrashChild(t, dir, time.Duration(20+rand.IntN(200))*time.Millisecond)
		if ok {
			reported = max(reported, last+1)
		}

		j, err := OpenJournal(dir, nil)
		if err != nil {
			t.Fatalf("round %d: OpenJournal = %v, want nil", round, err)
		}
		var replayed uint64
		err = j.Replay(func(rec []byte) error {
			if len(rec) < 8 {
				return fmt.Errorf("record %d has %d bytes, want at least 8", replayed, len(rec))
			}
			seq := binary.LittleEndian.Uint64(rec)
			if seq != replayed {
				return fmt.Errorf("record %d has number %d, want %d", replayed, seq, replayed)
			}
			if !bytes.Equal(rec, crashRecord(seq)) {
				return fmt.Errorf("record %d has the wrong content", seq)
			}
			replayed++
			return nil
		})
		if cerr := j.Close(); cerr != nil {
			t.Fatalf("round %d: Close = %v, want nil", round, cerr)
		}
		if err != nil {
			t.Fatalf("round %d: Replay = %v, want nil", round, err)
		}
		if replayed < reported {
			t.Fatalf("round %d: replayed records 0 to %d, want at least up to %d, the last one a child reported synced", round, int64(replayed)-1, reported-1)
		}
		t.Logf("round %d: %d records replayed, %d reported synced", round, replayed, reported)
	}
}

// runCrashChild starts TestJournalCrashHelper on dir, kills it with
// SIGKILL the given time after its first report, and returns the highest
// record number it reported synced, with false when it reported none.
func runCrashChild(t *testing.T, dir string, after time.Duration) (last uint64, ok bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestJournalCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvDir+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start crash helper: %v", err)
	}

	first := make(chan struct{})
	scanned := make(chan struct{})
	var reports []uint64
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s, found := strings.CutPrefix(sc.Text(), "synced ")
			if !found {
				continue
			}
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				continue
			}
			if len(reports) == 0 {
				close(first)
			}
			reports = append(reports, n)
		}
	}()

	select {
	case <-first:
	case <-scanned:
		_ = cmd.Wait()
		t.Fatalf("crash helper exited before reporting a record; stderr: %s", stderr.String())
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-scanned
		_ = cmd.Wait()
		t.Fatalf("crash helper reported nothing in 10 s; stderr: %s", stderr.String())
	}
	<-time.After(after)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill crash helper: %v", err)
	}
	<-scanned
	_ = cmd.Wait()

	for i := 1; i < len(reports); i++ {
		if reports[i] != reports[i-1]+1 {
			t.Fatalf("crash helper reported %d after %d, want %d", reports[i], reports[i-1], reports[i-1]+1)
		}
	}
	if len(reports) == 0 {
		return 0, false
	}
	return reports[len(reports)-1], true
}

// breakWrites makes every later write to j's current segment fail, by
// swapping its file for one opened read-only.
func breakWrites(t *testing.T, j *Journal, dir string) {
	t.Helper()
	readOnly, err := os.Open(segmentName(dir, j.first))
	if err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	writable := j.f
	j.f = readOnly
	j.mu.Unlock()
	t.Cleanup(func() { writable.Close() })
}
