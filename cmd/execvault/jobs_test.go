package main

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execvault/execvault/webhook"
)

// fakeJobStore serves fixed jobs and the names of loaded executors, and
// records the status filter of the last listing.
type fakeJobStore struct {
	jobs   []webhook.Job
	loaded []string

	mu         sync.Mutex
	lastStatus webhook.Status
}

func (s *fakeJobStore) statusFilter() webhook.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastStatus
}

func (s *fakeJobStore) Jobs(_ context.Context, executor string, status webhook.Status) ([]webhook.Job, error) {
	s.mu.Lock()
	s.lastStatus = status
	s.mu.Unlock()
	var out []webhook.Job
	for _, j := range s.jobs {
		if j.Executor == executor && (status == "" || j.Status == status) {
			out = append(out, j)
		}
	}
	return out, nil
}

func (s *fakeJobStore) Job(_ context.Context, id string) (webhook.Job, error) {
	for _, j := range s.jobs {
		if j.ID == id {
			return j, nil
		}
	}
	return webhook.Job{}, fmt.Errorf("get job: job %q: %w", id, webhook.ErrJobNotFound)
}

// Retry finds the job by its exact id and returns it PENDING in a new
// round, without changing the stored jobs.
func (s *fakeJobStore) Retry(ctx context.Context, id string) (webhook.Job, error) {
	j, err := s.Job(ctx, id)
	if err != nil {
		return webhook.Job{}, err
	}
	j.Status, j.Round = webhook.StatusPending, j.Round+1
	return j, nil
}

// Cancel finds the job by its exact id and returns it CANCELED, without
// changing the stored jobs.
func (s *fakeJobStore) Cancel(ctx context.Context, id string) (webhook.Job, error) {
	j, err := s.Job(ctx, id)
	if err != nil {
		return webhook.Job{}, err
	}
	j.Status = webhook.StatusCanceled
	return j, nil
}

