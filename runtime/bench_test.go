package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/triggers"
	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The benchmarks in this file measure one firing of sync-to-external-crm
// (condition (newRecord.totalPrice ?? 0) > 100000 and a five-field body)
// on a salesOrder created event, through:
//
//   - execvault's runtime (Runtime.Fire, timeouts enforced),
//   - the same logic in native Go,
//   - the same guest code packaged as an Extism plugin and called through
//     the Extism Go SDK with a manifest timeout,
//
// and the cost of the termination guarantee's parts (BenchmarkWazeroCallCost,
// BenchmarkWatchdogTimer).
// The guests are built from source on first use, so a clean clone needs
// only the Go toolchain. BENCHMARKS.md at the repository root records the
// results.

// benchRecord is the newRecord of the benchmark event. Its totalPrice
// passes the condition, so every firing runs the body callback too.
const benchRecord = `{"id":"so-1002","customerID":"cust-42","totalPrice":250000,"status":"confirmed","createdAt":"2026-11-30T09:15:30Z"}`

// benchBody is the request body sync-to-external-crm builds for benchRecord.
const benchBody = `{"orderId":"so-1002","customerId":"cust-42","totalPrice":250000,"status":"confirmed","createdAt":"2026-11-30T09:15:30Z"}`

// benchTimeout is the call timeout of every runtime under test: the
// default of both execvault and the Extism manifest used here.
const benchTimeout = time.Second

// benchArgs returns the callback arguments of the benchmark event, built
// the way the dispatcher builds them.
func benchArgs() []byte {
	ev := &triggers.RecordEvent{
		ID:            "evt-bench",
		EventType:     triggers.EventTypeCreated,
		WorkspaceID:   "ws-demo",
		NamespaceName: "sales",
		TypeName:      "salesOrder",
		NewRecord:     json.RawMessage(benchRecord),
	}
	return triggers.AppendRecordArgs(nil, ev, json.RawMessage(`{}`))
}

// benchGuests holds the Wasm guests built once per test binary.
var benchGuests = struct {
	crm, peer func() ([]byte, error)
}{
	crm: sync.OnceValues(func() ([]byte, error) {
		return buildWasmGuest("..", "./plugins/examples/sync-to-external-crm")
	}),
	// The peer is its own module, so that the Extism PDK stays out of the
	// main go.mod.
	peer: sync.OnceValues(func() ([]byte, error) {
		return buildWasmGuest(filepath.Join("..", "testdata", "bench", "extism-peer"), ".")
	}),
}

// crmGuest returns plugins/examples/sync-to-external-crm built for wasip1.
// The go build cache makes later runs fast.
func crmGuest(tb testing.TB) []byte {
	tb.Helper()
	wasm, err := benchGuests.crm()
	if err != nil {
		tb.Fatal(err)
	}
	return wasm
}

// extismPeerGuest returns testdata/bench/extism-peer built for wasip1.
func extismPeerGuest(tb testing.TB) []byte {
	tb.Helper()
	wasm, err := benchGuests.peer()
	if err != nil {
		tb.Fatal(err)
	}
	return wasm
}

// buildWasmGuest builds the main package pkg, relative to dir, as a WASI
// reactor and returns the module bytes.
func buildWasmGuest(dir, pkg string) ([]byte, error) {
	// go test puts its own toolchain first on the PATH of the test.
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("build %s: %w: put the go command on PATH", pkg, err)
	}
	out, err := os.MkdirTemp("", "execvault-bench-")
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", pkg, err)
	}
	defer os.RemoveAll(out)

	file := filepath.Join(out, "guest.wasm")
	cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-o", file, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off")
	if output, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s in %s: %w\n%s", pkg, dir, err, output)
	}
	return os.ReadFile(file)
}

// benchCompilationCache is shared by the runtimes the benchmarks start
// outside New, so that each setup does not compile the 4 MB Go guests
// again. New itself compiles without it, as in production.
var benchCompilationCache = sync.OnceValue(wazero.NewCompilationCache)

// benchPluginDir returns a fresh plugin directory holding the
// sync-to-external-crm plugin.
func benchPluginDir(tb testing.TB) string {
	tb.Helper()
	crm := crmGuest(tb)
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sync-to-external-crm.wasm"), crm, 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

func benchConfig(dir string) Config {
	return Config{
		PluginDir: dir,
		Limits:    Limits{Timeout: benchTimeout},
		Logger:    slog.New(slog.DiscardHandler),
	}
}

// openBenchRuntime starts a runtime on the benchmark plugin, New's when
// rcfg is nil, and checks one firing before the timer starts.
func openBenchRuntime(b *testing.B, rcfg wazero.RuntimeConfig) (*Runtime, *Executor) {
	b.Helper()
	ctx := context.Background()
	cfg := benchConfig(benchPluginDir(b))

	var rt *Runtime
	var err error
	if rcfg == nil {
		rt, err = New(ctx, cfg)
	} else {
		cfg.fillDefaults()
		rt, err = newRuntime(ctx, cfg, rcfg, nil)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close(context.Background()) })

	exec, err := rt.Executor("sync-to-external-crm")
	if err != nil {
		b.Fatal(err)
	}
	checkWasmFiring(b, rt, exec, benchArgs())
	return rt, exec
}

