package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/execvault/execvault/secrets"
)

var updateSecretGolden = flag.Bool("secret-update", false, "rewrite the golden files of the secret commands")

var secretGoldenDir = filepath.Join("..", "..", "testdata", "secrets", "cli")

// secretCLI runs secret commands in process against one data directory
// and records a transcript for golden comparison.
type secretCLI struct {
	t          *testing.T
	root       string
	dataDir    string
	keyFile    string
	transcript strings.Builder
	// output collects every byte the commands wrote, for leak checks.
	output bytes.Buffer
}

func newSecretCLI(t *testing.T) *secretCLI {
	t.Helper()
	root := t.TempDir()
	t.Setenv("EXECVAULT_MASTER_KEY", "")
	t.Setenv("EXECVAULT_PASSPHRASE", "")
	t.Setenv("EXECVAULT_DATA_DIR", "")
	t.Setenv("EXECVAULT_KEY_FILE", "")

	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	oldNow := secretNow
	secretNow = func() time.Time { return now }
	t.Cleanup(func() { secretNow = oldNow })

	return &secretCLI{t: t, root: root, dataDir: filepath.Join(root, "data"), keyFile: filepath.Join(root, "config", "master.key")}
}

// run executes one command line and returns its exit status, stdout and
// stderr, adding all three to the transcript.
func (c *secretCLI) run(stdin string, args ...string) (int, string, string) {
	c.t.Helper()
	var stdout, stderr bytes.Buffer
	full := append([]string{"--data-dir", c.dataDir, "--key-file", c.keyFile}, args...)
	code := run(context.Background(), full, strings.NewReader(stdin), &stdout, &stderr)
	c.output.Write(stdout.Bytes())
	c.output.Write(stderr.Bytes())

	fmt.Fprintf(&c.transcript, "$ execvault %s\n", strings.Join(args, " "))
	if stdout.Len() > 0 {
		fmt.Fprintf(&c.transcript, "[stdout]\n%s", stdout.String())
	}
	if stderr.Len() > 0 {
		fmt.Fprintf(&c.transcript, "[stderr]\n%s", stderr.String())
	}
	fmt.Fprintf(&c.transcript, "[exit %d]\n\n", code)
	return code, stdout.String(), stderr.String()
}

func (c *secretCLI) mustRun(stdin string, args ...string) string {
	c.t.Helper()
	code, stdout, stderr := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("execvault %s: exit status %d, want 0; stderr: %s", strings.Join(args, " "), code, stderr)
	}
	return stdout
}

