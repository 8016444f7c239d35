package triggers

import (
	"errors"
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestParseScheduleValid(t *testing.T) {
	tests := []struct {
		name, spec, zone string
	}{
		{"every minute", "* * * * *", ""},
		{"weekdays", "0 9 * * 1-5", "Europe/Berlin"},
		{"names", "15 8 1 jan,jul mon", "America/New_York"},
		{"steps", "*/15 */2 * * *", "UTC"},
		{"leap day", "0 0 29 2 *", ""},
		{"30 february or monday", "0 0 30 2 1", ""},
		{"descriptor", "@daily", "Asia/Tokyo"},
		{"surrounding space", "  0 0 * * *  ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSchedule(tt.spec, tt.zone)
			if err != nil {
				t.Fatalf("ParseSchedule(%q, %q): %v", tt.spec, tt.zone, err)
			}
			from := mustTime(t, "2026-01-01T00:00:00Z")
			if next := s.Next(from); !next.After(from) {
				t.Errorf("Next(%v) = %v, want a later time", from, next)
			}
		})
	}
}

func TestParseScheduleInvalid(t *testing.T) {
	tests := []struct {
		name, spec, zone string
	}{
		{"empty", "", ""},
		{"blank", "   ", ""},
		{"four fields", "0 9 * *", ""},
		{"six fields", "0 0 9 * * *", ""},
		{"tz prefix", "TZ=UTC 0 9 * * *", ""},
		{"tz prefix without space", "TZ=UTC", ""},
		{"tz prefix empty", "TZ=", ""},
		{"cron_tz prefix", "CRON_TZ=Europe/Berlin 0 9 * * *", ""},
		{"every", "@every 5m", ""},
		{"unknown descriptor", "@fortnightly", ""},
		{"minute out of range", "60 * * * *", ""},
		{"day out of range", "0 0 32 * *", ""},
		{"reversed range", "5-1 * * * *", ""},
		{"zero step", "*/0 * * * *", ""},
		{"letters", "a b c d e", ""},
		{"negative", "-1 * * * *", ""},
		{"30 february", "0 0 30 2 *", ""},
		{"31st of short months", "0 0 31 4,6,9,11 *", ""},
		{"unknown zone", "0 9 * * *", "Mars/Olympus"},
		{"host zone", "0 9 * * *", "Local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSchedule(tt.spec, tt.zone)
			if !errors.Is(err, ErrInvalidSchedule) {
				t.Fatalf("ParseSchedule(%q, %q) = %v, %v; want error wrapping ErrInvalidSchedule", tt.spec, tt.zone, s, err)
			}
		})
	}
}

