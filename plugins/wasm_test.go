package plugins

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// This file runs real guest modules under wazero with a minimal host that
// follows docs/plugin-abi.md. It checks the guest side of the ABI: the Go
// SDK's wasip1 exports and imports, the WebAssembly text example and the
// hostile test guests in testdata/plugins. The product's host is in the
// runtime package, and this one exists only to test guests.

// wasmHostFixture serves the execvault import module.
type wasmHostFixture struct {
	mu       sync.Mutex
	secrets  map[SecretRef]string
	declared map[SecretRef]bool
	logs     []fakeLog
	now      int64
}

// wasmGuest is one instantiated guest module.
type wasmGuest struct {
	mod      api.Module
	alloc    api.Function
	manifest api.Function
	fire     api.Function
	host     *wasmHostFixture
}

type wasmOptions struct {
	memoryLimitPages uint32
	closeOnDone      bool

	// compiler selects wazero's compiler. Tests use the interpreter
	// because compiling a 4 MB Go guest natively took about 20 s under the
	// race detector. Benchmarks use the compiler, as the runtime does.
	compiler bool
}

func newWasmRuntime(t testing.TB, host *wasmHostFixture, opts wasmOptions) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	cfg := wazero.NewRuntimeConfigInterpreter()
	if opts.compiler {
		cfg = wazero.NewRuntimeConfigCompiler()
	}
	cfg = cfg.WithCloseOnContextDone(opts.closeOnDone)
	if opts.memoryLimitPages > 0 {
		cfg = cfg.WithMemoryLimitPages(opts.memoryLimitPages)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { _ = r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)

	read := func(m api.Module, ptr, size uint32) string {
		b, ok := m.Memory().Read(ptr, size)
		if !ok {
			return ""
		}
		return string(b)
	}
	_, err := r.NewHostModuleBuilder("execvault").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, level, ptr, size uint32) {
		host.mu.Lock()
		defer host.mu.Unlock()
		host.logs = append(host.logs, fakeLog{int32(level), read(m, ptr, size)})
	}).Export("log").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, vaultPtr, vaultLen, keyPtr, keyLen, outPtr, outCap uint32) int32 {
		host.mu.Lock()
		defer host.mu.Unlock()
		ref := SecretRef{Vault: read(m, vaultPtr, vaultLen), Key: read(m, keyPtr, keyLen)}
		if !host.declared[ref] {
			return secretNotDeclared
		}
		v, ok := host.secrets[ref]
		if !ok {
			return secretNotFound
		}
		if uint32(len(v)) <= outCap && !m.Memory().Write(outPtr, []byte(v)) {
			return secretFailed
		}
		return int32(len(v))
	}).Export("secret_get").
		NewFunctionBuilder().WithFunc(func() int64 {
		host.mu.Lock()
		defer host.mu.Unlock()
		return host.now
	}).Export("clock_now").
		Instantiate(ctx)
	if err != nil {
		t.Fatalf("instantiate host module: %v", err)
	}
	return r
}

// loadWasmGuest compiles and instantiates wasm, calls _initialize when the
// module exports it, and checks the ABI exports.
func loadWasmGuest(t testing.TB, wasm []byte, host *wasmHostFixture, opts wasmOptions) *wasmGuest {
	t.Helper()
	ctx := context.Background()
	r := newWasmRuntime(t, host, opts)
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatalf("instantiate guest: %v", err)
	}
	if init := mod.ExportedFunction("_initialize"); init != nil {
		if _, err := init.Call(ctx); err != nil {
			t.Fatalf("_initialize: %v", err)
		}
	}
	g := &wasmGuest{
		mod:      mod,
		alloc:    mod.ExportedFunction("execvault_alloc"),
		manifest: mod.ExportedFunction("execvault_manifest"),
		fire:     mod.ExportedFunction("execvault_fire"),
		host:     host,
	}
	for name, fn := range map[string]api.Function{"execvault_alloc": g.alloc, "execvault_manifest": g.manifest, "execvault_fire": g.fire} {
		if fn == nil {
			t.Fatalf("guest does not export %s", name)
		}
	}
	return g
}

