package webhook

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	randv2 "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/execvault/execvault/plugins"
)

// SecretResolver returns the value of a secret for a delivery. An adapter
// over the secret store implements it. actor is SecretActor(job.Executor).
// Implementations must be safe for concurrent use. Any error other than
// the context's fails the job at once as a configuration error.
type SecretResolver interface {
	Resolve(ctx context.Context, ref plugins.SecretRef, actor string) ([]byte, error)
}

// maxBodyBytes bounds a job's body. Badger refuses a transaction larger than
// a fraction of its memtable, 64 MiB by default, and a job is written with
// its body on every state change.
const maxBodyBytes = 4 << 20

// maxIDLength bounds a job id, which is sent as a header and used in keys.
const maxIDLength = 256

// errCanceledByUser is the cause set on an attempt's context by Cancel.
var errCanceledByUser = errors.New("job canceled")

// Dispatcher delivers webhook jobs with retries, per-destination limits and
// a circuit breaker, and keeps the jobs in Badger. All methods are safe for
// concurrent use.
//
// Delivery is at least once: a job is stored before its first attempt, and
// an attempt cut short by a crash is made again after the restart with the
// same webhook-id, so a receiver deduplicates by that header.
type Dispatcher struct {
	cfg     Config
	store   *store
	secrets SecretResolver
	log     *slog.Logger
	client  *http.Client

	// afterAttempt, when set by a test, runs after each recorded attempt
	// with the job as stored, once the scheduler state reflects it.
	afterAttempt func(Job)

	// afterDispatch, when set by a test, runs after each scheduler pass.
	afterDispatch func()

	mu        sync.Mutex
	started   bool
	closed    bool
	runCtx    context.Context
	cancelRun context.CancelCauseFunc
	stop      chan struct{} // closed by Close or when the Start context ends
	wake      chan struct{}

	// queued holds the ids in the heap, a ready queue or in flight, so that
	// a job is never attempted twice at once. running holds the ids in
	// flight, which are stored as PENDING and shown as RUNNING, and requeue
	// the jobs that became PENDING again during their attempt.
	queued   map[string]queueSlot
	running  map[string]context.CancelCauseFunc
	requeue  map[string]time.Time
	timers   dueHeap
	dests    map[string]*destination
	inFlight int
	waiters  map[string][]chan Job
	// unrecorded maps a job id to an attempt that ran but whose record the
	// store rejected. The job's next turn stores the record.
	unrecorded map[string]unrecordedAttempt
	// unrecordedLen is the length of unrecorded, read without taking mu.
	unrecordedLen atomic.Int64
	// destinationKeys maps job URLs to their destination keys.
	destinationKeys map[string]string

	// attempts carries attempts to the idle workers, whose number is
	// idle. Workers outlive their attempt so that the stack the HTTP client
	// grew is reused. The buffer holds cfg.Workers attempts, and
	// dispatchDue keeps no more than that in flight, so a send never blocks.
	attempts chan attempt
	idle     int

	wg        sync.WaitGroup
	closeOnce sync.Once
}

