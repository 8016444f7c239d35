package tsbuild

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/execvault/execvault/plugins"
)

const examplesDir = "../examples/ts"

// buildPlugin builds a plugin module from entries with the test engine.
func buildPlugin(tb testing.TB, entries ...string) []byte {
	tb.Helper()
	module, err := Build(context.Background(), Options{Entries: entries, EngineWasm: requireEngine(tb), BaseDir: "../.."})
	if err != nil {
		tb.Fatalf("Build(%v): %v", entries, err)
	}
	return module
}

// loadGuest builds entries and loads them into a fresh engine instance.
func loadGuest(tb testing.TB, entries ...string) *guest {
	tb.Helper()
	ctx := context.Background()
	g, err := testHost(tb).loadPlugin(ctx, buildPlugin(tb, entries...))
	if err != nil {
		tb.Fatalf("load plugin: %v", err)
	}
	tb.Cleanup(func() { g.mod.Close(ctx) })
	return g
}

func TestBuildKeepsEngineBytes(t *testing.T) {
	engine := requireEngine(t)
	module := buildPlugin(t, examplesDir)
	split, payload, ok, err := plugins.SplitBundle(module)
	if err != nil || !ok {
		t.Fatalf("SplitBundle: ok %v, error %v", ok, err)
	}
	if !bytes.Equal(split, engine) {
		t.Errorf("engine part differs from the engine: %d bytes, want %d", len(split), len(engine))
	}
	if !bytes.Contains(payload, []byte(`"files":["plugins/examples/ts/notify-external-service.ts","plugins/examples/ts/sync-to-external-crm.ts"]`)) {
		t.Errorf("payload does not list the example files: %.300s", payload)
	}
}

func TestPlatformExamplesThroughWasm(t *testing.T) {
	ctx := context.Background()
	g := loadGuest(t, examplesDir)

	data, err := g.manifestJSON(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := plugins.ParseManifest(data)
	if err != nil {
		t.Fatalf("ParseManifest: %v\n%s", err, data)
	}
	if len(m.Executors) != 2 {
		t.Fatalf("manifest has %d executors, want 2", len(m.Executors))
	}
	crm := m.Executors[1]
	if crm.Name != "sync-to-external-crm" || !crm.Trigger.Condition || crm.Trigger.TypeName != "salesOrder" {
		t.Errorf("executor 1 = %+v, want sync-to-external-crm on salesOrder with a condition", crm)
	}
	if len(crm.Operation.Headers) != 3 || crm.Operation.Headers[1].Secret == nil ||
		crm.Operation.Headers[1].Secret.String() != "api-keys/crm-api-token" {
		t.Errorf("headers = %+v, want Authorization from api-keys/crm-api-token", crm.Operation.Headers)
	}

	tests := []struct {
		name     string
		executor int
		args     string
		status   byte
		body     string
	}{
		{
			name:     "notify body",
			executor: 0,
			args:     `{"newRecord":{"id":"o1","total":12.5}}`,
			status:   0x01,
			body:     `{"orderId":"o1","amount":12.5}`,
		},
		{name: "crm at threshold skips", executor: 1, args: `{"newRecord":{"id":"o1","totalPrice":100000}}`, status: 0x00},
		{
			name:     "crm above threshold fires",
			executor: 1,
			args:     `{"newRecord":{"id":"o2","customerID":"c1","totalPrice":100001,"status":"paid","createdAt":"2024-05-06T07:08:09Z"}}`,
			status:   0x01,
			body:     `{"orderId":"o2","customerId":"c1","totalPrice":100001,"status":"paid","createdAt":"2024-05-06T07:08:09Z"}`,
		},
		{name: "crm missing total skips", executor: 1, args: `{"newRecord":{"id":"o3"}}`, status: 0x00},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := g.fireDecoded(ctx, tt.executor, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if got.status != tt.status {
				t.Fatalf("status = %#x (%s), want %#x", got.status, got.errMsg, tt.status)
			}
			if got.url != "" {
				t.Errorf("url = %q, want empty for a fixed URL", got.url)
			}
			if got.body != tt.body {
				t.Errorf("body = %s, want %s", got.body, tt.body)
			}
		})
	}
}

