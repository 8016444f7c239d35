package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/triggers"
	"github.com/execvault/execvault/webhook"
)

// DefaultMaxEventBody is the default body limit of POST /v1/events: 10 MiB.
const DefaultMaxEventBody = 10 << 20

// TokenResolver returns the value of a secret that guards an endpoint.
type TokenResolver interface {
	Resolve(ctx context.Context, ref plugins.SecretRef, actor string) ([]byte, error)
}

// ServerConfig configures a Server.
type ServerConfig struct {
	// Deliverer receives every fired webhook. Required.
	Deliverer Deliverer
	// Events is the durable event log that POST /v1/events writes to
	// before it responds with 202. Required.
	Events *triggers.EventLog
	// Secrets resolves the ingest token and incoming webhook tokens.
	Secrets TokenResolver
	// IngestToken names the secret that POST /v1/events requires as a
	// bearer token. Nil turns authentication off, which the caller allows
	// only on a loopback listener.
	IngestToken *plugins.SecretRef
	// OpenHooks serves the incoming webhook triggers that have no token,
	// without authentication, at /v1/hooks/{executor}; the caller allows
	// it only on a loopback listener. When false they are not served.
	OpenHooks bool
	// MaxEventBody limits a POST /v1/events body. Default DefaultMaxEventBody.
	MaxEventBody int64
	// MaxHookBody limits an incoming webhook body. Default
	// triggers.DefaultMaxBodyBytes.
	MaxHookBody int64
	// Rewrites apply to every webhook URL.
	Rewrites []URLRewrite
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
}

// Server is the HTTP face of a running runtime: record event ingest and
// incoming webhook triggers. Accepted events are processed by Process.
type Server struct {
	rt   *Runtime
	cfg  ServerConfig
	log  *slog.Logger
	wake chan struct{}
	// after returns a channel that receives once d has passed. It is
	// time.After, which tests replace to step Process's waits by hand.
	after func(d time.Duration) <-chan time.Time
}

// NewServer returns a Server for rt.
func NewServer(rt *Runtime, cfg ServerConfig) (*Server, error) {
	if cfg.Deliverer == nil || cfg.Events == nil {
		return nil, errors.New("server config: Deliverer and Events are required")
	}
	if cfg.MaxEventBody <= 0 {
		cfg.MaxEventBody = DefaultMaxEventBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{rt: rt, cfg: cfg, log: cfg.Logger.With("component", "server"), wake: make(chan struct{}, 1), after: time.After}, nil
}

// Handler returns the HTTP routes:
//
//	POST /v1/events                       record events: an object, an array or JSONL
//	POST|GET|PUT|DELETE /v1/hooks/{executor}/{token}   incoming webhook triggers
//	POST|GET|PUT|DELETE /v1/hooks/{executor}           the same without a token (OpenHooks)
//	GET /healthz                          liveness, set-aside events, failing checkpoints
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/events", s.handleEvents)
	mux.HandleFunc("/v1/hooks/{executor}/{token}", s.handleHook)
	mux.HandleFunc("/v1/hooks/{executor}", s.handleHook)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	return mux
}

