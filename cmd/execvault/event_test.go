package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/execvault/execvault/triggers"
)

// damagedEvent is the stored value that setAsideOne writes over an event.
var damagedEvent = []byte("\x02 a format this version does not read")

// setAsideOne stores events e1 to e3 in the data directory's event log,
// damages e2 (sequence number 2) and reads the log, which sets e2 aside.
// It returns the log and its database, still open.
func setAsideOne(t *testing.T, dataDir string) (*triggers.EventLog, *badger.DB) {
	t.Helper()
	db, err := openState(dataDir, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	events, err := triggers.OpenEventLog(t.Context(), db, triggers.EventLogConfig{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var batch []triggers.RecordEvent
	for _, id := range []string{"e1", "e2", "e3"} {
		batch = append(batch, triggers.RecordEvent{ID: id, EventType: triggers.EventTypeCreated, TypeName: "unused", NewRecord: json.RawMessage(`{}`)})
	}
	if _, err := events.Append(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	// The event log stores a pending event under "event/q/" and its 8-byte
	// big-endian sequence number.
	err = db.Update(func(txn *badger.Txn) error {
		return txn.Set(binary.BigEndian.AppendUint64([]byte("event/q/"), 2), damagedEvent)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.Pending(t.Context()); err != nil {
		t.Fatal(err)
	}
	return events, db
}

func TestEventAside(t *testing.T) {
	env := newCLIEnv(t)
	code, _, stderr := env.run("", "event", "aside")
	if code != exitError || !strings.Contains(stderr, "no event log in") {
		t.Errorf("event aside without a state database: exit %d, stderr %q; want 1 and a note", code, stderr)
	}

	_, db := setAsideOne(t, env.dataDir)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := env.run("", "event", "aside")
	if code != exitOK {
		t.Fatalf("event aside: exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "SEQ") || !strings.HasPrefix(lines[1], "2 ") ||
		!strings.Contains(lines[1], " e2 ") || !strings.Contains(lines[1], "format tag 0x02") {
		t.Errorf("event aside: stdout\n%s\nwant a header and event 2 (e2) with its error", stdout)
	}

	code, stdout, _ = env.run("", "event", "aside", "--json")
	var listed []triggers.SetAsideEvent
	if err := json.Unmarshal([]byte(stdout), &listed); code != exitOK || err != nil {
		t.Fatalf("event aside --json: exit %d, %v, stdout %q", code, err, stdout)
	}
	if len(listed) != 1 || listed[0].EventID != "e2" || !bytes.Equal(listed[0].Raw, damagedEvent) {
		t.Errorf("event aside --json = %+v, want e2 with its stored bytes", listed)
	}

	code, stdout, _ = env.run("", "event", "aside", "2")
	if code != exitOK || !strings.Contains(stdout, "Event 2 (id e2)") || !strings.Contains(stdout, fmt.Sprintf("Stored bytes: %d (", len(damagedEvent))) {
		t.Errorf("event aside 2: exit %d, stdout %q", code, stdout)
	}

	out := filepath.Join(t.TempDir(), "event-2.bin")
	code, _, stderr = env.run("", "event", "aside", "2", "-o", out)
	if code != exitOK {
		t.Fatalf("event aside 2 -o: exit %d, stderr %q", code, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, damagedEvent) {
		t.Errorf("written file %q (%v), want the stored bytes %q", got, err, damagedEvent)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("written file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}

	for _, tt := range []struct {
		args     []string
		code     int
		inStderr string
	}{
		{[]string{"9"}, exitError, "no event 9 is set aside"},
		{[]string{"two"}, exitUsage, `invalid SEQ "two"`},
		{[]string{"-o", out}, exitUsage, "-o needs SEQ"},
	} {
		code, _, stderr := env.run("", append([]string{"event", "aside"}, tt.args...)...)
		if code != tt.code || !strings.Contains(stderr, tt.inStderr) {
			t.Errorf("event aside %v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, tt.code, tt.inStderr)
		}
	}
}

// TestEventAsideThroughAdminSocket lists the set-aside events of a log
// that a running execvault holds, through its admin socket.
func TestEventAsideThroughAdminSocket(t *testing.T) {
	env := newCLIEnv(t)
	events, _ := setAsideOne(t, env.dataDir)
	ln, err := net.Listen("unix", filepath.Join(env.dataDir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(setAsideHandler(events))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	code, stdout, stderr := env.run("", "event", "aside", "--json")
	var listed []triggers.SetAsideEvent
	if err := json.Unmarshal([]byte(stdout), &listed); code != exitOK || err != nil {
		t.Fatalf("event aside --json: exit %d, %v, stderr %q", code, err, stderr)
	}
	if len(listed) != 1 || listed[0].Seq != 2 || !bytes.Equal(listed[0].Raw, damagedEvent) {
		t.Errorf("event aside --json = %+v, want event 2 with its stored bytes", listed)
	}
}

// TestRunReportsSetAsideEvents starts execvault run on a data directory
// whose event log holds a set-aside event: /healthz counts it, and the
// event command reads it from the running server.
func TestRunReportsSetAsideEvents(t *testing.T) {
	env := newCLIEnv(t)
	env.mustRun("", "secret", "vault", "create", "ops")
	_, db := setAsideOne(t, env.dataDir)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	recv := newReceiver(t)
	base, logs := env.startServerLogs(t, "--no-auth", "--url-override", "https://relay.example.com="+recv.URL,
		"--url-override", "https://crm.example.com="+recv.URL)
	warning := `level=WARN msg="stored events are set aside because they could not be decoded: 'execvault event aside' lists them, and sending an event again processes it" events_set_aside=1`
	running := regexp.MustCompile(`msg="execvault running".* events_set_aside=1`)
	if !strings.Contains(logs.String(), warning) || !running.MatchString(logs.String()) {
		t.Errorf("start-up log:\n%s\nwant the warning %s and events_set_aside=1 on the running line", logs.String(), warning)
	}

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\nevents set aside: 1\n" {
		t.Errorf("GET /healthz = %d %q, want 200 and one event set aside", resp.StatusCode, body)
	}

	code, stdout, stderr := env.run("", "event", "aside")
	if code != exitOK || !strings.Contains(stdout, " e2 ") {
		t.Errorf("event aside beside the server: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
