package triggers

import (
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
	want := time.Date(2026, 10, 25, 2, 30, 0, 123, berlin)
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
	if err != nil || !ok || !got.Equal(want) {
		t.Errorf("LastRun after reopen = %v, %v, %v; want %v", got, ok, err, want)
	}
	assertKeyPrefixes(t, db, runStorePrefix)

	if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("sched/bad"), []byte("yesterday")) }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.LastRun(ctx, "bad"); err == nil {
		t.Error("LastRun on a corrupt value returned no error")
	}
}
