package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// RunStore persists, per schedule name, the last run and the spec it ran
// under. The runtime provides it; BadgerRunStore is one implementation.
// Methods must be safe for concurrent use.
type RunStore interface {
	// LastRun returns the record stored for name, and false when none is
	// stored.
	LastRun(ctx context.Context, name string) (RunRecord, bool, error)
	// SetLastRun stores run for name, replacing any earlier record.
	SetLastRun(ctx context.Context, name string, run RunRecord) error
}

// RunRecord is the last run of a schedule as a RunStore keeps it.
type RunRecord struct {
	// Time is the due time of the run, or the time the schedule was added
	// under Spec when it has not run under it yet.
	Time time.Time
	// Spec is the String of the schedule that Time belongs to. Missed runs
	// are counted from Time only under that same spec. It is empty in a
	// record stored before specs were kept.
	Spec string
}

// Firing is one run of a schedule handed to the scheduler's callback.
type Firing struct {
	// Name is the name the schedule was added under.
	Name string
	// ScheduledTime is the due time of this run, in the schedule's zone.
	ScheduledTime time.Time
	// CatchUp is true when this run stands for one or more runs that were
	// missed, either while the process was down or because the clock
	// jumped past several due times at once. ScheduledTime is then the
	// latest of the missed times.
	CatchUp bool
}

// FireFunc receives the runs of a schedule. It runs on the scheduler's
// goroutine, so it should hand the firing off quickly. A nil return records
// ScheduledTime as the schedule's last run; an error is logged and the
// last run stays as it was.
type FireFunc func(ctx context.Context, f Firing) error

// SchedulerConfig configures a Scheduler.
type SchedulerConfig struct {
	// Fire receives every run. Required.
	Fire FireFunc
	// Store persists last run times. Nil keeps them in memory only, so
	// runs missed while the process was down are not caught up.
	Store RunStore
	// Clock supplies the current time and timers. Default SystemClock.
	Clock Clock
	// Logger receives lifecycle and error records. Default slog.Default().
	Logger *slog.Logger
}

// Validate reports a missing required field. Errors wrap ErrInvalidConfig.
func (c SchedulerConfig) Validate() error {
	if c.Fire == nil {
		return fmt.Errorf("%w: scheduler needs a Fire callback", ErrInvalidConfig)
	}
	return nil
}

// Scheduler fires callbacks when schedules fall due.
//
// Missed runs: when a schedule is added, the scheduler reads its last run
// from the RunStore. If one or more due times passed since then, it fires
// once with CatchUp set and ScheduledTime the latest missed time. Then it
// carries on with the normal timetable, so it never fires a burst. A schedule
// with no stored run stores the time it was added, so runs missed before its
// first firing are caught up too. The same rule applies while running: if
// the clock has passed more than one due time when the scheduler wakes, it
// fires once as a catch-up.
//
// A stored run counts only for the spec it was recorded under (cron fields
// and zone, as Schedule.String gives them). When the schedule is added with
// another spec, the new timetable had no due times before now, so no
// catch-up is owed: the scheduler stores now under the new spec and waits
// for its next due time. A record stored without a spec is trusted as the
// last run of the current spec, as it was before specs were kept, and is
// stored again with the spec so that a later change is noticed.
//
// Add, Remove and Run are safe for concurrent use. Run may be called once.
type Scheduler struct {
	fire   FireFunc
	store  RunStore
	clock  Clock
	logger *slog.Logger

	wake chan struct{}

	mu      sync.Mutex
	entries map[string]*scheduleEntry
	running bool
}

type scheduleEntry struct {
	name  string
	sched *Schedule
	// next is the next regular due time.
	next time.Time
	// catchUp, when not zero, is a missed due time still to fire.
	catchUp time.Time
}

// NewScheduler returns a Scheduler with no schedules. Errors wrap
// ErrInvalidConfig.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new scheduler: %w", err)
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Scheduler{
		fire:    cfg.Fire,
		store:   cfg.Store,
		clock:   cfg.Clock,
		logger:  cfg.Logger.With("component", "scheduler"),
		wake:    make(chan struct{}, 1),
		entries: make(map[string]*scheduleEntry),
	}, nil
}

// Add registers sched under name and works out whether a catch-up run is
// owed, reading and possibly writing the RunStore. It returns an error
// wrapping ErrScheduleExists for a name already added, or the store's
// error.
func (s *Scheduler) Add(ctx context.Context, name string, sched *Schedule) error {
	if name == "" || sched == nil {
		return fmt.Errorf("add schedule %q: %w: name and schedule are required", name, ErrInvalidConfig)
	}
	s.mu.Lock()
	_, exists := s.entries[name]
	s.mu.Unlock()
	if exists {
		return fmt.Errorf("add schedule %q: %w: remove it first", name, ErrScheduleExists)
	}

	now := s.clock.Now()
	last, err := s.lastRun(ctx, name, sched.String(), now)
	if err != nil {
		return fmt.Errorf("add schedule %q: %w", name, err)
	}

	e := &scheduleEntry{name: name, sched: sched}
	if missed, ok := sched.Latest(last, now); ok {
		e.catchUp = missed
	}
	// A last run in the future means the clock went back: runs up to it
	// already happened, so the timetable resumes after it.
	e.next = sched.Next(later(now, last))

	s.mu.Lock()
	if _, exists := s.entries[name]; exists {
		s.mu.Unlock()
		return fmt.Errorf("add schedule %q: %w: remove it first", name, ErrScheduleExists)
	}
	s.entries[name] = e
	s.mu.Unlock()

	s.logger.Info("schedule added", "schedule", name, "spec", sched.String(), "next_run", e.next, "catch_up", !e.catchUp.IsZero())
	s.poke()
	return nil
}

