// Package runtimetest runs execvault plugins inside a Go test. It loads a
// plugin directory, stores secrets in a real encrypted store in a temporary
// directory and feeds record events. It captures the webhook requests the
// executors produce, in memory or on a loopback HTTP receiver, so that a
// test can assert on URL, headers and body.
//
// Everything is real except the network destination: conditions and bodies
// run in Wasm, secret headers are resolved by the secret store, and in
// loopback mode requests go through the webhook dispatcher.
package runtimetest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/runtime"
	"github.com/execvault/execvault/runtime/statedb"
	"github.com/execvault/execvault/secrets"
	"github.com/execvault/execvault/triggers"
	"github.com/execvault/execvault/webhook"
)

// Capture selects where webhook requests go.
type Capture int

const (
	// InMemory records each request as the dispatcher would send it, with
	// secret headers resolved, without any network I/O. The default.
	InMemory Capture = iota
	// Loopback delivers every request through the webhook dispatcher to an
	// HTTP receiver on 127.0.0.1, whatever its URL's host.
	Loopback
)

// Options configure a Harness.
type Options struct {
	// PluginDir holds the plugin .wasm files. Required.
	PluginDir string
	// Secrets are stored before the plugins load, by vault and key.
	Secrets map[plugins.SecretRef]string
	// Env is passed to every callback as env.
	Env map[string]string
	// Capture selects in-memory or loopback capture. Default InMemory.
	Capture Capture
	// Status is the status code the loopback receiver responds with. Default 200.
	Status int
	// Logger receives the runtime's logs. Default: discarded.
	Logger *slog.Logger
}

// Request is one captured webhook request.
type Request struct {
	// Executor is the executor that fired; empty in loopback mode, where
	// only what crossed the wire is known.
	Executor string
	Method   string
	// URL is the webhook's URL as the executor produced it, before the
	// loopback rewrite.
	URL    string
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r Request) JSON(v any) error { return json.Unmarshal(r.Body, v) }

// Harness runs plugins for one test. Its methods are safe for concurrent
// use.
type Harness struct {
	rt         *runtime.Runtime
	store      *secrets.Store
	db         *badger.DB
	dispatcher *webhook.Dispatcher
	receiver   *httptest.Server
	cancel     context.CancelFunc
	deliverer  runtime.Deliverer
	opts       runtime.DispatchOptions
	dir        string

	mu       sync.Mutex
	requests []Request
}

