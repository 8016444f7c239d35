package runtime

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execvault/execvault/plugins"
)

const testdataPlugins = "../testdata/plugins"

// testCacheDir is shared by the tests of this package so that modules are
// compiled once per machine, not once per test.
var testCacheDir = filepath.Join(os.TempDir(), "execvault-runtime-test-cache")

// copyPlugins copies the named files of testdata/plugins into a new plugin
// directory. A name may be a path relative to testdata/plugins; the copy
// keeps only its last element.
func copyPlugins(t testing.TB, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(testdataPlugins, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(n)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.PluginDir = dir
	cfg.CacheDir = testCacheDir
	cfg.Limits.Timeout = 300 * time.Millisecond
	cfg.Limits.MemoryPages = 64
	cfg.Env = []byte(`{"url":"http://127.0.0.1:9/echo"}`)
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

func newTestRuntime(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	rt, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

const echoArgs = `{"workspaceId":"ws","appNamespace":"app","typeName":"order","newRecord":{"id":"o-1"},"oldRecord":null,"env":{"url":"http://127.0.0.1:9/echo"},"event":"created","rawEvent":"tailordb.type_record.created"}`

// fireEcho checks that the well-behaved echo guest still works.
func fireEcho(t *testing.T, rt *Runtime) {
	t.Helper()
	exec, err := rt.Executor("test-echo")
	if err != nil {
		t.Fatal(err)
	}
	out, err := rt.Fire(context.Background(), exec, []byte(echoArgs))
	if err != nil {
		t.Fatalf("echo after a hostile firing: %v", err)
	}
	if !out.Fired || string(out.Body) != echoArgs || out.URL != "http://127.0.0.1:9/echo" {
		t.Fatalf("echo outcome = %+v, want fired with the arguments as body", out)
	}
}

func TestHostileGuestFailsOnlyItsFiring(t *testing.T) {
	tests := []struct {
		file     string
		executor string
		limit    string // "" for a guest error
		message  string
	}{
		{"loop.wasm", "test-loop", "timeout", "ran longer than 300ms"},
		// Calls without loops: stopped by the check at function entry.
		{"../bench/recursion.wasm", "test-recursion", "timeout", "ran longer than 300ms"},
		{"trap.wasm", "test-trap", "", "unreachable"},
		{"membomb.wasm", "test-membomb", "memory", "beyond 64 pages"},
		{"hugeoutput.wasm", "test-hugeoutput", "output", "67108864 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.executor, func(t *testing.T) {
			rt := newTestRuntime(t, testConfig(copyPlugins(t, tt.file, "echo.wasm")))
			exec, err := rt.Executor(tt.executor)
			if err != nil {
				t.Fatal(err)
			}

			// Twice, so that the replacement instance is exercised too.
			for i := 0; i < 2; i++ {
				start := time.Now()
				_, err = rt.Fire(context.Background(), exec, []byte(echoArgs))
				if err == nil {
					t.Fatal("Fire returned no error")
				}
				if elapsed := time.Since(start); elapsed > 5*time.Second {
					t.Errorf("Fire took %s, want it stopped promptly", elapsed)
				}
				if !strings.Contains(err.Error(), tt.executor) || !strings.Contains(err.Error(), tt.message) {
					t.Errorf("error = %q, want it to name %q and contain %q", err, tt.executor, tt.message)
				}
				var lim *LimitError
				if tt.limit != "" {
					if !errors.As(err, &lim) || lim.Limit != tt.limit {
						t.Errorf("error = %v, want a %s LimitError", err, tt.limit)
					}
				} else if !errors.Is(err, ErrGuest) {
					t.Errorf("error = %v, want ErrGuest", err)
				}
			}
			fireEcho(t, rt)
		})
	}
}

func TestInvalidPluginRejectedAtLoad(t *testing.T) {
	tests := []struct {
		file    string
		message string
	}{
		{"notwasm.wasm", "not a WebAssembly module"},
		{"missing-export.wasm", `missing export "execvault_fire"`},
		{"abi-v99.wasm", "unsupported plugin ABI version 99: this build supports 1"},
		{"bad-manifest-name.wasm", `invalid executor name "Bad_Name"`},
		{"bad-manifest-trigger.wasm", `unknown trigger kind "cron"`},
		{"bad-manifest-operation.wasm", `unknown operation kind "graphql"`},
		{"bad-manifest-secret.wasm", "malformed secret reference"},
		{"bad-manifest-duplicate.wasm", `duplicate executor name "test-duplicate"`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := copyPlugins(t, tt.file, "echo.wasm")
			_, err := New(context.Background(), testConfig(dir))
			if err == nil {
				t.Fatal("New returned no error")
			}
			if !errors.Is(err, ErrInvalidPlugin) {
				t.Errorf("error = %v, want ErrInvalidPlugin", err)
			}
			if !strings.Contains(err.Error(), tt.file) || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error = %q, want it to name %s and contain %q", err, tt.file, tt.message)
			}
		})
	}
}

