package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/runtime"
	"github.com/execvault/execvault/runtime/statedb"
	"github.com/execvault/execvault/secrets"
	"github.com/execvault/execvault/webhook"
	"github.com/spf13/cobra"
)

// runtimeFlags are the flags shared by the commands that load plugins.
type runtimeFlags struct {
	pluginDir   string
	logLevel    string
	env         []string
	poolSize    int
	egressAllow []string
	egressDeny  []string
	denyPrivate bool
}

func (f *runtimeFlags) register(cmd *cobra.Command, defaultLevel string) {
	cmd.Flags().StringVar(&f.pluginDir, "plugins", "", "directory of plugin .wasm files")
	cmd.Flags().StringVar(&f.logLevel, "log-level", defaultLevel, "log level: debug, info, warn or error")
	cmd.Flags().StringArrayVar(&f.env, "env", nil, "KEY=VALUE passed to every callback in env (repeatable)")
	cmd.Flags().IntVar(&f.poolSize, "pool-size", 0, "instances per plugin (default GOMAXPROCS)")
	cmd.Flags().StringArrayVar(&f.egressAllow, "egress-allow", nil, "CIDR that webhooks may reach; when given, only these (repeatable)")
	cmd.Flags().StringArrayVar(&f.egressDeny, "egress-deny", nil, "CIDR that webhooks must not reach, checked on the resolved address (repeatable)")
	cmd.Flags().BoolVar(&f.denyPrivate, "egress-deny-private", false, "deny loopback, private, link-local (cloud metadata), carrier-grade NAT, unspecified and unique-local networks")
}

// egressPolicy builds the webhook egress policy from the flags, or nil when
// none is set.
func (f *runtimeFlags) egressPolicy() (*webhook.EgressPolicy, error) {
	if len(f.egressAllow) == 0 && len(f.egressDeny) == 0 && !f.denyPrivate {
		return nil, nil
	}
	p := &webhook.EgressPolicy{}
	parse := func(flag string, values []string) ([]netip.Prefix, error) {
		var out []netip.Prefix
		for _, v := range values {
			prefix, err := netip.ParsePrefix(v)
			if err != nil {
				return nil, &usageError{fmt.Errorf("invalid %s %q: use a CIDR such as 203.0.113.0/24 or 2001:db8::/32", flag, v)}
			}
			out = append(out, prefix)
		}
		return out, nil
	}
	var err error
	if p.Allow, err = parse("--egress-allow", f.egressAllow); err != nil {
		return nil, err
	}
	if p.Deny, err = parse("--egress-deny", f.egressDeny); err != nil {
		return nil, err
	}
	if f.denyPrivate {
		p.Deny = append(p.Deny, webhook.PrivateNetworks()...)
	}
	return p, nil
}

func (f *runtimeFlags) logger(a *app) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, &usageError{fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", f.logLevel)}
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level})), nil
}

// envJSON turns --env KEY=VALUE flags into the env object.
func (f *runtimeFlags) envJSON() ([]byte, error) {
	env := make(map[string]string, len(f.env))
	for _, kv := range f.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, &usageError{fmt.Errorf("invalid --env %q: use KEY=VALUE", kv)}
		}
		env[k] = v
	}
	return json.Marshal(env)
}

// runtimeEnv is everything a command that fires executors holds open.
type runtimeEnv struct {
	log   *slog.Logger
	store *secrets.Store
	// admin reads secrets from a running execvault in place of store, when
	// envOptions.adminSecrets allowed it and one serves the data directory.
	admin *secrets.AdminClient
	// noStore is the error for a data directory without a secret store,
	// set when neither store nor admin is.
	noStore error
	// run reads secrets through admin for the executors that execvault run
	// has loaded, when admin is set.
	run        *runStore
	state      *badger.DB
	dispatcher *webhook.Dispatcher
	rt         *runtime.Runtime
	// journalFailureReported is set by a command that reported the failure
	// of the webhook job journal, so that close does not repeat it.
	journalFailureReported bool
	closeOnce              sync.Once
}

// envOptions select how openRuntimeEnv sets things up.
type envOptions struct {
	// memoryState keeps jobs in memory, for replay.
	memoryState bool
	// createStore creates the secret store, and its master key file, when
	// the data directory has none, for run, which serves the secret
	// commands. Without it a data directory with no store fires executors
	// with every secret lookup failing with secrets.ErrNoStore.
	createStore bool
	// webhook overrides the dispatcher configuration.
	webhook func(*webhook.Config)
	// adminSecrets reads secrets through the admin socket while execvault
	// run serves the data directory, instead of failing. Only with
	// memoryState, because run holds the state database too.
	adminSecrets bool
}

