package triggers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeClock is a Clock that moves only when the test calls Advance.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	at := c.now.Add(d)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: at, ch: ch})
	return ch
}

// Advance moves the clock by d and releases the waiters that fall due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// memRunStore is a RunStore in memory.
type memRunStore struct {
	mu   sync.Mutex
	runs map[string]RunRecord
}

func newMemRunStore() *memRunStore { return &memRunStore{runs: map[string]RunRecord{}} }

func (s *memRunStore) LastRun(_ context.Context, name string) (RunRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run, ok := s.runs[name]
	return run, ok, nil
}

func (s *memRunStore) SetLastRun(_ context.Context, name string, run RunRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs[name] = run
	return nil
}

func (s *memRunStore) get(name string) RunRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[name]
}

var discardLogger = slog.New(slog.DiscardHandler)

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// schedulerHarness runs a Scheduler inside a synctest bubble and records
// what it fires.
type schedulerHarness struct {
	t      *testing.T
	clock  *fakeClock
	store  *memRunStore
	logs   logBuffer
	sched  *Scheduler
	mu     sync.Mutex
	fired  []Firing
	fail   error
	cancel context.CancelFunc
	done   chan error
}

func newHarness(t *testing.T, start time.Time, store *memRunStore) *schedulerHarness {
	h := &schedulerHarness{t: t, clock: newFakeClock(start), store: store}
	s, err := NewScheduler(SchedulerConfig{
		Fire: func(_ context.Context, f Firing) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.fired = append(h.fired, f)
			return h.fail
		},
		Store:  store,
		Clock:  h.clock,
		Logger: slog.New(slog.NewTextHandler(&h.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.sched = s
	return h
}

func (h *schedulerHarness) add(name, spec, zone string) {
	h.t.Helper()
	s, err := ParseSchedule(spec, zone)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.sched.Add(h.t.Context(), name, s); err != nil {
		h.t.Fatal(err)
	}
}

func (h *schedulerHarness) start() {
	ctx, cancel := context.WithCancel(h.t.Context())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.sched.Run(ctx) }()
	synctest.Wait()
}

func (h *schedulerHarness) stop() {
	h.cancel()
	if err := <-h.done; !errors.Is(err, context.Canceled) {
		h.t.Errorf("Run returned %v, want context.Canceled", err)
	}
}

// advance moves the fake clock in steps, letting the scheduler run after
// each one.
func (h *schedulerHarness) advance(total, step time.Duration) {
	for moved := time.Duration(0); moved < total; moved += step {
		h.clock.Advance(min(step, total-moved))
		synctest.Wait()
	}
}

// take returns and clears the firings so far.
func (h *schedulerHarness) take() []Firing {
	h.mu.Lock()
	defer h.mu.Unlock()
	got := h.fired
	h.fired = nil
	return got
}

func assertFirings(t *testing.T, got []Firing, want ...Firing) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("firings = %v, want %v", got, want)
	}
	for i := range got {
		if got[i].Name != want[i].Name || !got[i].ScheduledTime.Equal(want[i].ScheduledTime) || got[i].CatchUp != want[i].CatchUp {
			t.Errorf("firing %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestSchedulerFiresAtDueTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, mustTime(t, "2026-05-01T12:00:30Z"), newMemRunStore())
		h.add("ten", "*/10 * * * *", "")
		h.start()
		defer h.stop()

		assertFirings(t, h.take())
		h.advance(9*time.Minute+29*time.Second, time.Minute)
		assertFirings(t, h.take())
		h.advance(time.Second, time.Second)
		assertFirings(t, h.take(), Firing{Name: "ten", ScheduledTime: mustTime(t, "2026-05-01T12:10:00Z")})
		h.advance(20*time.Minute, time.Minute)
		assertFirings(t, h.take(),
			Firing{Name: "ten", ScheduledTime: mustTime(t, "2026-05-01T12:20:00Z")},
			Firing{Name: "ten", ScheduledTime: mustTime(t, "2026-05-01T12:30:00Z")})

		if got, want := h.store.get("ten").Time, mustTime(t, "2026-05-01T12:30:00Z"); !got.Equal(want) {
			t.Errorf("stored last run = %v, want %v", got, want)
		}
	})
}

func TestSchedulerDaylightSaving(t *testing.T) {
	tests := []struct {
		name, spec, zone, start string
		span                    time.Duration
		want                    []string
	}{
		{"new york spring forward", "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 48 * time.Hour,
			[]string{"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
		{"new york fall back", "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 48 * time.Hour,
			[]string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"berlin spring forward", "30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 48 * time.Hour,
			[]string{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
		{"berlin fall back", "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 48 * time.Hour,
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, mustTime(t, tt.start), newMemRunStore())
				h.add("job", tt.spec, tt.zone)
				h.start()
				defer h.stop()

				h.advance(tt.span, 10*time.Minute)
				var want []Firing
				for _, w := range tt.want {
					want = append(want, Firing{Name: "job", ScheduledTime: mustTime(t, w)})
				}
				assertFirings(t, h.take(), want...)
			})
		})
	}
}

func TestSchedulerMissedRuns(t *testing.T) {
	tests := []struct {
		name     string
		lastRun  string
		now      string
		want     []Firing
		wantNext string
	}{
		{
			name: "several missed fire once", lastRun: "2026-05-01T09:00:00Z", now: "2026-05-04T10:00:00Z",
			want:     []Firing{{Name: "daily", ScheduledTime: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC), CatchUp: true}},
			wantNext: "2026-05-05T09:00:00Z",
		},
		{
			name: "one missed", lastRun: "2026-05-01T09:00:00Z", now: "2026-05-02T09:30:00Z",
			want:     []Firing{{Name: "daily", ScheduledTime: time.Date(2026, 5, 2, 9, 0, 0, 0, time.UTC), CatchUp: true}},
			wantNext: "2026-05-03T09:00:00Z",
		},
		{
			name: "none missed", lastRun: "2026-05-01T09:00:00Z", now: "2026-05-01T10:00:00Z",
			wantNext: "2026-05-02T09:00:00Z",
		},
		{
			name: "last run in the future", lastRun: "2026-05-03T09:00:00Z", now: "2026-05-01T10:00:00Z",
			wantNext: "2026-05-04T09:00:00Z",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := newMemRunStore()
				store.runs["daily"] = RunRecord{Time: mustTime(t, tt.lastRun), Spec: "0 9 * * * (UTC)"}
				h := newHarness(t, mustTime(t, tt.now), store)
				h.add("daily", "0 9 * * *", "")
				h.start()
				defer h.stop()

				assertFirings(t, h.take(), tt.want...)

				next := mustTime(t, tt.wantNext)
				h.advance(next.Sub(h.clock.Now())-time.Second, time.Hour)
				assertFirings(t, h.take())
				h.advance(time.Second, time.Second)
				assertFirings(t, h.take(), Firing{Name: "daily", ScheduledTime: next})
			})
		})
	}
}

func TestSchedulerCatchUpAfterRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemRunStore()
		first := newHarness(t, mustTime(t, "2026-05-01T10:00:00Z"), store)
		first.add("daily", "0 9 * * *", "")
		if got, want := store.get("daily").Time, mustTime(t, "2026-05-01T10:00:00Z"); !got.Equal(want) {
			t.Fatalf("baseline = %v, want %v", got, want)
		}

		// The process is down across two due times.
		second := newHarness(t, mustTime(t, "2026-05-03T12:00:00Z"), store)
		second.add("daily", "0 9 * * *", "")
		second.start()
		defer second.stop()
		assertFirings(t, second.take(), Firing{Name: "daily", ScheduledTime: mustTime(t, "2026-05-03T09:00:00Z"), CatchUp: true})
		if got, want := store.get("daily").Time, mustTime(t, "2026-05-03T09:00:00Z"); !got.Equal(want) {
			t.Errorf("stored last run = %v, want %v", got, want)
		}
	})
}

func TestSchedulerClockJump(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, mustTime(t, "2026-05-01T10:00:00Z"), newMemRunStore())
		h.add("hourly", "0 * * * *", "")
		h.start()
		defer h.stop()

		h.advance(5*time.Hour+30*time.Minute, 5*time.Hour+30*time.Minute)
		assertFirings(t, h.take(), Firing{Name: "hourly", ScheduledTime: mustTime(t, "2026-05-01T15:00:00Z"), CatchUp: true})
		h.advance(30*time.Minute, time.Minute)
		assertFirings(t, h.take(), Firing{Name: "hourly", ScheduledTime: mustTime(t, "2026-05-01T16:00:00Z")})
	})
}

func TestSchedulerFireErrorKeepsLastRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, mustTime(t, "2026-05-01T10:30:00Z"), newMemRunStore())
		h.fail = errors.New("queue full")
		h.add("hourly", "0 * * * *", "")
		h.start()
		defer h.stop()

		h.advance(30*time.Minute, time.Minute)
		assertFirings(t, h.take(), Firing{Name: "hourly", ScheduledTime: mustTime(t, "2026-05-01T11:00:00Z")})
		if got, want := h.store.get("hourly").Time, mustTime(t, "2026-05-01T10:30:00Z"); !got.Equal(want) {
			t.Errorf("stored last run = %v, want the baseline %v", got, want)
		}
	})
}

func TestSchedulerAddRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, mustTime(t, "2026-05-01T10:30:00Z"), newMemRunStore())
		h.start()
		defer h.stop()

		h.add("a", "0 * * * *", "")
		h.add("b", "30 * * * *", "")
		s, _ := ParseSchedule("* * * * *", "")
		if err := h.sched.Add(t.Context(), "a", s); !errors.Is(err, ErrScheduleExists) {
			t.Errorf("second Add = %v, want ErrScheduleExists", err)
		}

		h.advance(time.Hour, time.Minute)
		assertFirings(t, h.take(),
			Firing{Name: "a", ScheduledTime: mustTime(t, "2026-05-01T11:00:00Z")},
			Firing{Name: "b", ScheduledTime: mustTime(t, "2026-05-01T11:30:00Z")})

		if !h.sched.Remove("a") {
			t.Error("Remove(a) = false, want true")
		}
		if h.sched.Remove("a") {
			t.Error("second Remove(a) = true, want false")
		}
		h.advance(time.Hour, time.Minute)
		assertFirings(t, h.take(), Firing{Name: "b", ScheduledTime: mustTime(t, "2026-05-01T12:30:00Z")})
	})
}

func TestSchedulerConfigValidate(t *testing.T) {
	if _, err := NewScheduler(SchedulerConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewScheduler without Fire = %v, want ErrInvalidConfig", err)
	}
}

// TestSchedulerCatchUpFiresLatest lets a due time pass between Add, which
// owes a catch-up run, and the scheduler's next wake-up. The one catch-up
// firing carries the latest missed time, and the timetable goes on after it.
func TestSchedulerCatchUpFiresLatest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemRunStore()
		store.runs["hourly"] = RunRecord{Time: mustTime(t, "2026-05-01T09:00:00Z"), Spec: "0 * * * * (UTC)"}
		h := newHarness(t, mustTime(t, "2026-05-01T11:30:00Z"), store)
		h.add("hourly", "0 * * * *", "")
		h.clock.Advance(40 * time.Minute)
		h.start()
		defer h.stop()

		assertFirings(t, h.take(), Firing{Name: "hourly", ScheduledTime: mustTime(t, "2026-05-01T12:00:00Z"), CatchUp: true})
		if got, want := store.get("hourly").Time, mustTime(t, "2026-05-01T12:00:00Z"); !got.Equal(want) {
			t.Errorf("stored last run = %v, want %v", got, want)
		}
		h.advance(50*time.Minute, time.Minute)
		assertFirings(t, h.take(), Firing{Name: "hourly", ScheduledTime: mustTime(t, "2026-05-01T13:00:00Z")})
	})
}

