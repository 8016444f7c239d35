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

// BenchmarkEventToWebhook measures the whole path of one record event. It
// runs the Wasm condition and body of the sync-to-external-crm example and
// resolves two secret headers from the encrypted store. The job is flushed
// to disk (group commit, shared with the concurrent callers) before
// Enqueue returns, and the POST to a loopback sink is waited for until the
// job is SUCCESS.
func BenchmarkEventToWebhook(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	key, err := secrets.GenerateMasterKey()
	if err != nil {
		b.Fatal(err)
	}
	scfg := secrets.DefaultConfig(filepath.Join(dir, "data"))
	scfg.KeyFile = filepath.Join(dir, "master.key")
	scfg.Getenv = func(string) string { return "" }
	scfg.Logger = quiet
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

	db, err := statedb.Open(filepath.Join(dir, "state"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	resolver := StoreSecrets{Store: store}
	// The dispatcher may have as many attempts in flight to the sink as
	// BenchmarkBarePost has callers. Its default of 8 per destination
	// would measure that limit instead of the delivery path.
	wcfg := webhook.DefaultConfig()
	wcfg.Workers = benchParallelism[len(benchParallelism)-1] * goruntime.GOMAXPROCS(0)
	wcfg.PerHostConcurrency = wcfg.Workers
	d, err := webhook.NewDispatcher(db, wcfg, resolver, quiet)
	if err != nil {
		b.Fatal(err)
	}
	dctx, cancel := context.WithCancel(ctx)
	b.Cleanup(func() { cancel(); d.Close() })
	if err := d.Start(dctx); err != nil {
		b.Fatal(err)
	}

	cfg := testConfig(goExamplePlugins(b))
	cfg.Limits.MemoryPages = 1024
	cfg.Secrets = resolver
	cfg.Logger = quiet
	rt := newTestRuntime(b, cfg)

	sink := newSink(b)
	opts := DispatchOptions{Wait: true, Rewrites: []URLRewrite{{From: "https://crm.example.com", To: sink.URL}}}
	var seq atomic.Int64
	runCallers(b, func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				id := fmt.Sprintf("so-%d", seq.Add(1))
				ev := &triggers.RecordEvent{ID: "evt-" + id, EventType: triggers.EventTypeCreated, TypeName: "salesOrder",
					NewRecord: []byte(`{"id":"` + id + `","customerID":"c","totalPrice":200000,"status":"new","createdAt":"2026-01-01T00:00:00Z"}`)}
				firings := rt.HandleRecordEvent(ctx, d, ev, opts)
				if len(firings) != 1 || firings[0].State != FiringDelivered {
					b.Errorf("firings = %+v, want one delivered", firings)
					return
				}
			}
		})
	})
}
