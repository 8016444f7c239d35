package runtime

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/execvault/execvault/plugins/tsbuild"
)

var tsGuest = struct {
	once sync.Once
	wasm []byte
	err  error
}{}

// tsCRMGuest builds the JavaScript engine from source and bundles the
// platform's sync-to-external-crm.ts with it, once per test process.
func tsCRMGuest(tb testing.TB) []byte {
	tb.Helper()
	tsGuest.once.Do(func() {
		engine, err := buildWasmGuest("..", "./plugins/jsengine")
		if err != nil {
			tsGuest.err = err
			return
		}
		tsGuest.wasm, tsGuest.err = tsbuild.Build(context.Background(), tsbuild.Options{
			Entries:    []string{"../plugins/examples/ts/sync-to-external-crm.ts"},
			EngineWasm: engine,
		})
	})
	if tsGuest.err != nil {
		tb.Fatal(tsGuest.err)
	}
	return tsGuest.wasm
}

// BenchmarkWasmConditionAndBodyTS is BenchmarkWasmConditionAndBody with the
// executor taken from the platform's TypeScript file, unmodified, run by the
// JavaScript engine guest: the same Runtime.Fire, arguments, limits and
// expected body, so the two benchmarks compare the guests alone.
func BenchmarkWasmConditionAndBodyTS(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sync-to-external-crm.wasm"), tsCRMGuest(b), 0o644); err != nil {
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