func assertStored(t *testing.T, store *memRunStore, name string, want RunRecord) {
	t.Helper()
	if got := store.get(name); !got.Time.Equal(want.Time) || got.Spec != want.Spec {
		t.Errorf("stored last run of %s = %+v, want %+v", name, got, want)
	}
}

// TestSchedulerSpecChange adds a schedule whose last run is already
// stored, as when execvault run starts or reloads its plugins. Missed runs
// are caught up only when the last run was recorded under the same spec.
// Under another spec the schedule starts from the time it was added.
func TestSchedulerSpecChange(t *testing.T) {
	tests := []struct {
		name       string
		stored     RunRecord
		spec, zone string
		now        string
		// changed is true when the spec change must be logged.
		changed    bool
		want       []Firing
		wantStored RunRecord
		next       string
	}{
		{
			name:   "same spec catches up",
			stored: RunRecord{Time: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC), Spec: "0 * * * * (UTC)"},
			spec:   "0 * * * *", now: "2026-05-01T10:30:00Z",
			want:       []Firing{{Name: "job", ScheduledTime: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), CatchUp: true}},
			wantStored: RunRecord{Time: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), Spec: "0 * * * * (UTC)"},
			next:       "2026-05-01T11:00:00Z",
		},
		{
			name:   "same spec written with other spacing catches up",
			stored: RunRecord{Time: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC), Spec: "0 * * * * (UTC)"},
			spec:   " 0  *\t* * * ", zone: "UTC", now: "2026-05-01T10:30:00Z",
			want:       []Firing{{Name: "job", ScheduledTime: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), CatchUp: true}},
			wantStored: RunRecord{Time: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), Spec: "0 * * * * (UTC)"},
			next:       "2026-05-01T11:00:00Z",
		},
		{
			name:   "changed cron spec starts fresh",
			stored: RunRecord{Time: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), Spec: "0 * * * * (UTC)"},
			spec:   "*/5 * * * *", now: "2026-05-01T10:30:00Z", changed: true,
			wantStored: RunRecord{Time: time.Date(2026, 5, 1, 10, 30, 0, 0, time.UTC), Spec: "*/5 * * * * (UTC)"},
			next:       "2026-05-01T10:35:00Z",
		},
		{
			name:   "changed zone starts fresh",
			stored: RunRecord{Time: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC), Spec: "0 9 * * * (UTC)"},
			spec:   "0 9 * * *", zone: "Europe/Berlin", now: "2026-05-02T08:00:00Z", changed: true,
			wantStored: RunRecord{Time: time.Date(2026, 5, 2, 8, 0, 0, 0, time.UTC), Spec: "0 9 * * * (Europe/Berlin)"},
			next:       "2026-05-03T07:00:00Z",
		},
		{
			name:   "record without a spec catches up",
			stored: RunRecord{Time: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)},
			spec:   "0 * * * *", now: "2026-05-01T10:30:00Z",
			want:       []Firing{{Name: "job", ScheduledTime: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), CatchUp: true}},
			wantStored: RunRecord{Time: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), Spec: "0 * * * * (UTC)"},
			next:       "2026-05-01T11:00:00Z",
		},
		{
			name:   "record without a spec gets the spec",
			stored: RunRecord{Time: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)},
			spec:   "0 * * * *", now: "2026-05-01T10:30:00Z",
			wantStored: RunRecord{Time: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), Spec: "0 * * * * (UTC)"},
			next:       "2026-05-01T11:00:00Z",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := newMemRunStore()
				store.runs["job"] = tt.stored
				h := newHarness(t, mustTime(t, tt.now), store)
				h.add("job", tt.spec, tt.zone)
				h.start()
				defer h.stop()

				assertFirings(t, h.take(), tt.want...)
				assertStored(t, store, "job", tt.wantStored)
				logs := h.logs.String()
				logged := strings.Contains(logs, "no catch-up owed")
				if logged != tt.changed {
					t.Errorf("spec change logged = %v, want %v; logs:\n%s", logged, tt.changed, logs)
				}
				if tt.changed && (!strings.Contains(logs, "old_spec=\""+tt.stored.Spec+"\"") || !strings.Contains(logs, "new_spec=\""+tt.wantStored.Spec+"\"")) {
					t.Errorf("logs do not name the old spec %q and the new spec %q:\n%s", tt.stored.Spec, tt.wantStored.Spec, logs)
				}

				next := mustTime(t, tt.next)
				h.advance(next.Sub(h.clock.Now())-time.Second, time.Hour)
				assertFirings(t, h.take())
				h.advance(time.Second, time.Second)
				assertFirings(t, h.take(), Firing{Name: "job", ScheduledTime: next})
			})
		})
	}
}

