package statedb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/dgraph-io/badger/v4"
)

func openTestDB(t *testing.T, dir string) *badger.DB {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenTurnsSyncWritesOff(t *testing.T) {
	db := openTestDB(t, filepath.Join(t.TempDir(), "state"))
	if db.Opts().SyncWrites {
		t.Fatal("SyncWrites = true, want false")
	}
}

func TestOpenSecondProcessFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	openTestDB(t, dir)
	_, err := Open(dir)
	if err == nil {
		t.Fatal("second Open succeeded, want an error")
	}
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("error = %v, want ErrInUse naming %s", err, dir)
	}
}

func TestSyncKeepsCommittedData(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSyncer(db)
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(context.Background()); err != nil {
		t.Fatalf("Sync = %v, want nil", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openTestDB(t, dir)
	err = db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte("k"))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if string(v) != "v" {
			t.Errorf("value = %q, want %q", v, "v")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSyncInMemoryNoop(t *testing.T) {
	s := NewSyncer(openTestDB(t, ""))
	s.flushFn = func() error { t.Error("flush ran for an in-memory database"); return nil }
	if err := s.Sync(context.Background()); err != nil {
		t.Fatalf("Sync = %v, want nil", err)
	}
}

// blockingSyncer returns a Syncer whose first flush waits for release,
// and a counter of its flushes.
func blockingSyncer(release <-chan struct{}) (*Syncer, *atomic.Int32) {
	var flushes atomic.Int32
	s := &Syncer{changed: make(chan struct{})}
	s.flushFn = func() error {
		if flushes.Add(1) == 1 {
			<-release
		}
		return nil
	}
	return s, &flushes
}

// TestSyncSharesFlushes holds the first flush and checks that the callers
// that arrive meanwhile share one more flush instead of one each.
func TestSyncSharesFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		s, flushes := blockingSyncer(release)
		ctx := context.Background()
		go s.Sync(ctx)
		synctest.Wait()

		const callers = 20
		errs := make(chan error, callers)
		for range callers {
			go func() { errs <- s.Sync(ctx) }()
		}
		synctest.Wait()
		close(release)
		for range callers {
			if err := <-errs; err != nil {
				t.Fatalf("Sync = %v, want nil", err)
			}
		}
		if got := flushes.Load(); got != 2 {
			t.Fatalf("%d flushes for 1 + %d callers, want 2", got, callers)
		}
	})
}

// TestSyncWaitsForLaterFlush checks that a caller arriving
// during a flush does not return when that flush ends, since the flush may
// have started before the caller's commit.
func TestSyncWaitsForLaterFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		s, flushes := blockingSyncer(release)
		ctx := context.Background()
		go s.Sync(ctx)
		synctest.Wait()

		second := make(chan error)
		go func() { second <- s.Sync(ctx) }()
		synctest.Wait()
		close(release)
		if err := <-second; err != nil {
			t.Fatalf("Sync = %v, want nil", err)
		}
		if got := flushes.Load(); got != 2 {
			t.Fatalf("flushes = %d when the second Sync returned, want 2", got)
		}
	})
}

func TestSyncReportsErrors(t *testing.T) {
	s := NewSyncer(openTestDB(t, filepath.Join(t.TempDir(), "state")))
	errDisk := errors.New("disk full")
	s.flushFn = func() error { return errDisk }
	if err := s.Sync(context.Background()); !errors.Is(err, errDisk) {
		t.Fatalf("Sync = %v, want it to wrap %v", err, errDisk)
	}

	release := make(chan struct{})
	started := make(chan struct{})
	s.flushFn = func() error { close(started); <-release; return nil }
	go s.Sync(context.Background())
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Sync(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sync with a canceled context = %v, want context.Canceled", err)
	}
	close(release)
}

// TestSyncFlushesEveryLog checks that a flush syncs the log of a memtable
// that is waiting to be written out, which DB.Sync skips, as well as the
// current memtable's log and the value log. The extra log is a stand-in
// file, since filling a real memtable takes 16 MiB of writes.
func TestSyncFlushesEveryLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := NewSyncer(openTestDB(t, dir))
	waiting := filepath.Join(dir, "99999.mem")
	if err := os.WriteFile(waiting, []byte("log"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var synced []string
	s.syncFile = func(name string) error {
		mu.Lock()
		synced = append(synced, filepath.Base(name))
		mu.Unlock()
		return syncFile(name)
	}
	if err := s.Sync(context.Background()); err != nil {
		t.Fatalf("Sync = %v, want nil", err)
	}
	slices.Sort(synced)
	if want := []string{"000001.vlog", "00001.mem", "99999.mem"}; !slices.Equal(synced, want) {
		t.Fatalf("synced %q, want %q", synced, want)
	}

	// A log that Badger removes between the listing and the sync is skipped.
	if err := os.Remove(waiting); err != nil {
		t.Fatal(err)
	}
	if err := syncFile(waiting); err != nil {
		t.Fatalf("syncFile of a removed log = %v, want nil", err)
	}
}
