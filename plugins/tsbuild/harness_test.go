package tsbuild

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/execvault/execvault/plugins"
)

// engineWasm is the engine module that TestMain builds.
var engineWasm []byte

// engineBuildError is set when TestMain could not build the engine; tests
// that need it fail with this error.
var engineBuildError error

// fixedClock is the time the harness's clock_now returns.
var fixedClock = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "execvault-js-engine")
	if err != nil {
		fmt.Fprintln(os.Stderr, "create temp dir:", err)
		os.Exit(1)
	}
	engineWasm, engineBuildError = buildEngine(dir)
	if engineBuildError == nil && raceEnabled {
		engineBuildError = warmCompilationCache(dir, filepath.Join(dir, EngineFileName))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildEngine compiles ./plugins/jsengine the way the Makefile does, plus
// -trimpath so that the bytes, and with them the compilation cache entry,
// do not depend on where the repository is checked out. The Go build cache
// makes repeated runs take about a second.
func buildEngine(dir string) ([]byte, error) {
	out := filepath.Join(dir, EngineFileName)
	cmd := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-o", out, "./plugins/jsengine")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if output, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build engine: %v\n%s", err, output)
	}
	return os.ReadFile(out)
}

// warmCompilationCache compiles the engine into the compilation cache in a
// test binary built without the race detector, because a race-instrumented
// wazero takes minutes to compile the engine on a loaded machine.
func warmCompilationCache(dir, engine string) error {
	warmer := filepath.Join(dir, "cachewarm.test")
	build := exec.Command("go", "test", "-c", "-o", warmer, "./plugins/tsbuild/internal/cachewarm")
	build.Dir = "../.."
	if output, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build cache warmer: %v\n%s", err, output)
	}
	run := exec.Command(warmer, "-test.run=^TestWarmCache$")
	run.Env = append(os.Environ(), "EXECVAULT_WARM_MODULE="+engine, "EXECVAULT_WARM_CACHE_DIR="+compilationCacheDir())
	if output, err := run.CombinedOutput(); err != nil {
		return fmt.Errorf("warm compilation cache: %v\n%s", err, output)
	}
	return nil
}

// requireEngine returns the built engine or fails the test.
func requireEngine(tb testing.TB) []byte {
	tb.Helper()
	if engineBuildError != nil {
		tb.Fatal(engineBuildError)
	}
	return engineWasm
}

// compilationCacheDir is where wazero keeps compiled engines between test
// runs: the engine takes seconds to compile cold and well under a second
// from the cache.
func compilationCacheDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "execvault-test", "wazero")
	}
	return filepath.Join(os.TempDir(), "execvault-test-wazero")
}

// wasmHost is one wazero runtime with the execvault host module and the
// engine compiled once, shared by every guest instantiated from it.
type wasmHost struct {
	runtime  wazero.Runtime
	compiled wazero.CompiledModule

	mu   sync.Mutex
	logs []string
}

var (
	sharedHostOnce sync.Once
	sharedHost     *wasmHost
	sharedHostErr  error
)

// testHost returns the wazero host shared by all tests of the package.
func testHost(tb testing.TB) *wasmHost {
	tb.Helper()
	engine := requireEngine(tb)
	sharedHostOnce.Do(func() {
		cache, err := wazero.NewCompilationCacheWithDir(compilationCacheDir())
		if err != nil {
			sharedHostErr = err
			return
		}
		sharedHost, sharedHostErr = newWasmHost(context.Background(), wazero.NewRuntimeConfig().WithCompilationCache(cache), engine)
	})
	if sharedHostErr != nil {
		tb.Fatalf("start wazero host: %v", sharedHostErr)
	}
	return sharedHost
}

func newWasmHost(ctx context.Context, config wazero.RuntimeConfig, engine []byte) (*wasmHost, error) {
	h := &wasmHost{runtime: wazero.NewRuntimeWithConfig(ctx, config)}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, h.runtime); err != nil {
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	_, err := h.runtime.NewHostModuleBuilder("execvault").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, level, ptr, size uint32) {
		msg, _ := m.Memory().Read(ptr, size)
		h.mu.Lock()
		h.logs = append(h.logs, fmt.Sprintf("%d %s", level, msg))
		h.mu.Unlock()
	}).Export("log").
		NewFunctionBuilder().WithFunc(func(context.Context, api.Module, uint32, uint32, uint32, uint32, uint32, uint32) int32 {
		return -1
	}).Export("secret_get").
		NewFunctionBuilder().WithFunc(func(context.Context) int64 { return fixedClock.UnixNano() }).Export("clock_now").
		Instantiate(ctx)
	if err != nil {
		return nil, fmt.Errorf("instantiate execvault host module: %w", err)
	}
	h.compiled, err = h.runtime.CompileModule(ctx, engine)
	if err != nil {
		return nil, fmt.Errorf("compile engine: %w", err)
	}
	return h, nil
}

// takeLogs returns and clears the log messages received so far.
func (h *wasmHost) takeLogs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	logs := h.logs
	h.logs = nil
	return logs
}

// guest is one engine instance.
type guest struct {
	mod      api.Module
	alloc    api.Function
	load     api.Function
	manifest api.Function
	fire     api.Function
}

