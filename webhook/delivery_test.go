package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/execvault/execvault/plugins"
)

func TestServerErrorUsesExactlyTenAttempts(t *testing.T) {
	rc := newReceiver(t, statusAlways(http.StatusInternalServerError))
	h := startDispatcher(t, nil, testConfig(), nil)

	got := h.deliver(t, Job{URL: rc.URL})

	if got.Status != StatusFailed {
		t.Errorf("status = %s, want %s", got.Status, StatusFailed)
	}
	if n := rc.count.Load(); n != 10 {
		t.Errorf("receiver got %d requests, want 10", n)
	}
	if len(got.Attempts) != 10 {
		t.Errorf("stored attempts = %d, want 10", len(got.Attempts))
	}
	for i, a := range got.Attempts {
		if a.Number != i+1 || a.StatusCode != 500 || !a.Retryable {
			t.Errorf("attempt %d = {number %d, status %d, retryable %v}, want {%d, 500, true}", i, a.Number, a.StatusCode, a.Retryable, i+1)
		}
	}
	if want := "HTTP 500 Internal Server Error (attempt 10 of 10)"; got.LastError != want {
		t.Errorf("last error = %q, want %q", got.LastError, want)
	}
	if !got.NextAttemptAt.IsZero() {
		t.Errorf("next attempt at = %v, want zero for a failed job", got.NextAttemptAt)
	}
}

func TestSuccessStatusesDeliverOnce(t *testing.T) {
	for _, code := range []int{http.StatusOK, http.StatusNoContent} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			rc := newReceiver(t, statusAlways(code))
			h := startDispatcher(t, nil, testConfig(), nil)

			got := h.deliver(t, Job{URL: rc.URL})

			if got.Status != StatusSuccess {
				t.Errorf("status = %s, want %s", got.Status, StatusSuccess)
			}
			if n := rc.count.Load(); n != 1 {
				t.Errorf("receiver got %d requests, want 1", n)
			}
			if len(got.Attempts) != 1 || got.Attempts[0].StatusCode != code || got.Attempts[0].Error != "" {
				t.Errorf("attempts = %+v, want one with status %d and no error", got.Attempts, code)
			}
		})
	}
}

func TestRetryAfterHonouredAndCapped(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		retryAfter string
		max        time.Duration
		wantDelay  time.Duration
	}{
		{"seconds", "7", time.Hour, 7 * time.Second},
		{"http date", start.Add(2 * time.Minute).Format(http.TimeFormat), time.Hour, 2 * time.Minute},
		{"seconds over cap", "86400", 90 * time.Second, 90 * time.Second},
		{"date in past", start.Add(-time.Hour).Format(http.TimeFormat), time.Hour, 0},
		{"malformed falls back to backoff", "soon", time.Hour, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int64) {
				if n == 1 {
					w.Header().Set("Retry-After", tt.retryAfter)
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			clock := newFakeClock(start)
			cfg := testConfig()
			cfg.Clock = clock
			cfg.RetryAfterMax = tt.max
			h := newHarness(t, nil, cfg, nil)
			recorded := make(chan Job, 4)
			h.d.afterAttempt = func(j Job) { recorded <- j }
			if err := h.d.Start(t.Context()); err != nil {
				t.Fatalf("start: %v", err)
			}

			job, err := h.d.Enqueue(t.Context(), Job{Executor: "crm-sync", URL: rc.URL, Body: []byte(`{}`)})
			if err != nil {
				t.Fatalf("enqueue: %v", err)
			}
			first := <-recorded
			if first.Status != StatusPending {
				t.Fatalf("status after 429 = %s, want %s", first.Status, StatusPending)
			}
			if delay := first.NextAttemptAt.Sub(first.UpdatedAt); delay != tt.wantDelay {
				t.Errorf("retry delay = %s, want %s", delay, tt.wantDelay)
			}

			clock.Advance(tt.wantDelay)
			done, err := h.d.Wait(t.Context(), job.ID)
			if err != nil {
				t.Fatalf("wait: %v", err)
			}
			if done.Status != StatusSuccess || len(done.Attempts) != 2 {
				t.Errorf("job = {status %s, %d attempts}, want {SUCCESS, 2}", done.Status, len(done.Attempts))
			}
		})
	}
}