// handleHealth responds 200 with "ok" and the number of stored events that
// the event log set aside because they could not be decoded. Such events
// do not make the server unhealthy, because the events after them run,
// but an operator must look at them.
//
// While the checkpoints of the webhook jobs into the state database fail,
// the first line is "degraded" instead, and lines after the count give
// since when, how often, the last error and what to do. The status stays
// 200: the journal keeps the jobs and they are delivered, and a restart
// would not free the disk.
func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	status, detail := "ok", ""
	if r, ok := s.cfg.Deliverer.(checkpointReporter); ok {
		if f, failing := r.CheckpointFailure(); failing {
			status = "degraded"
			detail = fmt.Sprintf("webhook job checkpoints failing since %s: %d failures, %d jobs waiting in the journal\n"+
				"last checkpoint error: %v\n%s\n",
				f.Since.UTC().Format(time.RFC3339), f.Failures, f.Pending, f.Err, f.Remedy())
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprintf(w, "%s\nevents set aside: %d\n%s", status, s.cfg.Events.SetAsideCount(), detail)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// handleEvents validates every event of the body, writes them to the
// event log in one transaction and responds with 202. A body with any invalid
// event is rejected whole with 400, so that a client can fix and resend it,
// and a body too large for one transaction with 413, so that it splits it.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if s.cfg.IngestToken != nil && !s.checkBearer(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="execvault"`)
		s.rejectEvents(w, r, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxEventBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.rejectEvents(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes: send fewer events per request", s.cfg.MaxEventBody))
			return
		}
		s.rejectEvents(w, r, http.StatusBadRequest, "read request body: "+err.Error())
		return
	}
	events, err := triggers.DecodeBody(body, triggers.DecodeOptions{})
	if err != nil {
		s.rejectEvents(w, r, http.StatusBadRequest, err.Error())
		return
	}

	res, err := s.cfg.Events.Append(r.Context(), events)
	var itemErr *triggers.ItemError
	switch {
	case errors.As(err, &itemErr):
		s.rejectEvents(w, r, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, triggers.ErrBatchTooLarge):
		s.rejectEvents(w, r, http.StatusRequestEntityTooLarge, err.Error())
		return
	case err != nil:
		s.log.Error("event log append failed", "remote_addr", r.RemoteAddr, "events", len(events), "error", err)
		writeError(w, http.StatusServiceUnavailable, "the event log could not store the events; retry later")
		return
	}
	s.notify()

	ids := make([]string, len(res.Accepted))
	for i, e := range res.Accepted {
		ids[i] = e.Event.ID
	}
	dups := make([]string, len(res.Duplicates))
	for i, d := range res.Duplicates {
		dups[i] = d.ID
	}
	s.log.Info("events accepted", "remote_addr", r.RemoteAddr, "accepted", len(ids), "duplicates", len(dups))
	writeJSON(w, http.StatusAccepted, map[string]any{"accepted": ids, "duplicates": dups})
}

// rejectEvents responds to an ingest request with status and msg, and
// logs it, so that an operator sees why a client's events did not arrive.
func (s *Server) rejectEvents(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.log.Warn("events rejected", "remote_addr", r.RemoteAddr, "status", status, "error", msg)
	writeError(w, status, msg)
}

func (s *Server) checkBearer(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || got == "" {
		return false
	}
	want, err := s.cfg.Secrets.Resolve(r.Context(), *s.cfg.IngestToken, "server:ingest")
	if err != nil {
		s.log.Error("resolve ingest token failed", "vault", s.cfg.IngestToken.Vault, "key", s.cfg.IngestToken.Key, "error", err)
		return false
	}
	defer clear(want)
	return triggers.TokenEqual(got, string(want))
}

func (s *Server) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// processBatch bounds the events that Process fires before it waits for
// their webhook jobs to reach the disk and marks them done. One flush per
// batch, rather than per event, lets a backlog run at the speed of the
// executors instead of the disk's flush latency.
const processBatch = 256

// Process fires the executors for every pending event of the log, in
// order, and marks each done once its webhook jobs are stored, until ctx
// is done. Events left pending by a crash are processed at start; job ids
// derive from event ids, so an event processed twice makes no second job.
// A stored event that cannot be decoded is set aside by the event log (see
// triggers.EventLog.PendingPage) and the events after it run.
//
// When the Deliverer is a BatchDeliverer, Process submits the jobs of up
// to processBatch events, waits for one flush, and then marks the events
// done, so that an event is never marked done before its jobs are on
// disk.
//
// When a batch must stay pending because its jobs could not be stored,
// Process tries again after a backoff that new events do not cut short.
// A full disk then costs one firing of the batch and one log line per
// retry, not one per arriving event.
func (s *Server) Process(ctx context.Context) error {
	failures := 0
	for {
		if s.processPending(ctx) {
			failures = 0
		} else {
			failures++
		}
		delay, wake := processWait(failures)
		wakeCh := s.wake
		if !wake {
			wakeCh = nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wakeCh:
		case <-s.after(delay):
		}
	}
}

// Waits of Process between passes over the pending events.
const (
	// processIdleWait is the longest wait for new events, which notify
	// cuts short.
	processIdleWait = 5 * time.Second
	// processRetryWait is the first wait after a failed pass. It doubles
	// for each further failure up to processMaxRetryWait.
	processRetryWait    = time.Second
	processMaxRetryWait = 30 * time.Second
)

// processWait returns how long Process waits after failures failed passes
// in a row, and whether new events end the wait early, which they do only
// while the passes succeed.
func processWait(failures int) (time.Duration, bool) {
	if failures == 0 {
		return processIdleWait, true
	}
	d := processRetryWait
	for i := 1; i < failures && d < processMaxRetryWait; i++ {
		d *= 2
	}
	return min(d, processMaxRetryWait), false
}

// processPending processes the pending events one page of processBatch
// at a time, so that a large backlog is never read into memory whole. It
// returns when no event is left or ctx ended, and reports false when a
// batch must stay pending or the pending events could not be read.
func (s *Server) processPending(ctx context.Context) bool {
	var afterSeq uint64
	for ctx.Err() == nil {
		page, err := s.cfg.Events.PendingPage(ctx, afterSeq, processBatch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("read pending events failed", "after_seq", afterSeq, "error", err)
				return false
			}
			return true
		}
		if len(page) == 0 {
			return true
		}
		if !s.processEvents(ctx, page) {
			return ctx.Err() != nil
		}
		afterSeq = page[len(page)-1].Seq
	}
	return true
}

