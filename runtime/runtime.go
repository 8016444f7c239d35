package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Runtime loads the plugins of one directory and runs their executors. It
// is safe for concurrent use.
type Runtime struct {
	cfg      Config
	log      *slog.Logger
	guestLog *slog.Logger
	wasm     wazero.Runtime
	cache    wazero.CompilationCache

	reg atomic.Pointer[registry]
	// loadMu serialises loads and reloads.
	loadMu sync.Mutex
	closed atomic.Bool
}

// New creates a Runtime and loads every plugin in cfg.PluginDir. It fails
// if any plugin is invalid, naming each bad file and the reason.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}

	// The deadline checks that loadPluginBytes compiles into each guest
	// stop it; wazero's own per-call watch is off (see deadline.go).
	rcfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(false)
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		var err error
		cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("open compilation cache %s: %w", cfg.CacheDir, err)
		}
		rcfg = rcfg.WithCompilationCache(cache)
	}
	return newRuntime(ctx, cfg, rcfg, cache)
}

// newRuntime builds a Runtime on a wazero runtime configured by rcfg and
// loads the plugins. cache, when not nil, is closed with the Runtime.
func newRuntime(ctx context.Context, cfg Config, rcfg wazero.RuntimeConfig, cache wazero.CompilationCache) (*Runtime, error) {
	rt := &Runtime{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "runtime"),
		cache: cache,
	}
	rt.guestLog = cfg.Logger.With("component", "guest")
	rt.wasm = wazero.NewRuntimeWithConfig(ctx, rcfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt.wasm); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	if err := rt.instantiateHostModule(ctx, rt.wasm); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiate host module: %w", err)
	}

	if err := rt.reload(ctx, true); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	return rt, nil
}

// Close releases every instance and compiled module.
func (rt *Runtime) Close(ctx context.Context) error {
	if !rt.closed.CompareAndSwap(false, true) {
		return nil
	}
	if reg := rt.reg.Load(); reg != nil {
		for _, p := range reg.plugins {
			p.pool.close()
		}
	}
	err := rt.wasm.Close(ctx)
	if rt.cache != nil {
		err = errors.Join(err, rt.cache.Close(ctx))
	}
	return err
}

// Reload loads the .wasm files of the plugin directory again and swaps the
// new set in atomically. Unchanged files keep their compiled module and
// instances; removed files are dropped. A file that fails to load, or that
// declares an executor name another file already uses, keeps its previous
// version running (or stays unloaded if it is new), and the returned error
// names each such file and the reason. Firings in flight finish on the
// version they started with.
func (rt *Runtime) Reload(ctx context.Context) error {
	return rt.reload(ctx, false)
}

// reload implements Reload. With strict set, as at start, any bad file
// fails the whole load and nothing is swapped in.
func (rt *Runtime) reload(ctx context.Context, strict bool) error {
	rt.loadMu.Lock()
	defer rt.loadMu.Unlock()
	if rt.closed.Load() {
		return ErrClosed
	}

	files, err := pluginFiles(rt.cfg.PluginDir)
	if err != nil {
		return err
	}
	old := rt.reg.Load()
	var oldPlugins map[string]*plugin
	if old != nil {
		oldPlugins = old.plugins
	}

	// Unchanged files come first so that, on a name clash, the file that
	// changed is the one rejected.
	var kept, fresh []*plugin
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, &PluginError{File: f, Err: err})
			if p, ok := oldPlugins[f]; ok && !strict {
				kept = append(kept, p)
			}
			continue
		}
		if p, ok := oldPlugins[f]; ok && p.hash == sha256Sum(data) {
			kept = append(kept, p)
			continue
		}
		p, err := rt.loadPluginBytes(ctx, f, data)
		if err != nil {
			errs = append(errs, &PluginError{File: f, Err: err})
			if p, ok := oldPlugins[f]; ok && !strict {
				kept = append(kept, p)
			}
			continue
		}
		fresh = append(fresh, p)
	}

	reg, rejected, regErrs := buildRegistry(kept, fresh, oldPlugins)
	errs = append(errs, regErrs...)
	if strict && len(errs) > 0 {
		for _, p := range fresh {
			p.pool.close()
		}
		return errors.Join(errs...)
	}
	for _, p := range rejected {
		p.pool.close()
	}

	rt.reg.Store(reg)
	for f, p := range oldPlugins {
		if reg.plugins[f] != p {
			// NOTE: the retired plugin's compiled module stays in memory
			// until the runtime closes. wazero shares compiled code between
			// modules with the same bytes, and every TypeScript plugin
			// shares the engine's, so closing it here could remove it from
			// under another plugin.
			p.pool.close()
			if _, still := reg.plugins[f]; !still {
				rt.log.Info("plugin unloaded", "file", f)
			}
		}
	}
	for _, p := range fresh {
		if reg.plugins[p.file] == p {
			rt.log.Info("plugin loaded", "file", p.file, "executors", executorNames(p))
		}
	}
	return errors.Join(errs...)
}

func executorNames(p *plugin) string {
	names := make([]string, len(p.executors))
	for i, e := range p.executors {
		names[i] = e.Name
	}
	return strings.Join(names, ",")
}

// pluginFiles lists the .wasm files directly inside dir, sorted.
func pluginFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read plugin directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".wasm") {
			continue
		}
		files = append(files, filepath.Join(dir, e.Name()))
	}
	sort.Strings(files)
	return files, nil
}

// Env returns the JSON object passed as env to every callback.
func (rt *Runtime) Env() []byte { return rt.cfg.Env }

// Executors returns every loaded executor, sorted by name.
func (rt *Runtime) Executors() []*Executor {
	reg := rt.reg.Load()
	out := make([]*Executor, 0, len(reg.names))
	for _, n := range reg.names {
		out = append(out, reg.byName[n])
	}
	return out
}

// Executor returns the loaded executor with the given name.
func (rt *Runtime) Executor(name string) (*Executor, error) {
	if e, ok := rt.reg.Load().byName[name]; ok {
		return e, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrExecutorNotFound, name)
}

// Match returns the enabled executors with a record trigger for kind
// ("created", "updated" or "deleted") on typeName, sorted by name.
func (rt *Runtime) Match(typeName, kind string) []*Executor {
	return rt.reg.Load().match(typeName, kind)
}

// Fire runs exec's condition and, when it passes, its URL and body
// callbacks on args, the callback arguments JSON of docs/plugin-abi.md. It
// returns a *LimitError when a limit stopped the guest and a *GuestError
// when the guest failed.
func (rt *Runtime) Fire(ctx context.Context, exec *Executor, args []byte) (Outcome, error) {
	if rt.closed.Load() {
		return Outcome{}, ErrClosed
	}
	p := exec.plugin
	in, err := p.pool.get(ctx)
	if errors.Is(err, ErrClosed) && !rt.closed.Load() {
		// A reload retired this executor's plugin after the caller looked
		// the executor up. The firing has not started, so it runs on the
		// version now loaded.
		if current, lookupErr := rt.Executor(exec.Name); lookupErr == nil && current != exec {
			return rt.Fire(ctx, current, args)
		}
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("executor %q: get instance: %w", exec.Name, err)
	}

	out, err := in.run(withCall(ctx, exec, exec.Limits.Timeout), exec, args)

	switch {
	case err == nil, errors.Is(err, errGuestReported):
		p.pool.put(in)
	default:
		p.pool.discard(in)
	}
	if errors.Is(err, errGuestReported) {
		var ge *GuestError
		errors.As(err, &ge)
		return Outcome{}, ge
	}
	return out, err
}