func TestSlowReceiverTimesOutWithoutOverlap(t *testing.T) {
	var inFlight, maxInFlight atomic.Int64
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			old := maxInFlight.Load()
			if cur <= old || maxInFlight.CompareAndSwap(old, cur) {
				break
			}
		}
		if n <= 2 {
			// Hold the request until the dispatcher gives up on it. The
			// server notices a closed connection only once the body is
			// read.
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	cfg := testConfig()
	cfg.Policy.AttemptTimeout = 100 * time.Millisecond
	// The receiver notices the closed connection asynchronously; this gap
	// lets it do so before the next attempt arrives.
	cfg.Policy.BackoffBase = 50 * time.Millisecond
	cfg.Policy.BackoffMax = 50 * time.Millisecond
	h := startDispatcher(t, nil, cfg, nil)

	got := h.deliver(t, Job{URL: rc.URL})

	if got.Status != StatusSuccess {
		t.Errorf("status = %s, want %s", got.Status, StatusSuccess)
	}
	if len(got.Attempts) != 3 {
		t.Fatalf("attempts = %d, want 3", len(got.Attempts))
	}
	for _, a := range got.Attempts[:2] {
		if a.Error != "timed out after 100ms" || !a.Retryable {
			t.Errorf("timed-out attempt = {error %q, retryable %v}, want {\"timed out after 100ms\", true}", a.Error, a.Retryable)
		}
	}
	if m := maxInFlight.Load(); m != 1 {
		t.Errorf("max concurrent requests = %d, want 1", m)
	}
}

func TestConnectionResetIsRetried(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int64) {
		if n == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			_ = conn.Close()
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h := startDispatcher(t, nil, testConfig(), nil)

	got := h.deliver(t, Job{URL: rc.URL})

	if got.Status != StatusSuccess {
		t.Errorf("status = %s, want %s", got.Status, StatusSuccess)
	}
	if len(got.Attempts) != 2 {
		t.Fatalf("attempts = %d, want 2", len(got.Attempts))
	}
	first := got.Attempts[0]
	if first.StatusCode != 0 || first.Error == "" || !first.Retryable {
		t.Errorf("reset attempt = {status %d, error %q, retryable %v}, want {0, non-empty, true}", first.StatusCode, first.Error, first.Retryable)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	var targetMu sync.Mutex
	var targetGot []http.Header
	target := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		targetMu.Lock()
		targetGot = append(targetGot, r.Header.Clone())
		targetMu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	location := target.URL + "/collect"
	source := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		http.Redirect(w, r, location, http.StatusFound)
	})
	ref := plugins.SecretRef{Vault: "api-keys", Key: "crm-api-token"}
	secrets := newFakeSecrets(map[plugins.SecretRef]string{ref: "tok-redirect-canary"})
	h := startDispatcher(t, nil, testConfig(), secrets)

	got := h.deliver(t, Job{
		URL:     source.URL,
		Headers: []plugins.Header{{Name: "X-Api-Key", Secret: &ref}},
		Policy:  Policy{MaxAttempts: 3},
	})

	if got.Status != StatusFailed {
		t.Errorf("status = %s, want %s", got.Status, StatusFailed)
	}
	if len(got.Attempts) != 3 {
		t.Errorf("attempts = %d, want 3", len(got.Attempts))
	}
	want := `HTTP 302: redirect to "` + location + `" not followed`
	for _, a := range got.Attempts {
		if !a.RedirectRefused || a.Error != want {
			t.Errorf("attempt = {redirectRefused %v, error %q}, want {true, %q}", a.RedirectRefused, a.Error, want)
		}
	}
	targetMu.Lock()
	defer targetMu.Unlock()
	if len(targetGot) != 0 {
		t.Errorf("redirect target got %d requests, want 0", len(targetGot))
	}
}