func (g *wasmGuest) readPacked(packed uint64) ([]byte, error) {
	ptr, size := uint32(packed>>32), uint32(packed)
	b, ok := g.mod.Memory().Read(ptr, size)
	if !ok {
		return nil, errors.New("packed buffer lies outside guest memory")
	}
	return append([]byte(nil), b...), nil
}

func (g *wasmGuest) manifestJSON(t testing.TB) []byte {
	t.Helper()
	res, err := g.manifest.Call(context.Background())
	if err != nil {
		t.Fatalf("execvault_manifest: %v", err)
	}
	data, err := g.readPacked(res[0])
	if err != nil {
		t.Fatalf("execvault_manifest: %v", err)
	}
	return data
}

// call writes args through execvault_alloc and calls execvault_fire.
func (g *wasmGuest) call(ctx context.Context, index int, args []byte) ([]byte, error) {
	res, err := g.alloc.Call(ctx, uint64(len(args)))
	if err != nil {
		return nil, err
	}
	ptr := uint32(res[0])
	if ptr == 0 || !g.mod.Memory().Write(ptr, args) {
		return nil, errors.New("execvault_alloc returned an unusable buffer")
	}
	res, err = g.fire.Call(ctx, uint64(index), uint64(ptr), uint64(len(args)))
	if err != nil {
		return nil, err
	}
	return g.readPacked(res[0])
}

func readWasmFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read guest module: %v", err)
	}
	return data
}

var goGuestBuilds sync.Map // package path -> built module bytes

// buildGoGuest builds a Go plugin package for wasip1 once per test binary.
func buildGoGuest(t testing.TB, pkg string) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("building Go guests takes seconds; skipped with -short")
	}
	if data, ok := goGuestBuilds.Load(pkg); ok {
		return data.([]byte)
	}
	out := filepath.Join(t.TempDir(), "guest.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s for wasip1: %v\n%s", pkg, err, msg)
	}
	data := readWasmFile(t, out)
	goGuestBuilds.Store(pkg, data)
	return data
}

// notifyCases are arguments for notify-external-service and the bodies
// JSON.stringify would produce for them.
var notifyCases = []struct {
	name string
	args string
	body string
}{
	{"both fields", `{"typeName":"order","newRecord":{"id":"o-1","total":4200,"note":"x"}}`, `{"orderId":"o-1","amount":4200}`},
	{"total missing", `{"newRecord":{"id":"o-2"}}`, `{"orderId":"o-2"}`},
	{"id missing", `{"newRecord":{"total":1.50}}`, `{"amount":1.50}`},
	{"null kept", `{"newRecord":{"id":null,"total":null}}`, `{"orderId":null,"amount":null}`},
	{"exact big number", `{"newRecord":{"id":7,"total":123456789012345678901234567890}}`, `{"orderId":7,"amount":123456789012345678901234567890}`},
	{"nested values copied", `{"env":{"id":"not this"},"newRecord":{"meta":{"id":"nor this"},"id":{"a":[1,"}"]},"total":[1,2]}}`, `{"orderId":{"a":[1,"}"]},"amount":[1,2]}`},
	{"escaped strings", `{"newRecord":{"id":"a\"b\\","total":"1,000"}}`, `{"orderId":"a\"b\\","amount":"1,000"}`},
	{"spaces", ` { "newRecord" : { "id" : "o-3" , "total" : 5 } } `, `{"orderId":"o-3","amount":5}`},
	{"duplicate key", `{"newRecord":{"id":"first","id":"second"}}`, `{"orderId":"second"}`},
	{"no record", `{"oldRecord":{"id":"o-4"}}`, `{}`},
}