func (s *fakeJobStore) Executors(context.Context) ([]string, error) {
	names := slices.Clone(s.loaded)
	for _, j := range s.jobs {
		names = append(names, j.Executor)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// serveFakeJobs serves store on the admin socket of env's data directory,
// as a running execvault does.
func serveFakeJobs(t *testing.T, env *cliEnv, store *fakeJobStore) {
	t.Helper()
	if err := os.MkdirAll(env.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(env.dataDir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(jobsHandler(store))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
}

func TestExecutorJobsPlatformForms(t *testing.T) {
	env := newCLIEnv(t)
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	store := &fakeJobStore{jobs: []webhook.Job{{
		ID: "msg_one", Executor: "notify", EventID: "evt-1", URL: "https://api.example.com/orders",
		Status: webhook.StatusFailed, Round: 1, CreatedAt: started, UpdatedAt: started,
		Attempts: []webhook.Attempt{{Round: 1, Number: 1, StartedAt: started, EndedAt: started, StatusCode: 500, Error: "server error"}},
	}}}
	serveFakeJobs(t, env, store)

	code, stdout, stderr := env.run("", "executor", "jobs", "notify", "msg_one")
	if code != exitOK {
		t.Errorf("jobs NAME JOB_ID: exit %d, stderr %q; want %d", code, stderr, exitOK)
	}
	if !strings.Contains(stdout, "msg_one") || !strings.Contains(stdout, "FAILED") {
		t.Errorf("jobs NAME JOB_ID: stdout %q, want the job's id and status", stdout)
	}

	code, stdout, stderr = env.run("", "executor", "jobs", "notify", "-s", "failed")
	if code != exitOK {
		t.Errorf("jobs NAME -s failed: exit %d, stderr %q; want %d", code, stderr, exitOK)
	}
	if got := store.statusFilter(); got != webhook.StatusFailed || !strings.Contains(stdout, "msg_one") {
		t.Errorf("jobs NAME -s failed: status filter %q, stdout %q; want FAILED and the job listed", got, stdout)
	}

	code, _, stderr = env.run("", "executor", "jobs", "notify", "--attempts")
	if code != exitUsage {
		t.Errorf("jobs NAME --attempts: exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr, "JOB_ID") {
		t.Errorf("jobs NAME --attempts: stderr %q, want it to ask for JOB_ID", stderr)
	}

	code, stdout, _ = env.run("", "executor", "jobs", "notify", "msg_one", "--attempts")
	if code != exitOK || !strings.Contains(stdout, "HTTP 500: server error") {
		t.Errorf("jobs NAME JOB_ID --attempts: exit %d, stdout %q; want the attempt listed", code, stdout)
	}

	code, _, stderr = env.run("", "executor", "jobs", "notify", "--status", "done")
	if want := `invalid --status "done"`; code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("jobs with an unknown status: exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, want)
	}

	code, _, stderr = env.run("", "executor", "jobs", "notify", "--status", "SUCCESS")
	if want := `No SUCCESS jobs for executor "notify"`; code != exitOK || !strings.Contains(stderr, want) {
		t.Errorf("jobs with a status none has: exit %d, stderr %q; want 0 and %q", code, stderr, want)
	}
}

// TestExecutorJobsNamedLikeSubcommand lists the jobs of executors named
// retry and cancel, which only "--" separates from the subcommands.
func TestExecutorJobsNamedLikeSubcommand(t *testing.T) {
	env := newCLIEnv(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	store := &fakeJobStore{jobs: []webhook.Job{
		{ID: "msg_retry", Executor: "retry", URL: "https://api.example.com/a", Status: webhook.StatusSuccess, Round: 1, CreatedAt: at, UpdatedAt: at},
		{ID: "msg_cancel", Executor: "cancel", URL: "https://api.example.com/b", Status: webhook.StatusSuccess, Round: 1, CreatedAt: at, UpdatedAt: at},
	}}
	serveFakeJobs(t, env, store)

	for _, name := range []string{"retry", "cancel"} {
		code, stdout, stderr := env.run("", "executor", "jobs", "--", name)
		if code != exitOK || !strings.Contains(stdout, "msg_"+name) {
			t.Errorf("jobs -- %s: exit %d, stdout %q, stderr %q; want %d and job msg_%s", name, code, stdout, stderr, exitOK, name)
		}
		code, _, stderr = env.run("", "executor", "jobs", name)
		if want := "executor jobs -- " + name; code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("jobs %s: exit %d, stderr %q; want %d and the hint %q", name, code, stderr, exitUsage, want)
		}
	}
}

// TestExecutorJobsIDLetterCase looks jobs up by ids typed in another
// letter case than they are stored in. An exact match wins, and an id that
// matches one stored id apart from case finds it. An id that matches two
// is an error that lists both, rather than a choice.
func TestExecutorJobsIDLetterCase(t *testing.T) {
	env := newCLIEnv(t)
	job := func(id string) webhook.Job {
		return webhook.Job{ID: id, Executor: "notify", URL: "https://api.example.com/orders", Status: webhook.StatusFailed, Round: 1}
	}
	serveFakeJobs(t, env, &fakeJobStore{jobs: []webhook.Job{
		job("msg_HX6NHISUPPER"), // upper case, as earlier versions generated ids
		job("msg_n2eplower"),
		job("msg_twincase"),
		job("msg_TWINCASE"),
	}})

	tests := []struct {
		typed string
		want  string // the id of the job shown; empty for an error
		err   []string
	}{
		{typed: "msg_HX6NHISUPPER", want: "msg_HX6NHISUPPER"},
		{typed: "msg_hx6nhisupper", want: "msg_HX6NHISUPPER"},
		{typed: "MSG_hx6nHISupper", want: "msg_HX6NHISUPPER"},
		{typed: "msg_N2EPLOWER", want: "msg_n2eplower"},
		{typed: "msg_TWINCASE", want: "msg_TWINCASE"},
		{typed: "msg_twincase", want: "msg_twincase"},
		{typed: "msg_TwinCase", err: []string{`"msg_TwinCase"`, "msg_twincase", "msg_TWINCASE", "differ only in letter case"}},
		{typed: "msg_nosuchjob", err: []string{"msg_nosuchjob", "not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.typed, func(t *testing.T) {
			code, stdout, stderr := env.run("", "executor", "jobs", "notify", tt.typed)
			if tt.want != "" {
				if code != exitOK || !strings.HasPrefix(stdout, "Job "+tt.want+" ") {
					t.Errorf("jobs notify %s: exit %d, stdout %q, stderr %q; want job %s", tt.typed, code, stdout, stderr, tt.want)
				}
				code, _, stderr = env.run("", "executor", "jobs", "retry", tt.typed)
				if code != exitOK || !strings.Contains(stderr, "Job: "+tt.want+" of executor notify is PENDING again") {
					t.Errorf("jobs retry %s: exit %d, stderr %q; want job %s retried", tt.typed, code, stderr, tt.want)
				}
				code, _, stderr = env.run("", "executor", "jobs", "cancel", tt.typed)
				if code != exitOK || !strings.Contains(stderr, "Job: "+tt.want+" of executor notify is CANCELED") {
					t.Errorf("jobs cancel %s: exit %d, stderr %q; want job %s canceled", tt.typed, code, stderr, tt.want)
				}
				return
			}
			if code != exitError {
				t.Errorf("jobs notify %s: exit %d, want %d", tt.typed, code, exitError)
			}
			for _, want := range tt.err {
				if !strings.Contains(stderr, want) {
					t.Errorf("jobs notify %s: stderr %q, want it to contain %q", tt.typed, stderr, want)
				}
			}
		})
	}
}

// TestJobsUnknownExecutor checks that a name that no job and no loaded
// executor has is an error with the nearest known name, in text and JSON,
// while a loaded executor without jobs is an empty listing.
func TestJobsUnknownExecutor(t *testing.T) {
	env := newCLIEnv(t)
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	store := &fakeJobStore{
		jobs: []webhook.Job{{
			ID: "msg_one", Executor: "sync-to-external-crm", URL: "https://crm.example.com/api/v1/orders",
			Status: webhook.StatusSuccess, Round: 1, CreatedAt: started, UpdatedAt: started,
		}},
		loaded: []string{"sync-to-external-crm", "nightly-report"},
	}
	serveFakeJobs(t, env, store)

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"misspelt", []string{"sync-to-crm"}, exitError,
			`Error: unknown executor "sync-to-crm": execvault run has not loaded it and no job names it (did you mean "sync-to-external-crm"?); 'execvault executor list' shows the executors' names`},
		{"misspelt with JSON", []string{"nightly-reprot", "--json"}, exitError,
			`Error: unknown executor "nightly-reprot": execvault run has not loaded it and no job names it (did you mean "nightly-report"?); 'execvault executor list' shows the executors' names`},
		{"nothing near", []string{"zzz", "--status", "FAILED"}, exitError,
			`Error: unknown executor "zzz": execvault run has not loaded it and no job names it; 'execvault executor list' shows the executors' names`},
		{"loaded without jobs", []string{"nightly-report"}, exitOK, `No jobs for executor "nightly-report".`},
		{"known without jobs of a status", []string{"sync-to-external-crm", "-s", "FAILED"}, exitOK,
			`No FAILED jobs for executor "sync-to-external-crm".`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := env.run("", append([]string{"executor", "jobs"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d", code, tt.code)
			}
			if got := strings.TrimSpace(stderr); got != tt.stderr {
				t.Errorf("stderr %q, want %q", got, tt.stderr)
			}
			if tt.code != exitOK && stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

// TestJobsTableColumns checks that the table shows when a PENDING job is
// due again, and keeps a long error from widening every row.
func TestJobsTableColumns(t *testing.T) {
	env := newCLIEnv(t)
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	long := "dial tcp 127.0.0.1:9: connect: connection refused " + strings.Repeat("and more detail ", 20)
	store := &fakeJobStore{jobs: []webhook.Job{
		{
			ID: "msg_pending", Executor: "notify", URL: "https://api.example.com/orders",
			Status: webhook.StatusPending, Round: 1, CreatedAt: started, UpdatedAt: started,
			NextAttemptAt: started.Add(30 * time.Second),
			Attempts:      []webhook.Attempt{{Round: 1, Number: 1, StartedAt: started, EndedAt: started, Error: long}},
		},
		{
			ID: "msg_done", Executor: "notify", URL: "https://api.example.com/orders",
			Status: webhook.StatusSuccess, Round: 1, CreatedAt: started, UpdatedAt: started,
			Attempts: []webhook.Attempt{{Round: 1, Number: 1, StartedAt: started, EndedAt: started, StatusCode: 204}},
		},
	}}
	serveFakeJobs(t, env, store)

	code, stdout, stderr := env.run("", "executor", "jobs", "notify")
	if code != exitOK {
		t.Fatalf("jobs: exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "NEXT") {
		t.Fatalf("jobs output:\n%s\nwant a header with NEXT and two rows", stdout)
	}
	if !strings.Contains(lines[1], "2026-01-02T03:04:35Z") {
		t.Errorf("pending row %q does not show its next attempt at 2026-01-02T03:04:35Z", lines[1])
	}
	if strings.Contains(lines[1], "and more detail and more detail and more detail") {
		t.Errorf("pending row %q holds the whole error, want it cut short", lines[1])
	}
	if !strings.Contains(lines[1], "connection refused") {
		t.Errorf("pending row %q lost the start of its error", lines[1])
	}

	// The job's own view keeps the whole error.
	_, stdout, _ = env.run("", "executor", "jobs", "notify", "msg_pending", "--attempts")
	if !strings.Contains(stdout, strings.TrimSpace(long)) {
		t.Errorf("jobs NAME JOB_ID --attempts: stdout %q, want the whole error", stdout)
	}
}

func TestAttemptResult(t *testing.T) {
	tests := []struct {
		attempt webhook.Attempt
		want    string
	}{
		{webhook.Attempt{StatusCode: 204}, "HTTP 204"},
		{webhook.Attempt{StatusCode: 503, Error: "HTTP 503 Service Unavailable"}, "HTTP 503 Service Unavailable"},
		{webhook.Attempt{StatusCode: 302, Error: "redirect to /elsewhere not followed"}, "HTTP 302: redirect to /elsewhere not followed"},
		{webhook.Attempt{Error: "dial tcp 127.0.0.1:9: connection refused"}, "dial tcp 127.0.0.1:9: connection refused"},
	}
	for _, tt := range tests {
		if got := attemptResult(tt.attempt); got != tt.want {
			t.Errorf("attemptResult(%+v) = %q, want %q", tt.attempt, got, tt.want)
		}
	}
}
