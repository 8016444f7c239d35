package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/webhook"
	"github.com/spf13/cobra"
)

func init() { commandAdders = append(commandAdders, addJobsCommands) }

// jobStore is what the jobs commands need: the dispatcher itself when no
// runtime is running, or the admin socket of the running one.
type jobStore interface {
	Jobs(ctx context.Context, executor string, status webhook.Status) ([]webhook.Job, error)
	Job(ctx context.Context, id string) (webhook.Job, error)
	Retry(ctx context.Context, id string) (webhook.Job, error)
	Cancel(ctx context.Context, id string) (webhook.Job, error)
	// Executors returns the sorted names of the executors with jobs and,
	// in a running execvault, of the loaded ones.
	Executors(ctx context.Context) ([]string, error)
}

func addJobsCommands(a *app, root *cobra.Command) {
	executor, _, err := root.Find([]string{"executor"})
	if err != nil || executor == root {
		executor = &cobra.Command{Use: "executor", Short: "Inspect loaded executors"}
		root.AddCommand(executor)
	}

	var status string
	var asJSON, attempts bool
	jobs := &cobra.Command{
		Use:   "jobs NAME [JOB_ID [--attempts]] [--status S] [--json]",
		Short: "List an executor's webhook jobs, or show one job",
		Long: `List the webhook jobs of executor NAME, oldest first, or with JOB_ID show
one job, and with --attempts every attempt of it. Header values that come
from secrets are masked. Statuses: PENDING, RUNNING, SUCCESS, FAILED,
CANCELED. Job ids are matched exactly; when none matches, JOB_ID is tried
in lower case and in upper case after its msg_ prefix, so that an id
typed in either case finds its job.

Jobs live in the data directory; while execvault run serves, this command
reads them through its admin socket. The jobs of an executor named retry
or cancel are listed with 'execvault executor jobs -- retry'.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withJobStore(cmd.Context(), func(ctx context.Context, s jobStore) error {
				if len(args) == 2 {
					return a.showJob(ctx, s, args[0], args[1], attempts, asJSON)
				}
				if attempts {
					return &usageError{errors.New("--attempts needs JOB_ID: execvault executor jobs NAME JOB_ID --attempts")}
				}
				return a.listJobs(ctx, s, args[0], status, asJSON)
			})
		},
	}
	jobs.Flags().StringVarP(&status, "status", "s", "", "only jobs with this status")
	jobs.Flags().BoolVarP(&asJSON, "json", "j", false, "print JSON")
	jobs.Flags().BoolVar(&attempts, "attempts", false, "show the attempts of JOB_ID")

	retry := &cobra.Command{
		Use:   "retry JOB_ID",
		Short: "Deliver a FAILED or CANCELED job again with a fresh attempt budget",
		Args:  jobIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			job, err := a.changeJob(cmd.Context(), args[0], jobStore.Retry)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "Job: %s of executor %s is %s again\n", job.ID, job.Executor, job.Status)
			if !adminSocketLive(filepath.Join(a.dataDir, "admin.sock")) {
				fmt.Fprintf(a.stderr, "No execvault run serves %s: execvault run delivers it when it starts.\n", a.dataDir)
			}
			return nil
		},
	}
	cancel := &cobra.Command{
		Use:   "cancel JOB_ID",
		Short: "Stop delivering a PENDING or RUNNING job",
		Long: `Move job JOB_ID from PENDING or RUNNING to CANCELED, so that it gets no
further attempts. An attempt in flight is aborted, though the receiver may
already have its request. A job that is SUCCESS, FAILED or CANCELED is
rejected with an error. 'execvault executor jobs retry JOB_ID' delivers a
canceled job again.

While execvault run serves the data directory, the job is canceled through
its admin socket.`,
		Args: jobIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			job, err := a.changeJob(cmd.Context(), args[0], jobStore.Cancel)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "Job: %s of executor %s is %s\n", job.ID, job.Executor, job.Status)
			return nil
		},
	}
	jobs.AddCommand(retry, cancel)
	executor.AddCommand(jobs)
}

// withJobStore runs fn against the running runtime's admin socket, or
// against the state database opened directly.
func (a *app) withJobStore(ctx context.Context, fn func(context.Context, jobStore) error) error {
	socket := filepath.Join(a.dataDir, "admin.sock")
	if conn, err := net.Dial("unix", socket); err == nil {
		conn.Close()
		return fn(ctx, newJobsClient(socket))
	}
	if _, err := os.Stat(filepath.Join(a.dataDir, "state")); err != nil {
		return fmt.Errorf("no jobs in %s: execvault run has not stored any there yet", a.dataDir)
	}

	db, err := openState(a.dataDir, false)
	if err != nil {
		return err
	}
	defer db.Close()
	// This dispatcher is never started, so it sends nothing and needs no
	// secrets: listing, retrying and canceling only touch the stored jobs.
	d, err := webhook.NewDispatcher(db, webhook.DefaultConfig(), noSecrets{}, slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(ctx, d)
}

// listJobs lists the jobs of executor. When typed is not empty, it lists
// only the jobs with that status, typed in any letter case.
func (a *app) listJobs(ctx context.Context, s jobStore, executor, typed string, asJSON bool) error {
	status := webhook.Status(strings.ToUpper(typed))
	if status != "" && !status.Valid() {
		return &usageError{fmt.Errorf("invalid --status %q: use PENDING, RUNNING, SUCCESS, FAILED or CANCELED", typed)}
	}
	jobs, err := s.Jobs(ctx, executor, status)
	if err != nil {
		return err
	}
	if len(jobs) == 0 {
		// An empty list would look the same for a misspelt name.
		if err := a.checkExecutorKnown(ctx, s, executor); err != nil {
			return err
		}
	}
	if asJSON {
		if jobs == nil {
			jobs = []webhook.Job{}
		}
		return writeIndentedJSON(a.stdout, jobs)
	}
	if len(jobs) == 0 {
		listed := "jobs"
		if status != "" {
			listed = string(status) + " jobs"
		}
		fmt.Fprintf(a.stderr, "No %s for executor %q.\n", listed, executor)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tATTEMPTS\tLAST\tNEXT\tEVENT\tCREATED\tURL")
	for _, j := range jobs {
		last := "-"
		if at, ok := j.LastAttempt(); ok {
			last = shorten(attemptResult(at), maxLastWidth)
		}
		next := "-"
		if j.Status == webhook.StatusPending && !j.NextAttemptAt.IsZero() {
			next = j.NextAttemptAt.UTC().Format(time.RFC3339)
		}
		event := j.EventID
		if event == "" {
			event = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Status, j.AttemptsInRound(), last, next, event, j.CreatedAt.UTC().Format(time.RFC3339), j.URL)
	}
	return tw.Flush()
}

// changeJob finds the job that typed names, as lookupJob does, and
// applies change to it: jobStore.Retry or jobStore.Cancel.
func (a *app) changeJob(ctx context.Context, typed string, change func(jobStore, context.Context, string) (webhook.Job, error)) (webhook.Job, error) {
	var job webhook.Job
	err := a.withJobStore(ctx, func(ctx context.Context, s jobStore) error {
		found, err := lookupJob(ctx, s, typed)
		if err != nil {
			return err
		}
		job, err = change(s, ctx, found.ID)
		return err
	})
	return job, err
}

// checkExecutorKnown returns an error that names executor, and the
// nearest known name, when no job of s names it and no running execvault
// has loaded it. Without a running execvault, only the stored jobs name
// executors, so an executor that has not fired yet is not an error unless
// a known name is near enough to suggest a misspelling.
func (a *app) checkExecutorKnown(ctx context.Context, s jobStore, executor string) error {
	known, err := s.Executors(ctx)
	if err != nil {
		return err
	}
	if slices.Contains(known, executor) {
		return nil
	}

	suggestion := ""
	if near := closestName(executor, known); near != "" {
		suggestion = fmt.Sprintf(" (did you mean %q?)", near)
	}
	if adminSocketLive(filepath.Join(a.dataDir, "admin.sock")) {
		return fmt.Errorf("unknown executor %q: execvault run has not loaded it and no job names it%s; 'execvault executor list' shows the executors' names",
			executor, suggestion)
	}
	if suggestion == "" {
		return nil
	}
	return fmt.Errorf("unknown executor %q: no job in %s names it%s; 'execvault executor list --plugins DIR' shows the executors' names",
		executor, a.dataDir, suggestion)
}

// showJob prints one job of executor, and with attempts every attempt of
// it and the headers of the last one.
func (a *app) showJob(ctx context.Context, s jobStore, executor, id string, attempts, asJSON bool) error {
	job, err := lookupJob(ctx, s, id)
	if err != nil {
		return err
	}
	if job.Executor != executor {
		return fmt.Errorf("job %s belongs to executor %q, not %q", job.ID, job.Executor, executor)
	}
	if asJSON {
		return writeIndentedJSON(a.stdout, job)
	}
	fmt.Fprintf(a.stdout, "Job %s (%s) %s, %s in round %d\n", job.ID, job.Executor, job.Status, plural(job.AttemptsInRound(), "attempt"), job.Round)
	if !attempts {
		event, last := job.EventID, "-"
		if event == "" {
			event = "-"
		}
		if at, ok := job.LastAttempt(); ok {
			last = attemptResult(at)
		}
		fmt.Fprintf(a.stdout, "Event: %s\nCreated: %s\nURL: %s\nLast attempt: %s\n", event, job.CreatedAt.UTC().Format(time.RFC3339), job.URL, last)
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUND\tATTEMPT\tSTARTED\tDURATION\tRESULT")
	for _, at := range job.Attempts {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", at.Round, at.Number, at.StartedAt.UTC().Format(time.RFC3339), at.Duration.Round(time.Millisecond), attemptResult(at))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if at, ok := job.LastAttempt(); ok && len(at.Headers) > 0 {
		fmt.Fprintln(a.stdout, "Headers of the last attempt:")
		for _, h := range at.Headers {
			fmt.Fprintf(a.stdout, "  %s\n", h)
		}
	}
	return nil
}

// lookupJob returns the job with id. Without an exact match, it tries id
// with the part after its "msg_" prefix in lower case and in upper case.
// Generated ids are lower case, and jobs stored by earlier versions have
// upper-case ones. When both forms are stored, it names them instead of
// choosing one.
func lookupJob(ctx context.Context, s jobStore, id string) (webhook.Job, error) {
	job, err := s.Job(ctx, id)
	if !errors.Is(err, webhook.ErrJobNotFound) {
		return job, err
	}
	var found []webhook.Job
	for _, other := range otherCases(id) {
		j, otherErr := s.Job(ctx, other)
		switch {
		case otherErr == nil:
			found = append(found, j)
		case !errors.Is(otherErr, webhook.ErrJobNotFound):
			return webhook.Job{}, otherErr
		}
	}
	switch len(found) {
	case 0:
		return webhook.Job{}, err
	case 1:
		return found[0], nil
	default:
		return webhook.Job{}, fmt.Errorf("job id %q matches %s and %s, which differ only in letter case: give one of them exactly",
			id, found[0].ID, found[1].ID)
	}
}

// otherCases returns id with its prefix up to the first "_" in lower case
// and the rest in lower case, then in upper case, leaving out id itself.
// An id without "_" is tried whole in lower and in upper case.
func otherCases(id string) []string {
	prefix, rest, ok := strings.Cut(id, "_")
	if ok {
		prefix = strings.ToLower(prefix) + "_"
	} else {
		prefix, rest = "", id
	}
	var out []string
	for _, c := range []string{prefix + strings.ToLower(rest), prefix + strings.ToUpper(rest)} {
		if c != id && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// maxLastWidth is the width of the LAST column in characters. A longer
// result is cut, because one long error would widen every row; the job's
// own view shows it whole.
const maxLastWidth = 60

// shorten cuts s to at most width characters, ending a cut one with "...".
func shorten(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	return string(r[:width-3]) + "..."
}

func attemptResult(at webhook.Attempt) string {
	switch {
	case at.Error != "" && at.StatusCode != 0 && !strings.HasPrefix(at.Error, fmt.Sprintf("HTTP %d", at.StatusCode)):
		// An error that does not start with the status, such as a
		// redirect that was not followed, gets it in front.
		return fmt.Sprintf("HTTP %d: %s", at.StatusCode, oneLine(at.Error))
	case at.Error != "":
		return oneLine(at.Error)
	default:
		return fmt.Sprintf("HTTP %d", at.StatusCode)
	}
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// noSecrets is the secret resolver of a dispatcher that never sends.
type noSecrets struct{}

func (noSecrets) Resolve(context.Context, plugins.SecretRef, string) ([]byte, error) {
	return nil, errors.New("secrets are not available to this command")
}

// jobsHandler serves the jobs API on the admin socket:
//
//	GET  /v1/jobs?executor=NAME&status=S
//	GET  /v1/jobs/{id}
//	POST /v1/jobs/{id}/retry
//	POST /v1/jobs/{id}/cancel
//	GET  /v1/job-executors
func jobsHandler(s jobStore) http.Handler {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any, err error) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case errors.Is(err, webhook.ErrJobNotFound):
			w.WriteHeader(http.StatusNotFound)
		case errors.Is(err, webhook.ErrInvalidState):
			w.WriteHeader(http.StatusConflict)
		case err != nil:
			w.WriteHeader(http.StatusInternalServerError)
		}
		if err != nil {
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		jobs, err := s.Jobs(r.Context(), r.URL.Query().Get("executor"), webhook.Status(r.URL.Query().Get("status")))
		reply(w, jobs, err)
	})
	mux.HandleFunc("GET /v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		job, err := s.Job(r.Context(), r.PathValue("id"))
		reply(w, job, err)
	})
	mux.HandleFunc("POST /v1/jobs/{id}/retry", func(w http.ResponseWriter, r *http.Request) {
		job, err := s.Retry(r.Context(), r.PathValue("id"))
		reply(w, job, err)
	})
	mux.HandleFunc("GET /v1/job-executors", func(w http.ResponseWriter, r *http.Request) {
		names, err := s.Executors(r.Context())
		reply(w, names, err)
	})
	mux.HandleFunc("POST /v1/jobs/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		job, err := s.Cancel(r.Context(), r.PathValue("id"))
		reply(w, job, err)
	})
	return mux
}

// remoteError is an error the admin socket returned: its message as the
// server wrote it, which already names the sentinel, and the sentinel for
// errors.Is.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// jobsClient calls jobsHandler over the admin socket.
type jobsClient struct{ http *http.Client }

func newJobsClient(socket string) *jobsClient {
	return &jobsClient{http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}
}

func (c *jobsClient) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://execvault"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		switch resp.StatusCode {
		case http.StatusNotFound:
			return &remoteError{msg: e.Error, sentinel: webhook.ErrJobNotFound}
		case http.StatusConflict:
			return &remoteError{msg: e.Error, sentinel: webhook.ErrInvalidState}
		}
		return fmt.Errorf("admin socket: %s", e.Error)
	}
	return json.NewDecoder(bytes.NewReader(body)).Decode(out)
}

func (c *jobsClient) Jobs(ctx context.Context, executor string, status webhook.Status) ([]webhook.Job, error) {
	var jobs []webhook.Job
	q := url.Values{"executor": {executor}, "status": {string(status)}}
	return jobs, c.do(ctx, http.MethodGet, "/v1/jobs?"+q.Encode(), &jobs)
}

func (c *jobsClient) Job(ctx context.Context, id string) (webhook.Job, error) {
	var job webhook.Job
	return job, c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id), &job)
}

func (c *jobsClient) Retry(ctx context.Context, id string) (webhook.Job, error) {
	var job webhook.Job
	return job, c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(id)+"/retry", &job)
}

func (c *jobsClient) Cancel(ctx context.Context, id string) (webhook.Job, error) {
	var job webhook.Job
	return job, c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(id)+"/cancel", &job)
}

func (c *jobsClient) Executors(ctx context.Context) ([]string, error) {
	var names []string
	return names, c.do(ctx, http.MethodGet, "/v1/job-executors", &names)
}

// jobIDArg is the argument check of jobs retry and jobs cancel. Without
// JOB_ID, the user may have meant the jobs of an executor named like the
// subcommand, which "--" lists.
func jobIDArg(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return &usageError{fmt.Errorf("missing JOB_ID; usage: %s. To list the jobs of an executor named %s, run: execvault executor jobs -- %s",
			cmd.UseLine(), cmd.Name(), cmd.Name())}
	}
	return cobra.ExactArgs(1)(cmd, args)
}
