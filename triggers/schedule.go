package triggers

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	// Embedding the zone database makes schedules load the same zones on
	// hosts without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// searchDays bounds the search for the next firing: nine years, enough to
// pass from one 29 February to the next across 2100, which is not a leap
// year. ParseSchedule rejects specs that cannot fire on any date, so a
// valid spec always fires within this bound.
const searchDays = 9 * 366

// cronParser accepts five fields and the @yearly, @annually, @monthly,
// @weekly, @daily, @midnight and @hourly descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// starBit is the bit robfig/cron v3 sets in a field given as "*" or "?".
const starBit = 1 << 63

// Schedule is a parsed cron spec in an IANA time zone. Its zero value is
// not usable; get one from ParseSchedule. A Schedule is immutable and safe
// for concurrent use.
//
// Fire times follow the wall clock of the zone, with two rules for
// daylight-saving changes. A wall-clock time skipped when clocks go forward
// fires once, at the instant of the change; several skipped times collapse
// into that one firing. A wall-clock time that occurs twice when clocks go
// back fires once, at its first occurrence.
type Schedule struct {
	spec string
	loc  *time.Location

	minute, hour, dom, month, dow uint64
	// dayAnd is true when day of month or day of week was "*". Then both
	// must match, and otherwise either one is enough, as in Vixie cron.
	dayAnd bool
}

// ParseSchedule parses a five-field cron spec (minute, hour, day of month,
// month, day of week) or a descriptor such as @daily, in the IANA zone
// timezone. An empty timezone means UTC. The spec must not carry its own
// TZ= or CRON_TZ= prefix. @every is rejected because it is not a
// wall-clock schedule.
//
// Errors wrap ErrInvalidSchedule: a malformed spec, an unknown zone, or a
// spec that matches no date, such as "0 0 30 2 *". ParseSchedule never
// panics, even where the cron library would.
func ParseSchedule(spec, timezone string) (*Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("parse schedule: %w: empty spec: use five fields such as \"0 9 * * 1-5\"", ErrInvalidSchedule)
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, fmt.Errorf("parse schedule %q: %w: remove the TZ= prefix and set the time zone in its own field", spec, ErrInvalidSchedule)
	}
	if strings.HasPrefix(spec, "@every") {
		return nil, fmt.Errorf("parse schedule %q: %w: @every is not supported: use a five-field spec", spec, ErrInvalidSchedule)
	}
	if !strings.HasPrefix(spec, "@") {
		if n := len(strings.Fields(spec)); n != 5 {
			return nil, fmt.Errorf("parse schedule %q: %w: %d fields: use five (minute hour day-of-month month day-of-week)", spec, ErrInvalidSchedule, n)
		}
	}

	loc, err := loadZone(timezone)
	if err != nil {
		return nil, fmt.Errorf("parse schedule %q: %w", spec, err)
	}

	parsed, err := parseCron(spec)
	if err != nil {
		return nil, fmt.Errorf("parse schedule %q: %w: %v", spec, ErrInvalidSchedule, err)
	}
	bits, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("parse schedule %q: %w: not a wall-clock schedule", spec, ErrInvalidSchedule)
	}

	s := &Schedule{
		spec:   strings.Join(strings.Fields(spec), " "),
		loc:    loc,
		minute: bits.Minute,
		hour:   bits.Hour,
		dom:    bits.Dom,
		month:  bits.Month,
		dow:    bits.Dow,
		dayAnd: bits.Dom&starBit != 0 || bits.Dow&starBit != 0,
	}
	if !s.canFire() {
		return nil, fmt.Errorf("parse schedule %q: %w: no date matches the day of month and month fields", spec, ErrInvalidSchedule)
	}
	return s, nil
}

// parseCron calls the cron parser and turns a panic inside it into an
// error, since robfig/cron v3.0.1 panics on some malformed input.
func parseCron(spec string) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("malformed spec")
		}
	}()
	return cronParser.Parse(spec)
}

func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if name == "Local" {
		return nil, fmt.Errorf("%w: time zone \"Local\" depends on the host: use an IANA name such as \"Europe/Berlin\"", ErrInvalidSchedule)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%w: unknown time zone %q: use an IANA name such as \"America/New_York\"", ErrInvalidSchedule, name)
	}
	return loc, nil
}

