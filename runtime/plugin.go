package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/execvault/execvault/plugins"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Executor is one loaded executor: its manifest definition plus where it
// came from and the limits in force.
type Executor struct {
	plugins.Executor

	// File is the plugin file that declares the executor.
	File string
	// ABIVersion is the ABI version the plugin declared.
	ABIVersion int
	// Index is the executor's position in its plugin's manifest.
	Index int
	// Limits are the runtime defaults with the manifest's overrides.
	Limits Limits

	plugin     *plugin
	actor      string
	declared   map[plugins.SecretRef]bool
	logLimiter *logLimiter
}

func (e *Executor) declares(ref plugins.SecretRef) bool { return e.declared[ref] }

// plugin is one loaded module file.
type plugin struct {
	file      string
	hash      [sha256.Size]byte
	compiled  wazero.CompiledModule
	bundle    []byte
	manifest  *plugins.Manifest
	executors []*Executor
	pool      *pool
	memLimit  uint64
}

// initTimeout bounds _initialize, execvault_load and execvault_manifest,
// which do more work than a firing (a JavaScript engine evaluates its
// bundle there).
const initTimeout = 30 * time.Second

// requiredExports lists the functions every plugin exports, with their
// signatures.
var requiredExports = []struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
}{
	{"execvault_alloc", []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}},
	{"execvault_manifest", nil, []api.ValueType{api.ValueTypeI64}},
	{"execvault_fire", []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}},
}

// bundleLoadExport is the extra export of a JavaScript engine guest.
const bundleLoadExport = "execvault_load"

var wasmMagic = []byte("\x00asm")

