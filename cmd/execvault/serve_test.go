package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listeningPattern = regexp.MustCompile(`Listening on (http://[0-9.:]+)`)

// startServer runs "execvault run" in process and returns its base URL.
func (e *cliEnv) startServer(t *testing.T, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int)
	args := append([]string{"--data-dir", e.dataDir, "--key-file", e.keyFile, "run", "--plugins", pluginDir, "--listen", "127.0.0.1:0"}, extra...)
	go func() { done <- run(ctx, args, strings.NewReader(""), &stderr, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("run did not stop within 20s of cancellation")
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningPattern.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("run exited with status %d before listening", code)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("run did not start listening within 60s")
	return ""
}

func TestRunIngestsEventsAndDelivers(t *testing.T) {
	env := newCLIEnv(t)
	env.storeSecrets(map[string]string{"crm-api-token": crmToken, "crm-api-key": crmKey})
	recv := newReceiver(t)
	base := env.startServer(t, "--no-auth", "--url-override", "https://crm.example.com="+recv.URL+"/crm")

	body := "[" + salesOrderEvent("so-20", "150000") + "," + salesOrderEvent("so-21", "5") + "]"
	resp, err := http.Post(base+"/v1/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/events status = %d, want 202", resp.StatusCode)
	}

	deadline := time.Now().Add(30 * time.Second)
	for len(recv.requests("/crm/api/v1/orders")) < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := recv.requests("/crm/api/v1/orders")
	if len(got) != 1 {
		t.Fatalf("CRM requests = %d, want 1", len(got))
	}
	if got[0].header.Get("Authorization") != crmToken {
		t.Error("Authorization header does not equal the stored secret")
	}

	// The jobs of the running server, through the admin socket.
	code, stdout, stderr := env.run("", "executor", "jobs", "sync-to-external-crm", "--json")
	if code != 0 {
		t.Fatalf("executor jobs: exit status %d, stderr %q", code, stderr)
	}
	var jobs []struct {
		ID, Status, EventID string
	}
	if err := json.Unmarshal([]byte(stdout), &jobs); err != nil {
		t.Fatalf("executor jobs --json output is not JSON: %v", err)
	}
	if len(jobs) != 1 || jobs[0].EventID != "evt-so-20" {
		t.Fatalf("jobs = %+v, want one for event evt-so-20", jobs)
	}
	deadline = time.Now().Add(10 * time.Second)
	for jobs[0].Status != "SUCCESS" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		_, stdout, _ = env.run("", "executor", "jobs", "sync-to-external-crm", "--json")
		_ = json.Unmarshal([]byte(stdout), &jobs)
	}
	if jobs[0].Status != "SUCCESS" {
		t.Errorf("job status = %s, want SUCCESS", jobs[0].Status)
	}
	code, stdout, _ = env.run("", "executor", "jobs", "sync-to-external-crm", jobs[0].ID, "--attempts")
	if code != 0 || !strings.Contains(stdout, "HTTP 204") || !strings.Contains(stdout, "Authorization: [secret api-keys/crm-api-token]") {
		t.Errorf("executor jobs --attempts: status %d, output:\n%s", code, stdout)
	}
	if strings.Contains(stdout, crmToken) {
		t.Error("the attempt listing shows a secret value")
	}

	// The secret CLI works beside the running server, through the admin socket.
	code, stdout, _ = env.run("", "secret", "list", "-V", "api-keys")
	if code != 0 || !strings.Contains(stdout, "crm-api-key") {
		t.Errorf("secret list beside the server: status %d, stdout %q", code, stdout)
	}
}

func TestRunRejectsNoAuthOffLoopback(t *testing.T) {
	env := newCLIEnv(t)
	code, _, stderr := env.run("", "run", "--plugins", pluginDir, "--listen", "0.0.0.0:0", "--no-auth")
	if code != exitUsage {
		t.Errorf("exit status = %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr, "loopback") {
		t.Errorf("stderr = %q, want it to explain the loopback rule", stderr)
	}
}