func TestWasmNotifyGoAndWATAgree(t *testing.T) {
	guests := map[string][]byte{
		"go":  buildGoGuest(t, "./examples/notify-external-service"),
		"wat": readWasmFile(t, "examples/wat-notify/notify.wasm"),
	}
	wantName := map[string]string{"go": "notify-external-service", "wat": "wat-notify-external-service"}

	for lang, wasm := range guests {
		t.Run(lang, func(t *testing.T) {
			g := loadWasmGuest(t, wasm, &wasmHostFixture{}, wasmOptions{})
			m, err := ParseManifest(g.manifestJSON(t))
			if err != nil {
				t.Fatalf("ParseManifest: %v", err)
			}
			e := m.Executors[0]
			if e.Name != wantName[lang] || e.Trigger.TypeName != "order" || e.Operation.URL != "https://api.example.com/orders" {
				t.Errorf("executor = %q on %q to %q, want %q on order to https://api.example.com/orders",
					e.Name, e.Trigger.TypeName, e.Operation.URL, wantName[lang])
			}
			wantHeaders := []Header{
				PlainHeader("Content-Type", "application/json"),
				SecretHeader("Authorization", "api-keys", "external-api-token"),
				SecretHeader("X-API-Key", "api-keys", "api-secret"),
			}
			if got := e.Operation.Headers; len(got) != len(wantHeaders) {
				t.Errorf("headers = %+v, want %+v", got, wantHeaders)
			} else {
				for i := range got {
					if got[i].Name != wantHeaders[i].Name || got[i].Value != wantHeaders[i].Value ||
						(got[i].Secret == nil) != (wantHeaders[i].Secret == nil) ||
						(got[i].Secret != nil && *got[i].Secret != *wantHeaders[i].Secret) {
						t.Errorf("header %d = %+v, want %+v", i, got[i], wantHeaders[i])
					}
				}
			}

			for _, tc := range notifyCases {
				res, err := g.call(context.Background(), 0, []byte(tc.args))
				if err != nil {
					t.Fatalf("%s: fire: %v", tc.name, err)
				}
				got := decodeResult(t, res)
				if got.status != StatusFire || got.url != "" || got.body != tc.body {
					t.Errorf("%s: result = %#x url %q body %s (message %q), want fire with body %s",
						tc.name, got.status, got.url, got.body, got.message, tc.body)
				}
			}

			res, err := g.call(context.Background(), 3, []byte(`{}`))
			if err != nil {
				t.Fatalf("fire executor 3: %v", err)
			}
			if got := decodeResult(t, res); got.status != StatusError {
				t.Errorf("fire executor 3: status = %#x, want StatusError", got.status)
			}

			// Arguments outside the allocated buffer are refused, not read.
			packed, err := g.fire.Call(context.Background(), 0, 8, 2)
			if err != nil {
				t.Fatalf("fire outside the buffer trapped: %v", err)
			}
			res, err = g.readPacked(packed[0])
			if err != nil {
				t.Fatalf("fire outside the buffer: %v", err)
			}
			if got := decodeResult(t, res); got.status != StatusError || !strings.Contains(got.message, "execvault_alloc") {
				t.Errorf("fire outside the buffer: result = %#x %q, want StatusError naming execvault_alloc", got.status, got.message)
			}
		})
	}
}