// checkGolden compares the transcript, with the temporary directory
// replaced by $TMP, to testdata/secrets/cli/NAME.golden.
func (c *secretCLI) checkGolden(name string) {
	c.t.Helper()
	got := strings.ReplaceAll(c.transcript.String(), c.root, "$TMP")
	path := filepath.Join(secretGoldenDir, name+".golden")
	if *updateSecretGolden {
		if err := os.MkdirAll(secretGoldenDir, 0o755); err != nil {
			c.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			c.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		c.t.Fatalf("read golden file: %v (run go test -run %s -secret-update to create it)", err, c.t.Name())
	}
	if got != string(want) {
		c.t.Errorf("transcript differs from %s\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func TestSecretCLIPlatformCommands(t *testing.T) {
	c := newSecretCLI(t)
	valueFile := filepath.Join(c.root, "value.txt")
	if err := os.WriteFile(valueFile, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	c.run("", "secret", "vault", "create", "api-keys")
	c.run("", "secret", "vault", "create", "--name", "database")
	c.run("", "secret", "vault", "create", "api-keys")
	c.run("", "secret", "vault", "list")
	c.run("", "secret", "vault", "list", "--json")
	c.run("", "secret", "create", "--vault-name", "api-keys", "--name", "stripe-secret-key", "--value", "sk_live_xxxxx")
	c.run("piped-value\n", "secret", "create", "-V", "api-keys", "-n", "API_KEY", "--value-stdin")
	c.run("", "secret", "create", "-V", "api-keys", "-n", "file.key", "--value-file", valueFile)
	c.run("", "secret", "create", "-V", "api-keys", "-n", "API_KEY", "-v", "again")
	c.run("", "secret", "create", "-V", "missing", "-n", "API_KEY", "-v", "x")
	c.run("", "secret", "create", "-V", "api-keys", "-n", "bad/name", "-v", "x")
	c.run("", "secret", "create", "-V", "api-keys", "-n", "no-value")
	c.run("x", "secret", "create", "-V", "api-keys", "-n", "two", "-v", "x", "--value-stdin")
	c.run("", "secret", "update", "-V", "api-keys", "-n", "API_KEY", "-v", "second", "--if-version", "1")
	c.run("", "secret", "update", "-V", "api-keys", "-n", "API_KEY", "-v", "third", "--if-version", "1")
	c.run("", "secret", "update", "-V", "api-keys", "-n", "nope", "-v", "x")
	c.run("", "secret", "list", "-V", "api-keys")
	c.run("", "secret", "list", "-V", "api-keys", "--json")
	c.run("", "secret", "list", "-V", "missing")
	c.run("", "secret", "get", "-V", "api-keys", "-n", "API_KEY")
	c.run("", "secret", "get", "-V", "api-keys", "-n", "API_KEY", "--reveal")
	c.run("", "secret", "get", "-V", "api-keys", "-n", "API_KEY", "--reveal", "--version", "1", "--json")
	c.run("", "secret", "get", "-V", "api-keys", "-n", "file.key", "--reveal")
	c.run("", "secret", "versions", "-V", "api-keys", "-n", "API_KEY")
	c.run("", "secret", "rollback", "-V", "api-keys", "-n", "API_KEY", "--to", "1")
	c.run("", "secret", "rollback", "-V", "api-keys", "-n", "API_KEY", "--to", "9")
	c.run("", "secret", "delete", "-V", "api-keys", "-n", "API_KEY")
	c.run("", "secret", "delete", "-V", "api-keys", "-n", "API_KEY", "--yes")
	c.run("", "secret", "delete", "-V", "api-keys", "-n", "API_KEY", "--yes")
	c.run("", "secret", "vault", "delete", "database")
	c.run("", "secret", "vault", "delete", "database", "--yes")
	c.run("", "secret", "vault", "delete", "database", "--yes")
	c.run("", "secret", "audit", "--vault-name", "database")
	c.checkGolden("platform")
}

func TestSecretCLIExitCodes(t *testing.T) {
	c := newSecretCLI(t)
	c.mustRun("", "secret", "vault", "create", "v")
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"ok", []string{"secret", "vault", "list"}, exitOK},
		{"platform error", []string{"secret", "vault", "create", "v"}, exitError},
		{"missing required flag", []string{"secret", "list"}, exitUsage},
		{"unknown flag", []string{"secret", "list", "-V", "v", "--bogus"}, exitUsage},
		{"delete without terminal", []string{"secret", "vault", "delete", "v"}, exitUsage},
		{"two names", []string{"secret", "vault", "create", "a", "--name", "b"}, exitUsage},
		{"bad key id", []string{"secret", "key", "retire", "x"}, exitUsage},
		{"negative audit limit", []string{"secret", "audit", "--limit", "-1"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, stderr := c.run("", tt.args...); code != tt.code {
				t.Errorf("exit status = %d, want %d; stderr: %s", code, tt.code, stderr)
			}
		})
	}
}

// TestSecretNotFoundSuggestion checks that a misspelt vault or secret
// name gets the platform's not-found message and, on the next line, the
// nearest name that exists, directly and through the admin socket.
func TestSecretNotFoundSuggestion(t *testing.T) {
	c := newSecretCLI(t)
	c.mustRun("", "secret", "vault", "create", "api-keys")
	c.mustRun("", "secret", "vault", "create", "database")
	c.mustRun("crm-token-value", "secret", "create", "-V", "api-keys", "-n", "crm-api-token", "--value-stdin")

	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"vault of secret list", []string{"secret", "list", "-V", "api-key"},
			"Vault \"api-key\" not found.\nDid you mean \"api-keys\"?\n"},
		{"vault of secret create", []string{"secret", "create", "-V", "databse", "-n", "x", "-v", "x"},
			"Vault \"databse\" not found.\nDid you mean \"database\"?\n"},
		{"secret of secret delete", []string{"secret", "delete", "-V", "api-keys", "-n", "crm-api-tokn", "--yes"},
			"Secret \"crm-api-tokn\" not found in vault \"api-keys\".\nDid you mean \"crm-api-token\"?\n"},
		{"secret by its words", []string{"secret", "get", "-V", "api-keys", "-n", "crm-token"},
			"Secret \"crm-token\" not found in vault \"api-keys\".\nDid you mean \"crm-api-token\"?\n"},
		{"vault of secret audit", []string{"secret", "audit", "-V", "api-key"},
			"Vault \"api-key\" not found.\nDid you mean \"api-keys\"?\n"},
		{"nothing near", []string{"secret", "list", "-V", "zzz"},
			"Vault \"zzz\" not found.\n"},
	}
	check := func(t *testing.T, how string) {
		for _, tt := range tests {
			code, stdout, stderr := c.run("", tt.args...)
			if code != exitError || stdout != "" || stderr != tt.stderr {
				t.Errorf("%s, %s: exit %d, stdout %q, stderr %q; want %d, nothing and %q", how, tt.name, code, stdout, stderr, exitError, tt.stderr)
			}
		}
	}
	check(t, "store")
	serveAdminSocket(t, c)
	check(t, "admin socket")
}