func TestBodyPassesByteForByte(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"empty", ""},
		{"empty object", "{}"},
		{"number beyond float64", `{"amount": 123456789012345678901234567890.123456789e-3}`},
		{"whitespace and unicode", " {\"name\" :\t\"Zoë\" }\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var gotBody []byte
			var gotLength int64
			var gotType string
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
				b, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("read body: %v", err)
				}
				mu.Lock()
				gotBody, gotLength, gotType = b, r.ContentLength, r.Header.Get("Content-Type")
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent)
			})
			h := startDispatcher(t, nil, testConfig(), nil)

			done := h.deliver(t, Job{URL: rc.URL, Body: []byte(tt.body)})

			if done.Status != StatusSuccess {
				t.Fatalf("status = %s, want %s", done.Status, StatusSuccess)
			}
			mu.Lock()
			defer mu.Unlock()
			if !bytes.Equal(gotBody, []byte(tt.body)) {
				t.Errorf("receiver body = %q, want %q", gotBody, tt.body)
			}
			if gotLength != int64(len(tt.body)) {
				t.Errorf("content length = %d, want %d", gotLength, len(tt.body))
			}
			if gotType != "application/json" {
				t.Errorf("content type = %q, want application/json", gotType)
			}
		})
	}
}

func TestHeadersSentInOrderWithSameDeliveryID(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	var got http.Header
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		mu.Lock()
		ids = append(ids, r.Header.Get(HeaderID))
		got = r.Header.Clone()
		mu.Unlock()
		if n < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ref := plugins.SecretRef{Vault: "api-keys", Key: "crm-api-token"}
	secrets := newFakeSecrets(map[plugins.SecretRef]string{ref: "Bearer tok-123"})
	h := startDispatcher(t, nil, testConfig(), secrets)

	done := h.deliver(t, Job{
		URL: rc.URL,
		Headers: []plugins.Header{
			{Name: "Authorization", Secret: &ref},
			{Name: "X-Tag", Value: "a"},
			{Name: "x-tag", Value: "b"},
			{Name: "Content-Type", Value: "application/vnd.crm+json"},
		},
	})

	if done.Status != StatusSuccess {
		t.Fatalf("status = %s, want %s", done.Status, StatusSuccess)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, id := range ids {
		if id != done.ID {
			t.Errorf("attempt %d webhook-id = %q, want %q", i+1, id, done.ID)
		}
	}
	if !strings.HasPrefix(done.ID, "msg_") || len(done.ID) != 30 {
		t.Errorf("generated id = %q, want msg_ and 26 characters", done.ID)
	}
	checks := []struct{ name, got, want string }{
		{"Authorization", got.Get("Authorization"), "Bearer tok-123"},
		{"X-Tag", strings.Join(got.Values("X-Tag"), ","), "a,b"},
		{"Content-Type", strings.Join(got.Values("Content-Type"), ","), "application/vnd.crm+json"},
		{"User-Agent", got.Get("User-Agent"), "execvault-webhook/1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("header %s = %q, want %q", c.name, c.got, c.want)
		}
	}
	h.secrets.mu.Lock()
	defer h.secrets.mu.Unlock()
	if len(h.secrets.actors) != 3 || h.secrets.actors[0] != "executor:crm-sync" {
		t.Errorf("resolver actors = %v, want executor:crm-sync once per attempt", h.secrets.actors)
	}
}

func TestConfigurationErrorsFailAtOnce(t *testing.T) {
	ref := plugins.SecretRef{Vault: "api-keys", Key: "crm-api-token"}
	missing := plugins.SecretRef{Vault: "api-keys", Key: "gone"}
	badSigning := plugins.SecretRef{Vault: "signing", Key: "not-base64"}
	tests := []struct {
		name      string
		secret    string
		job       func(url string) Job
		wantError []string
	}{
		{
			name:      "missing secret",
			job:       func(u string) Job { return Job{URL: u, Headers: []plugins.Header{{Name: "X-Key", Secret: &missing}}} },
			wantError: []string{`header "X-Key"`, "api-keys/gone", "secret not found"},
		},
		{
			name:      "secret with CR LF",
			secret:    "tok\r\nX-Injected: 1",
			job:       func(u string) Job { return Job{URL: u, Headers: []plugins.Header{{Name: "X-Key", Secret: &ref}}} },
			wantError: []string{`header "X-Key"`, "api-keys/crm-api-token", "CR, LF or NUL"},
		},
		{
			name:      "secret with LF",
			secret:    "tok\nmore",
			job:       func(u string) Job { return Job{URL: u, Headers: []plugins.Header{{Name: "X-Key", Secret: &ref}}} },
			wantError: []string{`header "X-Key"`, "api-keys/crm-api-token", "CR, LF or NUL"},
		},
		{
			name:      "secret with NUL",
			secret:    "tok\x00",
			job:       func(u string) Job { return Job{URL: u, Headers: []plugins.Header{{Name: "X-Key", Secret: &ref}}} },
			wantError: []string{`header "X-Key"`, "api-keys/crm-api-token", "CR, LF or NUL"},
		},
		{
			name:      "secret with control character",
			secret:    "tok\x1b[0m",
			job:       func(u string) Job { return Job{URL: u, Headers: []plugins.Header{{Name: "X-Key", Secret: &ref}}} },
			wantError: []string{`header "X-Key"`, "api-keys/crm-api-token", "control character 0x1b"},
		},
		{
			name:      "plain value with LF",
			job:       func(u string) Job { return Job{URL: u, Headers: []plugins.Header{{Name: "X-Tag", Value: "a\nb"}}} },
			wantError: []string{`header "X-Tag"`, "CR, LF or NUL"},
		},
		{
			name:      "invalid header name",
			job:       func(u string) Job { return Job{URL: u, Headers: []plugins.Header{{Name: "X Tag", Value: "a"}}} },
			wantError: []string{`invalid header name "X Tag"`},
		},
		{
			name:      "ftp URL",
			job:       func(string) Job { return Job{URL: "ftp://files.example/hook"} },
			wantError: []string{`invalid URL "ftp://files.example/hook"`, "http or https"},
		},
		{
			name:      "URL without host",
			job:       func(string) Job { return Job{URL: "http:///hook"} },
			wantError: []string{`invalid URL "http:///hook"`, "host is missing"},
		},
		{
			name:      "signing secret not base64",
			secret:    "whsec_***",
			job:       func(u string) Job { return Job{URL: u, Signing: &plugins.Signing{Secret: badSigning}} },
			wantError: []string{"signing secret signing/not-base64", "base64"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, statusAlways(http.StatusOK))
			secrets := newFakeSecrets(map[plugins.SecretRef]string{ref: tt.secret, badSigning: tt.secret})
			h := startDispatcher(t, nil, testConfig(), secrets)

			got := h.deliver(t, tt.job(rc.URL))

			if got.Status != StatusFailed {
				t.Errorf("status = %s, want %s", got.Status, StatusFailed)
			}
			if len(got.Attempts) != 1 || got.Attempts[0].Retryable {
				t.Fatalf("attempts = %+v, want one that is not retryable", got.Attempts)
			}
			if n := rc.count.Load(); n != 0 {
				t.Errorf("receiver got %d requests, want 0", n)
			}
			for _, want := range tt.wantError {
				if !strings.Contains(got.LastError, want) {
					t.Errorf("last error = %q, want it to contain %q", got.LastError, want)
				}
			}
			if tt.secret != "" && strings.Contains(got.LastError, tt.secret) {
				t.Errorf("last error contains the secret value")
			}
		})
	}
}

