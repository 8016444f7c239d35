//go:build linux

package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/execvault/execvault/runtime/statedb/diskfault"
)

// TestDispatcherStopsWhenJournalFails makes every flush of the journal
// fail, as on a broken disk, while an attempt is in flight. Failed must
// close with an error that names the segment, the attempt must be aborted
// and Wait must return that error. After a restart on the same directory,
// the job that was in flight and the job whose flush failed must both be
// delivered.
func TestDispatcherStopsWhenJournalFails(t *testing.T) {
	dir := t.TempDir()
	arrived, aborted := make(chan struct{}), make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		if n == 1 {
			// Held until the dispatcher gives up the attempt, which the
			// server notices once it has read the body.
			_, _ = io.Copy(io.Discard, r.Body)
			close(arrived)
			<-r.Context().Done()
			close(aborted)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	job := func(id string) Job { return Job{ID: id, Executor: "crm-sync", URL: rc.URL, Body: []byte(`{}`)} }

	db := openDB(t, dir)
	h := startDispatcher(t, db, testConfig(), nil)
	if _, err := h.d.Enqueue(t.Context(), job("job-held")); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	<-arrived
	// With the job in the database, the journal writes to its current
	// segment until the next change.
	if err := h.d.store.checkpoint(); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	segs, err := filepath.Glob(filepath.Join(dir, journalDir, "*.journal"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("journal segments = %q, %v; want one", segs, err)
	}
	select {
	case <-h.d.Failed():
		t.Fatalf("Failed closed before the fault: %v", h.d.Err())
	default:
	}
	drained := diskfault.FailFlushes(t, segs[0])

	if _, err := h.d.Enqueue(t.Context(), job("job-unflushed")); err == nil || !strings.Contains(err.Error(), segs[0]) {
		t.Fatalf("enqueue with a failing flush = %v, want an error naming %s", err, segs[0])
	}
	<-h.d.Failed()
	failure := h.d.Err()
	if failure == nil {
		t.Fatal("Err = nil after Failed closed")
	}
	for _, want := range []string{segs[0], "free disk space or check the disk"} {
		if !strings.Contains(failure.Error(), want) {
			t.Errorf("Err = %q, want it to contain %q", failure, want)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := h.d.Wait(ctx, "job-held"); !errors.Is(err, failure) {
		t.Errorf("Wait for the job in flight = %v, want the journal's failure", err)
	}
	select {
	case <-aborted:
	case <-ctx.Done():
		t.Error("the attempt in flight went on after the failure")
	}
	// The checkpoints, which can no longer succeed, stop rather than fail
	// every second.
	select {
	case <-h.d.store.stopped:
	case <-ctx.Done():
		t.Error("the checkpoints went on after the failure")
	}
	if _, err := h.d.Enqueue(t.Context(), job("job-after")); !errors.Is(err, failure) {
		t.Errorf("enqueue after the failure = %v, want the journal's failure", err)
	}
	if err := h.d.Close(); err == nil || err.Error() != "close dispatcher: "+failure.Error() {
		t.Errorf("Close = %v, want the journal's failure once", err)
	}
	drained()
	if err := db.Close(); err != nil {
		t.Fatalf("close database: %v", err)
	}

	ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	h = startDispatcher(t, openDB(t, dir), testConfig(), nil)
	for _, id := range []string{"job-held", "job-unflushed"} {
		done, err := h.d.Wait(ctx, id)
		if err != nil || done.Status != StatusSuccess {
			t.Errorf("job %s after the restart: %s, %v; want SUCCESS", id, done.Status, err)
		}
	}
	jobs, err := h.d.Jobs(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"job-held", "job-unflushed"}) {
		t.Errorf("jobs after the restart = %q, want job-held and job-unflushed only", ids)
	}
}