func TestSecretCLIKeys(t *testing.T) {
	c := newSecretCLI(t)
	c.mustRun("", "secret", "vault", "create", "v")
	c.mustRun("", "secret", "create", "-V", "v", "-n", "k", "-v", "value")
	c.run("", "secret", "key", "status")
	c.run("", "secret", "key", "rotate")
	c.run("", "secret", "key", "status", "--json")
	c.run("", "secret", "key", "retire", "2")
	c.run("", "secret", "key", "retire", "1")
	newKey := filepath.Join(c.root, "config", "new.key")
	c.run("", "secret", "key", "change-master", "--new-key-file", newKey)
	c.run("", "secret", "list", "-V", "v")
	c.keyFile = newKey
	c.run("", "secret", "get", "-V", "v", "-n", "k", "--reveal")

	other, err := secrets.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	c.run(other.Base64()+"\n", "secret", "key", "change-master")
	c.run("not base64\n", "secret", "key", "change-master")
	t.Setenv("EXECVAULT_MASTER_KEY", other.Base64())
	c.run("", "secret", "get", "-V", "v", "-n", "k", "--reveal")
	c.checkGolden("keys")
}

// TestSecretCLIErrorsSayWhatToDo checks errors that name the next step
// in the user's terms: the missing directory of an export, not its
// temporary file, and the whole command that lists the data keys.
func TestSecretCLIErrorsSayWhatToDo(t *testing.T) {
	c := newSecretCLI(t)
	c.mustRun("", "secret", "vault", "create", "v")
	missing := filepath.Join(c.root, "missing")

	_, _, stderr := c.run("", "secret", "export", "-o", filepath.Join(missing, "x.archive"))
	if want := "directory " + missing + " does not exist"; !strings.Contains(stderr, want) || strings.Contains(stderr, ".tmp") {
		t.Errorf("export into a missing directory: stderr %q, want %q and no temporary file name", stderr, want)
	}
	_, _, stderr = c.run("", "secret", "key", "retire", "7")
	if want := "'execvault secret key status'"; !strings.Contains(stderr, want) {
		t.Errorf("retire an unknown data key: stderr %q, want %q", stderr, want)
	}
}

func TestSecretCLIExportImport(t *testing.T) {
	c := newSecretCLI(t)
	c.mustRun("", "secret", "vault", "create", "v")
	c.mustRun("exported value", "secret", "create", "-V", "v", "-n", "k", "--value-stdin")
	archive := filepath.Join(c.root, "backup.archive")
	c.run("", "secret", "export")
	c.run("", "secret", "export", "-o", archive)
	info, err := os.Stat(archive)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("archive mode = %v, want 0600", info.Mode().Perm())
	}

	c.dataDir = filepath.Join(c.root, "restored")
	c.run("", "secret", "import", archive)
	c.run("", "secret", "get", "-V", "v", "-n", "k", "--reveal")
	c.run("", "secret", "import", archive)

	c.dataDir = filepath.Join(c.root, "other-key")
	c.keyFile = filepath.Join(c.root, "config", "other.key")
	other, err := secrets.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := secrets.WriteKeyFile(c.keyFile, other); err != nil {
		t.Fatal(err)
	}
	c.run("", "secret", "import", archive)
	c.run("", "secret", "vault", "list")
	c.checkGolden("export-import")
}