// cacheDir returns the wazero compilation cache directory:
// $EXECVAULT_CACHE_DIR, else execvault/wazero under the user cache dir.
func (a *app) cacheDir() string {
	if d := a.getenv("EXECVAULT_CACHE_DIR"); d != "" {
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(base, "execvault", "wazero")
}

// errLoadInterrupted reports that ctx ended, as Ctrl-C ends it, while
// openRuntimeEnv opened the stores or loaded the plugins.
var errLoadInterrupted = errors.New("interrupted while loading the plugins")

// openRuntimeEnv opens the secret store, the state database and the
// webhook dispatcher, then loads the plugins. When ctx ends before it is
// done, the error wraps errLoadInterrupted in place of the error of the
// step that saw it, which would read as a broken store or plugin.
func (a *app) openRuntimeEnv(ctx context.Context, f *runtimeFlags, opts envOptions) (*runtimeEnv, error) {
	env, err := a.loadRuntimeEnv(ctx, f, opts)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("%w of %s", errLoadInterrupted, f.pluginDir)
	}
	return env, err
}

func (a *app) loadRuntimeEnv(ctx context.Context, f *runtimeFlags, opts envOptions) (*runtimeEnv, error) {
	if f.pluginDir == "" {
		return nil, &usageError{errors.New("missing --plugins DIR: name the directory of plugin .wasm files")}
	}
	// Read the directory before the stores open: run creates a store and
	// a master key file, which a mistyped --plugins would leave behind.
	if _, err := os.ReadDir(f.pluginDir); err != nil {
		return nil, fmt.Errorf("read plugin directory: %w; --plugins must name an existing directory of plugin .wasm files", err)
	}
	log, err := f.logger(a)
	if err != nil {
		return nil, err
	}
	envObj, err := f.envJSON()
	if err != nil {
		return nil, err
	}
	egress, err := f.egressPolicy()
	if err != nil {
		return nil, err
	}
	e := &runtimeEnv{log: log}
	ok := false
	defer func() {
		if !ok {
			e.close(ctx)
		}
	}()

	// The store calls the runtime's Authorize to decide who may read what,
	// but the runtime is created after the store, hence the indirection.
	var rt *runtime.Runtime
	scfg := secrets.DefaultConfig(a.dataDir)
	scfg.KeyFile = a.keyFile
	scfg.MustExist = !opts.createStore
	scfg.Getenv = a.getenv
	scfg.Logger = log
	scfg.Authorize = func(actor, vault, name string) error {
		if rt == nil {
			return errors.New("the runtime is not loaded yet")
		}
		return rt.Authorize(actor, vault, name)
	}
	var resolver runtime.StoreSecrets
	if socket := filepath.Join(a.dataDir, "admin.sock"); adminSocketLive(socket) {
		if !opts.adminSecrets || !opts.memoryState {
			return nil, fmt.Errorf("open the stores in %s: execvault run is using them; stop it, or pass another --data-dir to this command", a.dataDir)
		}
		// The running execvault resolves each secret and applies its own
		// access policy, which allows reads only by the executors it has loaded. A
		// key given to this command must match the store's, as for the
		// secret commands.
		if err := secrets.CheckMasterKey(scfg); err != nil && !errors.Is(err, secrets.ErrNoMasterKey) {
			return nil, err
		}
		if e.admin, err = secrets.DialAdmin(socket); err != nil {
			return nil, err
		}
		e.run = &runStore{admin: e.admin, socket: socket, dataDir: a.dataDir}
		resolver = runtime.StoreSecrets{Store: e.run}
	} else {
		e.store, err = secrets.Open(ctx, scfg)
		switch {
		case errors.Is(err, secrets.ErrNoStore):
			// Executors without secrets still run, and each secret
			// lookup fails with the reason.
			e.noStore = noStoreError(err)
			resolver = runtime.StoreSecrets{Store: missingStore{err: e.noStore}}
		case err != nil && strings.Contains(err.Error(), "Cannot acquire directory lock"):
			return nil, fmt.Errorf("open secret store in %s: another execvault process is using it; stop it or pass another --data-dir", a.dataDir)
		case err != nil:
			return nil, cliError(err)
		default:
			if path := e.store.CreatedKeyFile(); path != "" {
				fmt.Fprintf(a.stderr, "Created master key file %s; back it up, because the secrets cannot be read without it.\n", path)
			}
			resolver = runtime.StoreSecrets{Store: e.store}
		}
	}

	e.state, err = openState(a.dataDir, opts.memoryState)
	if err != nil {
		return nil, err
	}
	wcfg := webhook.DefaultConfig()
	wcfg.Egress = egress
	if opts.webhook != nil {
		opts.webhook(&wcfg)
	}
	e.dispatcher, err = webhook.NewDispatcher(e.state, wcfg, resolver, log)
	if err != nil {
		return nil, err
	}

	rcfg := runtime.DefaultConfig()
	rcfg.PluginDir = f.pluginDir
	rcfg.CacheDir = a.cacheDir()
	rcfg.Env = envObj
	rcfg.Secrets = resolver
	rcfg.Logger = log
	if f.poolSize > 0 {
		rcfg.PoolSize = f.poolSize
	}
	rt, err = runtime.New(ctx, rcfg)
	if err != nil {
		return nil, err
	}
	e.rt = rt
	ok = true
	return e, nil
}