func TestReloadKeepsGoodPluginsBesideBadOne(t *testing.T) {
	dir := copyPlugins(t, "echo.wasm")
	rt := newTestRuntime(t, testConfig(dir))

	data, _ := os.ReadFile(filepath.Join(testdataPlugins, "abi-v99.wasm"))
	if err := os.WriteFile(filepath.Join(dir, "abi-v99.wasm"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	err := rt.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "abi-v99.wasm") {
		t.Errorf("Reload error = %v, want one naming abi-v99.wasm", err)
	}
	fireEcho(t, rt)
}

func TestReloadKeepsOldVersionWhenFileBreaks(t *testing.T) {
	dir := copyPlugins(t, "echo.wasm")
	rt := newTestRuntime(t, testConfig(dir))

	if err := os.WriteFile(filepath.Join(dir, "echo.wasm"), []byte("not wasm any more"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rt.Reload(context.Background()); err == nil {
		t.Error("Reload of a broken file returned no error")
	}
	fireEcho(t, rt)
}

// fakeSecrets is a SecretReader over a map that records denials.
type fakeSecrets struct {
	mu     sync.Mutex
	values map[plugins.SecretRef]string
	denied []string
}

func (f *fakeSecrets) ReadSecret(_ context.Context, ref plugins.SecretRef, _ string) ([]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.values[ref]
	return []byte(v), ok, nil
}

func (f *fakeSecrets) RecordDenied(_ context.Context, ref plugins.SecretRef, actor string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.denied = append(f.denied, actor+" "+ref.String())
}

func TestUndeclaredSecretDeniedAndRecorded(t *testing.T) {
	sec := &fakeSecrets{values: map[plugins.SecretRef]string{
		{Vault: "api-keys", Key: "declared"}:   "declared-canary-value",
		{Vault: "api-keys", Key: "undeclared"}: "undeclared-canary-value",
	}}
	cfg := testConfig(copyPlugins(t, "undeclared-secret.wasm"))
	cfg.Secrets = sec
	rt := newTestRuntime(t, cfg)
	exec, err := rt.Executor("test-undeclared-secret")
	if err != nil {
		t.Fatal(err)
	}

	out, err := rt.Fire(context.Background(), exec, []byte(echoArgs))
	if err != nil {
		t.Fatalf("Fire: %v", err)
	}
	if strings.Contains(string(out.Body), "undeclared-canary-value") {
		t.Error("the guest received the value of an undeclared secret")
	}
	if !strings.Contains(string(out.Body), `"code":-1`) {
		t.Errorf("body = %s, want the guest to report code -1 (denied)", out.Body)
	}
	if len(sec.denied) != 1 || sec.denied[0] != "executor:test-undeclared-secret api-keys/undeclared" {
		t.Errorf("denied reads = %q, want one for api-keys/undeclared", sec.denied)
	}
}

func TestConcurrentFiringsOnOnePlugin(t *testing.T) {
	cfg := testConfig(copyPlugins(t, "echo.wasm"))
	cfg.PoolSize = 4
	cfg.Limits.Timeout = 5 * time.Second
	rt := newTestRuntime(t, cfg)
	exec, err := rt.Executor("test-echo")
	if err != nil {
		t.Fatal(err)
	}

	const goroutines, perGoroutine = 8, 125
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perGoroutine)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perGoroutine; i++ {
				args := strings.Replace(echoArgs, `"o-1"`, `"o-`+strings.Repeat("x", g)+string(rune('a'+i%26))+`"`, 1)
				out, err := rt.Fire(context.Background(), exec, []byte(args))
				switch {
				case err != nil:
					errs <- err
				case string(out.Body) != args:
					errs <- errors.New("body does not equal the arguments of its own firing")
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