// fakeTerminal makes the CLI treat stdin as a terminal and returns what
// readPassword will return.
func fakeTerminal(t *testing.T, password string) {
	t.Helper()
	oldIs, oldRead := isTerminal, readPassword
	isTerminal = func(io.Reader) bool { return true }
	readPassword = func(io.Reader) ([]byte, error) { return []byte(password), nil }
	t.Cleanup(func() { isTerminal, readPassword = oldIs, oldRead })
}

func TestSecretCLITerminal(t *testing.T) {
	c := newSecretCLI(t)
	fakeTerminal(t, "typed-secret")
	c.run("", "secret", "vault", "create", "v")
	c.run("", "secret", "create", "-V", "v", "-n", "prompted")
	c.run("", "secret", "create", "-V", "v", "-n", "literal", "-v", "@not-a-file")
	c.run("", "secret", "get", "-V", "v", "-n", "prompted", "--reveal")
	c.run("", "secret", "get", "-V", "v", "-n", "literal", "--reveal")
	c.run("wrong\n", "secret", "delete", "-V", "v", "-n", "literal")
	c.run("literal\n", "secret", "delete", "-V", "v", "-n", "literal")
	c.run("v\n", "secret", "vault", "delete", "v")
	c.checkGolden("terminal")
}

// serveAdminSocket opens c's store with c's key and serves it on the
// admin socket, as a running execvault does, until the test ends. It
// returns the store and the number of requests served.
func serveAdminSocket(t *testing.T, c *secretCLI) (*secrets.Store, *atomic.Int64) {
	t.Helper()
	cfg := secrets.DefaultConfig(c.dataDir)
	cfg.KeyFile = c.keyFile
	cfg.Logger = slog.New(slog.DiscardHandler)
	store, err := secrets.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ln, err := net.Listen("unix", filepath.Join(c.dataDir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	requests := new(atomic.Int64)
	admin := secrets.NewAdminHandler(store, slog.New(slog.DiscardHandler))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		admin.ServeHTTP(w, r)
	}))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return store, requests
}

