package triggers

import (
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func TestBadgerRunStore(t *testing.T) {
	dir := t.TempDir()
	db := openBadger(t, dir)
	store := NewBadgerRunStore(db)
	ctx := t.Context()

	if _, ok, err := store.LastRun(ctx, "nightly"); err != nil || ok {
		t.Fatalf("LastRun on empty store = %v, %v; want none", ok, err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	want := RunRecord{Time: time.Date(2026, 10, 25, 2, 30, 0, 123, berlin), Spec: "30 2 * * * (Europe/Berlin)"}
	if err := store.SetLastRun(ctx, "nightly", want); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openBadger(t, dir)
	defer db.Close()
	store = NewBadgerRunStore(db)
	got, ok, err := store.LastRun(ctx, "nightly")
	if err != nil || !ok || !got.Time.Equal(want.Time) || got.Spec != want.Spec {
		t.Errorf("LastRun after reopen = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	assertKeyPrefixes(t, db, runStorePrefix)

	for _, bad := range []string{"yesterday", `{"time":"yesterday"}`, `{"spec":"0 * * * * (UTC)"}`, `{"time":`} {
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("sched/bad"), []byte(bad)) }); err != nil {
			t.Fatal(err)
		}
		if _, _, err := store.LastRun(ctx, "bad"); err == nil || !strings.Contains(err.Error(), "sched/bad") {
			t.Errorf("LastRun on the value %q = %v, want an error naming the key", bad, err)
		}
	}
}

// TestBadgerRunStoreReadsBareTime reads the value earlier versions stored,
// an RFC 3339 time alone, as a record without a spec.
func TestBadgerRunStoreReadsBareTime(t *testing.T) {
	db := openBadger(t, t.TempDir())
	defer db.Close()
	if err := db.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte("sched/hourly"), []byte("2026-05-01T09:00:00.5Z"))
	}); err != nil {
		t.Fatal(err)
	}

	got, ok, err := NewBadgerRunStore(db).LastRun(t.Context(), "hourly")
	want := time.Date(2026, 5, 1, 9, 0, 0, 5e8, time.UTC)
	if err != nil || !ok || !got.Time.Equal(want) || got.Spec != "" {
		t.Errorf("LastRun = %+v, %v, %v; want %v with no spec", got, ok, err, want)
	}
}