// canFire reports whether some date matches the day and month fields.
// Only a restricted day of month combined with "*" as day of week can
// fail, as in "30 2": with both restricted either may match, and any
// weekday occurs in every month.
func (s *Schedule) canFire() bool {
	if !s.dayAnd || s.dom&starBit != 0 {
		return true
	}
	maxDay := [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	for m := 1; m <= 12; m++ {
		if s.month&(1<<m) == 0 {
			continue
		}
		for d := 1; d <= maxDay[m]; d++ {
			if s.dom&(1<<d) != 0 {
				return true
			}
		}
	}
	return false
}

// String returns the spec with its fields separated by single spaces and
// the zone, for example "0 9 * * 1-5 (Europe/Berlin)". An empty zone reads
// UTC. The scheduler stores it with each last run to tell a changed spec
// from the same one.
func (s *Schedule) String() string {
	return s.spec + " (" + s.loc.String() + ")"
}

// Location returns the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// Next returns the first fire time strictly after t, in the schedule's
// zone. It returns the zero time only if no fire time exists within nine
// years, which ParseSchedule rules out.
func (s *Schedule) Next(t time.Time) time.Time {
	start := wallClock(t, s.loc)
	day := startOfDay(start)
	for i := 0; i <= searchDays; i++ {
		d := day.AddDate(0, 0, i)
		if !s.dayMatches(d) {
			continue
		}
		firstHour := 0
		if i == 0 {
			firstHour = start.Hour()
		}
		for h := firstHour; h < 24; h++ {
			if s.hour&(1<<h) == 0 {
				continue
			}
			firstMinute := 0
			if i == 0 && h == start.Hour() {
				firstMinute = start.Minute()
			}
			for m := firstMinute; m < 60; m++ {
				if s.minute&(1<<m) == 0 {
					continue
				}
				fire := s.instant(d.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute))
				if fire.After(t) {
					return fire
				}
			}
		}
	}
	return time.Time{}
}

// maxShift bounds how far a wall clock can jump back at a daylight-saving
// change. Current zones shift by at most one hour; three leave room for
// historical double summer time.
const maxShift = 3 * time.Hour

// Latest returns the last fire time in the interval (after, upTo], and
// false when the interval holds none.
func (s *Schedule) Latest(after, upTo time.Time) (time.Time, bool) {
	if !upTo.After(after) {
		return time.Time{}, false
	}
	// A wall-clock time later than upTo's may still map to an instant
	// before upTo, when clocks went back in between.
	start := wallClock(upTo, s.loc).Add(maxShift)
	lowest := startOfDay(wallClock(after, s.loc)).AddDate(0, 0, -1)

	for d := startOfDay(start); !d.Before(lowest); d = d.AddDate(0, 0, -1) {
		if !s.dayMatches(d) {
			continue
		}
		lastHour := 23
		if d.Equal(startOfDay(start)) {
			lastHour = start.Hour()
		}
		for h := lastHour; h >= 0; h-- {
			if s.hour&(1<<h) == 0 {
				continue
			}
			lastMinute := 59
			if d.Equal(startOfDay(start)) && h == start.Hour() {
				lastMinute = start.Minute()
			}
			for m := lastMinute; m >= 0; m-- {
				if s.minute&(1<<m) == 0 {
					continue
				}
				fire := s.instant(d.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute))
				if fire.After(upTo) {
					continue
				}
				// Fire times never decrease as the wall-clock time grows, so
				// the first one at or before upTo is the latest.
				if !fire.After(after) {
					return time.Time{}, false
				}
				return fire, true
			}
		}
	}
	return time.Time{}, false
}

func (s *Schedule) dayMatches(d time.Time) bool {
	if s.month&(1<<uint(d.Month())) == 0 {
		return false
	}
	domMatch := s.dom&(1<<uint(d.Day())) != 0
	dowMatch := s.dow&(1<<uint(d.Weekday())) != 0
	if s.dayAnd {
		return domMatch && dowMatch
	}
	return domMatch || dowMatch
}

// wallClock returns the wall-clock reading of t in loc, truncated to the
// minute, as a UTC time. Arithmetic on it has no daylight-saving changes.
func wallClock(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
}

func startOfDay(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// instant maps a wall-clock time (given as UTC) to the earliest instant
// whose reading in the zone is that time or later. For an ordinary time this
// is its only instant, for a time repeated when clocks go back it is the
// first occurrence, and for a time skipped when clocks go forward it is the
// instant of the change.
//
// It visits every zone period that overlaps two days either side of the
// wall-clock time. In a period [start, end) with UTC offset off, the time
// falls at wall-off. If that is before start, the period's first instant
// is the earliest candidate the period offers.
func (s *Schedule) instant(wall time.Time) time.Time {
	const window = 2 * 24 * 60 * 60
	u := wall.Unix()

	best := int64(math.MaxInt64)
	t := time.Unix(u-window, 0).In(s.loc)
	for {
		_, offset := t.Zone()
		start, end := t.ZoneBounds()
		startUnix, endUnix := int64(math.MinInt64), int64(math.MaxInt64)
		if !start.IsZero() {
			startUnix = start.Unix()
		}
		if !end.IsZero() {
			endUnix = end.Unix()
		}

		x := u - int64(offset)
		switch {
		case x < startUnix:
			best = min(best, startUnix)
		case x < endUnix:
			best = min(best, x)
		}

		if end.IsZero() || endUnix > u+window {
			break
		}
		t = end.In(s.loc)
	}
	return time.Unix(best, 0).In(s.loc)
}