func TestShutdownAbortLeavesJobPending(t *testing.T) {
	arrived := make(chan struct{}, 1)
	rc := newReceiver(t, func(_ http.ResponseWriter, r *http.Request, _ int64) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	db := openDB(t, "")
	h := newHarness(t, db, testConfig(), nil)
	ctx, cancel := context.WithCancel(t.Context())
	if err := h.d.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	job, err := h.d.Enqueue(t.Context(), Job{Executor: "crm-sync", URL: rc.URL, Body: []byte(`{}`)})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	<-arrived

	cancel()
	if err := h.d.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	got, err := h.d.Job(t.Context(), job.ID)
	if err != nil {
		t.Fatalf("get job: %v", err)
	}
	if got.Status != StatusPending || len(got.Attempts) != 0 {
		t.Errorf("job after shutdown = {status %s, %d attempts}, want {PENDING, 0}", got.Status, len(got.Attempts))
	}
}

func TestPerHostConcurrencyLimit(t *testing.T) {
	var inFlight atomic.Int64
	release := make(chan struct{})
	reached := make(chan struct{}, 16)
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		inFlight.Add(1)
		defer inFlight.Add(-1)
		reached <- struct{}{}
		<-release
		w.WriteHeader(http.StatusOK)
	})
	cfg := testConfig()
	cfg.PerHostConcurrency = 2
	h := newHarness(t, nil, cfg, nil)
	dispatched := make(chan struct{}, 1)
	h.d.afterDispatch = func() {
		select {
		case dispatched <- struct{}{}:
		default:
		}
	}
	if err := h.d.Start(t.Context()); err != nil {
		t.Fatalf("start: %v", err)
	}

	var ids []string
	for range 10 {
		j, err := h.d.Enqueue(t.Context(), Job{Executor: "crm-sync", URL: rc.URL, Body: []byte(`{}`)})
		if err != nil {
			t.Fatalf("enqueue: %v", err)
		}
		ids = append(ids, j.ID)
	}
	<-reached
	<-reached

	// Wait until the scheduler has every other job waiting for the
	// destination, which proves it held them back.
	key := destinationKey(rc.URL)
	for {
		h.d.mu.Lock()
		dst := h.d.dests[key]
		waiting := dst != nil && len(dst.ready) == 8
		h.d.mu.Unlock()
		if waiting {
			break
		}
		select {
		case <-reached:
			t.Fatalf("a third request reached the receiver while two were in flight")
		case <-dispatched:
		}
	}
	if n := inFlight.Load(); n != 2 {
		t.Errorf("requests in flight = %d, want 2", n)
	}
	close(release)

	for _, id := range ids {
		done, err := h.d.Wait(t.Context(), id)
		if err != nil || done.Status != StatusSuccess {
			t.Errorf("job %s = {%s, %v}, want SUCCESS", id, done.Status, err)
		}
	}
}