func TestWasmSyncToCRM(t *testing.T) {
	g := loadWasmGuest(t, buildGoGuest(t, "./examples/sync-to-external-crm"), &wasmHostFixture{}, wasmOptions{})
	m, err := ParseManifest(g.manifestJSON(t))
	if err != nil {
		t.Fatalf("ParseManifest: %v", err)
	}
	if e := m.Executors[0]; e.Name != "sync-to-external-crm" || !e.Trigger.Condition || e.Description != "Sync sales orders to external CRM system" {
		t.Errorf("executor = %+v, want sync-to-external-crm with a condition and the platform's description", e)
	}

	tests := []struct {
		name   string
		args   string
		status byte
		body   string
	}{
		{"above threshold", `{"newRecord":{"id":"so-1","customerID":"c-1","totalPrice":100001,"status":"new","createdAt":"2026-01-01T00:00:00Z"}}`,
			StatusFire, `{"orderId":"so-1","customerId":"c-1","totalPrice":100001,"status":"new","createdAt":"2026-01-01T00:00:00Z"}`},
		{"at threshold", `{"newRecord":{"id":"so-2","totalPrice":100000}}`, StatusSkip, ""},
		{"missing total", `{"newRecord":{"id":"so-3"}}`, StatusSkip, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := g.call(context.Background(), 0, []byte(tc.args))
			if err != nil {
				t.Fatalf("fire: %v", err)
			}
			got := decodeResult(t, res)
			if got.status != tc.status || got.body != tc.body {
				t.Errorf("result = %#x body %s, want %#x body %s", got.status, got.body, tc.status, tc.body)
			}
		})
	}
}

func TestWasmGoGuestHostCalls(t *testing.T) {
	host := &wasmHostFixture{
		secrets:  map[SecretRef]string{{Vault: "api-keys", Key: "declared"}: strings.Repeat("s", 300) + secretCanary},
		declared: map[SecretRef]bool{{Vault: "api-keys", Key: "declared"}: true},
		now:      1_767_225_600_000_000_000,
	}
	g := loadWasmGuest(t, buildGoGuest(t, "../testdata/plugins/go-guest"), host, wasmOptions{})
	ctx := context.Background()

	t.Run("panic becomes status 2", func(t *testing.T) {
		res, err := g.call(ctx, 0, []byte(`{}`))
		if err != nil {
			t.Fatalf("fire trapped: %v; want a StatusError result", err)
		}
		got := decodeResult(t, res)
		if got.status != StatusError || !strings.Contains(got.message, "nil map") || !strings.Contains(got.message, `"test-go-panic"`) {
			t.Errorf("result = %#x %q, want StatusError naming the executor and the nil map panic", got.status, got.message)
		}

		// The instance keeps working after a recovered panic.
		res, err = g.call(ctx, 1, []byte(`{"newRecord":{"secretKey":"declared"}}`))
		if err != nil {
			t.Fatalf("fire after panic: %v", err)
		}
		if got := decodeResult(t, res); got.status != StatusFire {
			t.Errorf("fire after panic: status = %#x (%q), want StatusFire", got.status, got.message)
		}
	})

	t.Run("declared secret read", func(t *testing.T) {
		res, err := g.call(ctx, 1, []byte(`{"newRecord":{"secretKey":"declared"}}`))
		if err != nil {
			t.Fatalf("fire: %v", err)
		}
		got := decodeResult(t, res)
		want := `{"length":` + strconv.Itoa(300+len(secretCanary)) + `}`
		if got.status != StatusFire || got.body != want {
			t.Errorf("result = %#x %s %q, want fire with body %s", got.status, got.body, redactCanary(got.message), want)
		}
	})

	t.Run("undeclared secret refused in guest", func(t *testing.T) {
		res, err := g.call(ctx, 1, []byte(`{"newRecord":{"secretKey":"other"}}`))
		if err != nil {
			t.Fatalf("fire: %v", err)
		}
		got := decodeResult(t, res)
		if got.status != StatusError || !strings.Contains(got.message, "api-keys/other") || !strings.Contains(got.message, "not declared") {
			t.Errorf("result = %#x %q, want StatusError naming api-keys/other as not declared", got.status, got.message)
		}
	})

	t.Run("logs, clock and computed url", func(t *testing.T) {
		host.mu.Lock()
		host.logs = nil
		host.mu.Unlock()
		res, err := g.call(ctx, 2, []byte(`{"env":{"base":"http://127.0.0.1:8080"},"newRecord":{"id":"o-9"}}`))
		if err != nil {
			t.Fatalf("fire: %v", err)
		}
		got := decodeResult(t, res)
		if got.status != StatusFire || got.url != "http://127.0.0.1:8080/orders/o-9" {
			t.Errorf("result = %#x url %q (%q), want fire to http://127.0.0.1:8080/orders/o-9", got.status, got.url, got.message)
		}
		if want := `{"now":1767225600000000000}`; got.body != want {
			t.Errorf("body = %s, want %s", got.body, want)
		}

		host.mu.Lock()
		logs := append([]fakeLog(nil), host.logs...)
		host.mu.Unlock()
		wantLevels := []int32{0, 1, 2, 3}
		if len(logs) != len(wantLevels) {
			t.Fatalf("host received %d log messages %q, want %d", len(logs), logs, len(wantLevels))
		}
		for i, l := range logs {
			if l.level != wantLevels[i] || !strings.Contains(l.msg, "component=test-go-log-url") {
				t.Errorf("log %d = %+v, want level %d tagged with the component", i, l, wantLevels[i])
			}
		}
	})

	t.Run("alloc and fire bounds", func(t *testing.T) {
		res, err := g.alloc.Call(ctx, api.EncodeI32(-1))
		if err != nil || uint32(res[0]) != 0 {
			t.Errorf("execvault_alloc(-1) = %v, %v, want 0", res, err)
		}
		res, err = g.alloc.Call(ctx, 0)
		if err != nil || uint32(res[0]) == 0 {
			t.Errorf("execvault_alloc(0) = %v, %v, want a non-zero pointer", res, err)
		}
		base := uint32(res[0])

		for _, tc := range []struct {
			name      string
			ptr, size uint32
		}{
			{"pointer below the buffer", 8, 2},
			{"length past the buffer", base, 1 << 30},
		} {
			res, err := g.fire.Call(ctx, 0, uint64(tc.ptr), uint64(tc.size))
			if err != nil {
				t.Fatalf("%s: fire trapped: %v", tc.name, err)
			}
			out, err := g.readPacked(res[0])
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got := decodeResult(t, out); got.status != StatusError || !strings.Contains(got.message, "execvault_alloc") {
				t.Errorf("%s: result = %#x %q, want StatusError pointing at execvault_alloc", tc.name, got.status, got.message)
			}
		}
	})

	t.Run("url callback error", func(t *testing.T) {
		res, err := g.call(ctx, 2, []byte(`{"newRecord":{"id":"o-9"}}`))
		if err != nil {
			t.Fatalf("fire: %v", err)
		}
		if got := decodeResult(t, res); got.status != StatusError || !strings.Contains(got.message, "env.base is missing") {
			t.Errorf("result = %#x %q, want StatusError with the callback's error", got.status, got.message)
		}
	})
}