// loadPluginBytes compiles, checks and instantiates the plugin data, read
// from file, and reads its manifest. The instance used to read the
// manifest seeds the pool.
func (rt *Runtime) loadPluginBytes(ctx context.Context, file string, data []byte) (*plugin, error) {
	if !bytes.HasPrefix(data, wasmMagic) {
		return nil, errors.New("not a WebAssembly module: the file does not start with the \\0asm header; build it with 'execvault plugin build'")
	}
	p := &plugin{file: file, hash: sha256.Sum256(data)}

	code := data
	engine, bundle, ok, err := plugins.SplitBundle(data)
	if err != nil {
		return nil, fmt.Errorf("read bundle section: %w", err)
	}
	if ok {
		code, p.bundle = engine, bundle
	}

	// The rewrite runs at every load, cache hit or not, because the
	// compilation cache is keyed by the rewritten bytes.
	code, err = instrumentDeadlineChecks(code)
	if err != nil {
		return nil, fmt.Errorf("add deadline checks: %w", err)
	}
	compiled, err := rt.wasm.CompileModule(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	p.compiled = compiled
	if err := checkModuleShape(compiled, p.bundle != nil); err != nil {
		return nil, err
	}

	// The manifest can only be read from an instance, and the memory cap
	// comes from the manifest, so the first instance runs under the
	// runtime default.
	p.memLimit = uint64(rt.cfg.Limits.MemoryPages) * 65536
	probe, err := rt.newInstance(ctx, p, nil)
	if err != nil {
		return nil, err
	}
	manifest, err := readManifest(ctx, probe)
	if err != nil {
		_ = probe.mod.Close(ctx)
		return nil, err
	}
	p.manifest = manifest

	p.memLimit = 0
	for i := range manifest.Executors {
		exec := rt.newExecutor(p, i)
		p.executors = append(p.executors, exec)
		if l := uint64(exec.Limits.MemoryPages) * 65536; l > p.memLimit {
			p.memLimit = l
		}
	}
	if probe.memory.limit != p.memLimit {
		// The probe ran under another cap; do not keep it.
		_ = probe.mod.Close(ctx)
		probe = nil
	}

	p.pool = newPool(rt.cfg.PoolSize, func(ctx context.Context) (*instance, error) {
		return rt.newInstance(ctx, p, nil)
	})
	if probe != nil {
		p.pool.seed(probe)
	}
	return p, nil
}

// checkModuleShape rejects a module that lacks an export of the ABI or
// exports it with another signature, and one that imports anything other
// than WASI and the host module.
func checkModuleShape(m wazero.CompiledModule, bundled bool) error {
	if _, ok := m.ExportedMemories()["memory"]; !ok {
		return errors.New("missing export \"memory\": a plugin exports its linear memory as \"memory\"")
	}
	fns := m.ExportedFunctions()
	exports := requiredExports
	if bundled {
		exports = append(exports[:len(exports):len(exports)], struct {
			name    string
			params  []api.ValueType
			results []api.ValueType
		}{bundleLoadExport, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}})
	}
	for _, want := range exports {
		def, ok := fns[want.name]
		if !ok {
			return fmt.Errorf("missing export %q: see docs/plugin-abi.md for the functions a plugin exports", want.name)
		}
		if !sameTypes(def.ParamTypes(), want.params) || !sameTypes(def.ResultTypes(), want.results) {
			return fmt.Errorf("export %q has signature %s, want %s", want.name,
				signature(def.ParamTypes(), def.ResultTypes()), signature(want.params, want.results))
		}
	}
	for _, imp := range m.ImportedFunctions() {
		module, name, _ := imp.Import()
		if module != hostModuleName && module != "wasi_snapshot_preview1" {
			return fmt.Errorf("imports %s.%s: plugins may import only from %q and wasi_snapshot_preview1", module, name, hostModuleName)
		}
	}
	for _, mem := range m.ImportedMemories() {
		module, name, _ := mem.Import()
		return fmt.Errorf("imports memory %s.%s: a plugin must define its own memory", module, name)
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func signature(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := "("
		for i, t := range ts {
			if i > 0 {
				s += ", "
			}
			s += api.ValueTypeName(t)
		}
		return s + ")"
	}
	return name(params) + " -> " + name(results)
}

// newInstance instantiates p, runs _initialize and, for a JavaScript engine
// guest, hands it the bundle.
func (rt *Runtime) newInstance(ctx context.Context, p *plugin, _ *Executor) (*instance, error) {
	if mem, ok := p.compiled.ExportedMemories()["memory"]; ok {
		if uint64(mem.Min())*65536 > p.memLimit {
			return nil, fmt.Errorf("the module's initial memory of %d pages exceeds the memory limit of %d pages; raise limits.memoryPages", mem.Min(), p.memLimit/65536)
		}
	}

	alloc := &cappedAllocator{limit: p.memLimit}
	stderr := &tailWriter{max: 2048}
	out := io.MultiWriter(stderr, &lineLogger{log: rt.guestLog, file: filepath.Base(p.file)})
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithStdout(out).
		WithStderr(out).
		WithRandSource(rand.Reader).
		WithSysWalltime().
		WithSysNanotime()

	ictx := withCall(experimental.WithMemoryAllocator(ctx, alloc), nil, initTimeout)
	mod, err := rt.wasm.InstantiateModule(ictx, p.compiled, cfg)
	if err != nil {
		if alloc.hit.Load() {
			return nil, fmt.Errorf("instantiate: memory limit of %d pages reached", p.memLimit/65536)
		}
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	in := &instance{
		mod:      mod,
		alloc:    mod.ExportedFunction("execvault_alloc"),
		fire:     mod.ExportedFunction("execvault_fire"),
		manifest: mod.ExportedFunction("execvault_manifest"),
		memory:   alloc,
		stderr:   stderr,
	}
	fail := func(err error) (*instance, error) {
		_ = mod.Close(ctx)
		return nil, err
	}

	if initFn := mod.ExportedFunction("_initialize"); initFn != nil {
		if err := in.call(ictx, nil, initFn, nil); err != nil {
			return fail(fmt.Errorf("_initialize: %w", err))
		}
	}
	if p.bundle != nil {
		if err := in.loadBundle(ictx, p.bundle); err != nil {
			return fail(err)
		}
	}
	return in, nil
}

// loadBundle hands a JavaScript bundle to an engine guest.
func (in *instance) loadBundle(ctx context.Context, bundle []byte) error {
	ptr, err := in.writeArgs(ctx, nil, bundle)
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	// The engine may keep the bundle bytes, so the argument buffer must
	// not be reused for firings.
	in.buf, in.bufCap = 0, 0

	load := in.mod.ExportedFunction(bundleLoadExport)
	stack := []uint64{uint64(ptr), uint64(len(bundle))}
	if err := in.call(ctx, nil, load, stack); err != nil {
		return fmt.Errorf("%s: %w", bundleLoadExport, err)
	}
	if stack[0] == 0 {
		return nil
	}
	msg, err := in.readPacked(nil, stack[0], 1<<20)
	if err != nil {
		return fmt.Errorf("%s: %w", bundleLoadExport, err)
	}
	return fmt.Errorf("load bundle: %s", msg)
}

// readManifest calls execvault_manifest and validates what it returns.
func readManifest(ctx context.Context, in *instance) (*plugins.Manifest, error) {
	ctx = withCall(ctx, nil, initTimeout)
	stack := []uint64{0}
	if err := in.call(ctx, nil, in.manifest, stack); err != nil {
		return nil, fmt.Errorf("execvault_manifest: %w", err)
	}
	data, err := in.readPacked(nil, stack[0], 4<<20)
	if err != nil {
		return nil, fmt.Errorf("execvault_manifest: %w", err)
	}
	m, err := plugins.ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("invalid manifest: %w", err)
	}
	return m, nil
}

// newExecutor builds the loaded form of executor i of p.
func (rt *Runtime) newExecutor(p *plugin, i int) *Executor {
	def := p.manifest.Executors[i]
	lim := rt.cfg.Limits
	if def.Limits.TimeoutMillis > 0 {
		lim.Timeout = time.Duration(def.Limits.TimeoutMillis) * time.Millisecond
	}
	if def.Limits.MemoryPages > 0 {
		lim.MemoryPages = uint32(def.Limits.MemoryPages)
	}
	if def.Limits.MaxOutputBytes > 0 {
		lim.MaxOutputBytes = def.Limits.MaxOutputBytes
	}
	declared := make(map[plugins.SecretRef]bool, len(def.Secrets))
	for _, ref := range def.Secrets {
		declared[ref] = true
	}
	return &Executor{
		Executor:   def,
		File:       p.file,
		ABIVersion: p.manifest.ABIVersion,
		Index:      i,
		Limits:     lim,
		plugin:     p,
		actor:      "executor:" + def.Name,
		declared:   declared,
		logLimiter: newLogLimiter(rt.cfg.LogRate),
	}
}

func sha256Sum(data []byte) [sha256.Size]byte { return sha256.Sum256(data) }