// lastRun returns the time from which Add counts missed runs of name under
// spec, storing a new record when the store has none for spec.
func (s *Scheduler) lastRun(ctx context.Context, name, spec string, now time.Time) (time.Time, error) {
	if s.store == nil {
		return now, nil
	}
	stored, ok, err := s.store.LastRun(ctx, name)
	if err != nil {
		return time.Time{}, err
	}
	switch {
	case ok && stored.Spec == spec:
		return stored.Time, nil
	case ok && stored.Spec == "":
		// Stored before specs were kept: trust it, and keep the spec from
		// now on.
		if err := s.store.SetLastRun(ctx, name, RunRecord{Time: stored.Time, Spec: spec}); err != nil {
			return time.Time{}, err
		}
		return stored.Time, nil
	case ok:
		s.logger.Info("schedule spec changed since its last run: no catch-up owed",
			"schedule", name, "old_spec", stored.Spec, "new_spec", spec, "last_run", stored.Time)
	}
	if err := s.store.SetLastRun(ctx, name, RunRecord{Time: now, Spec: spec}); err != nil {
		return time.Time{}, err
	}
	return now, nil
}

// Remove unregisters name and reports whether it was registered. The
// stored last run stays, so adding the schedule again with the same spec
// catches up as usual, and adding it with another spec starts afresh.
func (s *Scheduler) Remove(name string) bool {
	s.mu.Lock()
	_, ok := s.entries[name]
	delete(s.entries, name)
	s.mu.Unlock()
	if ok {
		s.poke()
	}
	return ok
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// maxTimerWait bounds how long Run sleeps before it reads the clock again.
// Go's timers run on the runtime's monotonic clock (CLOCK_MONOTONIC on
// Linux as of Go 1.26), which does not advance while the machine is
// suspended, so a long timer fires late by the time spent suspended.
const maxTimerWait = time.Minute

// Run fires due schedules until ctx is done, then returns ctx's error.
// Callbacks run one at a time on Run's goroutine. A second concurrent call
// returns an error wrapping ErrInvalidConfig.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return fmt.Errorf("run scheduler: %w: already running", ErrInvalidConfig)
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()

	s.logger.Info("scheduler started")
	for {
		for _, d := range s.collectDue(s.clock.Now()) {
			s.deliver(ctx, d.Firing, d.spec)
		}

		var timer <-chan time.Time
		if next, ok := s.earliest(); ok {
			timer = s.clock.After(min(max(next.Sub(s.clock.Now()), 0), maxTimerWait))
		}
		select {
		case <-ctx.Done():
			s.logger.Info("scheduler stopped")
			return ctx.Err()
		case <-s.wake:
		case <-timer:
		}
	}
}

// dueRun is a firing and the spec of the schedule it came from, which is
// stored with its last run. The schedule may be replaced with another spec
// before the firing is delivered.
type dueRun struct {
	Firing
	spec string
}

// collectDue returns the runs due at now and advances each entry's
// timetable past now.
func (s *Scheduler) collectDue(now time.Time) []dueRun {
	s.mu.Lock()
	defer s.mu.Unlock()

	var due []dueRun
	for _, e := range s.entries {
		switch {
		case !e.catchUp.IsZero():
			// Due times may have passed since Add owed the catch-up, and
			// the one firing represents them too.
			missed := e.catchUp
			if latest, ok := e.sched.Latest(missed, now); ok {
				missed = latest
			}
			due = append(due, dueRun{Firing{Name: e.name, ScheduledTime: missed, CatchUp: true}, e.sched.String()})
			e.catchUp = time.Time{}
		case !e.next.IsZero() && !e.next.After(now):
			latest, _ := e.sched.Latest(e.next.Add(-time.Nanosecond), now)
			due = append(due, dueRun{Firing{Name: e.name, ScheduledTime: latest, CatchUp: !latest.Equal(e.next)}, e.sched.String()})
		default:
			continue
		}
		if !e.next.After(now) {
			e.next = e.sched.Next(now)
		}
	}
	return due
}

func (s *Scheduler) earliest() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()

	var first time.Time
	for _, e := range s.entries {
		if e.next.IsZero() {
			continue
		}
		if first.IsZero() || e.next.Before(first) {
			first = e.next
		}
	}
	return first, !first.IsZero()
}

func (s *Scheduler) deliver(ctx context.Context, f Firing, spec string) {
	log := s.logger.With("schedule", f.Name, "scheduled_time", f.ScheduledTime, "catch_up", f.CatchUp)
	if err := s.fire(ctx, f); err != nil {
		if !errors.Is(err, context.Canceled) {
			log.Error("schedule run failed", "error", err)
		}
		return
	}
	log.Debug("schedule fired")

	if s.store == nil {
		return
	}
	if err := s.store.SetLastRun(ctx, f.Name, RunRecord{Time: f.ScheduledTime, Spec: spec}); err != nil {
		log.Warn("store last run failed: the run may be caught up again after a restart", "error", err)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
