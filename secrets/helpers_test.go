package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testKey is a fixed master key for tests.
var testKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

// syncBuffer is a bytes.Buffer safe for concurrent writes from loggers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testConfig returns a config for dir with the fixed test key, a debug
// logger writing to logs (when not nil) and cheap KDF parameters.
func testConfig(dir string, logs *syncBuffer) Config {
	cfg := DefaultConfig(dir)
	env := map[string]string{EnvMasterKey: testKey}
	cfg.Getenv = func(k string) string { return env[k] }
	cfg.KDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}
	cfg.Now = newFakeClock().Now
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// openTestStore opens a store in a fresh directory and closes it at the
// end of the test.
func openTestStore(t *testing.T, mutate func(*Config)) (*Store, Config) {
	t.Helper()
	cfg := testConfig(filepath.Join(t.TempDir(), "data"), nil)
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, cfg
}

func mustCreateVault(t *testing.T, s *Store, vault string) {
	t.Helper()
	if _, err := s.CreateVault(context.Background(), vault); err != nil {
		t.Fatalf("CreateVault(%q): %v", vault, err)
	}
}

func mustCreateSecret(t *testing.T, s *Store, vault, name, value string) {
	t.Helper()
	if _, err := s.CreateSecret(context.Background(), vault, name, NewValueString(value)); err != nil {
		t.Fatalf("CreateSecret(%q, %q): %v", vault, name, err)
	}
}

// mustReveal returns a version of a value. A mismatch report must never
// print values, so callers compare with Equal and print lengths only.
func mustReveal(t *testing.T, s *Store, vault, name string, version uint64) Value {
	t.Helper()
	_, v, err := s.RevealSecret(context.Background(), vault, name, version)
	if err != nil {
		t.Fatalf("RevealSecret(%q, %q, %d): %v", vault, name, version, err)
	}
	return v
}
