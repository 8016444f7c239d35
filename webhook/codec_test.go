package webhook

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/execvault/execvault/plugins"
)

// codecJobs returns the round-trip cases, which also seed FuzzDecodeJob.
func codecJobs() []struct {
	name string
	job  Job
} {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	berlin := time.FixedZone("CET", 3600)
	token := plugins.SecretRef{Vault: "api-keys", Key: "crm-api-token"}
	signingKey := plugins.SecretRef{Vault: "signing", Key: "whsec"}

	full := Job{
		ID:       "msg_2d5wq3xk7m4n8p9r0s1t2v3w4x",
		Executor: "crm-sync",
		EventID:  "évènement-東京-1",
		URL:      "https://hooks.example.com/in?q=ü",
		Headers: []plugins.Header{
			{Name: "Authorization", Secret: &token},
			{Name: "X-Empty", Value: ""},
		},
		Body: []byte("{\"a\":\"\xff\xfe\x00\"}\x00\xc3\x28"),
		Policy: Policy{
			MaxAttempts:    7,
			AttemptTimeout: 90 * time.Second,
			BackoffBase:    250 * time.Millisecond,
			BackoffMax:     time.Hour,
			Jitter:         JitterFull,
		},
		Signing:   &plugins.Signing{Secret: signingKey},
		Status:    StatusFailed,
		Round:     2,
		LastError: "HTTP 503 Service Unavailable — réessayer",
		CreatedAt: at,
		UpdatedAt: at.Add(3 * time.Minute).In(berlin),
		Attempts: []Attempt{
			{
				Round: 1, Number: 1, StartedAt: at, EndedAt: at.Add(1500 * time.Millisecond),
				Duration: 1500 * time.Millisecond, StatusCode: 500, Error: "HTTP 500 Internal Server Error",
				Retryable: true, Headers: []string{"Authorization: [secret api-keys/crm-api-token]", "X-Empty: "},
			},
			{
				Round: 1, Number: 2, StartedAt: at.Add(time.Minute), EndedAt: at.Add(time.Minute + time.Second),
				Duration: time.Second, StatusCode: 302, Error: "redirect to https://other.example.com/ refused",
				RedirectRefused: true, Headers: []string{""},
			},
			{
				Round: 2, Number: 1, StartedAt: at.Add(2 * time.Minute).In(berlin), EndedAt: at.Add(3 * time.Minute),
				Duration: time.Minute, StatusCode: 503, Error: "HTTP 503 Service Unavailable — réessayer",
				Retryable: true,
			},
		},
		NextAttemptAt: at.Add(10 * time.Minute),
	}

	return []struct {
		name string
		job  Job
	}{
		{"minimal job", Job{ID: "msg_1", Executor: "x", URL: "http://127.0.0.1/", Status: StatusPending, Round: 1}},
		{"zero value", Job{}},
		{"full job", full},
		{"typical delivery", typicalCodecJob()},
		{"empty body and lists", Job{ID: "msg_2", Body: []byte{}, Headers: []plugins.Header{}, Attempts: []Attempt{}}},
		{"zero times", Job{
			ID:       "msg_3",
			Attempts: []Attempt{{Round: 1, Number: 1}},
		}},
		{"times around the epoch", Job{
			ID:            "msg_4",
			CreatedAt:     time.Unix(0, 0),
			UpdatedAt:     time.Unix(0, -1),
			NextAttemptAt: time.Unix(0, 1),
		}},
		{"times at int64 limits", Job{
			ID:        "msg_5",
			CreatedAt: time.Unix(0, math.MinInt64),
			UpdatedAt: time.Unix(0, math.MaxInt64),
			Attempts:  []Attempt{{StartedAt: time.Date(1700, 1, 1, 0, 0, 0, 1, time.UTC), EndedAt: time.Date(2250, 12, 31, 23, 59, 59, 999999999, time.UTC)}},
		}},
		{"negative and large numbers", Job{
			ID: "msg_6",
			Policy: Policy{
				MaxAttempts:    math.MinInt64,
				AttemptTimeout: math.MinInt64,
				BackoffBase:    -1,
				BackoffMax:     math.MaxInt64,
				Jitter:         "unknown-jitter",
			},
			Round: math.MaxInt64,
			Attempts: []Attempt{
				{Round: -1, Number: math.MaxInt64, Duration: math.MinInt64, StatusCode: -200},
				{Duration: math.MaxInt64},
				{Duration: -time.Nanosecond, RedirectRefused: true, Retryable: true},
			},
		}},
		{"signing with empty reference", Job{ID: "msg_7", Signing: &plugins.Signing{}}},
		{"many attempt headers", Job{ID: "msg_8", Attempts: []Attempt{{Headers: strings.Split("a b c d e f g h i j k l", " ")}}}},
	}
}