func TestFixturesThroughWasm(t *testing.T) {
	ctx := context.Background()
	g := loadGuest(t, filepath.Join(examplesDir, "fixtures"))
	data, err := g.manifestJSON(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := plugins.ParseManifest(data)
	if err != nil {
		t.Fatalf("ParseManifest: %v\n%s", err, data)
	}
	index := make(map[string]int)
	for i, ex := range m.Executors {
		index[ex.Name] = i
	}

	tests := []struct {
		name     string
		executor string
		args     string
		status   byte
		url      string
		body     string
		errParts []string
	}{
		{
			name:     "url function with imported helper and date",
			executor: "update-crm-order",
			args:     `{"newRecord":{"id":"x 1","note":null}}`,
			status:   0x01,
			url:      "https://crm.example.com/api/v2/orders/x%201",
			body:     `{"orderId":"x 1","note":null,"syncedAt":"2024-01-02T03:04:05.000Z","nested":{"kept":1}}`,
		},
		{
			name:     "record trigger created event",
			executor: "audit-customer",
			args:     `{"event":"created","rawEvent":"tailordb.type_record.created","newRecord":{"id":"c1"}}`,
			status:   0x01,
			body:     `{"event":"created","rawEvent":"tailordb.type_record.created","id":"c1"}`,
		},
		{
			name:     "record trigger updated event skips",
			executor: "audit-customer",
			args:     `{"event":"updated","rawEvent":"tailordb.type_record.updated","newRecord":{"id":"c1"},"oldRecord":{"id":"c1"}}`,
			status:   0x00,
		},
		{
			name:     "record trigger deleted event",
			executor: "audit-customer",
			args:     `{"event":"deleted","rawEvent":"tailordb.type_record.deleted","oldRecord":{"id":"c2"}}`,
			status:   0x01,
			body:     `{"event":"deleted","rawEvent":"tailordb.type_record.deleted","id":"c2"}`,
		},
		{
			name:     "thrown error maps to TypeScript",
			executor: "charge-invoice",
			args:     `{"newRecord":{"id":"i1"}}`,
			status:   0x02,
			errParts: []string{
				"RangeError: amount must be positive, got undefined",
				"at requirePositive (plugins/examples/ts/fixtures/lib/crm.ts:12:11)",
				"plugins/examples/ts/fixtures/throwing.ts:12:",
			},
		},
		{
			name:     "async body",
			executor: "nightly-report",
			args:     `{"scheduledTime":"2024-05-06T17:00:00Z"}`,
			status:   0x01,
			body:     `{"day":"2024-05-06"}`,
		},
		{
			name:     "invalid arguments JSON",
			executor: "nightly-report",
			args:     `{"scheduledTime":`,
			status:   0x02,
			errParts: []string{`executor "nightly-report": invalid arguments: not valid JSON`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, ok := index[tt.executor]
			if !ok {
				t.Fatalf("manifest has no executor %q", tt.executor)
			}
			got, err := g.fireDecoded(ctx, i, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if got.status != tt.status {
				t.Fatalf("status = %#x (%s), want %#x", got.status, got.errMsg, tt.status)
			}
			if got.url != tt.url {
				t.Errorf("url = %q, want %q", got.url, tt.url)
			}
			if got.body != tt.body {
				t.Errorf("body = %s, want %s", got.body, tt.body)
			}
			for _, part := range tt.errParts {
				if !strings.Contains(got.errMsg, part) {
					t.Errorf("message = %q\nwant it to contain %q", got.errMsg, part)
				}
			}
		})
	}
}

func TestGuestProtocol(t *testing.T) {
	ctx := context.Background()
	h := testHost(t)
	module := buildPlugin(t, examplesDir)
	_, payload, _, err := plugins.SplitBundle(module)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("fire before load", func(t *testing.T) {
		g, err := h.instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer g.mod.Close(ctx)
		got, err := g.fireDecoded(ctx, 0, `{}`)
		if err != nil {
			t.Fatal(err)
		}
		if got.status != 0x02 || !strings.Contains(got.errMsg, "execvault_load") {
			t.Errorf("result = %#x %q, want an error naming execvault_load", got.status, got.errMsg)
		}
	})

	t.Run("second load", func(t *testing.T) {
		g, err := h.instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer g.mod.Close(ctx)
		if err := g.loadBundle(ctx, payload); err != nil {
			t.Fatal(err)
		}
		err = g.loadBundle(ctx, payload)
		var le *loadError
		if !errors.As(err, &le) || !strings.Contains(le.msg, "already called") {
			t.Errorf("second load error = %v, want already called", err)
		}
	})

	t.Run("index out of range", func(t *testing.T) {
		g, err := h.loadPlugin(ctx, module)
		if err != nil {
			t.Fatal(err)
		}
		defer g.mod.Close(ctx)
		got, err := g.fireDecoded(ctx, 2, `{}`)
		if err != nil {
			t.Fatal(err)
		}
		if got.status != 0x02 || !strings.Contains(got.errMsg, "index 2 out of range") {
			t.Errorf("result = %#x %q, want index out of range", got.status, got.errMsg)
		}
	})

	t.Run("reused argument buffer", func(t *testing.T) {
		g, err := h.loadPlugin(ctx, module)
		if err != nil {
			t.Fatal(err)
		}
		defer g.mod.Close(ctx)
		res, err := g.alloc.Call(ctx, 4096)
		if err != nil {
			t.Fatal(err)
		}
		base := uint32(res[0])
		for i, args := range []string{
			`{"newRecord":{"id":"first","totalPrice":200000,"status":"s"}}`,
			`{"newRecord":{"id":"2","totalPrice":300000}}`,
		} {
			// The second firing writes at an offset inside the buffer.
			ptr := base + uint32(i*100)
			if !g.mod.Memory().Write(ptr, []byte(args)) {
				t.Fatal("write arguments")
			}
			out, err := g.fire.Call(ctx, 1, uint64(ptr), uint64(len(args)))
			if err != nil {
				t.Fatal(err)
			}
			data, err := g.read(out[0])
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeFiring(data)
			if err != nil {
				t.Fatal(err)
			}
			if got.status != 0x01 || !strings.Contains(got.body, `"orderId":`) {
				t.Errorf("firing %d = %#x %q %s, want fire", i, got.status, got.errMsg, got.body)
			}
		}
	})

	t.Run("arguments outside the buffer", func(t *testing.T) {
		g, err := h.loadPlugin(ctx, module)
		if err != nil {
			t.Fatal(err)
		}
		defer g.mod.Close(ctx)
		res, err := g.alloc.Call(ctx, 16)
		if err != nil {
			t.Fatal(err)
		}
		// The engine may hand out more than 16 bytes, but not 64 MiB.
		out, err := g.fire.Call(ctx, 1, res[0], 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		data, err := g.read(out[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 || data[0] != 0x02 || !strings.Contains(string(data), "execvault_alloc") {
			t.Errorf("result = %q, want an error naming execvault_alloc", data)
		}
	})

	t.Run("corrupt payload", func(t *testing.T) {
		g, err := h.instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer g.mod.Close(ctx)
		err = g.loadBundle(ctx, []byte(`{"format":1,"code":"var x = ;","files":["a.ts"]}`))
		var le *loadError
		if !errors.As(err, &le) || !strings.Contains(le.msg, "parse bundled script") {
			t.Errorf("load error = %v, want a parse error", err)
		}
	})
}

// TestEngineMemoryStaysBounded fires sync-to-external-crm many times and
// checks that the collections between firings keep linear memory near its
// size after loading, about 16 MiB.
func TestEngineMemoryStaysBounded(t *testing.T) {
	const (
		firings  = 5000
		maxBytes = 24 << 20
	)
	ctx := context.Background()
	g := loadGuest(t, filepath.Join(examplesDir, "sync-to-external-crm.ts"))
	args := []byte(`{"newRecord":{"id":"o1","customerID":"c1","totalPrice":250000,"status":"open","createdAt":"2024-05-06T07:08:09Z"}}`)
	for range firings {
		data, err := g.fireRaw(ctx, 0, args)
		if err != nil {
			t.Fatal(err)
		}
		if data[0] != 0x01 {
			t.Fatalf("status = %#x (%s), want fire", data[0], data[1:])
		}
	}
	if got := g.mod.Memory().Size(); got > maxBytes {
		t.Errorf("linear memory after %d firings = %.1f MiB, want at most %d MiB", firings, float64(got)/(1<<20), maxBytes>>20)
	}
}

func TestConsoleReachesHostLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, dir, "logging.ts", `
import { createExecutor, scheduleTrigger } from "@tailor-platform/sdk";
export default createExecutor({
  name: "logging",
  trigger: scheduleTrigger({ cron: "* * * * *" }),
  operation: {
    kind: "webhook",
    url: "https://example.com/hook",
    requestBody: ({ scheduledTime }) => {
      console.warn("firing at", scheduledTime, { n: 1 });
      return { at: new Date().toISOString() };
    },
  },
});
`)
	h := testHost(t)
	h.takeLogs()
	g := loadGuest(t, dir)
	got, err := g.fireDecoded(ctx, 0, `{"scheduledTime":"2024-05-06T07:08:00Z"}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"at":"2024-05-06T07:08:09.000Z"}`; got.body != want {
		t.Errorf("body = %s, want %s (Date from clock_now)", got.body, want)
	}
	logs := h.takeLogs()
	want := `2 firing at 2024-05-06T07:08:00Z {"n":1}`
	found := false
	for _, l := range logs {
		found = found || l == want
	}
	if !found {
		t.Errorf("host logs = %q, want one %q", logs, want)
	}
}

// BenchmarkTSConditionAndBody measures one firing of sync-to-external-crm
// that passes the condition, through wazero: copying the arguments in,
// execvault_fire, and reading the result.
func BenchmarkTSConditionAndBody(b *testing.B) {
	ctx := context.Background()
	g := loadGuest(b, filepath.Join(examplesDir, "sync-to-external-crm.ts"))
	args := []byte(`{"workspaceId":"ws-1","appNamespace":"sales","typeName":"salesOrder","event":"created",` +
		`"rawEvent":"tailordb.type_record.created","env":{"stage":"dev"},"newRecord":{"id":"0f8e4c2a-1b3d-4e5f-8a9b-0c1d2e3f4a5b",` +
		`"customerID":"c-42","totalPrice":250000,"status":"confirmed","createdAt":"2024-05-06T07:08:09Z","lines":3}}`)
	b.SetBytes(int64(len(args)))
	b.ReportAllocs()
	cpuStart, measured := processCPUTime()
	for b.Loop() {
		data, err := g.fireRaw(ctx, 0, args)
		if err != nil {
			b.Fatal(err)
		}
		if data[0] != 0x01 {
			b.Fatalf("status = %#x (%s), want fire", data[0], data[1:])
		}
	}
	if cpuEnd, ok := processCPUTime(); ok && measured {
		b.ReportMetric(float64(cpuEnd-cpuStart)/float64(b.N)/1e3, "cpu-µs/op")
	}
}

// BenchmarkEngineInstantiate measures instantiating the compiled engine,
// running _initialize and loading the example bundle.
func BenchmarkEngineInstantiate(b *testing.B) {
	ctx := context.Background()
	h := testHost(b)
	module := buildPlugin(b, examplesDir)
	for b.Loop() {
		g, err := h.loadPlugin(ctx, module)
		if err != nil {
			b.Fatal(err)
		}
		g.mod.Close(ctx)
	}
	b.ReportMetric(float64(len(module))/(1<<20), "module-MiB")
}

// BenchmarkEngineCompile measures compiling the engine with an empty
// compilation cache ("cold") and from a warm on-disk cache ("cached").
func BenchmarkEngineCompile(b *testing.B) {
	ctx := context.Background()
	engine := requireEngine(b)
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			r := wazero.NewRuntime(ctx)
			if _, err := r.CompileModule(ctx, engine); err != nil {
				b.Fatal(err)
			}
			r.Close(ctx)
		}
	})
	b.Run("cached", func(b *testing.B) {
		dir := b.TempDir()
		warm := func() {
			cache, err := wazero.NewCompilationCacheWithDir(dir)
			if err != nil {
				b.Fatal(err)
			}
			r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
			if _, err := r.CompileModule(ctx, engine); err != nil {
				b.Fatal(err)
			}
			r.Close(ctx)
		}
		warm()
		for b.Loop() {
			warm()
		}
	})
}
