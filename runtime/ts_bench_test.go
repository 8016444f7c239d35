package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/execvault/execvault/plugins/tsbuild"
)

// tsEngine is the JavaScript engine guest, built from source once per test
// process.
var tsEngine = struct {
	once sync.Once
	wasm []byte
	err  error
}{}

// tsGuests caches the TypeScript plugins built by tsGuest, by entry file.
var tsGuests sync.Map // string -> *tsBuild

type tsBuild struct {
	once sync.Once
	wasm []byte
	err  error
}

// tsGuest bundles the TypeScript executor file entry with the engine, once
// per file and test process.
func tsGuest(tb testing.TB, entry string) []byte {
	tb.Helper()
	tsEngine.once.Do(func() {
		tsEngine.wasm, tsEngine.err = buildWasmGuest("..", "./plugins/jsengine")
	})
	if tsEngine.err != nil {
		tb.Fatal(tsEngine.err)
	}
	v, _ := tsGuests.LoadOrStore(entry, &tsBuild{})
	build := v.(*tsBuild)
	build.once.Do(func() {
		build.wasm, build.err = tsbuild.Build(context.Background(), tsbuild.Options{
			Entries:    []string{entry},
			EngineWasm: tsEngine.wasm,
		})
	})
	if build.err != nil {
		tb.Fatal(build.err)
	}
	return build.wasm
}

// tsCRMGuest is the platform's sync-to-external-crm.ts built with the
// engine.
func tsCRMGuest(tb testing.TB) []byte {
	return tsGuest(tb, "../plugins/examples/ts/sync-to-external-crm.ts")
}

// BenchmarkWasmConditionAndBodyTS is BenchmarkWasmConditionAndBody with the
// executor taken from the platform's TypeScript file, unmodified, run by the
// JavaScript engine guest: the same Runtime.Fire, arguments, limits and
// expected body, so the two benchmarks compare the guests alone. Its body
// only copies members, which the engine evaluates without calling into
// JavaScript.
func BenchmarkWasmConditionAndBodyTS(b *testing.B) {
	benchmarkTSFiring(b, tsCRMGuest(b))
}

// BenchmarkWasmConditionAndBodyTSGeneral is BenchmarkWasmConditionAndBodyTS
// with one member of the body passed through String(), which gives the same
// JSON but makes the engine call the body in JavaScript, as it does for any
// body that computes.
func BenchmarkWasmConditionAndBodyTSGeneral(b *testing.B) {
	src, err := os.ReadFile("../plugins/examples/ts/sync-to-external-crm.ts")
	if err != nil {
		b.Fatal(err)
	}
	general := strings.Replace(string(src), "status: newRecord.status,", "status: String(newRecord.status),", 1)
	if general == string(src) {
		b.Fatal("sync-to-external-crm.ts no longer has the line status: newRecord.status,")
	}
	entry := filepath.Join(b.TempDir(), "ts", "sync-to-external-crm.ts")
	if err := os.MkdirAll(filepath.Dir(entry), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(entry, []byte(general), 0o644); err != nil {
		b.Fatal(err)
	}
	benchmarkTSFiring(b, tsGuest(b, entry))
}

// benchmarkTSFiring fires the sync-to-external-crm executor of the plugin
// wasm as BenchmarkWasmConditionAndBody fires the Go guest's.
func benchmarkTSFiring(b *testing.B, wasm []byte) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sync-to-external-crm.wasm"), wasm, 0o644); err != nil {
		b.Fatal(err)
	}
	cfg := benchConfig(dir)
	cfg.CacheDir = testCacheDir
	rt, err := New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close(context.Background()) })
	exec, err := rt.Executor("sync-to-external-crm")
	if err != nil {
		b.Fatal(err)
	}
	args := benchArgs()
	checkWasmFiring(b, rt, exec, args)
	ctx := context.Background()

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out, err := rt.Fire(ctx, exec, args)
		if err != nil || !out.Fired {
			b.Fatalf("Fire = fired %v, error %v; want fired", out.Fired, err)
		}
	}
}
