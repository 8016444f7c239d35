package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// execvaultBinary builds the CLI once per test process, for tests that
// must kill a real process.
func execvaultBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "execvault-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "execvault")
		out, err := exec.Command("go", "build", "-o", binaryPath, ".").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// countingReceiver records the bodies it receives under each webhook-id.
// While held, it keeps every request open without responding.
type countingReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	byID   map[string][]string
	total  int
	held   bool
	unhold chan struct{}
}

func newCountingReceiver(t *testing.T, held bool) *countingReceiver {
	r := &countingReceiver{byID: map[string][]string{}, held: held, unhold: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		held := r.held
		if !held {
			r.byID[req.Header.Get("Webhook-Id")] = append(r.byID[req.Header.Get("Webhook-Id")], string(body))
			r.total++
		}
		r.mu.Unlock()
		if held {
			select {
			case <-r.unhold:
			case <-req.Context().Done():
			}
			http.Error(w, "held", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(func() {
		r.release()
		r.Close()
	})
	return r
}

func (r *countingReceiver) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held {
		r.held = false
		close(r.unhold)
	}
}

func (r *countingReceiver) counts() (distinct, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID), r.total
}

// serverProcess is "execvault run" in a child process.
type serverProcess struct {
	cmd  *exec.Cmd
	base string
}

var listenLine = regexp.MustCompile(`Listening on (http://[0-9.:]+)`)

func (e *cliEnv) startProcess(t *testing.T, recvURL string) *serverProcess {
	t.Helper()
	cmd := exec.Command(execvaultBinary(t), "--data-dir", e.dataDir, "--key-file", e.keyFile, "run",
		"--plugins", pluginDir, "--listen", "127.0.0.1:0", "--no-auth", "--log-level", "warn",
		"--url-override", "https://crm.example.com="+recvURL+"/crm")
	cmd.Env = append(os.Environ(), "EXECVAULT_CACHE_DIR="+filepath.Join(os.TempDir(), "execvault-test-cache"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd}
	t.Cleanup(func() { p.kill() })

	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case p.base = <-found:
	case <-time.After(90 * time.Second):
		t.Fatal("execvault run did not start listening within 90s")
	}
	return p
}

func (p *serverProcess) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

func (p *serverProcess) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.kill()
		t.Error("execvault run did not stop within 30s of SIGTERM")
	}
}

// postEvents sends sales orders first..last, all above the CRM threshold,
// in batches of batch.
func postEvents(t *testing.T, base string, first, last, batch int) {
	t.Helper()
	for start := first; start <= last; start += batch {
		var items []string
		for i := start; i < start+batch && i <= last; i++ {
			items = append(items, salesOrderEvent(fmt.Sprintf("so-%05d", i), "200000"))
		}
		resp, err := http.Post(base+"/v1/events", "application/json", strings.NewReader("["+strings.Join(items, ",")+"]"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST /v1/events status = %d, want 202", resp.StatusCode)
		}
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKilledBeforeDispatchFiresAfterRestart accepts events while every
// delivery hangs, kills the process with SIGKILL, and checks that after a
// restart every accepted event is delivered.
func TestKilledBeforeDispatchFiresAfterRestart(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"crm-api-token": crmToken, "crm-api-key": crmKey})
	recv := newCountingReceiver(t, true)

	p := env.startProcess(t, recv.URL)
	postEvents(t, p.base, 1, 50, 10)
	p.kill()
	recv.release()

	p = env.startProcess(t, recv.URL)
	waitFor(t, "50 distinct deliveries", 60*time.Second, func() bool {
		distinct, _ := recv.counts()
		return distinct >= 50
	})
	p.stop(t)
	if distinct, _ := recv.counts(); distinct != 50 {
		t.Errorf("distinct webhook-ids = %d, want 50", distinct)
	}
}

// TestKilledMidRunDeliversEveryJob kills the process with SIGKILL while it
// delivers 5000 events. After a restart every job must end SUCCESS, and the
// receiver must have received each job at least once, with repeats
// carrying the same webhook-id and body.
func TestKilledMidRunDeliversEveryJob(t *testing.T) {
	if testing.Short() {
		t.Skip("delivers 5000 webhooks")
	}
	const events = 5000
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"crm-api-token": crmToken, "crm-api-key": crmKey})
	recv := newCountingReceiver(t, false)

	p := env.startProcess(t, recv.URL)
	postEvents(t, p.base, 1, events, 500)
	waitFor(t, "the first 500 deliveries", 120*time.Second, func() bool {
		_, total := recv.counts()
		return total >= 500
	})
	p.kill()
	_, atKill := recv.counts()

	p = env.startProcess(t, recv.URL)
	waitFor(t, fmt.Sprintf("%d distinct deliveries", events), 300*time.Second, func() bool {
		distinct, _ := recv.counts()
		return distinct >= events
	})
	p.stop(t)

	distinct, total := recv.counts()
	t.Logf("delivered %d before SIGKILL; %d requests in all for %d jobs", atKill, total, distinct)
	if distinct != events {
		t.Errorf("distinct webhook-ids = %d, want %d", distinct, events)
	}
	recv.mu.Lock()
	for id, bodies := range recv.byID {
		for _, b := range bodies[1:] {
			if b != bodies[0] {
				t.Errorf("webhook-id %s was sent with different bodies", id)
				break
			}
		}
	}
	recv.mu.Unlock()

	code, stdout, stderr := env.run("", "executor", "jobs", "sync-to-external-crm", "--json")
	if code != 0 {
		t.Fatalf("executor jobs: exit status %d: %s", code, stderr)
	}
	var jobs []struct{ Status string }
	if err := json.Unmarshal([]byte(stdout), &jobs); err != nil {
		t.Fatal(err)
	}
	success := 0
	for _, j := range jobs {
		if j.Status == "SUCCESS" {
			success++
		}
	}
	if len(jobs) != events || success != events {
		t.Errorf("jobs = %d with %d SUCCESS, want %d all SUCCESS", len(jobs), success, events)
	}
}
