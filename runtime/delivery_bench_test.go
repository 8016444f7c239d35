package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/execvault/execvault/runtime/statedb"
	"github.com/execvault/execvault/secrets"
	"github.com/execvault/execvault/triggers"
	"github.com/execvault/execvault/webhook"
)

// benchParallelism lists the numbers of goroutines per GOMAXPROCS that
// both delivery benchmarks run with, one sub-benchmark each, so that they
// compare like with like: a few concurrent events, and as many as a busy
// server has in flight.
var benchParallelism = []int{4, 32}

// runCallers runs body as one sub-benchmark per entry of benchParallelism,
// named after the total number of goroutines.
func runCallers(b *testing.B, body func(b *testing.B)) {
	for _, p := range benchParallelism {
		b.Run(fmt.Sprintf("callers=%d", p*goruntime.GOMAXPROCS(0)), func(b *testing.B) {
			b.SetParallelism(p)
			body(b)
		})
	}
}

func newSink(b *testing.B) *httptest.Server {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(sink.Close)
	return sink
}

// BenchmarkBarePost is the baseline of BenchmarkEventToWebhook: a bare
// net/http POST of a similar body to the same kind of loopback sink.
func BenchmarkBarePost(b *testing.B) {
	sink := newSink(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := `{"orderId":"so-1","customerId":"c","totalPrice":200000,"status":"new","createdAt":"2026-01-01T00:00:00Z"}`
	runCallers(b, func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Post(sink.URL+"/api/v1/orders", "application/json", strings.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	})
}

// deliveryBench is the setup that BenchmarkEventToWebhook and
// BenchmarkIngestToWebhook share. It has an encrypted secret store with the
// two secrets of the sync-to-external-crm example, a state database on
// disk, a started dispatcher and a runtime with the example. Its loopback
// sink counts the requests it receives.
type deliveryBench struct {
	db   *badger.DB
	d    *webhook.Dispatcher
	rt   *Runtime
	hits atomic.Int64
	// target, when above zero, makes the sink send on reached once hits
	// gets to it.
	target  atomic.Int64
	reached chan struct{}
	// rewrites point the example's URL at the sink.
	rewrites []URLRewrite
	quiet    *slog.Logger
}

func newDeliveryBench(b *testing.B) *deliveryBench {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	env := &deliveryBench{quiet: slog.New(slog.NewTextHandler(io.Discard, nil)), reached: make(chan struct{}, 1)}

	key, err := secrets.GenerateMasterKey()
	if err != nil {
		b.Fatal(err)
	}
	scfg := secrets.DefaultConfig(filepath.Join(dir, "data"))
	scfg.KeyFile = filepath.Join(dir, "master.key")
	scfg.Getenv = func(string) string { return "" }
	scfg.Logger = env.quiet
	if err := secrets.WriteKeyFile(scfg.KeyFile, key); err != nil {
		b.Fatal(err)
	}
	store, err := secrets.Open(ctx, scfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	if _, err := store.CreateVault(ctx, "api-keys"); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"crm-api-token", "crm-api-key"} {
		if _, err := store.CreateSecret(ctx, "api-keys", name, secrets.NewValueString("bench-value-"+name)); err != nil {
			b.Fatal(err)
		}
	}

	env.db, err = statedb.Open(filepath.Join(dir, "state"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { env.db.Close() })
	resolver := StoreSecrets{Store: store}
	// The dispatcher may have as many attempts in flight to the sink as
	// BenchmarkBarePost has callers. Its default of 8 per destination
	// would measure that limit instead of the delivery path.
	wcfg := webhook.DefaultConfig()
	wcfg.Workers = benchParallelism[len(benchParallelism)-1] * goruntime.GOMAXPROCS(0)
	wcfg.PerHostConcurrency = wcfg.Workers
	env.d, err = webhook.NewDispatcher(env.db, wcfg, resolver, env.quiet)
	if err != nil {
		b.Fatal(err)
	}
	dctx, cancel := context.WithCancel(ctx)
	b.Cleanup(func() { cancel(); env.d.Close() })
	if err := env.d.Start(dctx); err != nil {
		b.Fatal(err)
	}

	cfg := testConfig(goExamplePlugins(b))
	cfg.Limits.MemoryPages = 1024
	cfg.Secrets = resolver
	cfg.Logger = env.quiet
	env.rt = newTestRuntime(b, cfg)

	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
		if env.hits.Add(1) == env.target.Load() {
			env.reached <- struct{}{}
		}
	}))
	b.Cleanup(sink.Close)
	env.rewrites = []URLRewrite{{From: "https://crm.example.com", To: sink.URL}}
	return env
}

// salesOrder returns a created salesOrder event that the example fires on.
func salesOrder(n int64) triggers.RecordEvent {
	id := fmt.Sprintf("so-%d", n)
	return triggers.RecordEvent{ID: "evt-" + id, EventType: triggers.EventTypeCreated, TypeName: "salesOrder",
		NewRecord: []byte(`{"id":"` + id + `","customerID":"c","totalPrice":200000,"status":"new","createdAt":"2026-01-01T00:00:00Z"}`)}
}

// BenchmarkEventToWebhook measures the whole path of one record event. It
// runs the Wasm condition and body of the sync-to-external-crm example and
// resolves two secret headers from the encrypted store. The job is flushed
// to disk (group commit, shared with the concurrent callers) before
// Enqueue returns, and the POST to a loopback sink is waited for until the
// job is SUCCESS.
func BenchmarkEventToWebhook(b *testing.B) {
	env := newDeliveryBench(b)
	ctx := context.Background()
	opts := DispatchOptions{Wait: true, Rewrites: env.rewrites}
	var seq atomic.Int64
	runCallers(b, func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ev := salesOrder(seq.Add(1))
				firings := env.rt.HandleRecordEvent(ctx, env.d, &ev, opts)
				if len(firings) != 1 || firings[0].State != FiringDelivered {
					b.Errorf("firings = %+v, want one delivered", firings)
					return
				}
			}
		})
	})
}

// ingestBatch is the number of events per Append in
// BenchmarkIngestToWebhook, as a client posting to /v1/events might send.
const ingestBatch = 100

// BenchmarkIngestToWebhook measures the pipeline that "execvault run" runs
// for ingested events. Batches of events are appended to the event log,
// which flushes each batch. Server.Process fires the example on each event
// and submits its job, with one flush per batch of jobs, and the dispatcher
// delivers the jobs to the loopback sink. The time per event runs from the
// first append to the sink's receipt of the last job.
func BenchmarkIngestToWebhook(b *testing.B) {
	env := newDeliveryBench(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := triggers.OpenEventLog(ctx, env.db, triggers.EventLogConfig{Logger: env.quiet})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := NewServer(env.rt, ServerConfig{Deliverer: env.d, Events: events, Rewrites: env.rewrites, Logger: env.quiet})
	if err != nil {
		b.Fatal(err)
	}
	processed := make(chan error, 1)
	go func() { processed <- srv.Process(ctx) }()
	defer func() {
		cancel()
		<-processed
	}()

	var seq int64
	b.ResetTimer()
	env.target.Store(env.hits.Load() + int64(b.N))
	batch := make([]triggers.RecordEvent, 0, ingestBatch)
	for sent := 0; sent < b.N; sent += len(batch) {
		batch = batch[:0]
		for range min(ingestBatch, b.N-sent) {
			seq++
			batch = append(batch, salesOrder(seq))
		}
		if _, err := events.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
		srv.notify()
	}
	<-env.reached
}