// TestSchedulerReplaceWithNewSpec replaces a running hourly schedule with
// one every five minutes at 10:30, as a plugin reload does. The 10:25 due
// time of the new spec passed before it existed, so nothing fires until
// 10:35.
func TestSchedulerReplaceWithNewSpec(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, mustTime(t, "2026-05-01T09:59:30Z"), newMemRunStore())
		h.add("job", "0 * * * *", "")
		h.start()
		defer h.stop()
		h.advance(30*time.Second, 30*time.Second)
		assertFirings(t, h.take(), Firing{Name: "job", ScheduledTime: mustTime(t, "2026-05-01T10:00:00Z")})

		h.advance(30*time.Minute, time.Minute)
		h.sched.Remove("job")
		h.add("job", "*/5 * * * *", "")
		synctest.Wait()
		assertFirings(t, h.take())

		h.advance(5*time.Minute, time.Minute)
		assertFirings(t, h.take(), Firing{Name: "job", ScheduledTime: mustTime(t, "2026-05-01T10:35:00Z")})
		assertStored(t, h.store, "job", RunRecord{Time: mustTime(t, "2026-05-01T10:35:00Z"), Spec: "*/5 * * * * (UTC)"})
	})
}

// suspendClock is a Clock whose timers run on the synctest bubble's time
// while Now reads that time plus an offset. Moving the offset forward
// models a suspended machine: the wall clock jumps ahead, but Go's timers
// run on a monotonic clock that stood still during the suspension.
type suspendClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *suspendClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *suspendClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (c *suspendClock) suspend(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// TestSchedulerFiresSoonAfterSuspend suspends the machine overnight,
// across a daily due time. The run fires within a minute of waking up,
// not after the timer's remaining 22 hours.
func TestSchedulerFiresSoonAfterSuspend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := &suspendClock{}
		clock.suspend(time.Until(mustTime(t, "2026-05-01T10:30:00Z")))
		fired := make(chan Firing, 4)
		s, err := NewScheduler(SchedulerConfig{
			Fire:   func(_ context.Context, f Firing) error { fired <- f; return nil },
			Clock:  clock,
			Logger: discardLogger,
		})
		if err != nil {
			t.Fatal(err)
		}
		daily, err := ParseSchedule("0 9 * * *", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Add(t.Context(), "daily", daily); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		synctest.Wait()

		clock.suspend(23 * time.Hour)
		// Inside the bubble, Sleep moves the fake time without waiting.
		time.Sleep(time.Minute)
		synctest.Wait()

		select {
		case f := <-fired:
			if want := mustTime(t, "2026-05-02T09:00:00Z"); !f.ScheduledTime.Equal(want) {
				t.Errorf("scheduled time = %v, want %v", f.ScheduledTime, want)
			}
		default:
			t.Error("no firing within a minute after the suspension")
		}
		cancel()
		<-done
	})
}
