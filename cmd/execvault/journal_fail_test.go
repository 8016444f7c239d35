//go:build linux

package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/execvault/execvault/runtime/statedb"
	"github.com/execvault/execvault/runtime/statedb/diskfault"
	"github.com/execvault/execvault/triggers"
)

// runProcess is "execvault run" in process, with its exit status.
type runProcess struct {
	base   string
	stderr *syncBuffer
	done   chan int
	cancel context.CancelFunc
}

// startRun runs "execvault run" in process and waits until it listens.
func (e *cliEnv) startRun(t *testing.T, extra ...string) *runProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &runProcess{stderr: &syncBuffer{}, done: make(chan int, 1), cancel: cancel}
	args := append([]string{"--data-dir", e.dataDir, "--key-file", e.keyFile, "run", "--plugins", pluginDir, "--listen", "127.0.0.1:0"}, extra...)
	go func() { p.done <- run(ctx, args, strings.NewReader(""), p.stderr, p.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			t.Error("run did not stop within 20s of cancellation")
		}
	})
	waitFor(t, "run to listen", 60*time.Second, func() bool {
		m := listeningPattern.FindStringSubmatch(p.stderr.String())
		if m != nil {
			p.base = m[1]
		}
		return m != nil
	})
	return p
}

// exitStatus waits for run to return on its own and returns its exit
// status.
func (p *runProcess) exitStatus(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case code := <-p.done:
		p.done <- code
		return code
	case <-time.After(within):
		t.Fatalf("run still serving %s after the fault; its log:\n%s", within, p.stderr.String())
		return 0
	}
}

// journalSegments returns the paths of the webhook job journal's segments
// in dataDir, oldest first.
func journalSegments(t *testing.T, dataDir string) []string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dataDir, "state", "webhook-journal", "*.journal"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(segs)
	return segs
}

// pendingEventIDs opens the state database of dataDir, which no process
// may hold, and returns the ids of the events not yet processed.
func pendingEventIDs(t *testing.T, dataDir string) []string {
	t.Helper()
	db, err := statedb.Open(filepath.Join(dataDir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	events, err := triggers.OpenEventLog(t.Context(), db, triggers.EventLogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := events.Pending(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range pending {
		ids = append(ids, e.Event.ID)
	}
	return ids
}

// TestRunStopsWhenJournalFails makes every flush of the webhook job
// journal fail under a serving execvault run, as a broken disk does. Run
// must stop with exit status 1 and an error that names the segment, leave
// the event pending and the job in the journal, and deliver the webhook
// once started again on the same data directory.
func TestRunStopsWhenJournalFails(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"crm-api-token": crmToken, "crm-api-key": crmKey})
	// The receiver holds every request until released, so that nothing is
	// delivered before the restart.
	recv := newCountingReceiver(t, true)
	flags := []string{"--no-auth", "--url-override", "https://crm.example.com=" + recv.URL + "/crm"}

	first := env.startRun(t, flags...)
	segs := journalSegments(t, env.dataDir)
	if len(segs) != 1 {
		t.Fatalf("journal segments = %q, want the one being written", segs)
	}
	drained := diskfault.FailFlushes(t, segs[0])
	postEvents(t, first.base, 1, 1, 1)

	if code := first.exitStatus(t, 30*time.Second); code != exitError {
		t.Errorf("run exit status = %d, want %d", code, exitError)
	}
	drained()
	log := first.stderr.String()
	for _, want := range []string{segs[0], "free disk space or check the disk"} {
		if !strings.Contains(log, want) {
			t.Errorf("run log does not contain %q:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "webhook job journal failed"); n != 1 {
		t.Errorf("run reported the failure %d times, want once:\n%s", n, log)
	}
	if strings.Contains(log, "did not close cleanly") {
		t.Errorf("run repeated the failure when it closed:\n%s", log)
	}

	// The job reached the journal's file before the flush failed, and the
	// event stays pending, to be processed again.
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("evt-so-00001")) {
		t.Error("the journal segment does not hold the job of event evt-so-00001")
	}
	if got := pendingEventIDs(t, env.dataDir); !slices.Equal(got, []string{"evt-so-00001"}) {
		t.Errorf("pending events after the failure = %q, want [evt-so-00001]", got)
	}

	recv.release()
	second := env.startRun(t, flags...)
	waitFor(t, "the webhook after the restart", 60*time.Second, func() bool {
		distinct, _ := recv.counts()
		return distinct == 1
	})
	if log := second.stderr.String(); !strings.Contains(log, "webhook job journal replayed") {
		t.Errorf("the restart did not replay the journal; its log:\n%s", log)
	}
	second.cancel()
	if code := second.exitStatus(t, 20*time.Second); code != exitOK {
		t.Errorf("second run exit status = %d, want 0; its log:\n%s", code, second.stderr.String())
	}
}

// TestExecutorTriggerFailsWhenJournalFails makes the webhook job journal
// fail while executor trigger waits for a webhook whose next attempt is a
// minute away. The command must report the failure and exit 1 at once,
// not wait for an attempt that can no longer be recorded.
func TestExecutorTriggerFailsWhenJournalFails(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"crm-api-token": crmToken, "crm-api-key": crmKey})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(recv.Close)

	// A new journal writes segment 1, and the dispatcher's checkpoint at
	// start moves on to segment 2. The first checkpoint after the job is
	// stored then fails to create segment 3, whose name a directory holds,
	// as creating a file fails on a broken disk.
	journal := filepath.Join(env.dataDir, "state", "webhook-journal")
	if err := os.MkdirAll(filepath.Join(journal, "0000000000000003.journal"), 0o700); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--data-dir", env.dataDir, "--key-file", env.keyFile,
			"executor", "trigger", "sync-to-external-crm", "--plugins", pluginDir,
			"--url-override", "https://crm.example.com=" + recv.URL + "/crm", "--backoff", "1m",
			"--data", `{"newRecord":{"id":"so-90","totalPrice":100001}}`}, strings.NewReader(""), &stdout, &stderr)
	}()
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		cancel()
		<-done
		t.Fatalf("trigger still waiting 30s after the journal failed; stdout %q, stderr:\n%s", stdout.String(), stderr.String())
	}
	if code != exitError {
		t.Errorf("trigger exit status = %d, want %d", code, exitError)
	}
	segment := filepath.Join(journal, "0000000000000002.journal")
	if out := stdout.String(); !strings.Contains(out, "failed: ") || !strings.Contains(out, segment) {
		t.Errorf("trigger stdout = %q, want a failed firing that names %s", out, segment)
	}
	if strings.Contains(stderr.String(), "did not close cleanly") {
		t.Errorf("trigger repeated the failure when it closed:\n%s", stderr.String())
	}
}