// typicalCodecJob looks like a stored delivery after one failed attempt.
func typicalCodecJob() Job {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	apiKey := plugins.SecretRef{Vault: "api-keys", Key: "crm-api-token"}
	tenant := plugins.SecretRef{Vault: "api-keys", Key: "crm-tenant"}
	body := []byte(`{"type":"contact.updated","id":"c_8f14e45fceea167a5a36dedd4bea2543","email":"ada@example.com","fields":{"plan":"pro","seats":12},"at":"2026-03-01T12:00:00Z"}`)

	return Job{
		ID:       "msg_2d5wq3xk7m4n8p9r0s1t2v3w4x",
		Executor: "crm-sync",
		EventID:  "evt_01hq3v9z",
		URL:      "https://hooks.example.com/crm/contacts",
		Headers: []plugins.Header{
			{Name: "Authorization", Secret: &apiKey},
			{Name: "X-Tenant", Secret: &tenant},
		},
		Body:      body,
		Policy:    DefaultPolicy(),
		Status:    StatusPending,
		Round:     1,
		LastError: "HTTP 503 Service Unavailable",
		Attempts: []Attempt{{
			Round: 1, Number: 1, StartedAt: at, EndedAt: at.Add(180 * time.Millisecond),
			Duration: 180 * time.Millisecond, StatusCode: 503, Error: "HTTP 503 Service Unavailable", Retryable: true,
			Headers: []string{"Authorization: [secret api-keys/crm-api-token]", "X-Tenant: [secret api-keys/crm-tenant]"},
		}},
		CreatedAt:     at,
		UpdatedAt:     at.Add(180 * time.Millisecond),
		NextAttemptAt: at.Add(10 * time.Second),
	}
}

// normaliseCodecJob clears the differences the binary form does not keep:
// locations and monotonic clock readings of times, and nil versus empty
// body and lists.
func normaliseCodecJob(j Job) Job {
	j = j.clone()
	j.CreatedAt, j.UpdatedAt, j.NextAttemptAt = j.CreatedAt.UTC(), j.UpdatedAt.UTC(), j.NextAttemptAt.UTC()
	for i := range j.Attempts {
		a := &j.Attempts[i]
		a.StartedAt, a.EndedAt = a.StartedAt.UTC(), a.EndedAt.UTC()
		if len(a.Headers) == 0 {
			a.Headers = nil
		}
	}
	if len(j.Attempts) == 0 {
		j.Attempts = nil
	}
	if len(j.Headers) == 0 {
		j.Headers = nil
	}
	if len(j.Body) == 0 {
		j.Body = nil
	}
	return j
}

func TestCodecRoundTrip(t *testing.T) {
	for _, tc := range codecJobs() {
		t.Run(tc.name, func(t *testing.T) {
			data := appendJob(nil, tc.job)
			if got, want := len(data), encodedJobSize(&tc.job); got != want {
				t.Errorf("encoded length = %d, want encodedJobSize %d", got, want)
			}

			got, err := decodeJob(data)
			if err != nil {
				t.Fatalf("decodeJob: %v", err)
			}
			if want := normaliseCodecJob(tc.job); !reflect.DeepEqual(got, want) {
				t.Errorf("decoded job = %+v, want %+v", got, want)
			}
		})
	}
}