func checkWasmFiring(tb testing.TB, rt *Runtime, exec *Executor, args []byte) {
	tb.Helper()
	out, err := rt.Fire(context.Background(), exec, args)
	if err != nil {
		tb.Fatalf("Fire: %v", err)
	}
	if !out.Fired || out.URL != "" || string(out.Body) != benchBody {
		tb.Fatalf("Fire = fired %v, url %q, body %s; want fired, no url, body %s", out.Fired, out.URL, out.Body, benchBody)
	}
}

// BenchmarkWasmConditionAndBody measures Runtime.Fire as the dispatcher
// calls it: pool get and put, the per-call deadline, argument copy, the guest's
// condition and body, and the result copy.
func BenchmarkWasmConditionAndBody(b *testing.B) {
	rt, exec := openBenchRuntime(b, nil)
	args := benchArgs()
	ctx := context.Background()

	b.ReportAllocs()
	for b.Loop() {
		out, err := rt.Fire(ctx, exec, args)
		if err != nil || !out.Fired {
			b.Fatalf("Fire = fired %v, error %v; want fired", out.Fired, err)
		}
	}
}

// BenchmarkWasmConditionAndBodyParallel is BenchmarkWasmConditionAndBody
// from GOMAXPROCS goroutines sharing one runtime and its instance pool.
func BenchmarkWasmConditionAndBodyParallel(b *testing.B) {
	// RunParallel calls this function once per b.N it tries, so the
	// setup uses the compilation cache instead of New. The runtime is
	// otherwise the one New builds.
	rt, exec := openBenchRuntime(b, wazero.NewRuntimeConfig().WithCompilationCache(benchCompilationCache()))
	warmPool(b, exec.plugin.pool)
	args := benchArgs()

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			out, err := rt.Fire(ctx, exec, args)
			if err != nil || !out.Fired {
				b.Errorf("Fire = fired %v, error %v; want fired", out.Fired, err)
				return
			}
		}
	})
}

// warmPool fills p with its maximum number of instances, so that a
// parallel benchmark does not time their instantiation.
func warmPool(b *testing.B, p *pool) {
	b.Helper()
	ctx := context.Background()
	var taken []*instance
	for range cap(p.slots) {
		in, err := p.get(ctx)
		if err != nil {
			b.Fatalf("fill instance pool: %v", err)
		}
		taken = append(taken, in)
	}
	for _, in := range taken {
		p.put(in)
	}
}