// New returns a Harness that is closed when the test ends. It fails the
// test if anything cannot be set up.
func New(t testing.TB, opts Options) *Harness {
	t.Helper()
	h, err := NewHarness(opts)
	if err != nil {
		t.Fatalf("runtimetest: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// NewHarness returns a Harness that the caller must Close.
func NewHarness(opts Options) (h *Harness, err error) {
	if opts.PluginDir == "" {
		return nil, errors.New("Options.PluginDir is required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dir, err := os.MkdirTemp("", "execvault-runtimetest-")
	if err != nil {
		return nil, err
	}
	h = &Harness{dir: dir}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()

	key, err := secrets.GenerateMasterKey()
	if err != nil {
		return nil, err
	}
	scfg := secrets.DefaultConfig(filepath.Join(dir, "data"))
	scfg.KeyFile = filepath.Join(dir, "master.key")
	scfg.Getenv = func(string) string { return "" }
	scfg.Logger = logger
	if err := secrets.WriteKeyFile(scfg.KeyFile, key); err != nil {
		return nil, err
	}
	var rt *runtime.Runtime
	scfg.Authorize = func(actor, vault, name string) error {
		if rt == nil {
			return nil
		}
		return rt.Authorize(actor, vault, name)
	}
	ctx := context.Background()
	if h.store, err = secrets.Open(ctx, scfg); err != nil {
		return nil, err
	}
	if err := h.storeSecrets(ctx, opts.Secrets); err != nil {
		return nil, err
	}

	env, err := json.Marshal(opts.Env)
	if err != nil {
		return nil, err
	}
	if opts.Env == nil {
		env = []byte("{}")
	}
	rcfg := runtime.DefaultConfig()
	rcfg.PluginDir = opts.PluginDir
	rcfg.CacheDir = filepath.Join(os.TempDir(), "execvault-runtimetest-cache")
	rcfg.Env = env
	rcfg.Secrets = runtime.StoreSecrets{Store: h.store}
	rcfg.Logger = logger
	if rt, err = runtime.New(ctx, rcfg); err != nil {
		return nil, err
	}
	h.rt = rt

	if opts.Capture == Loopback {
		err = h.startLoopback(logger, opts.Status)
	} else {
		h.deliverer = &memoryDeliverer{h: h}
	}
	return h, err
}

func (h *Harness) storeSecrets(ctx context.Context, values map[plugins.SecretRef]string) error {
	vaults := map[string]bool{}
	for ref, v := range values {
		if !vaults[ref.Vault] {
			if _, err := h.store.CreateVault(ctx, ref.Vault); err != nil {
				return err
			}
			vaults[ref.Vault] = true
		}
		if _, err := h.store.CreateSecret(ctx, ref.Vault, ref.Key, secrets.NewValueString(v)); err != nil {
			return err
		}
	}
	return nil
}

// startLoopback starts a receiver and a dispatcher whose URLs are all
// rewritten to it: http://HOST/PATH becomes RECEIVER/http/HOST/PATH.
func (h *Harness) startLoopback(logger *slog.Logger, status int) error {
	if status == 0 {
		status = http.StatusOK
	}
	h.receiver = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		scheme, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		original := scheme + "://" + rest
		if r.URL.RawQuery != "" {
			original += "?" + r.URL.RawQuery
		}
		h.record(Request{Method: r.Method, URL: original, Header: r.Header.Clone(), Body: body})
		w.WriteHeader(status)
	}))
	h.opts.Rewrites = []runtime.URLRewrite{
		{From: "https://", To: h.receiver.URL + "/https/"},
		{From: "http://", To: h.receiver.URL + "/http/"},
	}

	var err error
	h.db, err = statedb.Open("")
	if err != nil {
		return err
	}
	wcfg := webhook.DefaultConfig()
	wcfg.Policy.MaxAttempts = 1
	h.dispatcher, err = webhook.NewDispatcher(h.db, wcfg, runtime.StoreSecrets{Store: h.store}, logger)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	if err := h.dispatcher.Start(ctx); err != nil {
		return err
	}
	h.deliverer = h.dispatcher
	h.opts.Wait = true
	return nil
}

// Close releases everything the Harness holds.
func (h *Harness) Close() {
	if h.cancel != nil {
		h.cancel()
	}
	if h.dispatcher != nil {
		_ = h.dispatcher.Close()
	}
	if h.db != nil {
		_ = h.db.Close()
	}
	if h.receiver != nil {
		h.receiver.Close()
	}
	if h.rt != nil {
		_ = h.rt.Close(context.Background())
	}
	if h.store != nil {
		_ = h.store.Close()
	}
	_ = os.RemoveAll(h.dir)
}

// Runtime returns the runtime the Harness drives.
func (h *Harness) Runtime() *runtime.Runtime { return h.rt }

// Fire handles each event in turn and returns every firing.
func (h *Harness) Fire(ctx context.Context, events ...triggers.RecordEvent) []runtime.Firing {
	var out []runtime.Firing
	for i := range events {
		out = append(out, h.rt.HandleRecordEvent(ctx, h.deliverer, &events[i], h.opts)...)
	}
	return out
}

// FireJSONL decodes record events from JSONL, in the platform's raw format
// or Debezium's, and fires them. A malformed line is returned as an error
// after the other lines ran.
func (h *Harness) FireJSONL(ctx context.Context, r io.Reader) ([]runtime.Firing, error) {
	reader := triggers.NewReader(bufio.NewReader(r), triggers.DecodeOptions{})
	var out []runtime.Firing
	var errs []error
	for {
		ev, err := reader.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var lineErr *triggers.LineError
		if errors.As(err, &lineErr) {
			errs = append(errs, err)
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, h.Fire(ctx, ev)...)
	}
	return out, errors.Join(errs...)
}

// Requests returns the captured requests in the order they were captured.
func (h *Harness) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Request(nil), h.requests...)
}

// RequestsTo returns the captured requests whose URL starts with prefix.
func (h *Harness) RequestsTo(prefix string) []Request {
	var out []Request
	for _, r := range h.Requests() {
		if strings.HasPrefix(r.URL, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func (h *Harness) record(r Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, r)
}

// memoryDeliverer builds each request as the dispatcher would, resolving
// secret headers through the store, and records it.
type memoryDeliverer struct{ h *Harness }

func (d *memoryDeliverer) Enqueue(ctx context.Context, job webhook.Job) (webhook.Job, error) {
	header := http.Header{}
	resolver := runtime.StoreSecrets{Store: d.h.store}
	for _, hd := range job.Headers {
		if hd.Secret == nil {
			header.Add(hd.Name, hd.Value)
			continue
		}
		v, err := resolver.Resolve(ctx, *hd.Secret, webhook.SecretActor(job.Executor))
		if err != nil {
			return job, fmt.Errorf("header %s: %w", hd.Name, err)
		}
		header.Add(hd.Name, string(v))
	}
	if job.ID != "" {
		header.Set("Webhook-Id", job.ID)
	}
	d.h.record(Request{Executor: job.Executor, Method: http.MethodPost, URL: job.URL, Header: header, Body: append([]byte(nil), job.Body...)})
	job.Status = webhook.StatusSuccess
	job.Attempts = []webhook.Attempt{{Round: 1, Number: 1, StatusCode: http.StatusOK, StartedAt: time.Now(), EndedAt: time.Now()}}
	job.Round = 1
	return job, nil
}

func (d *memoryDeliverer) Wait(_ context.Context, id string) (webhook.Job, error) {
	return webhook.Job{ID: id, Status: webhook.StatusSuccess}, nil
}

// SortByURL sorts requests by URL, then body, for order-independent
// comparisons.
func SortByURL(rs []Request) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].URL != rs[j].URL {
			return rs[i].URL < rs[j].URL
		}
		return string(rs[i].Body) < string(rs[j].Body)
	})
}