func TestHTTPSWithConfiguredRoots(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name       string
		trusted    bool
		wantStatus Status
	}{
		{"trusted test CA", true, StatusSuccess},
		{"system roots only", false, StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Policy.MaxAttempts = 1
			if tt.trusted {
				cfg.TLSConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
			}
			h := startDispatcher(t, nil, cfg, nil)

			got := h.deliver(t, Job{URL: srv.URL})

			if got.Status != tt.wantStatus {
				t.Errorf("status = %s, want %s (last error %q)", got.Status, tt.wantStatus, got.LastError)
			}
		})
	}
}

func FuzzCheckHeaderValue(f *testing.F) {
	for _, seed := range []string{"Bearer abc", "a\r\nb", "tab\there", "\x00", "ünïcode", "\x7f"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		err := checkHeaderValue("X-Key", value, nil)
		if err == nil {
			// What passes must be one header line that net/http sends as
			// it is: no control characters except horizontal tab.
			for i := 0; i < len(value); i++ {
				if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
					t.Errorf("checkHeaderValue accepted %q with byte 0x%02x", value, c)
				}
			}
			return
		}
		if !errors.Is(err, ErrConfiguration) {
			t.Errorf("error %v does not wrap ErrConfiguration", err)
		}
		if len(value) >= 8 && strings.Contains(err.Error(), value) {
			t.Errorf("error %q contains the value", err)
		}
	})
}