// NewDispatcher returns a dispatcher that stores jobs in db under the
// "job/" and "jobidx/" key prefixes and resolves secret headers through
// secrets. Open db with statedb.Open. Every change of a job is appended to
// a journal in the "webhook-journal" directory inside db's directory, and
// written to db in batches later. NewDispatcher first replays what an
// earlier process left in the journal. Enqueue returns once the new job is
// flushed to disk, sharing the flush with concurrent calls. The record of
// an attempt is written without waiting for a flush. An in-memory db gets
// no journal. Close the dispatcher before db, because the dispatcher does
// not close db.
//
// secrets may be nil for a dispatcher that only lists, retries or cancels
// jobs. With a nil resolver, an attempt of a job that references a secret
// fails as a configuration error. A nil logger discards logs. It returns an error
// wrapping ErrInvalidConfig when cfg is invalid or db is nil, and an error
// wrapping statedb.ErrJournalCorrupt when the journal cannot be replayed.
func NewDispatcher(db *badger.DB, cfg Config, secrets SecretResolver, logger *slog.Logger) (*Dispatcher, error) {
	if db == nil {
		return nil, fmt.Errorf("new dispatcher: database is nil: %w", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new dispatcher: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "webhook")
	st, err := openStore(db, cfg.Clock, log)
	if err != nil {
		return nil, fmt.Errorf("new dispatcher: %w", err)
	}
	return &Dispatcher{
		cfg:        cfg,
		store:      st,
		secrets:    secrets,
		log:        log,
		client:     newHTTPClient(cfg),
		stop:       make(chan struct{}),
		wake:       make(chan struct{}, 1),
		queued:     make(map[string]queueSlot),
		running:    make(map[string]context.CancelCauseFunc),
		requeue:    make(map[string]time.Time),
		unrecorded: make(map[string]unrecordedAttempt),
		dests:      make(map[string]*destination),
		waiters:    make(map[string][]chan Job),

		destinationKeys: make(map[string]string),

		attempts: make(chan attempt, cfg.Workers),
	}, nil
}

// Start resumes the unfinished jobs, PENDING ones and RUNNING ones left by
// a process that stopped mid-attempt, and starts delivering in the
// background. It returns once the jobs are scheduled. Delivery goes on
// until ctx ends or Close is called. When ctx ends, attempts in flight are
// aborted and their jobs stay PENDING with no attempt used. It returns
// ErrAlreadyStarted on a second call and ErrClosed after Close.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	switch {
	case d.closed:
		d.mu.Unlock()
		return fmt.Errorf("start dispatcher: %w", ErrClosed)
	case d.started:
		d.mu.Unlock()
		return fmt.Errorf("start dispatcher: %w", ErrAlreadyStarted)
	}
	d.started = true
	d.runCtx, d.cancelRun = context.WithCancelCause(ctx)
	d.mu.Unlock()

	jobs, err := d.store.openJobs()
	if err != nil {
		_ = d.Close()
		return fmt.Errorf("start dispatcher: load unfinished jobs: %w", err)
	}
	interrupted := 0
	for _, j := range jobs {
		if j.Status == StatusRunning {
			// The dispatcher keeps RUNNING in memory, but a database
			// written by an earlier version may hold it: the process that
			// ran the attempt died before recording it. The attempt is not
			// counted, and the job is delivered again.
			resumed, err := d.store.update(ctx, j.ID, func(stored *Job) error {
				if stored.Status != StatusRunning {
					return errSkipWrite
				}
				stored.Status = StatusPending
				stored.UpdatedAt = d.cfg.Clock.Now()
				return nil
			})
			if err != nil {
				_ = d.Close()
				return fmt.Errorf("start dispatcher: resume job %q: %w", j.ID, err)
			}
			j = resumed
			interrupted++
		}
		d.schedule(j.ID, j.URL, j.NextAttemptAt)
	}

	d.wg.Add(2)
	go d.runScheduler()
	go d.runRetention()
	go func() {
		select {
		case <-d.runCtx.Done():
		case <-d.Failed():
			// The outcome of an attempt could no longer be recorded, and
			// the job would be sent again after the restart anyway.
			d.cancelRun(d.Err())
		case <-d.stop:
			return
		}
		d.shutdown()
	}()
	// Attempts in flight are not recorded, so only an earlier version's
	// RUNNING records tell which jobs a crash interrupted.
	if interrupted > 0 {
		d.log.Info("webhook jobs left RUNNING by an earlier version made PENDING", "jobs", interrupted)
	}
	d.log.Info("webhook dispatcher started", "resumed_jobs", len(jobs))
	return nil
}

// Failed returns a channel that is closed when the journal of the jobs
// fails to write or flush, as on a full or broken disk. A started
// dispatcher then stops as if the context passed to Start had ended, and
// Wait and every call that stores a change return Err. The jobs stay in
// the database and the journal for the next process, so the owner should
// stop and report Err. With an in-memory database the channel is never
// closed.
func (d *Dispatcher) Failed() <-chan struct{} {
	return d.store.journal.Failed()
}

