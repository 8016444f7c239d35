package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/runtime"
	"github.com/execvault/execvault/secrets"
	"github.com/execvault/execvault/triggers"
	"github.com/execvault/execvault/webhook"
	"github.com/spf13/cobra"
)

func init() { commandAdders = append(commandAdders, addRunCommand) }

type runOptions struct {
	runtimeFlags
	listen       string
	noAuth       bool
	ingestToken  string
	urlOverrides []string
	retention    time.Duration
}

func addRunCommand(a *app, root *cobra.Command) {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run --plugins DIR [--listen ADDR]",
		Short: "Serve event ingest, incoming webhooks and schedules",
		Long: `Load the plugins of DIR and serve until interrupted.

POST /v1/events accepts one record event, a JSON array of them, or JSONL
(one event per line; curl --data-binary @FILE keeps a file's line breaks,
--data strips them), in the platform's raw format or as Debezium change
events, writes them to a durable event log and answers 202; the executors
then fire and their webhooks are delivered from durable jobs with
retries. /v1/hooks/{executor}/{token} serves incoming webhook triggers,
with the value of the trigger's token secret as {token}; a trigger
without a token is served at /v1/hooks/{executor}, and only on a loopback
address, because anyone who reaches it can fire it. Schedule triggers
fire on time. The plugin directory is
watched: added, changed and removed .wasm files are swapped in without a
restart.

GET /healthz answers "ok" and the number of stored events set aside
because they could not be decoded ('execvault event aside' lists them).
While webhook jobs cannot be written from their journal to the state
database, as when its disk is full, it answers "degraded" with the error
and since when, still with status 200: the journal keeps the jobs, the
write is retried at least once a minute, and new jobs are refused only
once too many wait. Events whose jobs are refused stay pending and fire
again after a wait that grows from 1 s to 30 s, until their jobs are
stored.

POST /v1/events requires a bearer token kept as a secret
(--ingest-token VAULT/KEY). Without one, pass --no-auth, which is allowed
only when listening on a loopback address.

While running, the secret commands of this CLI reach the store through an
admin socket in the data directory.

When the webhook job journal cannot be written or flushed, as on a full
or broken disk, run stops as on SIGTERM and exits with status 1. Accepted
events and stored jobs are kept: fix the disk and start run again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), &o)
		},
	}
	o.runtimeFlags.register(cmd, "info")
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on")
	f.BoolVar(&o.noAuth, "no-auth", false, "accept events without a bearer token (loopback addresses only)")
	f.StringVar(&o.ingestToken, "ingest-token", "", "VAULT/KEY of the secret that POST /v1/events requires as bearer token")
	f.StringArrayVar(&o.urlOverrides, "url-override", nil, urlOverrideUsage)
	f.DurationVar(&o.retention, "job-retention", webhook.DefaultConfig().Retention, "delete finished webhook jobs (SUCCESS, FAILED, CANCELED) this long after their last update; 0 keeps them")
	root.AddCommand(cmd)
}

func (a *app) serve(ctx context.Context, o *runOptions) error {
	rewrites, err := parseRewrites(o.urlOverrides)
	if err != nil {
		return err
	}
	loopback, err := loopbackListen(o.listen)
	if err != nil {
		return err
	}
	token, err := ingestTokenRef(o, loopback)
	if err != nil {
		return err
	}

	if o.retention < 0 {
		return &usageError{fmt.Errorf("invalid --job-retention %s: use 0 or a positive duration", o.retention)}
	}
	env, err := a.openRuntimeEnv(ctx, &o.runtimeFlags, envOptions{createStore: true, webhook: func(c *webhook.Config) { c.Retention = o.retention }})
	if err != nil {
		return err
	}
	defer env.close(context.Background())
	log := env.log
	unmatched, origins, dynamic := unmatchedRewrites(env.rt.Executors(), rewrites)
	for _, from := range unmatched {
		log.Warn("url override matches no executor webhook url", "from", from, "origins", origins, "dynamic_url_executors", dynamic)
	}

	if open := openHooks(env.rt); len(open) > 0 && !loopback {
		return &usageError{fmt.Errorf("%s an incoming webhook trigger without a token, which anyone who reaches %s could fire: give the trigger a token { vault, key }, disable the executor, or listen on a loopback address",
			executorsHave(open), o.listen)}
	}
	if token != nil {
		// Check the token now, so that a wrong name fails the start
		// instead of every request.
		if _, err := env.store.Resolve(ctx, token.Vault, token.Key, "server:ingest"); err != nil {
			return fmt.Errorf("--ingest-token %s names a secret that cannot be read: %w", token, err)
		}
	}
	events, err := triggers.OpenEventLog(ctx, env.state, triggers.EventLogConfig{Logger: log})
	if err != nil {
		return err
	}
	if n := events.SetAsideCount(); n > 0 {
		log.Warn("stored events are set aside because they could not be decoded: 'execvault event aside' lists them, and sending an event again processes it",
			"events_set_aside", n)
	}
	srv, err := runtime.NewServer(env.rt, runtime.ServerConfig{
		Deliverer:   env.dispatcher,
		Events:      events,
		Secrets:     runtime.StoreSecrets{Store: env.store},
		IngestToken: token,
		OpenHooks:   loopback,
		Rewrites:    rewrites,
		Logger:      log,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	adminLn, adminPath, err := listenAdmin(a.dataDir)
	if err != nil {
		ln.Close()
		return err
	}
	defer os.Remove(adminPath)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	goRun := func(name string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}

	if err := env.dispatcher.Start(ctx); err != nil {
		return fmt.Errorf("start webhook dispatcher: %w", err)
	}
	sched, err := a.startSchedules(ctx, env, rewrites)
	if err != nil {
		return err
	}

	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	admin := http.NewServeMux()
	jobs := jobsHandler(servedJobs{env.dispatcher, env.rt})
	admin.Handle("/v1/jobs", jobs)
	admin.Handle("/v1/jobs/", jobs)
	admin.Handle("/v1/job-executors", jobs)
	admin.Handle("POST /v1/executors/{name}/trigger", triggerHandler(env, rewrites))
	admin.Handle("GET /v1/events/aside", setAsideHandler(events))
	admin.HandleFunc("GET /v1/executors", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(executorInfos(env.rt))
	})
	admin.Handle("/", secrets.NewAdminHandler(env.store, log))
	adminSrv := &http.Server{Handler: admin, ReadHeaderTimeout: 10 * time.Second}
	goRun("http server", func() error { return ignoreClosed(httpSrv.Serve(ln)) })
	goRun("admin server", func() error { return ignoreClosed(adminSrv.Serve(adminLn)) })
	goRun("event processor", func() error { return srv.Process(ctx) })
	goRun("scheduler", func() error { return sched.sched.Run(ctx) })
	goRun("plugin watcher", func() error {
		return env.rt.Watch(ctx, func(error) {
			// A reload may add, change or remove schedule executors, even
			// when some file in it failed to load.
			if err := sched.sync(ctx, env.rt); err != nil {
				log.Error("schedules not updated after reload", "error", err)
			}
			logHooks(ctx, log, env.rt, loopback, env.store)
		})
	})

	log.Info("execvault running", "listen", ln.Addr().String(), "plugins", o.pluginDir,
		"executors", len(env.rt.Executors()), "admin_socket", adminPath, "ingest_auth", token != nil,
		"events_set_aside", events.SetAsideCount())
	logHooks(ctx, log, env.rt, loopback, env.store)
	fmt.Fprintf(a.stderr, "Listening on http://%s (POST /v1/events); press Ctrl-C to stop.\n", ln.Addr())

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	case <-env.dispatcher.Failed():
		// Ingest would go on accepting events whose webhooks cannot be
		// stored, so run stops and leaves the restart to its supervisor.
		log.Error("webhook job journal failed; stopping execvault", "error", env.dispatcher.Err())
		env.journalFailureReported = true
		runErr = &exitCodeError{code: exitError}
	}
	cancel()
	shutdownCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	_ = httpSrv.Shutdown(shutdownCtx)
	_ = adminSrv.Shutdown(shutdownCtx)
	wg.Wait()
	// The dispatcher logs its own stop while it closes.
	env.close(context.Background())
	log.Info("execvault stopped")
	return runErr
}

// servedJobs is the job store of a running execvault: its dispatcher,
// and the runtime whose loaded executors count as known names.
type servedJobs struct {
	*webhook.Dispatcher
	rt *runtime.Runtime
}

// Executors returns the sorted names of the executors that have jobs or
// are loaded.
func (s servedJobs) Executors(ctx context.Context) ([]string, error) {
	names, err := s.Dispatcher.Executors(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range s.rt.Executors() {
		names = append(names, e.Name)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// loopbackListen reports whether the --listen address is a loopback
// address: localhost, or an IP address such as 127.0.0.1 or ::1. It
// rejects an address that is not HOST:PORT with a valid port, before run
// opens any store.
func loopbackListen(listen string) (bool, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return false, &usageError{fmt.Errorf("invalid --listen %q: %v; use HOST:PORT, such as 127.0.0.1:8080", listen, err)}
	}
	// LookupPort checks the range, and reads service names such as http
	// from the local services file, never the network.
	if _, err := net.LookupPort("tcp", port); err != nil {
		return false, &usageError{fmt.Errorf("invalid --listen %q: port %q is not a number from 0 to 65535; use HOST:PORT, such as 127.0.0.1:8080", listen, port)}
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback()), nil
}

// openHooks returns the names of the enabled executors with an incoming
// webhook trigger that has no token.
func openHooks(rt *runtime.Runtime) []string {
	var names []string
	for _, e := range rt.Executors() {
		if !e.Disabled && e.Trigger.Kind == plugins.TriggerIncomingWebhook && e.Trigger.Token == nil {
			names = append(names, e.Name)
		}
	}
	return names
}

// executorsHave returns "executor "a" has" for one name and
// "executors "a", "b" each have" for more.
func executorsHave(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	if len(names) == 1 {
		return "executor " + quoted[0] + " has"
	}
	return "executors " + strings.Join(quoted, ", ") + " each have"
}

// logHooks logs the path of every enabled incoming webhook trigger, with
// the vault and key of its token but never the token's value. A trigger
// without a token is served only when open is true, and logged as an
// error otherwise. A token secret that tokens does not find is logged as a
// warning, since every request to that trigger then gets 404.
func logHooks(ctx context.Context, log *slog.Logger, rt *runtime.Runtime, open bool, tokens secretLookup) {
	for _, e := range rt.Executors() {
		if e.Disabled || e.Trigger.Kind != plugins.TriggerIncomingWebhook {
			continue
		}
		path := runtime.HookPath(e.Name, e.Trigger)
		switch {
		case e.Trigger.Token != nil:
			log.Info("incoming webhook served", "executor", e.Name, "path", path, "token_secret", e.Trigger.Token.String())
			ref := e.Trigger.Token
			if _, err := tokens.GetSecret(ctx, ref.Vault, ref.Key); err != nil {
				log.Warn("incoming webhook token secret cannot be read, so every request gets 404; create the secret or fix the trigger's token",
					"executor", e.Name, "token_secret", ref.String(), "error", err,
					"create_with", fmt.Sprintf("execvault secret create -V %s -n %s --value-stdin", ref.Vault, ref.Key))
			}
		case open:
			log.Info("incoming webhook served without a token", "executor", e.Name, "path", path)
		default:
			log.Error("incoming webhook not served: it has no token and run does not listen on a loopback address; give the trigger a token { vault, key }",
				"executor", e.Name, "path", path)
		}
	}
}

// secretLookup is the part of a secrets store that reads a secret's
// metadata, never its value.
type secretLookup interface {
	GetSecret(ctx context.Context, vault, name string) (secrets.SecretInfo, error)
}

// ingestTokenRef checks the authentication flags against the listen
// address.
func ingestTokenRef(o *runOptions, loopback bool) (*plugins.SecretRef, error) {
	if o.ingestToken != "" {
		vault, key, ok := strings.Cut(o.ingestToken, "/")
		if !ok || vault == "" || key == "" {
			return nil, &usageError{fmt.Errorf("invalid --ingest-token %q: use VAULT/KEY", o.ingestToken)}
		}
		return &plugins.SecretRef{Vault: vault, Key: key}, nil
	}
	if !o.noAuth {
		return nil, &usageError{errors.New("POST /v1/events needs authentication: pass --ingest-token VAULT/KEY, or --no-auth on a loopback address")}
	}
	if !loopback {
		return nil, &usageError{fmt.Errorf("--no-auth is allowed only on a loopback address, not %q: pass --ingest-token VAULT/KEY", o.listen)}
	}
	return nil, nil
}

// listenAdmin creates the admin socket in the data directory with mode 0600.
func listenAdmin(dataDir string) (net.Listener, string, error) {
	path := filepath.Join(dataDir, "admin.sock")
	if conn, err := net.Dial("unix", path); err == nil {
		conn.Close()
		return nil, "", fmt.Errorf("another execvault is serving %s: stop it or use another --data-dir", path)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, "", fmt.Errorf("create admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, "", fmt.Errorf("restrict admin socket: %w", err)
	}
	return ln, path, nil
}

// schedules keeps a scheduler in step with the loaded schedule-triggered
// executors, at start and after every plugin reload.
type schedules struct {
	sched *triggers.Scheduler
	log   *slog.Logger
	// specs maps each scheduled executor to its cron spec and zone, so a
	// reload that changes them replaces the schedule. The scheduler starts
	// a replaced schedule on its new timetable and owes it no catch-up run.
	specs map[string]string
	mu    sync.Mutex
}

// startSchedules creates a scheduler whose last runs persist in the state
// database and adds every enabled schedule-triggered executor.
func (a *app) startSchedules(ctx context.Context, env *runtimeEnv, rewrites []runtime.URLRewrite) (*schedules, error) {
	sched, err := triggers.NewScheduler(triggers.SchedulerConfig{
		Store:  triggers.NewBadgerRunStore(env.state),
		Logger: env.log,
		Fire: func(ctx context.Context, f triggers.Firing) error {
			exec, err := env.rt.Executor(f.Name)
			if err != nil {
				return err
			}
			res := env.rt.FireSchedule(ctx, env.dispatcher, exec, f.ScheduledTime, runtime.DispatchOptions{Rewrites: rewrites})
			if res.State == runtime.FiringFailed {
				return res.Err
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	s := &schedules{sched: sched, log: env.log, specs: map[string]string{}}
	if err := s.sync(ctx, env.rt); err != nil {
		return nil, err
	}
	return s, nil
}

// sync adds, replaces and removes schedules so that they match the
// enabled schedule-triggered executors rt has loaded now. An executor with
// an invalid spec is reported and left unscheduled; the others still sync.
func (s *schedules) sync(ctx context.Context, rt *runtime.Runtime) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	want := map[string]*runtime.Executor{}
	for _, exec := range rt.Executors() {
		if !exec.Disabled && exec.Trigger.Kind == plugins.TriggerSchedule {
			want[exec.Name] = exec
		}
	}
	for name, spec := range s.specs {
		if exec, ok := want[name]; !ok || scheduleKey(exec) != spec {
			s.sched.Remove(name)
			delete(s.specs, name)
		}
	}

	var errs []error
	for name, exec := range want {
		if _, ok := s.specs[name]; ok {
			continue
		}
		parsed, err := triggers.ParseSchedule(exec.Trigger.Cron, exec.Trigger.Timezone)
		if err != nil {
			errs = append(errs, fmt.Errorf("executor %q in %s: %w", name, exec.File, err))
			continue
		}
		if err := s.sched.Add(ctx, name, parsed); err != nil {
			errs = append(errs, err)
			continue
		}
		s.specs[name] = scheduleKey(exec)
	}
	return errors.Join(errs...)
}

func scheduleKey(exec *runtime.Executor) string {
	return exec.Trigger.Cron + " " + exec.Trigger.Timezone
}
