package webhook

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestIDFilterKeepsEveryID adds three times a layer's capacity, so that
// the filter grows, and checks that every id added is reported and that
// few others are.
func TestIDFilterKeepsEveryID(t *testing.T) {
	f := newIDFilter(0)
	const n = 3 * filterMinIDs
	for i := range n {
		f.add(fmt.Sprintf("msg_%d", i))
	}
	if layers := len(*f.layers.Load()); layers < 2 {
		t.Errorf("layers after %d ids = %d, want at least 2", n, layers)
	}
	for i := range n {
		if id := fmt.Sprintf("msg_%d", i); !f.mayContain(id) {
			t.Fatalf("mayContain(%q) = false after add", id)
		}
	}
	wrong := 0
	const others = 100_000
	for i := range others {
		if f.mayContain(fmt.Sprintf("other_%d", i)) {
			wrong++
		}
	}
	// Each of the two or three layers adds about 1% false positives.
	if rate := float64(wrong) / others; rate > 0.04 {
		t.Errorf("ids never added but reported: %.2f%%, want at most 4%%", 100*rate)
	}
}

// TestIDFilterConcurrentAdds adds ids from several goroutines across a
// growth of the filter, for the race detector, and checks them all.
func TestIDFilterConcurrentAdds(t *testing.T) {
	f := newIDFilter(0)
	const goroutines, each = 4, filterMinIDs / 2
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("msg_%d_%d", g, i)
				f.add(id)
				if !f.mayContain(id) {
					t.Errorf("mayContain(%q) = false after add", id)
					return
				}
			}
		})
	}
	wg.Wait()
	for g := range goroutines {
		for i := range each {
			if id := fmt.Sprintf("msg_%d_%d", g, i); !f.mayContain(id) {
				t.Fatalf("mayContain(%q) = false after all adds", id)
			}
		}
	}
}

// TestStoreFindsJobOfEarlierProcess checkpoints a job, opens the store
// again, and inserts a job under the same id. The store must return the
// stored job, which only the database contains.
func TestStoreFindsJobOfEarlierProcess(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, err := openStore(db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.insert(context.Background(), testJob("job-1", now)); err != nil {
		t.Fatal(err)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}

	s = openTestStore(t, db)
	again := testJob("job-1", now.Add(time.Hour))
	got, created, err := s.insert(context.Background(), again)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("insert of a stored id: created = true, want false")
	}
	if !got.CreatedAt.Equal(now) {
		t.Errorf("returned job created at %v, want the stored job's %v", got.CreatedAt, now)
	}
}

// TestRetentionShrinksIDFilter grows the store's id filter past one layer,
// then deletes old jobs: the filter must be loaded again from the
// database, with one layer, the remaining job and few of the other ids.
func TestRetentionShrinksIDFilter(t *testing.T) {
	s := openTestStore(t, openDB(t, t.TempDir()))
	old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, id := range []string{"old-1", "old-2", "recent"} {
		j := testJob(id, old)
		j.Status = StatusSuccess
		if id == "recent" {
			j.UpdatedAt = old.Add(48 * time.Hour)
		}
		if _, _, err := s.insert(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	ids := s.ids.Load()
	for i := range 3 * filterMinIDs {
		ids.add(fmt.Sprintf("gone_%d", i))
	}
	if layers := len(*ids.layers.Load()); layers < 2 {
		t.Fatalf("layers before retention = %d, want at least 2", layers)
	}

	deleted, err := s.deleteFinished(old.Add(24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 2 {
		t.Errorf("deleted = %d, want 2", deleted)
	}
	shrunk := s.ids.Load()
	if layers := len(*shrunk.layers.Load()); layers != 1 {
		t.Errorf("layers after retention = %d, want 1", layers)
	}
	if !shrunk.mayContain("recent") {
		t.Error(`mayContain("recent") = false for a job in the database`)
	}
	wrong := 0
	for i := range 10_000 {
		if shrunk.mayContain(fmt.Sprintf("gone_%d", i)) {
			wrong++
		}
	}
	if wrong > 300 {
		t.Errorf("ids of no job still reported: %d of 10000, want at most 300", wrong)
	}
}

// TestInsertFindsJobDuringCheckpoints inserts every job a second time
// while checkpoints run back to back, with a cache of one job, so that the
// second insert often finds the first only in the database or in a
// checkpoint that is writing it. It must always find it.
func TestInsertFindsJobDuringCheckpoints(t *testing.T) {
	s := openTestStore(t, openDB(t, t.TempDir()))
	s.checkpointJobs = 64
	s.maxJobs = 1

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.checkpoint(); err != nil {
				t.Errorf("checkpoint: %v", err)
				return
			}
		}
	})

	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	inserted := make(chan string, 64)
	wg.Go(func() {
		for id := range inserted {
			got, created, err := s.insert(context.Background(), testJob(id, now.Add(time.Hour)))
			switch {
			case err != nil:
				t.Errorf("insert %s again: %v", id, err)
			case created:
				t.Errorf("insert %s again: created a second job", id)
			case !got.CreatedAt.Equal(now):
				t.Errorf("insert %s again: returned a job created at %v, want %v", id, got.CreatedAt, now)
			}
		}
	})
	for i := range 5000 {
		j := testJob(fmt.Sprintf("job-%d", i), now)
		if i%2 == 0 {
			j.Status = StatusSuccess
		}
		if _, _, err := s.insert(context.Background(), j); err != nil {
			t.Errorf("insert: %v", err)
			break
		}
		inserted <- j.ID
	}
	close(inserted)
	close(stop)
	wg.Wait()
}