// Err returns the error that closed Failed, which names the journal's
// segment and the way to recover, or nil while the journal works.
func (d *Dispatcher) Err() error {
	return d.store.journal.Err()
}

// CheckpointFailure describes the checkpoints of a dispatcher's jobs that
// failed since the last one that succeeded, as on a full disk. The jobs
// stay in the journal meanwhile, and the dispatcher retries the checkpoint
// with a backoff of at most a minute.
type CheckpointFailure struct {
	// Err is the error of the last checkpoint.
	Err error
	// Since is when the first of the failed checkpoints ended.
	Since time.Time
	// Failures counts the failed checkpoints.
	Failures int
	// Pending counts the jobs whose latest change waits for a checkpoint.
	Pending int
	// Dir is the state database's directory, empty when it is in memory.
	Dir string
}

// Remedy returns what brings the checkpoints back, naming the state
// directory.
func (f CheckpointFailure) Remedy() string { return checkpointRemedy(f.Dir) }

// CheckpointFailure reports whether the last checkpoint of the jobs to the
// state database failed, and how checkpoints have failed since the last
// one that succeeded. Unlike a failure of the journal, this one may pass,
// for example once disk space is freed: the dispatcher goes on, and Enqueue
// refuses jobs only while too many changes wait for the database.
func (d *Dispatcher) CheckpointFailure() (CheckpointFailure, bool) {
	f := d.store.failure()
	return f, f.Failures > 0
}

// shutdown stops scheduling and wakes every Wait. It is idempotent.
func (d *Dispatcher) shutdown() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.closed = true
	close(d.stop)
	// Nothing is sent on attempts once closed is set. The workers run
	// the attempts already sent, which count as in flight, and exit.
	close(d.attempts)
}

// Close stops scheduling new attempts and waits for the attempts in flight
// to end, each within its attempt timeout. Cancel the context passed to
// Start first to abort them. Jobs not yet delivered stay in the database and
// resume at the next Start. Close then writes the jobs' latest changes from
// the journal to the database and returns the error of that write, which
// leaves them in the journal for the next start. It may be called more
// than once.
func (d *Dispatcher) Close() error {
	d.shutdown()
	d.wg.Wait()

	d.mu.Lock()
	cancel := d.cancelRun
	d.mu.Unlock()
	if cancel != nil {
		cancel(ErrClosed)
	}
	err := d.store.close()
	if cancel != nil {
		d.closeOnce.Do(func() { d.log.Info("webhook dispatcher stopped") })
	}
	if err != nil {
		return fmt.Errorf("close dispatcher: %w", err)
	}
	return nil
}

// signal wakes the scheduler without blocking.
func (d *Dispatcher) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// queueSlot is the position of a queued job. Rescheduling a job to an
// earlier time leaves its old heap entry behind. Only the entry whose due
// time equals due is live, and the scheduler skips the others.
type queueSlot struct {
	due   time.Time
	ready bool // in a destination's ready queue or in flight
}

// schedule queues job id for an attempt at due. A job already in flight is
// queued again when its attempt ends. A job already waiting moves to the
// earlier of its due times.
func (d *Dispatcher) schedule(id, rawURL string, due time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.scheduleLocked(id, d.destinationLocked(rawURL), due)
}

// maxDestinationKeys bounds the destination keys that Dispatcher keeps.
const maxDestinationKeys = 1024

// destinationLocked returns destinationKey(rawURL), from the keys of the
// URLs seen before when it can, because the jobs of an executor usually
// share one URL. The caller holds mu.
func (d *Dispatcher) destinationLocked(rawURL string) string {
	if key, ok := d.destinationKeys[rawURL]; ok {
		return key
	}
	key := destinationKey(rawURL)
	if len(d.destinationKeys) >= maxDestinationKeys {
		clear(d.destinationKeys)
	}
	d.destinationKeys[rawURL] = key
	return key
}