func TestCodecAppendKeepsPrefix(t *testing.T) {
	job := typicalCodecJob()
	prefix := []byte("journal-entry:")

	data := appendJob(bytes.Clone(prefix), job)
	if !bytes.HasPrefix(data, prefix) {
		t.Fatalf("appendJob output starts %q, want prefix %q", data[:len(prefix)], prefix)
	}
	got, err := decodeJob(data[len(prefix):])
	if err != nil {
		t.Fatalf("decodeJob after prefix: %v", err)
	}
	if want := normaliseCodecJob(job); !reflect.DeepEqual(got, want) {
		t.Errorf("decoded job = %+v, want %+v", got, want)
	}
}

func TestCodecZeroTimeStaysZero(t *testing.T) {
	epoch := time.Unix(0, 0)
	job := Job{ID: "msg_1", CreatedAt: epoch, Attempts: []Attempt{{EndedAt: epoch}}}

	got, err := decodeJob(appendJob(nil, job))
	if err != nil {
		t.Fatalf("decodeJob: %v", err)
	}
	for _, tc := range []struct {
		name     string
		time     time.Time
		wantZero bool
	}{
		{"createdAt at the epoch", got.CreatedAt, false},
		{"updatedAt unset", got.UpdatedAt, true},
		{"nextAttemptAt unset", got.NextAttemptAt, true},
		{"attempt startedAt unset", got.Attempts[0].StartedAt, true},
		{"attempt endedAt at the epoch", got.Attempts[0].EndedAt, false},
	} {
		if tc.time.IsZero() != tc.wantZero {
			t.Errorf("%s: IsZero() = %v for %v, want %v", tc.name, tc.time.IsZero(), tc.time, tc.wantZero)
		}
		if !tc.wantZero && tc.time.Location() != time.UTC {
			t.Errorf("%s: location = %v, want UTC", tc.name, tc.time.Location())
		}
	}
}

func TestCodecOutOfRangeTimesDecode(t *testing.T) {
	// UnixNano has no defined result for these, so only the absence of a
	// panic and of an error is checked, and that they stay non-zero.
	job := Job{
		ID:            "msg_1",
		CreatedAt:     time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		UpdatedAt:     time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
		NextAttemptAt: time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC),
	}

	got, err := decodeJob(appendJob(nil, job))
	if err != nil {
		t.Fatalf("decodeJob: %v", err)
	}
	for _, tc := range []struct {
		name string
		time time.Time
	}{
		{"createdAt in year 1", got.CreatedAt},
		{"updatedAt in year 3000", got.UpdatedAt},
		{"nextAttemptAt in year -5000", got.NextAttemptAt},
	} {
		if tc.time.IsZero() {
			t.Errorf("%s: decoded as the zero time, want a non-zero time", tc.name)
		}
	}
}

func TestCodecDecodeCopiesInput(t *testing.T) {
	job := codecJobs()[2].job
	data := appendJob(nil, job)

	got, err := decodeJob(data)
	if err != nil {
		t.Fatalf("decodeJob: %v", err)
	}
	// A Badger value is valid only inside its transaction, so the decoded
	// job must survive the buffer being overwritten.
	for i := range data {
		data[i] = 0xAA
	}
	if want := normaliseCodecJob(job); !reflect.DeepEqual(got, want) {
		t.Errorf("decoded job after overwriting the input = %+v, want %+v", got, want)
	}
}

func TestCodecRejectsTruncatedRecords(t *testing.T) {
	data := appendJob(nil, codecJobs()[2].job)
	for n := range len(data) {
		_, err := decodeJob(data[:n])
		if !errors.Is(err, errCorruptJob) {
			t.Errorf("decodeJob of the first %d of %d bytes: error = %v, want errCorruptJob", n, len(data), err)
		}
	}
}