func TestWasmTestGuests(t *testing.T) {
	dir := filepath.Join("..", "testdata", "plugins")
	ctx := context.Background()

	t.Run("manifests", func(t *testing.T) {
		tests := []struct {
			file    string
			wantErr string // "" for a valid manifest
		}{
			{"echo.wasm", ""},
			{"loop.wasm", ""},
			{"trap.wasm", ""},
			{"membomb.wasm", ""},
			{"hugeoutput.wasm", ""},
			{"undeclared-secret.wasm", ""},
			{"abi-v99.wasm", "unsupported plugin ABI version 99"},
			{"bad-manifest-name.wasm", `invalid executor name "Bad_Name"`},
			{"bad-manifest-trigger.wasm", `unknown trigger kind "cron"`},
			{"bad-manifest-operation.wasm", `unknown operation kind "graphql"`},
			{"bad-manifest-secret.wasm", "malformed secret reference"},
			{"bad-manifest-duplicate.wasm", `duplicate executor name "test-duplicate"`},
		}
		names := map[string]string{}
		for _, tc := range tests {
			t.Run(tc.file, func(t *testing.T) {
				g := loadWasmGuest(t, readWasmFile(t, filepath.Join(dir, tc.file)), &wasmHostFixture{}, wasmOptions{})
				m, err := ParseManifest(g.manifestJSON(t))
				if tc.wantErr == "" {
					if err != nil {
						t.Fatalf("ParseManifest: %v", err)
					}
					for _, e := range m.Executors {
						if other, dup := names[e.Name]; dup {
							t.Errorf("executor name %q is used by %s too", e.Name, other)
						}
						names[e.Name] = tc.file
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("ParseManifest error = %v, want one containing %q", err, tc.wantErr)
				}
			})
		}
	})

	t.Run("missing export", func(t *testing.T) {
		r := newWasmRuntime(t, &wasmHostFixture{}, wasmOptions{})
		mod, err := r.Instantiate(ctx, readWasmFile(t, filepath.Join(dir, "missing-export.wasm")))
		if err != nil {
			t.Fatalf("instantiate: %v", err)
		}
		if mod.ExportedFunction("execvault_fire") != nil || mod.ExportedFunction("execvault_manifest") == nil {
			t.Errorf("exports: fire present %v, manifest present %v, want only the manifest",
				mod.ExportedFunction("execvault_fire") != nil, mod.ExportedFunction("execvault_manifest") != nil)
		}
	})

	t.Run("not wasm", func(t *testing.T) {
		r := newWasmRuntime(t, &wasmHostFixture{}, wasmOptions{})
		if _, err := r.CompileModule(ctx, readWasmFile(t, filepath.Join(dir, "notwasm.wasm"))); err == nil {
			t.Errorf("CompileModule of a text file: got nil error, want a format error")
		}
	})

	t.Run("echo", func(t *testing.T) {
		g := loadWasmGuest(t, readWasmFile(t, filepath.Join(dir, "echo.wasm")), &wasmHostFixture{}, wasmOptions{})
		args := `{"env":{"url":"http://127.0.0.1:8080/hook"},"newRecord":{"id":"o-1","total":123456789012345678901234567890}}`
		res, err := g.call(ctx, 0, []byte(args))
		if err != nil {
			t.Fatalf("fire: %v", err)
		}
		got := decodeResult(t, res)
		if got.status != StatusFire || got.url != "http://127.0.0.1:8080/hook" || got.body != args {
			t.Errorf("result = %#x url %q body %s (%q), want fire to the env url with the arguments as body", got.status, got.url, got.body, got.message)
		}

		res, _ = g.call(ctx, 0, []byte(`{"env":{}}`))
		if got := decodeResult(t, res); got.status != StatusError || !strings.Contains(got.message, "env.url is missing") {
			t.Errorf("without env.url: result = %#x %q, want StatusError", got.status, got.message)
		}
		res, _ = g.call(ctx, 1, []byte(`{}`))
		if got := decodeResult(t, res); got.status != StatusSkip {
			t.Errorf("skip executor: status = %#x, want StatusSkip", got.status)
		}
	})

	t.Run("trap", func(t *testing.T) {
		g := loadWasmGuest(t, readWasmFile(t, filepath.Join(dir, "trap.wasm")), &wasmHostFixture{}, wasmOptions{})
		if _, err := g.call(ctx, 0, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("fire error = %v, want an unreachable trap", err)
		}
	})

	t.Run("loop", func(t *testing.T) {
		g := loadWasmGuest(t, readWasmFile(t, filepath.Join(dir, "loop.wasm")), &wasmHostFixture{}, wasmOptions{closeOnDone: true})
		callCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := g.call(callCtx, 0, []byte(`{}`)); err == nil {
			t.Errorf("fire of an endless loop: got nil error, want a deadline error")
		}
	})

	t.Run("membomb", func(t *testing.T) {
		g := loadWasmGuest(t, readWasmFile(t, filepath.Join(dir, "membomb.wasm")), &wasmHostFixture{}, wasmOptions{memoryLimitPages: 64})
		if _, err := g.call(ctx, 0, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("fire error = %v, want a trap once memory reaches the cap", err)
		}
		if pages := g.mod.Memory().Size() / 65536; pages != 64 {
			t.Errorf("memory after the bomb = %d pages, want the cap of 64", pages)
		}
	})

	t.Run("huge output", func(t *testing.T) {
		g := loadWasmGuest(t, readWasmFile(t, filepath.Join(dir, "hugeoutput.wasm")), &wasmHostFixture{}, wasmOptions{})
		res, err := g.alloc.Call(ctx, 2)
		if err != nil {
			t.Fatalf("alloc: %v", err)
		}
		res, err = g.fire.Call(ctx, 0, res[0], 2)
		if err != nil {
			t.Fatalf("fire: %v", err)
		}
		if size := uint32(res[0]); size != 64<<20 {
			t.Errorf("claimed result length = %d, want %d", size, 64<<20)
		}
		if _, err := g.readPacked(res[0]); err == nil {
			t.Errorf("reading the claimed result succeeded, want it to lie outside memory")
		}
	})

	t.Run("undeclared secret", func(t *testing.T) {
		host := &wasmHostFixture{
			secrets:  map[SecretRef]string{{Vault: "api-keys", Key: "undeclared"}: secretCanary},
			declared: map[SecretRef]bool{{Vault: "api-keys", Key: "declared"}: true},
		}
		g := loadWasmGuest(t, readWasmFile(t, filepath.Join(dir, "undeclared-secret.wasm")), host, wasmOptions{})
		res, err := g.call(ctx, 0, []byte(`{}`))
		if err != nil {
			t.Fatalf("fire: %v", err)
		}
		got := decodeResult(t, res)
		if got.status != StatusFire || got.body != `{"code":-1}` {
			t.Errorf("result = %#x body %q, want fire with body {\"code\":-1}", got.status, redactCanary(got.body))
		}
	})
}

// BenchmarkWasmFire measures one firing through wazero, from writing the
// arguments into guest memory to copying the result out, for the Go and
// the WebAssembly text notify executors.
func BenchmarkWasmFire(b *testing.B) {
	args := []byte(`{"workspaceId":"8a7d3f6e-1c2b-4d5e-9f80-a1b2c3d4e5f6","appNamespace":"sales","typeName":"order",` +
		`"event":"created","rawEvent":"tailordb.type_record.created","env":{"stage":"production"},` +
		`"newRecord":{"id":"5f0c8e2a-7b1d-4c3e-8a9f-0b1c2d3e4f50","total":150000,"status":"confirmed","createdAt":"2026-03-01T09:30:00Z"}}`)
	guests := []struct {
		name string
		wasm func(b *testing.B) []byte
	}{
		{"go", func(b *testing.B) []byte { return buildGoGuest(b, "./examples/notify-external-service") }},
		{"wat", func(b *testing.B) []byte { return readWasmFile(b, "examples/wat-notify/notify.wasm") }},
	}
	for _, gc := range guests {
		b.Run(gc.name, func(b *testing.B) {
			g := loadWasmGuest(b, gc.wasm(b), &wasmHostFixture{}, wasmOptions{compiler: true})
			ctx := context.Background()
			res, err := g.alloc.Call(ctx, uint64(len(args)))
			if err != nil {
				b.Fatalf("alloc: %v", err)
			}
			ptr := uint32(res[0])
			b.ReportAllocs()
			for b.Loop() {
				g.mod.Memory().Write(ptr, args)
				res, err := g.fire.Call(ctx, 0, uint64(ptr), uint64(len(args)))
				if err != nil {
					b.Fatalf("fire: %v", err)
				}
				out, ok := g.mod.Memory().Read(uint32(res[0]>>32), uint32(res[0]))
				if !ok || out[0] != StatusFire || binary.LittleEndian.Uint32(out[1:5]) != 0 {
					b.Fatalf("unexpected result %q", out)
				}
			}
		})
	}
}