func (d *Dispatcher) scheduleLocked(id, destination string, due time.Time) {
	if d.closed || !d.started {
		return
	}
	if _, ok := d.running[id]; ok {
		d.requeue[id] = due
		return
	}
	if slot, ok := d.queued[id]; ok && (slot.ready || !due.Before(slot.due)) {
		return
	}
	d.queued[id] = queueSlot{due: due}
	d.timers.push(entry{id: id, destination: destination, due: due})
	d.signal()
}

// runScheduler moves due jobs to their destinations' ready queues and
// starts attempts within the worker, per-destination and breaker limits.
func (d *Dispatcher) runScheduler() {
	defer d.wg.Done()
	for {
		next, ok := d.dispatchDue()
		if !ok {
			return
		}
		if d.afterDispatch != nil {
			d.afterDispatch()
		}

		var timerC <-chan time.Time
		var timer Timer
		if !next.IsZero() {
			timer = d.cfg.Clock.NewTimer(max(next.Sub(d.cfg.Clock.Now()), 0))
			timerC = timer.C()
		}
		select {
		case <-d.wake:
		case <-timerC:
		case <-d.stop:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// dispatchDue starts every attempt that may start now and returns when the
// scheduler must look again, zero when only an event can change anything.
// It returns false once the dispatcher is closed.
func (d *Dispatcher) dispatchDue() (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return time.Time{}, false
	}

	now := d.cfg.Clock.Now()
	for d.timers.Len() > 0 && !d.timers[0].due.After(now) {
		e := d.timers.pop()
		if slot, ok := d.queued[e.id]; !ok || slot.ready || !slot.due.Equal(e.due) {
			continue
		}
		d.queued[e.id] = queueSlot{due: e.due, ready: true}
		dst := d.dests[e.destination]
		if dst == nil {
			dst = &destination{key: e.destination}
			d.dests[e.destination] = dst
		}
		dst.ready = append(dst.ready, e)
	}

	var next time.Time
	for key, dst := range d.dests {
		for len(dst.ready) > 0 && d.inFlight < d.cfg.Workers && dst.active < d.cfg.PerHostConcurrency {
			allowed, retryAt := dst.breaker.allow(now)
			if !allowed {
				next = earliest(next, retryAt)
				break
			}
			e := dst.ready[0]
			dst.ready[0] = entry{}
			dst.ready = dst.ready[1:]
			dst.active++
			d.inFlight++

			ctx, cancel := context.WithCancelCause(d.runCtx)
			d.running[e.id] = cancel
			d.startLocked(attempt{ctx: ctx, e: e, dst: dst})
		}
		if len(dst.ready) == 0 && dst.active == 0 && dst.breaker.idle() {
			delete(d.dests, key)
		}
	}
	if d.timers.Len() > 0 {
		next = earliest(next, d.timers[0].due)
	}
	return next, true
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// attempt is an attempt that dispatchDue hands to a worker.
type attempt struct {
	ctx context.Context
	e   entry
	dst *destination
}

// startLocked starts a on an idle worker, or on a new one when none is
// idle. The caller holds mu.
func (d *Dispatcher) startLocked(a attempt) {
	if d.idle > 0 {
		d.idle--
		d.attempts <- a
		return
	}
	d.wg.Add(1)
	go d.work(a)
}

// work runs attempt a and then the attempts it receives, until the
// dispatcher stops.
func (d *Dispatcher) work(a attempt) {
	defer d.wg.Done()
	for {
		d.runAttempt(a.ctx, a.e, a.dst)
		next, ok := <-d.attempts
		if !ok {
			return
		}
		a = next
	}
}

// runAttempt makes one attempt of job e.id, records it and queues the job
// again when it is still PENDING. It counts the worker as idle under the
// same lock that ends the attempt.
func (d *Dispatcher) runAttempt(ctx context.Context, e entry, dst *destination) {
	result := d.attemptJob(ctx, e.id)

	d.mu.Lock()
	d.running[e.id](nil)
	delete(d.running, e.id)
	dst.active--
	d.inFlight--
	if result.breakerCounts && !d.cfg.DisableBreaker {
		before, after := dst.breaker.record(result.success, d.cfg.Clock.Now(), d.cfg.BreakerFailures, d.cfg.BreakerCooldown)
		if before != after {
			d.logBreaker(dst, before, after)
		}
	} else {
		dst.breaker.release()
	}

	// Both can apply when Cancel and Retry ran between the record of the
	// attempt and this point, and the earlier due time wins.
	delete(d.queued, e.id)
	if result.next != nil {
		d.scheduleLocked(e.id, e.destination, *result.next)
	}
	if due, ok := d.requeue[e.id]; ok {
		delete(d.requeue, e.id)
		d.scheduleLocked(e.id, e.destination, due)
	}
	d.idle++
	d.mu.Unlock()
	d.signal()

	if d.afterAttempt != nil && result.recorded != nil {
		d.afterAttempt(*result.recorded)
	}
}

func (d *Dispatcher) logBreaker(dst *destination, before, after breakerState) {
	switch after {
	case breakerOpen:
		d.log.Warn("webhook destination paused", "destination", dst.key, "consecutive_failures", dst.breaker.failures,
			"resume_at", dst.breaker.openUntil, "backlog", len(dst.ready))
	case breakerClosed:
		d.log.Info("webhook destination resumed", "destination", dst.key, "previous_state", before.String())
	}
}

// attemptResult is the result of attemptJob that runAttempt acts on.
type attemptResult struct {
	next          *time.Time // due time of the next attempt, nil when none
	success       bool
	breakerCounts bool
	recorded      *Job // the job after the attempt was stored
}

// attemptJob delivers a PENDING job and records the attempt. While the
// attempt runs, the job stays PENDING in the database and d.running shows
// it as RUNNING: a crash then leaves it PENDING, to be delivered again
// without the lost attempt counted, with no write needed to start it.
func (d *Dispatcher) attemptJob(ctx context.Context, id string) attemptResult {
	// The attempt only reads the job.
	j, _, err := d.store.peek(id)
	if errors.Is(err, ErrJobNotFound) {
		return attemptResult{}
	}
	if err != nil {
		d.log.Error("webhook job not started", "job_id", id, "error", err)
		next := d.cfg.Clock.Now().Add(d.cfg.Policy.BackoffBase)
		return attemptResult{next: &next}
	}
	if u, ok := d.unrecordedAttempt(id); ok {
		// The request was made, and counted by the breaker, at the attempt
		// itself. Only its record is missing.
		res := d.recordAttempt(u.job, u.out)
		res.breakerCounts = false
		return res
	}
	if j.Status != StatusPending || ctx.Err() != nil {
		// The job was canceled, or finished, since it was queued. Or Cancel
		// aborted this attempt before it started, and a Retry may have made
		// the job PENDING again since. The attempt must not run in the new
		// round with its canceled context, because the requeue that Retry
		// left starts a fresh one.
		return attemptResult{}
	}

	// The job must be in the journal's file before a receiver can see it,
	// so that killing the process cannot lose a delivered job. The record
	// is usually written by now.
	if err := d.store.written(ctx, id); err != nil {
		if ctx.Err() != nil {
			return attemptResult{}
		}
		d.log.Error("webhook job not started", "job_id", id, "error", err)
		next := d.cfg.Clock.Now().Add(d.cfg.Policy.BackoffBase)
		return attemptResult{next: &next}
	}

	number := j.AttemptsInRound() + 1
	if d.log.Enabled(ctx, slog.LevelDebug) {
		d.log.Debug("webhook attempt started", "job_id", j.ID, "executor", j.Executor, "url", j.URL,
			"round", j.Round, "attempt", number, "headers", attemptHeaders(j))
	}
	out := d.deliver(ctx, j, number)

	if out.aborted && !errors.Is(context.Cause(ctx), errCanceledByUser) {
		// Shutdown cut the attempt short. The job is still PENDING in the
		// database, and the attempt is not counted.
		return attemptResult{}
	}
	return d.recordAttempt(j, out)
}

// recordAttempt stores the attempt and the job's next state.
func (d *Dispatcher) recordAttempt(j Job, out outcome) attemptResult {
	res := attemptResult{success: out.success, breakerCounts: out.destinationFault}
	a := out.attempt
	now := d.cfg.Clock.Now()

	// The record of an attempt that ran is stored even when the caller
	// that enqueued the job has gone.
	stored, err := d.store.update(context.Background(), j.ID, func(s *Job) error {
		s.Attempts = append(s.Attempts, a)
		s.UpdatedAt = now
		if s.Status != StatusPending || s.Round != j.Round {
			// The job was canceled, and perhaps retried, during the
			// attempt. The attempt goes into the history and the status
			// stays as Cancel or Retry set it.
			return nil
		}

		switch {
		case out.success:
			s.Status = StatusSuccess
			s.LastError = ""
			s.NextAttemptAt = time.Time{}
		case !a.Retryable:
			s.Status = StatusFailed
			s.LastError = a.Error
			s.NextAttemptAt = time.Time{}
		case a.Number >= s.Policy.MaxAttempts:
			s.Status = StatusFailed
			s.LastError = fmt.Sprintf("%s (attempt %d of %d)", a.Error, a.Number, s.Policy.MaxAttempts)
			s.NextAttemptAt = time.Time{}
		default:
			s.Status = StatusPending
			s.LastError = a.Error
			s.NextAttemptAt = now.Add(d.retryDelay(s.Policy, a.Number, out))
		}
		return nil
	})
	if err != nil {
		// The store rejected the record, as it does while checkpoints fail
		// and too many changes wait. The job's next turn stores it. A
		// restart before then delivers the job again, since it is PENDING.
		next := now.Add(d.cfg.Policy.BackoffBase)
		if d.keepUnrecorded(j, out) {
			d.log.Error("webhook attempt not recorded; storing its record is retried", "job_id", j.ID, "attempt", a.Number,
				"retry_at", next, "error", err)
		}
		res.next = &next
		return res
	}
	d.forgetUnrecorded(j.ID)

	d.logAttempt(stored, a)
	if d.cfg.OnAttempt != nil {
		d.cfg.OnAttempt(stored.clone())
	}
	if stored.Status == StatusPending && stored.Round == j.Round {
		next := stored.NextAttemptAt
		res.next = &next
	}
	if stored.Status.Finished() {
		d.notify(stored)
	}
	res.recorded = &stored
	return res
}

// unrecordedAttempt is an attempt whose record the store rejected: the job
// as the attempt read it, and the attempt's outcome.
type unrecordedAttempt struct {
	job Job
	out outcome
}

// unrecordedAttempt returns the attempt of job id whose record is missing.
func (d *Dispatcher) unrecordedAttempt(id string) (unrecordedAttempt, bool) {
	if d.unrecordedLen.Load() == 0 {
		return unrecordedAttempt{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.unrecorded[id]
	return u, ok
}

// keepUnrecorded keeps the outcome of an attempt of j whose record the
// store rejected. It returns true only the first time for j, so that the
// rejection is logged once however often storing the record is retried.
func (d *Dispatcher) keepUnrecorded(j Job, out outcome) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.unrecorded[j.ID]; ok {
		return false
	}
	d.unrecorded[j.ID] = unrecordedAttempt{job: j, out: out}
	d.unrecordedLen.Store(int64(len(d.unrecorded)))
	return true
}

// forgetUnrecorded drops the kept attempt of job id once its record is
// stored.
func (d *Dispatcher) forgetUnrecorded(id string) {
	if d.unrecordedLen.Load() == 0 {
		return
	}
	d.mu.Lock()
	delete(d.unrecorded, id)
	d.unrecordedLen.Store(int64(len(d.unrecorded)))
	d.mu.Unlock()
}

func (d *Dispatcher) retryDelay(p Policy, failures int, out outcome) time.Duration {
	if out.hasRetryAfter {
		return min(out.retryAfter, d.cfg.RetryAfterMax)
	}
	return p.backoff(failures, randv2.Float64())
}

func (d *Dispatcher) logAttempt(j Job, a Attempt) {
	if a.Error == "" && !d.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	log := d.log.With("job_id", j.ID, "executor", j.Executor, "url", j.URL, "round", a.Round,
		"attempt", a.Number, "status_code", a.StatusCode, "duration", a.Duration)
	retryLevel, failLevel := slog.LevelWarn, slog.LevelError
	if d.cfg.QuietAttempts {
		retryLevel, failLevel = slog.LevelDebug, slog.LevelDebug
	}
	ctx := context.Background()
	switch {
	case a.Error == "":
		log.Debug("webhook delivered")
	case j.Status == StatusPending:
		log.Log(ctx, retryLevel, "webhook attempt failed, will retry", "error", a.Error, "next_attempt_at", j.NextAttemptAt)
	case j.Status == StatusFailed:
		log.Log(ctx, failLevel, "webhook job failed", "error", j.LastError, "stop_reason", stopReason(a))
	default:
		log.Info("webhook attempt ended after the job changed", "status", j.Status, "error", a.Error)
	}
}

// stopReason returns why a job whose last attempt was the failed a is
// FAILED rather than retried.
func stopReason(a Attempt) string {
	if !a.Retryable {
		return "not retryable"
	}
	return "no attempts left"
}

// notify hands the finished job j to every Wait on it.
func (d *Dispatcher) notify(j Job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, ch := range d.waiters[j.ID] {
		if i > 0 {
			j = j.clone()
		}
		ch <- j // buffered, and each channel gets one job
	}
	delete(d.waiters, j.ID)
}

// minRetentionSweepInterval bounds how often a short Retention makes the
// dispatcher sweep, so that a retention of a few nanoseconds does not
// sweep in a busy loop.
const minRetentionSweepInterval = time.Second

// runRetention deletes old finished jobs at start and then every
// RetentionInterval, or every Retention (at least a second) when that is
// shorter. Sweeping at start applies the retention even to a process that
// never runs for a whole interval.
func (d *Dispatcher) runRetention() {
	defer d.wg.Done()
	if d.cfg.Retention == 0 {
		return
	}
	interval := retentionSweepInterval(d.cfg)
	for {
		d.sweepFinished()
		timer := d.cfg.Clock.NewTimer(interval)
		select {
		case <-d.stop:
			timer.Stop()
			return
		case <-timer.C():
		}
	}
}

// retentionSweepInterval returns the time between the retention sweeps of
// a dispatcher with cfg.
func retentionSweepInterval(cfg Config) time.Duration {
	return min(cfg.RetentionInterval, max(cfg.Retention, minRetentionSweepInterval))
}

// sweepFinished deletes the finished jobs last updated more than Retention
// ago and logs what it did.
func (d *Dispatcher) sweepFinished() {
	n, err := d.store.deleteFinished(d.cfg.Clock.Now().Add(-d.cfg.Retention))
	if err != nil {
		d.log.Error("webhook retention sweep failed", "deleted_jobs", n, "error", err)
		return
	}
	if n > 0 {
		d.log.Info("webhook retention sweep", "deleted_jobs", n, "retention", d.cfg.Retention)
	}
}

// newJobID returns "msg_" and 26 random base32 characters (130 bits) in
// lower case, the case of the ids the runtime derives from event ids, so
// that every job id reads and is typed the same way.
func newJobID() string { return "msg_" + strings.ToLower(rand.Text()) }