// processEvents fires the executors for events and marks them done. It
// reports false when the events must stay pending: ctx ended, or their
// jobs could not be stored or flushed to disk. A job that the Deliverer
// rejects as invalid cannot be stored by another try, so its event is
// marked done with the failure logged.
func (s *Server) processEvents(ctx context.Context, events []triggers.LoggedEvent) bool {
	deliverer := s.cfg.Deliverer
	batch, batched := deliverer.(BatchDeliverer)
	if batched {
		deliverer = submitter{batch}
	}
	for i := range events {
		if ctx.Err() != nil {
			// Leave the events pending; they run again at the next start.
			return false
		}
		ev := events[i].Event
		firings := s.rt.HandleRecordEvent(ctx, deliverer, &ev, DispatchOptions{Rewrites: s.cfg.Rewrites})
		for _, f := range firings {
			if f.State != FiringFailed {
				continue
			}
			if ctx.Err() == nil && errors.Is(f.Err, errEnqueue) && !errors.Is(f.Err, webhook.ErrInvalidJob) {
				// The job may be stored by another try, so the event must
				// not be marked done. Jobs already submitted for the batch
				// keep their ids, so firing them again makes no new ones.
				s.log.Error("store webhook job failed; the events stay pending and run again",
					"executor", f.Executor, "event_id", ev.ID, "events", len(events), "error", f.Err)
				return false
			}
			s.log.Error("firing failed", "executor", f.Executor, "event_id", ev.ID, "error", f.Err)
		}
	}
	if ctx.Err() != nil {
		return false
	}
	if batched {
		if err := batch.Sync(ctx); err != nil {
			if ctx.Err() == nil {
				s.log.Error("flush webhook jobs failed; the events stay pending and run again",
					"events", len(events), "first_event_id", events[0].Event.ID, "error", err)
			}
			return false
		}
	}
	seqs := make([]uint64, len(events))
	for i, le := range events {
		seqs[i] = le.Seq
	}
	if err := s.cfg.Events.MarkDone(ctx, seqs...); err != nil {
		s.log.Error("mark events done failed", "events", len(events), "first_event_id", events[0].Event.ID,
			"first_seq", seqs[0], "error", err)
	}
	return true
}

// handleHook runs an incoming webhook trigger.
func (s *Server) handleHook(w http.ResponseWriter, r *http.Request) {
	name, token := r.PathValue("executor"), r.PathValue("token")
	exec, err := s.rt.Executor(name)
	if err != nil || exec.Disabled || exec.Trigger.Kind != plugins.TriggerIncomingWebhook || !s.hookAllowed(r.Context(), exec, token) {
		// A missing executor and a wrong token get the same response, so
		// the endpoint does not reveal which executors exist.
		writeError(w, http.StatusNotFound, "no incoming webhook at this path")
		return
	}

	args, err := triggers.AppendWebhookArgs(nil, r, s.rt.cfg.Env, s.cfg.MaxHookBody)
	switch {
	case errors.Is(err, triggers.ErrMethodNotAllowed):
		// A 405 response lists the methods the resource supports (RFC 9110, section 15.5.6).
		w.Header().Set("Allow", "POST, GET, PUT, DELETE")
		writeError(w, http.StatusMethodNotAllowed, err.Error())
		return
	case errors.Is(err, triggers.ErrBodyTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}

	f := s.rt.fireAndDeliver(r.Context(), s.cfg.Deliverer, exec, "", args, DispatchOptions{Rewrites: s.cfg.Rewrites})
	if f.State == FiringFailed {
		s.log.Error("incoming webhook firing failed", "executor", exec.Name, "error", f.Err)
		writeError(w, http.StatusInternalServerError, "the executor failed; see the runtime log")
		return
	}
	resp := exec.Trigger.Response
	if resp == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(resp.Status)
	_, _ = io.WriteString(w, resp.Body)
}

// FireSchedule runs a schedule-triggered executor for one due time.
func (rt *Runtime) FireSchedule(ctx context.Context, d Deliverer, exec *Executor, scheduled time.Time, opts DispatchOptions) Firing {
	args := triggers.AppendScheduleArgs(nil, scheduled, rt.cfg.Env)
	eventID := "schedule:" + exec.Name + ":" + scheduled.UTC().Format(time.RFC3339)
	return rt.fireAndDeliver(ctx, d, exec, eventID, args, opts)
}

// FireManual runs any executor on arguments given by hand: the callback
// arguments JSON of its trigger kind.
func (rt *Runtime) FireManual(ctx context.Context, d Deliverer, exec *Executor, args []byte, opts DispatchOptions) Firing {
	return rt.fireAndDeliver(ctx, d, exec, "", args, opts)
}