// recordBuilder writes job records field by field, so that a test can
// place a bad value at a chosen field.
type recordBuilder []byte

func (b recordBuilder) uvarint(v uint64) recordBuilder { return binary.AppendUvarint(b, v) }
func (b recordBuilder) varint(v int64) recordBuilder   { return binary.AppendVarint(b, v) }
func (b recordBuilder) raw(v ...byte) recordBuilder    { return append(b, v...) }
func (b recordBuilder) str(s string) recordBuilder     { return appendString(b, s) }

// pad appends zero bytes, so that a count check passes and decoding reaches
// the bad field placed before them.
func (b recordBuilder) pad() recordBuilder { return append(b, make([]byte, 16)...) }

// throughHeaders writes a valid record up to the header count: version,
// empty body, id "msg_1" and empty executor, event id and URL.
func throughHeaders() recordBuilder {
	return recordBuilder{jobFormatVersion}.uvarint(0).str("msg_1").str("").str("").str("")
}

// throughAttempts writes a valid record with no headers, a zero policy
// and no signing, up to the attempt count.
func throughAttempts() recordBuilder {
	return throughHeaders().uvarint(0).varint(0).varint(0).varint(0).varint(0).str("").raw(0).str("PENDING").varint(1)
}

// inFirstAttempt writes a record with one attempt, up to that attempt's
// flags byte.
func inFirstAttempt() recordBuilder {
	return throughAttempts().uvarint(1).varint(1).varint(1).raw(0).raw(0).varint(0).varint(0).str("")
}

func TestCodecRejectsMalformedRecords(t *testing.T) {
	valid := appendJob(nil, codecJobs()[0].job)

	tests := []struct {
		name string
		data []byte
		// wantText lists fragments the message must contain, such as the
		// field name and the bad value.
		wantText []string
	}{
		{"empty input", nil, []string{"version", "empty"}},
		{"unknown version", append([]byte{2}, valid[1:]...), []string{"format version 2 is not supported", "offset 0"}},
		{"version zero", []byte{0}, []string{"format version 0"}},
		{"trailing byte", append(bytes.Clone(valid), 0), []string{"end of record", "1 trailing byte(s) follow"}},
		{"hostile body length", recordBuilder{jobFormatVersion}.uvarint(1 << 62), []string{"body", "length 4611686018427387904", "offset 1"}},
		{"body longer than input", recordBuilder{jobFormatVersion}.uvarint(5).raw('a', 'b'), []string{"body", "length 5 exceeds the 2 bytes left"}},
		{"varint overflow", recordBuilder{jobFormatVersion}.raw(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), []string{"body", "overflows 64 bits"}},
		{"hostile header count", throughHeaders().uvarint(1 << 62), []string{"headers", "count 4611686018427387904"}},
		{"header count beyond input", throughHeaders().uvarint(2).str("A").str("").raw(0), []string{"headers", "count 2"}},
		{"bad secret presence", throughHeaders().uvarint(1).str("Authorization").str("").raw(2), []string{"headers[0].secret", "presence byte 2"}},
		{"truncated secret key", throughHeaders().uvarint(2).str("A").str("").raw(0).str("B").str("").raw(1).str("vault").uvarint(9), []string{"headers[1].secret.key", "length 9"}},
		{"bad signing presence", throughHeaders().uvarint(0).varint(0).varint(0).varint(0).varint(0).str("").raw(7), []string{"signing", "presence byte 7"}},
		{"hostile attempt count", throughAttempts().uvarint(1 << 62), []string{"attempts", "count 4611686018427387904"}},
		{"bad time tag", throughAttempts().uvarint(1).varint(1).varint(1).raw(2).pad(), []string{"attempts[0].startedAt", "time tag 2"}},
		{"unknown attempt flag", inFirstAttempt().raw(0x04).pad(), []string{"attempts[0].flags", "0x04"}},
		{"hostile attempt header count", inFirstAttempt().raw(0).uvarint(1 << 62), []string{"attempts[0].headers", "count 4611686018427387904"}},
		{"attempt header beyond input", inFirstAttempt().raw(0).uvarint(2).str("A: b").uvarint(40).raw('x'), []string{"attempts[0].headers[1]", "length 40"}},
		{"bad createdAt tag", throughAttempts().uvarint(0).str("").raw(9), []string{"createdAt", "time tag 9"}},
		{"truncated nextAttemptAt", throughAttempts().uvarint(0).str("").raw(0).raw(0).raw(1), []string{"nextAttemptAt", "ends inside"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeJob(tc.data)
			if !errors.Is(err, errCorruptJob) {
				t.Fatalf("decodeJob error = %v, want errCorruptJob", err)
			}
			msg := err.Error()
			for _, want := range append(tc.wantText, "cannot be read") {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
		})
	}
}

func TestCodecHostileLengthsAllocateLittle(t *testing.T) {
	inputs := [][]byte{
		recordBuilder{jobFormatVersion}.uvarint(1 << 62),
		throughHeaders().uvarint(1 << 62),
		throughAttempts().uvarint(1 << 62),
		inFirstAttempt().raw(0).uvarint(1 << 62),
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		for _, data := range inputs {
			if _, err := decodeJob(data); err == nil {
				t.Fatalf("decodeJob(%x) succeeded, want an error", data)
			}
		}
	}
	runtime.ReadMemStats(&after)

	// The error messages need a few hundred bytes each, so 400 failed
	// decodes stay well under 1 MiB unless a length was trusted.
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("400 hostile decodes allocated %d bytes, want at most %d", got, 1<<20)
	}
}