// instantiate creates an engine instance and runs _initialize.
func (h *wasmHost) instantiate(ctx context.Context) (*guest, error) {
	mod, err := h.runtime.InstantiateModule(ctx, h.compiled,
		wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
	if err != nil {
		return nil, fmt.Errorf("instantiate engine: %w", err)
	}
	g := &guest{
		mod:      mod,
		alloc:    mod.ExportedFunction("execvault_alloc"),
		load:     mod.ExportedFunction("execvault_load"),
		manifest: mod.ExportedFunction("execvault_manifest"),
		fire:     mod.ExportedFunction("execvault_fire"),
	}
	for name, fn := range map[string]api.Function{"execvault_alloc": g.alloc, "execvault_load": g.load, "execvault_manifest": g.manifest, "execvault_fire": g.fire} {
		if fn == nil {
			mod.Close(ctx)
			return nil, fmt.Errorf("engine does not export %s", name)
		}
	}
	return g, nil
}

// loadPlugin instantiates the engine for a built plugin and loads its
// bundle, as the runtime does.
func (h *wasmHost) loadPlugin(ctx context.Context, module []byte) (*guest, error) {
	_, payload, ok, err := plugins.SplitBundle(module)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("module has no %s section", plugins.BundleSectionName)
	}
	g, err := h.instantiate(ctx)
	if err != nil {
		return nil, err
	}
	if err := g.loadBundle(ctx, payload); err != nil {
		g.mod.Close(ctx)
		return nil, err
	}
	return g, nil
}

// write copies data into a buffer from execvault_alloc.
func (g *guest) write(ctx context.Context, data []byte) (uint32, error) {
	res, err := g.alloc.Call(ctx, uint64(len(data)))
	if err != nil {
		return 0, fmt.Errorf("execvault_alloc: %w", err)
	}
	ptr := uint32(res[0])
	if ptr == 0 {
		return 0, fmt.Errorf("execvault_alloc(%d) returned 0", len(data))
	}
	if !g.mod.Memory().Write(ptr, data) {
		return 0, fmt.Errorf("execvault_alloc returned %d, out of memory range", ptr)
	}
	return ptr, nil
}

// read copies a packed (ptr<<32 | len) buffer out of guest memory.
func (g *guest) read(packed uint64) ([]byte, error) {
	ptr, size := uint32(packed>>32), uint32(packed)
	data, ok := g.mod.Memory().Read(ptr, size)
	if !ok {
		return nil, fmt.Errorf("buffer %d+%d is out of memory range", ptr, size)
	}
	return append([]byte(nil), data...), nil
}

// loadError is the message execvault_load returned.
type loadError struct{ msg string }

func (e *loadError) Error() string { return e.msg }

func (g *guest) loadBundle(ctx context.Context, payload []byte) error {
	ptr, err := g.write(ctx, payload)
	if err != nil {
		return err
	}
	res, err := g.load.Call(ctx, uint64(ptr), uint64(len(payload)))
	if err != nil {
		return fmt.Errorf("execvault_load: %w", err)
	}
	if res[0] == 0 {
		return nil
	}
	msg, err := g.read(res[0])
	if err != nil {
		return err
	}
	return &loadError{msg: string(msg)}
}

func (g *guest) manifestJSON(ctx context.Context) ([]byte, error) {
	res, err := g.manifest.Call(ctx)
	if err != nil {
		return nil, fmt.Errorf("execvault_manifest: %w", err)
	}
	return g.read(res[0])
}

// firing is a decoded execvault_fire result.
type firing struct {
	status byte
	url    string
	body   string
	errMsg string
}

func (g *guest) fireRaw(ctx context.Context, index int, args []byte) ([]byte, error) {
	ptr, err := g.write(ctx, args)
	if err != nil {
		return nil, err
	}
	res, err := g.fire.Call(ctx, uint64(index), uint64(ptr), uint64(len(args)))
	if err != nil {
		return nil, fmt.Errorf("execvault_fire: %w", err)
	}
	ptr, size := uint32(res[0]>>32), uint32(res[0])
	data, ok := g.mod.Memory().Read(ptr, size)
	if !ok {
		return nil, fmt.Errorf("result %d+%d is out of memory range", ptr, size)
	}
	return data, nil
}

func (g *guest) fireDecoded(ctx context.Context, index int, args string) (firing, error) {
	data, err := g.fireRaw(ctx, index, []byte(args))
	if err != nil {
		return firing{}, err
	}
	return decodeFiring(data)
}

func decodeFiring(data []byte) (firing, error) {
	if len(data) == 0 {
		return firing{}, fmt.Errorf("empty result")
	}
	f := firing{status: data[0]}
	switch f.status {
	case 0x00:
		if len(data) != 1 {
			return f, fmt.Errorf("skip result has %d trailing bytes", len(data)-1)
		}
	case 0x01:
		if len(data) < 5 {
			return f, fmt.Errorf("fire result of %d bytes is shorter than its header", len(data))
		}
		n := binary.LittleEndian.Uint32(data[1:5])
		if int(n) > len(data)-5 {
			return f, fmt.Errorf("fire result declares a %d-byte URL in %d bytes", n, len(data)-5)
		}
		f.url = string(data[5 : 5+n])
		f.body = string(data[5+n:])
	case 0x02:
		f.errMsg = string(data[1:])
	default:
		return f, fmt.Errorf("unknown status byte %#x", f.status)
	}
	return f, nil
}
