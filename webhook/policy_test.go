package webhook

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/execvault/execvault/plugins"
)

func TestBackoffSchedule(t *testing.T) {
	p := DefaultPolicy()
	p.Jitter = JitterNone
	want := []time.Duration{
		10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second,
		320 * time.Second, 640 * time.Second, 1280 * time.Second, 30 * time.Minute, 30 * time.Minute,
	}
	for i, w := range want {
		if got := p.backoff(i+1, 0.5); got != w {
			t.Errorf("backoff after failure %d = %s, want %s", i+1, got, w)
		}
	}
	if got := p.backoff(1000, 0.5); got != 30*time.Minute {
		t.Errorf("backoff after failure 1000 = %s, want the cap", got)
	}
	if got := p.backoff(0, 0.5); got != 10*time.Second {
		t.Errorf("backoff after failure 0 = %s, want the base", got)
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	base := DefaultPolicy()
	tests := []struct {
		name   string
		jitter Jitter
		random float64
		want   time.Duration
	}{
		{"proportional low", JitterProportional, 0, 32 * time.Second},
		{"proportional middle", JitterProportional, 0.5, 40 * time.Second},
		{"proportional high", JitterProportional, 0.999999, 48 * time.Second},
		{"full low", JitterFull, 0, 0},
		{"full middle", JitterFull, 0.5, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			p.Jitter = tt.jitter
			got := p.backoff(3, tt.random)
			if diff := got - tt.want; diff < -time.Millisecond || diff > time.Millisecond {
				t.Errorf("backoff = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"empty", "", 0, false},
		{"seconds", "120", 2 * time.Minute, true},
		{"zero", "0", 0, true},
		{"padded", " 5 ", 5 * time.Second, true},
		{"negative", "-5", 0, false},
		{"fraction", "1.5", 0, false},
		{"huge", "99999999999999999999", 0, false},
		{"overflow guard", "9223372036854775807", time.Duration(math.MaxInt64), true},
		{"http date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"rfc850 date", now.Add(time.Hour).Format(time.RFC850), time.Hour, true},
		{"past date", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"garbage", "tomorrow", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.value, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseRetryAfter(%q) = (%s, %v), want (%s, %v)", tt.value, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, seed := range []string{"", "0", "120", "-1", "Sun, 01 Mar 2026 12:00:00 GMT", "9223372036854775807", " 7"} {
		f.Add(seed)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, value string) {
		d, ok := parseRetryAfter(value, now)
		if d < 0 {
			t.Errorf("parseRetryAfter(%q) = %s, want a delay of zero or more", value, d)
		}
		if !ok && d != 0 {
			t.Errorf("parseRetryAfter(%q) = (%s, false), want zero when rejected", value, d)
		}
	})
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Policy)
		want   string
	}{
		{"default", func(*Policy) {}, ""},
		{"zero attempts", func(p *Policy) { p.MaxAttempts = 0 }, "max attempts 0"},
		{"too many attempts", func(p *Policy) { p.MaxAttempts = 1001 }, "max attempts 1001"},
		{"zero timeout", func(p *Policy) { p.AttemptTimeout = 0 }, "attempt timeout"},
		{"zero base", func(p *Policy) { p.BackoffBase = 0 }, "backoff base"},
		{"max below base", func(p *Policy) { p.BackoffMax = time.Second }, "below base"},
		{"unknown jitter", func(p *Policy) { p.Jitter = "wild" }, `jitter "wild"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy()
			tt.modify(&p)
			err := p.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want ErrInvalidConfig mentioning %q", err, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"default", func(*Config) {}, ""},
		{"retention off", func(c *Config) { c.Retention = 0 }, ""},
		{"zero workers", func(c *Config) { c.Workers = 0 }, "workers 0"},
		{"zero per host", func(c *Config) { c.PerHostConcurrency = 0 }, "per-host concurrency"},
		{"zero retry-after max", func(c *Config) { c.RetryAfterMax = 0 }, "retry-after max"},
		{"zero breaker failures", func(c *Config) { c.BreakerFailures = 0 }, "breaker failures"},
		{"zero cooldown", func(c *Config) { c.BreakerCooldown = 0 }, "breaker cooldown"},
		{"negative retention", func(c *Config) { c.Retention = -time.Hour }, "retention -1h0m0s"},
		{"zero retention interval", func(c *Config) { c.RetentionInterval = 0 }, "retention interval"},
		{"nil clock", func(c *Config) { c.Clock = nil }, "clock"},
		{"nil resolver", func(c *Config) { c.Resolver = nil }, "resolver"},
		{"bad policy", func(c *Config) { c.Policy.MaxAttempts = 0 }, "default retry policy"},
		{"bad egress prefix", func(c *Config) { c.Egress = &EgressPolicy{Deny: []netip.Prefix{{}}} }, "egress deny entry 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.modify(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want ErrInvalidConfig mentioning %q", err, tt.want)
			}
		})
	}
}

func TestPolicyFromRetry(t *testing.T) {
	if got := PolicyFromRetry(nil); got != (Policy{}) {
		t.Errorf("PolicyFromRetry(nil) = %+v, want zero", got)
	}
	got := PolicyFromRetry(&plugins.Retry{MaxAttempts: 3, AttemptTimeoutMillis: 1500})
	want := Policy{MaxAttempts: 3, AttemptTimeout: 1500 * time.Millisecond}
	if got != want {
		t.Errorf("PolicyFromRetry = %+v, want %+v", got, want)
	}
	if filled := got.WithDefaults(DefaultPolicy()); filled.BackoffBase != 10*time.Second || filled.MaxAttempts != 3 {
		t.Errorf("WithDefaults = %+v, want base 10s and 3 attempts", filled)
	}
}

func TestJobJSONRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ref := plugins.SecretRef{Vault: "api-keys", Key: "crm-api-token"}
	j := Job{
		ID: "msg_1", Executor: "crm-sync", EventID: "evt-1", URL: "https://hooks.example.com/in",
		Headers: []plugins.Header{{Name: "Authorization", Secret: &ref}, {Name: "X-Plain", Value: "v"}},
		Body:    []byte(`{"a":1}`), Policy: DefaultPolicy(), Signing: &plugins.Signing{Secret: ref},
		Status: StatusPending, Round: 1, LastError: "HTTP 500 Internal Server Error",
		CreatedAt: at, UpdatedAt: at, NextAttemptAt: at.Add(time.Minute),
		Attempts: []Attempt{{Round: 1, Number: 1, StartedAt: at, EndedAt: at.Add(1500 * time.Millisecond),
			Duration: 1500 * time.Millisecond, StatusCode: 500, Error: "HTTP 500 Internal Server Error", Retryable: true,
			Headers: []string{"Authorization: [secret api-keys/crm-api-token]"}}},
	}
	data, err := json.Marshal(j)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	for _, want := range []string{`"duration":"1.5s"`, `"attemptTimeout":"1m0s"`, `"status":"PENDING"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("JSON %s lacks %s", data, want)
		}
	}
	var back Job
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if !reflect.DeepEqual(back, j) {
		t.Errorf("round trip = %+v, want %+v", back, j)
	}
}

func FuzzJobJSON(f *testing.F) {
	f.Add([]byte(`{"id":"msg_1","executor":"x","url":"http://a/","body":"e30=","policy":{"maxAttempts":3,"attemptTimeout":"1s"},"attempts":[{"round":1,"number":1,"duration":"2ms"}]}`))
	f.Add([]byte(`{"policy":{"backoffBase":"nope"}}`))
	f.Add([]byte(`{"attempts":[{"duration":"-5h"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var j Job
		if err := json.Unmarshal(data, &j); err != nil {
			return
		}
		again, err := json.Marshal(j)
		if err != nil {
			t.Fatalf("marshal decoded job: %v", err)
		}
		var back Job
		if err := json.Unmarshal(again, &back); err != nil {
			t.Fatalf("decode re-encoded job %s: %v", again, err)
		}
		if !reflect.DeepEqual(normalise(back), normalise(j)) {
			t.Errorf("round trip changed the job: got %+v, want %+v", back, j)
		}
	})
}

// normalise clears differences that JSON cannot carry: monotonic clock
// readings and nil versus empty slices.
func normalise(j Job) Job {
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

func TestMaskHeaders(t *testing.T) {
	ref := plugins.SecretRef{Vault: "api-keys", Key: "crm-api-token"}
	got := MaskHeaders([]plugins.Header{{Name: "Authorization", Secret: &ref}, {Name: "X-Tenant", Value: "acme"}})
	want := []string{"Authorization: [secret api-keys/crm-api-token]", "X-Tenant: acme"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MaskHeaders = %q, want %q", got, want)
	}
}
