package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/runtime"
	"github.com/execvault/execvault/triggers"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() { commandAdders = append(commandAdders, addTriggerCommand) }

// manualData is the --data of a record trigger: the records and, for a
// trigger on several events, which event to simulate.
type manualData struct {
	Event     string          `json:"event"`
	NewRecord json.RawMessage `json:"newRecord"`
	OldRecord json.RawMessage `json:"oldRecord"`
}

func addTriggerCommand(a *app, root *cobra.Command) {
	executor, _, err := root.Find([]string{"executor"})
	if err != nil || executor == root {
		executor = &cobra.Command{Use: "executor", Short: "Inspect loaded executors"}
		root.AddCommand(executor)
	}

	var f runtimeFlags
	var delivery deliveryFlags
	var data string
	cmd := &cobra.Command{
		Use:   "trigger NAME [--plugins DIR] [--data JSON]",
		Short: "Fire one executor by hand and deliver its webhook",
		Long: `Fire executor NAME once, whatever its trigger, and wait for its webhook.

--data depends on the trigger:
  record            {"event":"created","newRecord":{...},"oldRecord":{...}}
                    (event is one the trigger fires on, by default its first)
  schedule          ignored; the scheduled time is now
  incoming webhook  the JSON request body, sent as a POST

While execvault run serves the data directory, the firing goes through
its admin socket and uses its plugins and URL overrides; --plugins and
the delivery flags are then rejected.

Otherwise the command stores the webhook job in the data directory and
waits for every attempt of it, as replay does: with the default policy, a
receiver that is down holds it for about 72 minutes, and the first failed
attempt prints a notice. --max-attempts and --backoff shorten the wait. On
Ctrl-C the job stays PENDING, and execvault run delivers it when it
starts.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := delivery.options(true)
			if err != nil {
				return err
			}
			return a.triggerExecutor(cmd.Context(), cmd, &f, opts, delivery.waitHint(), args[0], []byte(data))
		},
	}
	f.register(cmd, "warn")
	delivery.register(cmd)
	cmd.Flags().StringVar(&data, "data", "", "JSON input for the trigger (see above)")
	executor.AddCommand(cmd)
}

func (a *app) triggerExecutor(ctx context.Context, cmd *cobra.Command, f *runtimeFlags, opts runtime.DispatchOptions, waitHint, name string, data []byte) error {
	if len(data) > 0 && !json.Valid(data) {
		return &usageError{fmt.Errorf("--data is not valid JSON: %.60q", data)}
	}

	var firing runtime.Firing
	socket := filepath.Join(a.dataDir, "admin.sock")
	if conn, err := net.Dial("unix", socket); err == nil {
		conn.Close()
		if unused := changedFlagsExcept(cmd, "data", "log-level"); len(unused) > 0 {
			// An override given here and ignored could send the webhook,
			// with its secret headers, somewhere the user did not mean.
			return &usageError{fmt.Errorf("execvault run serves %s, so the firing uses its plugins and delivery settings, not %s: drop them, or stop execvault run first",
				a.dataDir, strings.Join(unused, ", "))}
		}
		firing, err = triggerRemote(ctx, socket, name, data)
		if err != nil {
			return err
		}
	} else {
		// The dispatcher's workers write retry notices and logs while the
		// command writes its own messages.
		a.stderr = &lockedWriter{w: a.stderr}
		notices := &retryNotices{out: a.stderr, now: time.Now, command: "executor trigger", hint: waitHint}
		env, err := a.openRuntimeEnv(ctx, f, envOptions{webhook: waitingWebhookConfig(notices.attempt)})
		if err != nil {
			return err
		}
		defer env.close(ctx)
		if err := checkTriggerRewrites(env.rt, name, opts.Rewrites); err != nil {
			return err
		}
		if err := env.dispatcher.Start(ctx); err != nil {
			return err
		}
		firing, err = fireManually(ctx, env, opts, name, data)
		if err != nil {
			return err
		}
		if jerr := env.dispatcher.Err(); jerr != nil && errors.Is(firing.Err, jerr) {
			// The firing's line below reports the failed journal.
			env.journalFailureReported = true
		}
		if interruptedFiring(ctx, firing) {
			fmt.Fprintf(a.stdout, "%s\tinterrupted before its webhook was delivered\n", firing.Executor)
			if firing.JobID != "" {
				// ctx has ended, and the job is read from the local store.
				to := ""
				if job, err := env.dispatcher.Job(context.Background(), firing.JobID); err == nil {
					to = " to " + job.URL
				}
				fmt.Fprintf(a.stderr, "Job %s stays PENDING in %s: execvault run delivers it%s when it starts, since --url-override changes only new jobs, "+
					"and 'execvault executor jobs cancel %s' drops it.\n", firing.JobID, a.dataDir, to, firing.JobID)
			}
			return &exitCodeError{code: exitError}
		}
	}

	fmt.Fprintf(a.stdout, "%s\t%s\n", firing.Executor, firingText(firing))
	if firing.State == runtime.FiringFailed {
		return &exitCodeError{code: exitError}
	}
	return nil
}

// checkTriggerRewrites rejects --url-override flags when none of them
// matches the static webhook URL of the executor name. Overrides keep the
// webhook and its secret headers away from the real host, and a misspelt
// FROM would send them there.
func checkTriggerRewrites(rt *runtime.Runtime, name string, rewrites []runtime.URLRewrite) error {
	exec, err := rt.Executor(name)
	if err != nil || len(rewrites) == 0 || exec.Operation.URL == "" {
		return nil
	}
	url := exec.Operation.URL
	if slices.ContainsFunc(rewrites, func(rw runtime.URLRewrite) bool { return rw.Matches(url) }) {
		return nil
	}
	return &usageError{fmt.Errorf("no --url-override FROM matches the webhook URL %s of executor %q, so the webhook would go there; correct FROM or drop --url-override", url, name)}
}

// fireManually builds the arguments for the executor's trigger kind from
// data, fires it and waits for its webhook.
func fireManually(ctx context.Context, env *runtimeEnv, opts runtime.DispatchOptions, name string, data []byte) (runtime.Firing, error) {
	exec, err := env.rt.Executor(name)
	if err != nil {
		var names []string
		for _, e := range env.rt.Executors() {
			names = append(names, e.Name)
		}
		if near := closestName(name, names); near != "" {
			err = fmt.Errorf("%w (did you mean %q?)", err, near)
		}
		return runtime.Firing{}, err
	}

	switch exec.Trigger.Kind {
	case plugins.TriggerRecord:
		var in manualData
		if len(data) > 0 {
			if err := json.Unmarshal(data, &in); err != nil {
				return runtime.Firing{}, fmt.Errorf("--data for a record trigger: %w; use {\"event\":\"created\",\"newRecord\":{...}}", err)
			}
		}
		if in.Event == "" {
			in.Event = exec.Trigger.Events[0]
		}
		if !slices.Contains(exec.Trigger.Events, in.Event) {
			return runtime.Firing{}, fmt.Errorf("--data event %q: executor %q fires only on %s; set \"event\" to one of them", in.Event, name, strings.Join(exec.Trigger.Events, ", "))
		}
		ev := triggers.RecordEvent{
			ID:        fmt.Sprintf("manual-%d", time.Now().UnixNano()),
			EventType: "tailordb.type_record." + in.Event,
			TypeName:  exec.Trigger.TypeName, WorkspaceID: triggers.DefaultWorkspaceID, NamespaceName: triggers.DefaultNamespaceName,
			NewRecord: in.NewRecord, OldRecord: in.OldRecord,
		}
		if err := ev.Validate(); err != nil {
			return runtime.Firing{}, fmt.Errorf("--data for a record trigger: %w", err)
		}
		args := triggers.AppendRecordArgs(nil, &ev, env.rt.Env())
		return env.rt.FireManual(ctx, env.dispatcher, exec, args, opts), nil

	case plugins.TriggerSchedule:
		// A firing by hand gets a job of its own, not the event id of a
		// due time. That id holds the time in seconds, so a second firing
		// in the same second would be a duplicate that sends nothing.
		args, err := manualScheduleArgs(exec.Trigger, time.Now(), env.rt.Env())
		if err != nil {
			return runtime.Firing{}, fmt.Errorf("executor %q: %w", name, err)
		}
		return env.rt.FireManual(ctx, env.dispatcher, exec, args, opts), nil

	case plugins.TriggerIncomingWebhook:
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://localhost/v1/hooks/"+url.PathEscape(name), bytes.NewReader(data))
		if err != nil {
			return runtime.Firing{}, err
		}
		req.Header.Set("Content-Type", "application/json")
		args, err := triggers.AppendWebhookArgs(nil, req, env.rt.Env(), 0)
		if err != nil {
			return runtime.Firing{}, err
		}
		return env.rt.FireManual(ctx, env.dispatcher, exec, args, opts), nil
	}
	return runtime.Firing{}, fmt.Errorf("executor %q has trigger kind %q, which cannot be fired by hand", name, exec.Trigger.Kind)
}

// triggerHandler serves POST /v1/executors/{name}/trigger on the admin
// socket, with --data as the request body.
func triggerHandler(env *runtimeEnv, rewrites []runtime.URLRewrite) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f, err := fireManually(r.Context(), env, runtime.DispatchOptions{Wait: true, Rewrites: rewrites}, r.PathValue("name"), data)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		res := remoteFiring{Executor: f.Executor, State: string(f.State), JobID: f.JobID, HTTPStatus: f.HTTPStatus, Attempts: f.Attempts}
		if f.Err != nil {
			res.Error = f.Err.Error()
			// The command prints the error too, but run's log is where
			// its operator looks.
			env.log.Error("firing failed", "executor", f.Executor, "trigger", "manual", "error", f.Err)
		}
		_ = json.NewEncoder(w).Encode(res)
	})
}

type remoteFiring struct {
	Executor   string `json:"executor"`
	State      string `json:"state"`
	JobID      string `json:"jobId,omitempty"`
	HTTPStatus int    `json:"httpStatus,omitempty"`
	Attempts   int    `json:"attempts,omitempty"`
	Error      string `json:"error,omitempty"`
}

func triggerRemote(ctx context.Context, socket, name string, data []byte) (runtime.Firing, error) {
	client := newJobsClient(socket).http
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://execvault/v1/executors/"+url.PathEscape(name)+"/trigger", bytes.NewReader(data))
	if err != nil {
		return runtime.Firing{}, err
	}
	client.Timeout = 0
	resp, err := client.Do(req)
	if err != nil {
		return runtime.Firing{}, fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	var res remoteFiring
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return runtime.Firing{}, fmt.Errorf("admin socket: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return runtime.Firing{}, errors.New(res.Error)
	}
	f := runtime.Firing{Executor: res.Executor, State: runtime.FiringState(res.State), JobID: res.JobID, HTTPStatus: res.HTTPStatus, Attempts: res.Attempts}
	if res.Error != "" {
		f.Err = errors.New(res.Error)
	}
	return f, nil
}

// changedFlagsExcept returns the flags of cmd itself, as "--name", that
// the command line set, other than those in keep.
func changedFlagsExcept(cmd *cobra.Command, keep ...string) []string {
	var out []string
	cmd.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
		if f.Changed && !slices.Contains(keep, f.Name) {
			out = append(out, "--"+f.Name)
		}
	})
	return out
}

// manualScheduleArgs returns the callback arguments of a schedule trigger
// fired by hand at now. The scheduled time is given in the schedule's
// zone, as the scheduler gives it, not in the zone of the host.
func manualScheduleArgs(t plugins.Trigger, now time.Time, env json.RawMessage) ([]byte, error) {
	sched, err := triggers.ParseSchedule(t.Cron, t.Timezone)
	if err != nil {
		return nil, err
	}
	return triggers.AppendScheduleArgs(nil, now.In(sched.Location()), env), nil
}