// TestOnAttemptSeesEachRecordedAttempt checks that Config.OnAttempt gets
// every attempt once, in order, as stored: PENDING with a due time while
// another attempt follows, then the final status.
func TestOnAttemptSeesEachRecordedAttempt(t *testing.T) {
	rc := newReceiver(t, statusAlways(http.StatusInternalServerError))
	cfg := testConfig()
	cfg.Policy.MaxAttempts = 3
	var mu sync.Mutex
	var seen []Job
	cfg.OnAttempt = func(j Job) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, j)
	}
	h := startDispatcher(t, nil, cfg, nil)

	got := h.deliver(t, Job{URL: rc.URL})

	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("OnAttempt calls = %d, want 3", len(seen))
	}
	for i, j := range seen {
		if j.ID != got.ID || len(j.Attempts) != i+1 {
			t.Errorf("call %d: job %s with %d attempts, want %s with %d", i, j.ID, len(j.Attempts), got.ID, i+1)
		}
		last := i == len(seen)-1
		switch {
		case !last && (j.Status != StatusPending || j.NextAttemptAt.IsZero()):
			t.Errorf("call %d: status %s, next attempt %v; want PENDING with a due time", i, j.Status, j.NextAttemptAt)
		case last && j.Status != StatusFailed:
			t.Errorf("last call: status %s, want %s", j.Status, StatusFailed)
		}
	}
}

// TestFailedJobLogStopReason checks the log record of a job that ends
// FAILED: it gives the reason no attempt follows, and has no field that
// suggests another try.
func TestFailedJobLogStopReason(t *testing.T) {
	tests := []struct {
		name string
		job  func(url string) Job
		want string
	}{
		{"attempts used up", func(u string) Job { return Job{URL: u, Policy: Policy{MaxAttempts: 3}} }, "no attempts left"},
		{"configuration error", func(u string) Job {
			return Job{URL: u, Headers: []plugins.Header{{Name: "X Tag", Value: "a"}}}
		}, "not retryable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, statusAlways(http.StatusServiceUnavailable))
			cfg := testConfig()
			// Wait may return before the attempt's log record is
			// written, so the test waits for OnAttempt, which runs after.
			failed := make(chan struct{})
			cfg.OnAttempt = func(j Job) {
				if j.Status == StatusFailed {
					close(failed)
				}
			}
			h := startDispatcher(t, nil, cfg, nil)

			got := h.deliver(t, tt.job(rc.URL))
			if got.Status != StatusFailed {
				t.Fatalf("status = %s, want %s", got.Status, StatusFailed)
			}
			<-failed

			var records []map[string]any
			for line := range strings.SplitSeq(strings.TrimSpace(h.logs.String()), "\n") {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("log line %q: %v", line, err)
				}
				if rec["msg"] == "webhook job failed" {
					records = append(records, rec)
				}
			}
			if len(records) != 1 {
				t.Fatalf("\"webhook job failed\" records = %v, want one", records)
			}
			rec := records[0]
			if rec["stop_reason"] != tt.want {
				t.Errorf("stop_reason = %v, want %q", rec["stop_reason"], tt.want)
			}
			if _, ok := rec["retryable"]; ok {
				t.Errorf("record %v has a retryable field; the job is not retried", rec)
			}
		})
	}
}

// TestQuietAttemptsLogAtDebug checks the log levels of failed attempts:
// warn and error by default, debug with Config.QuietAttempts.
func TestQuietAttemptsLogAtDebug(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		rc := newReceiver(t, statusAlways(http.StatusInternalServerError))
		cfg := testConfig()
		cfg.Policy.MaxAttempts = 2
		cfg.QuietAttempts = quiet
		h := startDispatcher(t, nil, cfg, nil)
		h.deliver(t, Job{URL: rc.URL})

		want := map[string]string{"webhook attempt failed, will retry": "WARN", "webhook job failed": "ERROR"}
		if quiet {
			want = map[string]string{"webhook attempt failed, will retry": "DEBUG", "webhook job failed": "DEBUG"}
		}
		for msg, level := range want {
			record := `"level":"` + level + `","msg":"` + msg + `"`
			if !strings.Contains(h.logs.String(), record) {
				t.Errorf("QuietAttempts %v: logs lack %s; got:\n%s", quiet, record, h.logs)
			}
		}
	}
}