// BenchmarkNativeConditionAndBody runs the same logic compiled for the
// host: "sdk" is the guest's own code (the plugins package's JSON scanner
// and writer), "encoding-json" is what a native executor would write with
// the standard library.
func BenchmarkNativeConditionAndBody(b *testing.B) {
	args := benchArgs()

	b.Run("sdk", func(b *testing.B) {
		var w plugins.JSONWriter
		fired, err := nativeSDKFire(args, &w)
		if err != nil || !fired || string(w.Bytes()) != benchBody {
			b.Fatalf("nativeSDKFire = fired %v, body %s, error %v; want fired, body %s", fired, w.Bytes(), err, benchBody)
		}

		b.ReportAllocs()
		for b.Loop() {
			if _, err := nativeSDKFire(args, &w); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("encoding-json", func(b *testing.B) {
		body, fired, err := nativeStdlibFire(args, nil)
		if err != nil || !fired || string(body) != benchBody {
			b.Fatalf("nativeStdlibFire = fired %v, body %s, error %v; want fired, body %s", fired, body, err, benchBody)
		}

		b.ReportAllocs()
		for b.Loop() {
			if body, _, err = nativeStdlibFire(args, body[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// nativeSDKFire runs the condition and body of sync-to-external-crm with
// the plugins package compiled natively, writing the body into w.
func nativeSDKFire(args []byte, w *plugins.JSONWriter) (bool, error) {
	a, err := plugins.ParseArgs(args)
	if err != nil {
		return false, err
	}
	rec := a.NewRecord()
	if !(rec.NumberOr("totalPrice", 0) > 100000) {
		return false, nil
	}

	w.Reset()
	w.BeginObject()
	w.Field("orderId", rec.Get("id"))
	w.Field("customerId", rec.Get("customerID"))
	w.Field("totalPrice", rec.Get("totalPrice"))
	w.Field("status", rec.Get("status"))
	w.Field("createdAt", rec.Get("createdAt"))
	w.EndObject()
	return true, w.Err()
}

// crmBodyFields maps the body's keys to the record fields they copy, in
// body order.
var crmBodyFields = [...][2]string{
	{"orderId", "id"},
	{"customerId", "customerID"},
	{"totalPrice", "totalPrice"},
	{"status", "status"},
	{"createdAt", "createdAt"},
}

// nativeStdlibFire is sync-to-external-crm written with encoding/json: it
// decodes newRecord into a map of raw values, applies the condition with
// JavaScript's number conversion for strings, booleans and null, and
// appends the body to dst.
func nativeStdlibFire(args, dst []byte) ([]byte, bool, error) {
	var a struct {
		NewRecord map[string]json.RawMessage `json:"newRecord"`
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return dst, false, err
	}
	if !(jsNumberOr(a.NewRecord["totalPrice"], 0) > 100000) {
		return dst, false, nil
	}

	dst = append(dst, '{')
	for _, f := range crmBodyFields {
		raw, ok := a.NewRecord[f[1]]
		if !ok {
			continue
		}
		if len(dst) > 1 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendQuote(dst, f[0])
		dst = append(dst, ':')
		dst = append(dst, raw...)
	}
	return append(dst, '}'), true, nil
}

// jsNumberOr converts a raw JSON value as JavaScript's Number() would,
// returning def for a missing value or null (the ?? operator).
func jsNumberOr(raw json.RawMessage, def float64) float64 {
	s := string(raw)
	switch {
	case s == "" || s == "null":
		return def
	case s == "true":
		return 1
	case s == "false":
		return 0
	case s[0] == '"':
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return math.NaN()
		}
		text = strings.TrimSpace(text)
		if text == "" {
			return 0
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return math.NaN()
		}
		return f
	case s[0] == '{' || s[0] == '[':
		return math.NaN()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// execvaultHostStubs provides the execvault import module to the Extism
// peer, whose SDK code imports it: log drops the message, secret_get
// fails with -3, clock_now returns the host clock. The benchmark calls
// none of them.
func execvaultHostStubs() []extism.HostFunction {
	i32, i64 := extism.ValueTypeI32, extism.ValueTypeI64
	log := extism.NewHostFunctionWithStack("log",
		func(context.Context, *extism.CurrentPlugin, []uint64) {},
		[]extism.ValueType{i32, i32, i32}, nil)
	secretGet := extism.NewHostFunctionWithStack("secret_get",
		func(_ context.Context, _ *extism.CurrentPlugin, stack []uint64) {
			stack[0] = api.EncodeI32(secretFailed)
		},
		[]extism.ValueType{i32, i32, i32, i32, i32, i32}, []extism.ValueType{i32})
	clockNow := extism.NewHostFunctionWithStack("clock_now",
		func(_ context.Context, _ *extism.CurrentPlugin, stack []uint64) {
			stack[0] = api.EncodeI64(time.Now().UnixNano())
		},
		nil, []extism.ValueType{i64})

	fns := []extism.HostFunction{log, secretGet, clockNow}
	for i := range fns {
		fns[i].SetNamespace(hostModuleName)
	}
	return fns
}

// newExtismPeer compiles the Extism peer. With a timeout, its manifest
// sets the runtime's timeout, which makes the Extism SDK enable wazero's
// WithCloseOnContextDone, which execvault replaced with deadline checks.
func newExtismPeer(b *testing.B, timeout time.Duration) *extism.CompiledPlugin {
	b.Helper()
	peer := extismPeerGuest(b)
	ctx := context.Background()
	manifest := extism.Manifest{
		Wasm:    []extism.Wasm{extism.WasmData{Data: peer, Name: "main"}},
		Timeout: uint64(timeout / time.Millisecond),
	}
	config := extism.PluginConfig{
		EnableWasi:    true,
		RuntimeConfig: wazero.NewRuntimeConfig().WithCompilationCache(benchCompilationCache()),
	}
	compiled, err := extism.NewCompiledPlugin(ctx, manifest, config, execvaultHostStubs())
	if err != nil {
		b.Fatalf("compile Extism peer: %v", err)
	}
	b.Cleanup(func() { compiled.Close(context.Background()) })
	return compiled
}

// newExtismInstance instantiates the peer and checks one call.
func newExtismInstance(b *testing.B, compiled *extism.CompiledPlugin, args []byte) *extism.Plugin {
	b.Helper()
	p, err := compiled.Instance(context.Background(), extism.PluginInstanceConfig{ModuleConfig: wazero.NewModuleConfig()})
	if err != nil {
		b.Fatalf("instantiate Extism peer: %v", err)
	}
	b.Cleanup(func() { p.Close(context.Background()) })

	rc, out, err := p.Call("fire", args)
	if err != nil || rc != 0 {
		b.Fatalf("Extism fire = rc %d, error %v; want rc 0", rc, err)
	}
	want := append([]byte{statusFire, 0, 0, 0, 0}, benchBody...)
	if !bytes.Equal(out, want) {
		b.Fatalf("Extism fire output %q; want %q", out, want)
	}
	return p
}

// BenchmarkExtismConditionAndBody calls the Extism peer, which runs the
// same guest code as BenchmarkWasmConditionAndBody, through the Extism Go
// SDK with a 1 s manifest timeout.
func BenchmarkExtismConditionAndBody(b *testing.B) {
	args := benchArgs()
	p := newExtismInstance(b, newExtismPeer(b, benchTimeout), args)

	b.ReportAllocs()
	for b.Loop() {
		rc, _, err := p.Call("fire", args)
		if err != nil || rc != 0 {
			b.Fatalf("Extism fire = rc %d, error %v; want rc 0", rc, err)
		}
	}
}

// BenchmarkExtismConditionAndBodyNoTimeout is BenchmarkExtismConditionAndBody
// with no manifest timeout, so the Extism SDK leaves wazero's
// WithCloseOnContextDone off and nothing stops a runaway guest.
func BenchmarkExtismConditionAndBodyNoTimeout(b *testing.B) {
	args := benchArgs()
	p := newExtismInstance(b, newExtismPeer(b, 0), args)

	b.ReportAllocs()
	for b.Loop() {
		rc, _, err := p.Call("fire", args)
		if err != nil || rc != 0 {
			b.Fatalf("Extism fire = rc %d, error %v; want rc 0", rc, err)
		}
	}
}

// BenchmarkExtismConditionAndBodyParallel gives each of GOMAXPROCS
// goroutines its own Extism plugin instance, since one is not safe for
// concurrent calls.
func BenchmarkExtismConditionAndBodyParallel(b *testing.B) {
	args := benchArgs()
	compiled := newExtismPeer(b, benchTimeout)
	procs := goruntime.GOMAXPROCS(0)
	instances := make(chan *extism.Plugin, procs)
	for range procs {
		instances <- newExtismInstance(b, compiled, args)
	}

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := <-instances
		defer func() { instances <- p }()
		for pb.Next() {
			rc, _, err := p.Call("fire", args)
			if err != nil || rc != 0 {
				b.Errorf("Extism fire = rc %d, error %v; want rc 0", rc, err)
				return
			}
		}
	})
}

// BenchmarkWazeroCallCost splits the termination guarantee's cost into
// its parts with the guests of testdata/bench/calls.wat: "nop" is the
// per-call cost, "spin-1000" adds 1000 loop iterations. The context is
// either a fresh 1 s timeout per call, as Runtime.Fire makes, or
// context.Background, which has no Done channel.
func BenchmarkWazeroCallCost(b *testing.B) {
	wasm, err := os.ReadFile(filepath.Join("..", "testdata", "bench", "calls.wasm"))
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name        string
		closeOnDone bool
		timeout     bool
	}{
		{"close-on-done=true/timeout-ctx", true, true},
		{"close-on-done=true/background-ctx", true, false},
		{"close-on-done=false/timeout-ctx", false, true},
		{"close-on-done=false/background-ctx", false, false},
	}
	calls := []struct {
		name   string
		export string
		params []uint64
	}{
		{"nop", "nop", nil},
		{"spin-1000", "spin", []uint64{1000}},
	}
	for _, call := range calls {
		for _, c := range cases {
			b.Run(call.name+"/"+c.name, func(b *testing.B) {
				ctx := context.Background()
				r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(c.closeOnDone))
				defer r.Close(ctx)
				mod, err := r.Instantiate(ctx, wasm)
				if err != nil {
					b.Fatal(err)
				}
				fn := mod.ExportedFunction(call.export)
				stack := make([]uint64, 1)

				b.ReportAllocs()
				for b.Loop() {
					copy(stack, call.params)
					cctx, cancel := ctx, context.CancelFunc(func() {})
					if c.timeout {
						cctx, cancel = context.WithTimeout(ctx, benchTimeout)
					}
					err := fn.CallWithStack(cctx, stack)
					cancel()
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