// TestScheduleNext covers daylight-saving changes: a skipped wall-clock
// time fires once at the change, a repeated one once at its first
// occurrence.
func TestScheduleNext(t *testing.T) {
	tests := []struct {
		name, spec, zone, from string
		want                   []string
	}{
		{
			name: "new york spring forward skipped time",
			spec: "30 2 * * *", zone: "America/New_York", from: "2026-03-07T12:00:00Z",
			want: []string{"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"},
		},
		{
			name: "new york spring forward hourly",
			spec: "0 * * * *", zone: "America/New_York", from: "2026-03-08T05:30:00Z",
			want: []string{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"},
		},
		{
			name: "new york spring forward collapses skipped times",
			spec: "*/15 2 * * *", zone: "America/New_York", from: "2026-03-08T05:00:00Z",
			want: []string{"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"},
		},
		{
			name: "new york fall back repeated time",
			spec: "30 1 * * *", zone: "America/New_York", from: "2026-10-31T12:00:00Z",
			want: []string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
		},
		{
			name: "new york fall back hourly",
			spec: "0 * * * *", zone: "America/New_York", from: "2026-11-01T03:30:00Z",
			want: []string{"2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"},
		},
		{
			name: "new york fall back from second occurrence",
			spec: "30 1 * * *", zone: "America/New_York", from: "2026-11-01T06:10:00Z",
			want: []string{"2026-11-02T06:30:00Z"},
		},
		{
			name: "berlin spring forward skipped time",
			spec: "30 2 * * *", zone: "Europe/Berlin", from: "2026-03-28T12:00:00Z",
			want: []string{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
		},
		{
			name: "berlin fall back repeated time",
			spec: "30 2 * * *", zone: "Europe/Berlin", from: "2026-10-24T12:00:00Z",
			want: []string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		},
		{
			name: "berlin fall back half hourly",
			spec: "*/30 2 * * *", zone: "Europe/Berlin", from: "2026-10-25T00:00:00Z",
			want: []string{"2026-10-25T00:30:00Z", "2026-10-26T01:00:00Z"},
		},
		{
			name: "utc leap day",
			spec: "0 0 29 2 *", zone: "", from: "2096-03-01T00:00:00Z",
			want: []string{"2104-02-29T00:00:00Z"},
		},
		{
			name: "day of month or weekday",
			spec: "0 12 13 * 5", zone: "", from: "2026-02-10T00:00:00Z",
			want: []string{"2026-02-13T12:00:00Z", "2026-02-20T12:00:00Z", "2026-02-27T12:00:00Z", "2026-03-06T12:00:00Z", "2026-03-13T12:00:00Z"},
		},
		{
			name: "strictly after",
			spec: "0 9 * * *", zone: "", from: "2026-05-01T09:00:00Z",
			want: []string{"2026-05-02T09:00:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSchedule(tt.spec, tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			at := mustTime(t, tt.from)
			for i, w := range tt.want {
				at = s.Next(at)
				if want := mustTime(t, w); !at.Equal(want) {
					t.Fatalf("firing %d: got %v (%v), want %v", i, at.UTC(), at, want)
				}
				if at.Location() != s.Location() {
					t.Errorf("firing %d: location %v, want %v", i, at.Location(), s.Location())
				}
			}
		})
	}
}

func TestScheduleLatest(t *testing.T) {
	tests := []struct {
		name, spec, zone, after, upTo string
		want                          string
	}{
		{"several missed", "0 9 * * *", "", "2026-05-01T09:00:00Z", "2026-05-04T10:00:00Z", "2026-05-04T09:00:00Z"},
		{"bound inclusive", "0 9 * * *", "", "2026-05-01T09:00:00Z", "2026-05-02T09:00:00Z", "2026-05-02T09:00:00Z"},
		{"lower bound exclusive", "0 9 * * *", "", "2026-05-01T09:00:00Z", "2026-05-02T08:59:00Z", ""},
		{"empty interval", "* * * * *", "", "2026-05-01T09:00:00Z", "2026-05-01T09:00:00Z", ""},
		{"fall back second occurrence", "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T06:10:00Z", "2026-11-01T05:30:00Z"},
		{"spring forward skipped", "30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T02:00:00Z", "2026-03-29T01:00:00Z"},
		{"yearly", "0 0 1 1 *", "", "2020-06-01T00:00:00Z", "2026-06-01T00:00:00Z", "2026-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSchedule(tt.spec, tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := s.Latest(mustTime(t, tt.after), mustTime(t, tt.upTo))
			if tt.want == "" {
				if ok {
					t.Errorf("Latest = %v, true; want none", got)
				}
				return
			}
			if want := mustTime(t, tt.want); !ok || !got.Equal(want) {
				t.Errorf("Latest = %v, %v; want %v", got.UTC(), ok, want)
			}
		})
	}
}

// FuzzParseSchedule checks that no spec panics and that every accepted
// spec fires after any start time.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"* * * * *", "0 9 * * 1-5", "TZ=", "TZ=UTC", "CRON_TZ=x y", "@daily", "@every 1s", "0 0 30 2 *", "*/0 * * * *", "1-2-3 * * * *", "0/5 * * * *", "? ? ? ? ?", "0 0 29 2 ?"} {
		f.Add(s, "", int64(1767225600))
		f.Add(s, "America/New_York", int64(1793509200))
	}
	f.Fuzz(func(t *testing.T, spec, zone string, unix int64) {
		s, err := ParseSchedule(spec, zone)
		if err != nil {
			if !errors.Is(err, ErrInvalidSchedule) {
				t.Fatalf("ParseSchedule(%q, %q) error %v does not wrap ErrInvalidSchedule", spec, zone, err)
			}
			return
		}
		// Keep start times within years 1970 to 2200.
		from := time.Unix(unix%(230*365*24*3600), 0)
		if unix < 0 {
			from = time.Unix(-unix%(230*365*24*3600), 0)
		}
		next := s.Next(from)
		if !next.After(from) {
			t.Fatalf("ParseSchedule(%q, %q).Next(%v) = %v, want a later time", spec, zone, from, next)
		}
		if latest, ok := s.Latest(from, next); !ok || !latest.Equal(next) {
			t.Fatalf("Latest(%v, %v) = %v, %v; want the Next result", from, next, latest, ok)
		}
	})
}

func BenchmarkScheduleNext(b *testing.B) {
	s, err := ParseSchedule("*/5 9-17 * * 1-5", "Europe/Berlin")
	if err != nil {
		b.Fatal(err)
	}
	// Each call starts from one of a year's worth of hours, so that the
	// benchmark measures Next at ordinary times rather than walking the
	// calendar into ever later years as b.N grows.
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = s.Next(start.Add(time.Duration(i%8760) * time.Hour))
		i++
	}
}