func TestCodecAllocations(t *testing.T) {
	job := typicalCodecJob()
	buf := make([]byte, 0, 4096)

	if got := testing.AllocsPerRun(100, func() { buf = appendJob(buf[:0], job) }); got != 0 {
		t.Errorf("appendJob into a large enough buffer: %v allocations, want 0", got)
	}
	if got := testing.AllocsPerRun(100, func() { _ = appendJob(nil, job) }); got != 1 {
		t.Errorf("appendJob into nil: %v allocations, want 1", got)
	}

	// Body, string copy, headers, secret references, attempts and attempt
	// headers.
	data := appendJob(nil, job)
	if got := testing.AllocsPerRun(100, func() { _, _ = decodeJob(data) }); got > 6 {
		t.Errorf("decodeJob: %v allocations, want at most 6", got)
	}
}

func FuzzDecodeJob(f *testing.F) {
	for _, tc := range codecJobs() {
		f.Add(appendJob(nil, tc.job))
	}
	f.Add([]byte{})
	f.Add([]byte{2})
	f.Add([]byte(throughAttempts().uvarint(1 << 62)))

	f.Fuzz(func(t *testing.T, data []byte) {
		job, err := decodeJob(data)
		if err != nil {
			if !errors.Is(err, errCorruptJob) {
				t.Fatalf("decodeJob error = %v, want one wrapping errCorruptJob", err)
			}
			return
		}

		again := appendJob(nil, job)
		back, err := decodeJob(again)
		if err != nil {
			t.Fatalf("decodeJob of the re-encoded job: %v", err)
		}
		if !reflect.DeepEqual(back, job) {
			t.Errorf("re-encoded job decodes to %+v, want %+v", back, job)
		}
	})
}

func BenchmarkJobEncoding(b *testing.B) {
	job := typicalCodecJob()
	data := appendJob(nil, job)

	b.Run("appendJob", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, len(data))
		for b.Loop() {
			buf = appendJob(buf[:0], job)
		}
		b.SetBytes(int64(len(buf)))
	})

	b.Run("decodeJob", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := decodeJob(data); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			out, err := json.Marshal(job)
			if err != nil {
				b.Fatal(err)
			}
			n = len(out)
		}
		b.SetBytes(int64(n))
	})
}
