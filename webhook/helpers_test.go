package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/execvault/execvault/plugins"
)

// openDB opens a Badger database with the options of statedb.Open
// (SyncWrites off, so the dispatcher flushes with group commit) and small
// caches. An empty dir opens an in-memory database.
func openDB(t testing.TB, dir string) *badger.DB {
	t.Helper()
	opts := badger.DefaultOptions(dir).
		WithSyncWrites(false).
		WithNumVersionsToKeep(1).
		WithLogger(nil).
		WithMemTableSize(16 << 20).
		WithValueLogFileSize(16 << 20).
		WithNumCompactors(2).
		WithBlockCacheSize(1 << 20).
		WithIndexCacheSize(1 << 20)
	if dir == "" {
		opts = opts.WithInMemory(true)
	}
	db, err := badger.Open(opts)
	if err != nil {
		t.Fatalf("open badger: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// fakeSecrets resolves secrets from a map and counts the calls.
type fakeSecrets struct {
	mu     sync.Mutex
	values map[plugins.SecretRef]string
	actors []string
}

var errSecretMissing = errors.New("secret not found")

func newFakeSecrets(values map[plugins.SecretRef]string) *fakeSecrets {
	if values == nil {
		values = map[plugins.SecretRef]string{}
	}
	return &fakeSecrets{values: values}
}

func (f *fakeSecrets) Resolve(_ context.Context, ref plugins.SecretRef, actor string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actors = append(f.actors, actor)
	v, ok := f.values[ref]
	if !ok {
		return nil, fmt.Errorf("secret %q in vault %q: %w", ref.Key, ref.Vault, errSecretMissing)
	}
	return []byte(v), nil
}

// syncBuffer is a bytes.Buffer safe for concurrent writes, for log capture.
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

// testConfig returns a configuration with millisecond backoff and a breaker
// that never opens, so that retry tests run fast.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Policy = Policy{
		MaxAttempts:    10,
		AttemptTimeout: 5 * time.Second,
		BackoffBase:    time.Millisecond,
		BackoffMax:     2 * time.Millisecond,
		Jitter:         JitterNone,
	}
	cfg.BreakerFailures = 1_000_000
	return cfg
}

type harness struct {
	d       *Dispatcher
	db      *badger.DB
	secrets *fakeSecrets
	logs    *syncBuffer
}

// startDispatcher starts a dispatcher on db, logging at debug level into
// the returned harness, and closes it when the test ends.
func startDispatcher(t *testing.T, db *badger.DB, cfg Config, secrets *fakeSecrets) *harness {
	t.Helper()
	h := newHarness(t, db, cfg, secrets)
	if err := h.d.Start(t.Context()); err != nil {
		t.Fatalf("start dispatcher: %v", err)
	}
	return h
}

func newHarness(t *testing.T, db *badger.DB, cfg Config, secrets *fakeSecrets) *harness {
	t.Helper()
	if db == nil {
		db = openDB(t, "")
	}
	if secrets == nil {
		secrets = newFakeSecrets(nil)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := NewDispatcher(db, cfg, secrets, logger)
	if err != nil {
		t.Fatalf("new dispatcher: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return &harness{d: d, db: db, secrets: secrets, logs: logs}
}

// deliver enqueues job and waits until it finishes.
func (h *harness) deliver(t *testing.T, job Job) Job {
	t.Helper()
	if job.Executor == "" {
		job.Executor = "crm-sync"
	}
	if job.Body == nil {
		job.Body = []byte(`{"ok":true}`)
	}
	queued, err := h.d.Enqueue(t.Context(), job)
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	done, err := h.d.Wait(ctx, queued.ID)
	if err != nil {
		t.Fatalf("wait for job %s: %v", queued.ID, err)
	}
	return done
}

// receiver is a loopback HTTP server that counts requests and responds
// through respond, which gets the 1-based request number.
type receiver struct {
	*httptest.Server
	count atomic.Int64
}

func newReceiver(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, n int64)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := rc.count.Add(1)
		respond(w, r, n)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func statusAlways(code int) func(http.ResponseWriter, *http.Request, int64) {
	return func(w http.ResponseWriter, _ *http.Request, _ int64) { w.WriteHeader(code) }
}

// fakeClock is a Clock that moves only when Advance is called.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	created chan time.Duration // see watchTimers
}

type fakeTimer struct {
	clock *fakeClock
	at    time.Time
	c     chan time.Time
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	created := c.created
	c.mu.Unlock()
	if created != nil {
		created <- d
	}
	return t
}

// watchTimers returns a channel that receives the duration of every timer
// created from then on. NewTimer blocks until the test receives it, so the
// test can wait until the code under test has armed its next timer.
func (c *fakeClock) watchTimers() <-chan time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.created = make(chan time.Duration)
	return c.created
}

// Advance moves the clock forward and fires the timers now due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.c <- c.now
	}
	c.timers = kept
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, other := range c.timers {
		if other == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds. The minute it allows only stops a
// test whose condition never comes true.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after a minute", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