func TestSecretCLIUsesAdminSocket(t *testing.T) {
	c := newSecretCLI(t)
	c.mustRun("", "secret", "vault", "create", "v")

	// A running execvault holds the store, so the CLI cannot open it and
	// must go through the socket.
	store, _ := serveAdminSocket(t, c)

	c.mustRun("over-the-socket", "secret", "create", "-V", "v", "-n", "k", "--value-stdin")
	if got := strings.TrimSpace(c.mustRun("", "secret", "get", "-V", "v", "-n", "k", "--reveal")); got != "over-the-socket" {
		t.Errorf("value revealed over the socket has %d bytes, want %d", len(got), len("over-the-socket"))
	}
	if code, _, stderr := c.run("", "secret", "vault", "create", "v"); code != exitError || stderr != "Vault \"v\" already exists.\n" {
		t.Errorf("duplicate vault over the socket: exit %d, stderr %q; want 1 and the platform text", code, stderr)
	}
	entries, err := store.AuditLog(context.Background(), secrets.AuditFilter{Vault: "v", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Action != secrets.ActionReveal || entries[0].Actor != "cli" {
		t.Errorf("audit entries = %+v, want the reveal by cli, then the refused create", entries)
	}
}

// TestSecretCLIAdminSocketChecksKey runs the CLI with a key other than the
// store's while a running execvault serves the socket: it must fail as it
// does without the socket, before any request. Without a key of its own,
// the CLI still goes through the socket.
func TestSecretCLIAdminSocketChecksKey(t *testing.T) {
	c := newSecretCLI(t)
	c.mustRun("", "secret", "vault", "create", "v")
	_, requests := serveAdminSocket(t, c)

	other, err := secrets.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	wrong := &secretCLI{t: t, root: c.root, dataDir: c.dataDir, keyFile: filepath.Join(c.root, "other.key")}
	if err := secrets.WriteKeyFile(wrong.keyFile, other); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := wrong.run("", "secret", "vault", "list")
	if code != exitError {
		t.Errorf("vault list with another key: exit %d, want %d", code, exitError)
	}
	if !strings.Contains(stderr, "wrong master key") {
		t.Errorf("vault list with another key: stderr %q, want it to name the wrong master key", stderr)
	}
	if !strings.Contains(stderr, "--key-file") {
		t.Errorf("vault list with another key: stderr %q, want advice naming --key-file", stderr)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("requests on the socket with another key = %d, want 0", n)
	}

	keyless := &secretCLI{t: t, root: c.root, dataDir: c.dataDir, keyFile: filepath.Join(c.root, "missing.key")}
	code, stdout, stderr := keyless.run("", "secret", "vault", "list")
	if code != exitOK {
		t.Errorf("vault list without a key: exit %d, stderr %q; want %d", code, stderr, exitOK)
	}
	if !strings.Contains(stdout, "v ") {
		t.Errorf("vault list without a key: stdout %q, want vault v listed", stdout)
	}
	if n := requests.Load(); n == 0 {
		t.Error("vault list without a key sent no request on the socket")
	}
}

const secretCLICanary = "cli-canary-5e0c1d/+=?&\"9f44a2b7"

// secretCLICanaryForms returns the canary and encodings of it.
func secretCLICanaryForms() map[string]string {
	return map[string]string{
		"raw":        secretCLICanary,
		"core":       "9f44a2b7",
		"base64":     base64.StdEncoding.EncodeToString([]byte(secretCLICanary)),
		"base64 url": base64.URLEncoding.EncodeToString([]byte(secretCLICanary)),
	}
}

func assertNoCLICanary(t *testing.T, where string, data []byte) {
	t.Helper()
	for form, needle := range secretCLICanaryForms() {
		if bytes.Contains(data, []byte(needle)) {
			t.Errorf("%s contains the canary (%s form)", where, form)
		}
	}
}

func TestSecretCLICanary(t *testing.T) {
	c := newSecretCLI(t)
	c.mustRun("", "secret", "vault", "create", "v")
	c.mustRun(secretCLICanary+"\n", "secret", "create", "-V", "v", "-n", "k", "--value-stdin")
	c.run(secretCLICanary+"\n", "secret", "create", "-V", "v", "-n", "k", "--value-stdin")
	c.run(secretCLICanary+"\n", "secret", "create", "-V", "missing", "-n", "k", "--value-stdin")
	c.mustRun("", "secret", "get", "-V", "v", "-n", "k")
	c.mustRun("", "secret", "list", "-V", "v", "--json")
	c.mustRun("", "secret", "versions", "-V", "v", "-n", "k", "--json")
	c.mustRun("", "secret", "audit", "--json")
	c.mustRun("", "secret", "key", "rotate")
	c.mustRun("", "secret", "export", "-o", filepath.Join(c.root, "backup.archive"))
	for _, help := range [][]string{{"secret", "--help"}, {"secret", "create", "--help"}, {"secret", "get", "--help"}} {
		c.run("", help...)
	}
	assertNoCLICanary(t, "command output", c.output.Bytes())

	if got := strings.TrimSuffix(c.mustRun("", "secret", "get", "-V", "v", "-n", "k", "--reveal"), "\n"); got != secretCLICanary {
		t.Errorf("revealed value has %d bytes, want the %d bytes stored", len(got), len(secretCLICanary))
	}

	err := filepath.WalkDir(c.root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		assertNoCLICanary(t, path, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

const secretChildEnv = "EXECVAULT_SECRET_CLI_CHILD"

// TestSecretCLIStdinChild is the child of TestSecretCLIValueStdinArgv: it
// runs one command line given in the environment.
func TestSecretCLIStdinChild(t *testing.T) {
	args := os.Getenv(secretChildEnv)
	if args == "" {
		t.Skip("runs only as the child of TestSecretCLIValueStdinArgv")
	}
	os.Exit(run(context.Background(), strings.Split(args, "\n"), os.Stdin, os.Stdout, os.Stderr))
}

func TestSecretCLIValueStdinArgv(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	c := newSecretCLI(t)
	c.mustRun("", "secret", "vault", "create", "v")

	args := []string{"--data-dir", c.dataDir, "--key-file", c.keyFile, "secret", "create", "-V", "v", "-n", "k", "--value-stdin"}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecretCLIStdinChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), secretChildEnv+"="+strings.Join(args, "\n"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// The child is alive until it reads the value, so its argv and
	// environment can be read while it waits.
	for _, file := range []string{"cmdline", "environ"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", cmd.Process.Pid, file))
		if err != nil {
			t.Fatalf("read %s of the child: %v", file, err)
		}
		assertNoCLICanary(t, "child "+file, data)
	}
	if _, err := io.WriteString(stdin, secretCLICanary+"\n"); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			t.Fatalf("child exit status %d: %s", exitErr.ExitCode(), output.String())
		}
		t.Fatal(err)
	}
	assertNoCLICanary(t, "child output", output.Bytes())
	if got := strings.TrimSuffix(c.mustRun("", "secret", "get", "-V", "v", "-n", "k", "--reveal"), "\n"); got != secretCLICanary {
		t.Errorf("value stored by the child has %d bytes, want %d", len(got), len(secretCLICanary))
	}
}

func TestSecretCLIStaleSocketOpensStore(t *testing.T) {
	c := newSecretCLI(t)
	c.mustRun("", "secret", "vault", "create", "v")

	// A runtime that crashed leaves its socket file behind, with nothing
	// listening on it.
	ln, err := net.Listen("unix", filepath.Join(c.dataDir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()

	if code, stdout, stderr := c.run("", "secret", "vault", "list"); code != exitOK || !strings.Contains(stdout, "v ") {
		t.Errorf("vault list beside a stale socket: exit %d, stdout %q, stderr %q; want exit 0 listing v", code, stdout, stderr)
	}
}

func TestSecretShortFlags(t *testing.T) {
	env := newCLIEnv(t)
	env.mustRun("", "secret", "vault", "create", "short")
	env.mustRun("value-canary-short", "secret", "create", "-V", "short", "-n", "token", "--value-stdin")
	for _, args := range [][]string{
		{"secret", "vault", "list", "-j"},
		{"secret", "list", "-V", "short", "-j"},
	} {
		code, stdout, stderr := env.run("", args...)
		if code != 0 || !strings.HasPrefix(strings.TrimSpace(stdout), "[") {
			t.Errorf("execvault %s: exit status %d, stdout %q, stderr %q; want a JSON array", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	env.mustRun("", "secret", "delete", "-V", "short", "-n", "token", "-y")
	env.mustRun("", "secret", "vault", "delete", "short", "-y")
}

// TestSecretCLIStrayArgumentsHideValue passes a value where no argument
// belongs, as an unquoted value with spaces or a mistyped flag does. The
// usage error must not repeat it.
func TestSecretCLIStrayArgumentsHideValue(t *testing.T) {
	c := newSecretCLI(t)
	c.mustRun("", "secret", "vault", "create", "v")
	c.mustRun("old", "secret", "create", "-V", "v", "-n", "k", "--value-stdin")

	tests := []struct {
		name string
		args []string
	}{
		{"create unquoted value", []string{"secret", "create", "-V", "v", "-n", "new", "--value", "first", secretCLICanary}},
		{"create single-dash value", []string{"secret", "create", "-V", "v", "-n", "new", "-value", secretCLICanary}},
		{"create without value flag", []string{"secret", "create", "-V", "v", "-n", "new", secretCLICanary}},
		{"update without value flag", []string{"secret", "update", "-V", "v", "-n", "k", secretCLICanary}},
		{"change-master key as argument", []string{"secret", "key", "change-master", secretCLICanary}},
		{"unknown shorthand before value", []string{"secret", "create", "-V", "v", "-n", "new", "-z" + secretCLICanary}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := c.run("", tt.args...)
			if code != exitUsage {
				t.Errorf("exit status = %d, want %d", code, exitUsage)
			}
			assertNoCLICanary(t, "stdout", []byte(stdout))
			assertNoCLICanary(t, "stderr", []byte(stderr))
			if !strings.Contains(stderr, "--help") {
				t.Errorf("stderr does not point to --help")
			}
		})
	}
	if code, _, _ := c.run("", "secret", "get", "-V", "v", "-n", "new"); code != exitError {
		t.Errorf("get after the rejected creates: exit %d, want %d (secret not found)", code, exitError)
	}
}

func TestSecretCLIRevealJSONBinaryValue(t *testing.T) {
	c := newSecretCLI(t)
	binary := []byte{0xff, 0xfe, 0x00, 'o', 'k'}
	valueFile := filepath.Join(c.root, "value.bin")
	if err := os.WriteFile(valueFile, binary, 0o600); err != nil {
		t.Fatal(err)
	}
	c.mustRun("", "secret", "vault", "create", "v")
	c.mustRun("", "secret", "create", "-V", "v", "-n", "der", "--value-file", valueFile)

	code, stdout, stderr := c.run("", "secret", "get", "-V", "v", "-n", "der", "--reveal", "--json")
	if code != exitError {
		t.Errorf("get --reveal --json of a binary value: exit %d, want %d", code, exitError)
	}
	if stdout != "" {
		t.Errorf("get --reveal --json of a binary value: stdout has %d bytes, want none", len(stdout))
	}
	if !strings.Contains(stderr, `"der"`) || !strings.Contains(stderr, "without --json") {
		t.Errorf("get --reveal --json of a binary value: stderr %q, want the secret named and advice to drop --json", stderr)
	}

	if got := c.mustRun("", "secret", "get", "-V", "v", "-n", "der", "--reveal"); got != string(binary)+"\n" {
		t.Errorf("get --reveal of a binary value printed %d bytes, want the %d stored and a newline", len(got), len(binary))
	}
}

func TestSecretCLIGetVersionNeedsReveal(t *testing.T) {
	c := newSecretCLI(t)
	c.mustRun("", "secret", "vault", "create", "v")
	c.mustRun("", "secret", "create", "-V", "v", "-n", "k", "-v", "one")
	c.mustRun("", "secret", "update", "-V", "v", "-n", "k", "-v", "two")

	code, stdout, stderr := c.run("", "secret", "get", "-V", "v", "-n", "k", "--version", "1")
	if code != exitUsage {
		t.Errorf("get --version without --reveal: exit %d, want %d", code, exitUsage)
	}
	if stdout != "" {
		t.Errorf("get --version without --reveal: stdout %q, want none", stdout)
	}
	if !strings.Contains(stderr, "--reveal") {
		t.Errorf("get --version without --reveal: stderr %q, want it to name --reveal", stderr)
	}
}

func TestSecretCLIChangeMasterToSameKey(t *testing.T) {
	c := newSecretCLI(t)
	c.mustRun("", "secret", "vault", "create", "v")
	current, err := os.ReadFile(c.keyFile)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"key file in use", "", []string{"secret", "key", "change-master", "--new-key-file", c.keyFile}},
		{"same key on stdin", string(current), []string{"secret", "key", "change-master"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := c.run(tt.stdin, tt.args...)
			if code != exitError {
				t.Errorf("exit status = %d, want %d", code, exitError)
			}
			if strings.Contains(stderr, "Master key changed") || !strings.Contains(stderr, "current") {
				t.Errorf("stderr %q, want an error saying the key is the current one", stderr)
			}
		})
	}
	// Both attempts are audited as failures; none as a re-wrap.
	var entries []secrets.AuditEntry
	if err := json.Unmarshal([]byte(c.mustRun("", "secret", "audit", "--json")), &entries); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, e := range entries {
		switch {
		case e.Action == secrets.ActionRewrap && e.Outcome == secrets.OutcomeOK:
			t.Errorf("audit log records a re-wrap after change-master to the same key: %+v", e)
		case e.Action == secrets.ActionRewrap:
			failed++
		}
	}
	if failed != len(tests) {
		t.Errorf("failed re-wraps in the audit log = %d, want %d", failed, len(tests))
	}
}

// TestSecretCLIImportWithoutKeyFile imports on a new machine where the
// key file has not been copied yet, then copies it and imports again.
func TestSecretCLIImportWithoutKeyFile(t *testing.T) {
	c := newSecretCLI(t)
	c.mustRun("", "secret", "vault", "create", "v")
	c.mustRun("exported value", "secret", "create", "-V", "v", "-n", "k", "--value-stdin")
	archive := filepath.Join(c.root, "backup.archive")
	c.mustRun("", "secret", "export", "-o", archive)
	exportKey, err := os.ReadFile(c.keyFile)
	if err != nil {
		t.Fatal(err)
	}

	c.dataDir = filepath.Join(c.root, "new-machine", "data")
	c.keyFile = filepath.Join(c.root, "new-machine", "config", "master.key")
	code, _, stderr := c.run("", "secret", "import", archive)
	if code != exitError {
		t.Errorf("import without the key file: exit %d, want %d", code, exitError)
	}
	if !strings.Contains(stderr, c.keyFile) {
		t.Errorf("import without the key file: stderr %q, want the missing key file named", stderr)
	}
	for _, path := range []string{c.keyFile, c.dataDir} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("import without the key file left %s behind (stat error %v)", path, err)
		}
	}

	if err := os.MkdirAll(filepath.Dir(c.keyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, exportKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := c.run("", "secret", "import", archive); code != exitOK {
		t.Errorf("import after copying the key file: exit %d, stderr %q; want %d", code, stderr, exitOK)
	}
}

// TestSecretCLIPassphraseOverridesKeyFile shows that EXECVAULT_PASSPHRASE
// wins over --key-file, as --help states.
func TestSecretCLIPassphraseOverridesKeyFile(t *testing.T) {
	c := newSecretCLI(t)
	t.Setenv("EXECVAULT_PASSPHRASE", "a long passphrase")
	c.mustRun("", "secret", "vault", "create", "v")
	if _, err := os.Stat(c.keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--key-file %s was created although the passphrase was used (stat error %v)", c.keyFile, err)
	}

	_, help, _ := c.run("", "secret", "--help")
	if !strings.Contains(help, "ignored when $EXECVAULT_MASTER_KEY or $EXECVAULT_PASSPHRASE is set") {
		t.Errorf("--help does not say that the passphrase overrides --key-file:\n%s", help)
	}
}

// TestCommandsNeedExistingStore checks that only vault create and import
// make a store in a new data directory. Every other command fails and
// leaves neither the data directory nor a key file behind, so that a
// mistyped --data-dir cannot become a new store bound to a new key.
func TestCommandsNeedExistingStore(t *testing.T) {
	c := newSecretCLI(t)
	commands := [][]string{
		{"secret", "vault", "list"},
		{"secret", "list", "-V", "api-keys"},
		{"secret", "get", "-V", "api-keys", "-n", "token"},
		{"secret", "create", "-V", "api-keys", "-n", "token", "--value-stdin"},
		{"secret", "audit"},
		{"secret", "key", "status"},
	}
	for _, args := range commands {
		code, stdout, stderr := c.run("missing-store-canary-5e1d", args...)
		if code != exitError {
			t.Errorf("%s: exit status %d, want %d", strings.Join(args, " "), code, exitError)
		}
		if stdout != "" {
			t.Errorf("%s: stdout %q, want nothing", strings.Join(args, " "), stdout)
		}
		for _, want := range []string{"no secrets store in " + c.dataDir, "secret vault create NAME", "--data-dir"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr %q, want it to contain %q", strings.Join(args, " "), stderr, want)
			}
		}
		if strings.Contains(stderr, "missing-store-canary-5e1d") {
			t.Errorf("%s: stderr shows the value read from stdin", strings.Join(args, " "))
		}
		for _, path := range []string{c.dataDir, c.keyFile} {
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("%s: %s exists afterwards (stat error %v)", strings.Join(args, " "), path, err)
			}
		}
	}

	if code, _, stderr := c.run("", "secret", "vault", "create", "api-keys"); code != exitOK || !strings.Contains(stderr, "Created master key file") {
		t.Fatalf("vault create in a new data directory: exit status %d, stderr %q; want the store and key created", code, stderr)
	}
	if code, stdout, _ := c.run("", "secret", "vault", "list"); code != exitOK || !strings.Contains(stdout, "api-keys") {
		t.Errorf("vault list after create: exit status %d, stdout %q; want api-keys", code, stdout)
	}
}