// missingStore is the secret store of a data directory that has none.
// Every lookup fails with err.
type missingStore struct{ err error }

func (m missingStore) Resolve(context.Context, string, string, string) (secrets.Value, error) {
	return secrets.Value{}, m.err
}

// secretExists reports whether the secret ref, referenced by a webhook of
// executor, exists. It queries the store or admin socket that delivery
// uses and reads only the secret's metadata, never its value. Through the
// socket it also fails, as delivery would, when execvault run has not
// loaded executor.
func (e *runtimeEnv) secretExists(ctx context.Context, executor string, ref plugins.SecretRef) error {
	switch {
	case e.store != nil:
		_, err := e.store.GetSecret(ctx, ref.Vault, ref.Key)
		return err
	case e.run == nil:
		return e.noStore
	}
	if err := e.run.checkLoaded(ctx, executor, ref.Vault, ref.Key); err != nil {
		return err
	}
	_, err := e.admin.GetSecret(ctx, ref.Vault, ref.Key)
	return err
}

// runStore resolves secrets through the admin socket of the execvault run
// that serves the data directory. Run gives a secret only to an executor
// it has loaded, and its denial names only the executor. runStore then
// reports that run has not loaded the executor, and what to do.
type runStore struct {
	admin   *secrets.AdminClient
	socket  string
	dataDir string
}

// Resolve returns a secret's value for actor, "executor:NAME" or
// "guest:NAME".
func (s *runStore) Resolve(ctx context.Context, vault, name, actor string) (secrets.Value, error) {
	v, err := s.admin.Resolve(ctx, vault, name, actor)
	if !errors.Is(err, secrets.ErrAccessDenied) {
		return v, err
	}
	_, executor, _ := strings.Cut(actor, ":")
	if notLoaded := s.checkLoaded(ctx, executor, vault, name); notLoaded != nil {
		return secrets.Value{}, notLoaded
	}
	return v, err
}

// checkLoaded returns an error that wraps secrets.ErrAccessDenied when
// execvault run has not loaded executor, which requests the secret
// vault/name. It returns nil when run has loaded it or cannot list its
// executors.
func (s *runStore) checkLoaded(ctx context.Context, executor, vault, name string) error {
	infos, err := fetchExecutors(ctx, s.socket)
	if err != nil {
		return nil
	}
	for _, info := range infos {
		if info.Name == executor {
			return nil
		}
	}
	return &secrets.SecretError{Op: "resolve secret", Vault: vault, Name: name, Err: fmt.Errorf(
		"%w: the execvault run that serves %s has not loaded executor %q, and it gives secrets only to the executors it has loaded; "+
			"copy the plugin into the --plugins directory of execvault run, which loads it without a restart, "+
			"or stop execvault run so that this command reads the store itself",
		secrets.ErrAccessDenied, s.dataDir, executor)}
}

// openState opens the Badger database that holds jobs, the event log and
// schedule state, in <data dir>/state, or in memory.
func openState(dataDir string, inMemory bool) (*badger.DB, error) {
	dir := ""
	if !inMemory {
		dir = filepath.Join(dataDir, "state")
	}
	db, err := statedb.Open(dir)
	if errors.Is(err, statedb.ErrInUse) {
		return nil, fmt.Errorf("open state database in %s: another execvault process is using it; stop it or use another --data-dir", dataDir)
	}
	return db, err
}

// close closes the runtime, the dispatcher and the stores. Calls after
// the first do nothing.
func (e *runtimeEnv) close(ctx context.Context) {
	e.closeOnce.Do(func() { e.closeAll(ctx) })
}

func (e *runtimeEnv) closeAll(ctx context.Context) {
	if e.rt != nil {
		_ = e.rt.Close(ctx)
	}
	if e.dispatcher != nil {
		if err := e.dispatcher.Close(); err != nil && !e.journalFailureReported {
			// The journal keeps the jobs' changes, and the next start
			// replays them.
			e.log.Warn("webhook dispatcher did not close cleanly", "error", err)
		}
	}
	if e.state != nil {
		_ = e.state.Close()
	}
	if e.store != nil {
		_ = e.store.Close()
	}
	if e.admin != nil {
		_ = e.admin.Close()
	}
}

// adminSocketLive reports whether an execvault run process accepts
// connections on the admin socket at path.
func adminSocketLive(path string) bool {
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
