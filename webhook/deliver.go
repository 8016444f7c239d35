package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/execvault/execvault/plugins"
)

// maxDrainBytes bounds how much of a response body is read, and discarded,
// so that the connection can be reused.
const maxDrainBytes = 64 << 10

// outcome is the result of one delivery attempt.
type outcome struct {
	attempt Attempt

	// success is true for a 2xx response.
	success bool

	// retryAfter is the delay a Retry-After header requested, valid when
	// hasRetryAfter is true.
	retryAfter    time.Duration
	hasRetryAfter bool

	// aborted is true when shutdown or Cancel cut the attempt short. A
	// shutdown abort is not recorded as an attempt.
	aborted bool

	// destinationFault is true when the result reflects the destination's
	// health, as a response or a network error does, so it counts for the
	// circuit breaker. Configuration errors do not.
	destinationFault bool
}

// configError marks err as a configuration error, which is not retried.
func configError(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrConfiguration, fmt.Errorf(format, args...))
}

func isConfigError(err error) bool {
	return errors.Is(err, ErrConfiguration) || errors.Is(err, ErrEgressDenied)
}

// newHTTPClient returns the client for all attempts. It never follows
// redirects, because a redirect to another host would carry the job's secret
// headers there, and net/http strips only a few well-known ones.
func newHTTPClient(cfg Config) *http.Client {
	dial := dialFunc(cfg.DialContext)
	if dial == nil {
		dial = defaultDial(cfg.Egress)
	}
	proxy := http.ProxyFromEnvironment
	if cfg.Egress != nil {
		// A proxy would make the connection on our behalf, out of the
		// policy's reach.
		dial = egressDial(cfg.Egress, cfg.Resolver, dial)
		proxy = nil
	}
	transport := &http.Transport{
		Proxy:                 proxy,
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   cfg.PerHostConcurrency,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if cfg.TLSConfig != nil {
		transport.TLSClientConfig = cfg.TLSConfig.Clone()
	}
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// destinationKey returns scheme://host:port for rawURL, the unit of
// per-destination limits. An unparsable URL maps to one shared key, and its
// attempt fails as a configuration error anyway.
func destinationKey(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "invalid"
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if strings.EqualFold(u.Scheme, "https") {
			port = "443"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// invalidURL returns the error for rawURL when it cannot be parsed.
func invalidURL(rawURL string) error {
	return configError("invalid URL %q: use an absolute http or https URL", rawURL)
}

// checkURL checks that u, parsed from rawURL, is an absolute http or https
// URL without user info.
func checkURL(u *url.URL, rawURL string) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return configError("invalid URL %q: scheme must be http or https", rawURL)
	}
	if u.Hostname() == "" {
		return configError("invalid URL %q: host is missing", rawURL)
	}
	if u.User != nil {
		return configError("invalid URL %q: user info is not allowed, so send credentials in a header that references a secret", u.Redacted())
	}
	return nil
}

// checkHeaderValue rejects a value that cannot be sent as one header line.
// secret is the reference the value was resolved from, or nil for a value
// given in the definition. Errors name it.
func checkHeaderValue(name, value string, secret *plugins.SecretRef) error {
	origin := func() string {
		if secret == nil {
			return "value"
		}
		return "value of secret " + secret.String()
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return configError("header %q: %s contains CR, LF or NUL", name, origin())
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return configError("header %q: %s contains control character 0x%02x", name, origin(), c)
		}
	}
	return nil
}

// buildRequest resolves the job's headers and signature and returns the
// request for one attempt. Every error is a configuration error and names
// the header and the vault and key, never a value.
func (d *Dispatcher) buildRequest(ctx context.Context, j Job, sentAt time.Time) (*http.Request, error) {
	// NewRequestWithContext parses the URL, and checkURL checks the result.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.URL, bytes.NewReader(j.Body))
	if err != nil {
		return nil, invalidURL(j.URL)
	}
	if err := checkURL(req.URL, j.URL); err != nil {
		return nil, err
	}

	for _, h := range d.defaultHeaders() {
		req.Header.Set(h.name, h.value)
	}
	req.Header.Set(HeaderID, j.ID)

	custom := make(map[string]bool, len(j.Headers))
	for _, h := range j.Headers {
		value, err := d.headerValue(ctx, j, h)
		if err != nil {
			return nil, err
		}
		canonical := http.CanonicalHeaderKey(h.Name)
		if !custom[canonical] {
			// The first value a job sets replaces the dispatcher's
			// default, and later ones of the same name add to it.
			req.Header.Del(canonical)
			custom[canonical] = true
		}
		req.Header.Add(canonical, value)
	}

	if j.Signing != nil {
		ref := j.Signing.Secret
		raw, err := d.resolve(ctx, j, ref, "")
		if err != nil {
			return nil, err
		}
		key, err := signingKey(raw)
		if err != nil {
			return nil, configError("signing secret %s: %v", ref, err)
		}
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(sentAt.Unix(), 10))
		req.Header.Set(HeaderSignature, sign(key, j.ID, sentAt, j.Body))
	}
	return req, nil
}

// defaultHeader is a header that every attempt sends unless a job header
// of the same name replaces it.
type defaultHeader struct{ name, value string }

// defaultHeaders returns the dispatcher's default headers, in the order
// an attempt sets them.
func (d *Dispatcher) defaultHeaders() [2]defaultHeader {
	return [2]defaultHeader{{"Content-Type", "application/json"}, {"User-Agent", d.cfg.UserAgent}}
}

func (d *Dispatcher) headerValue(ctx context.Context, j Job, h plugins.Header) (string, error) {
	if !validHeaderName(h.Name) {
		return "", configError("invalid header name %q: use letters, digits and !#$%%&'*+-.^_`|~", h.Name)
	}
	if h.Secret == nil {
		return h.Value, checkHeaderValue(h.Name, h.Value, nil)
	}
	raw, err := d.resolve(ctx, j, *h.Secret, h.Name)
	if err != nil {
		return "", err
	}
	value := string(raw)
	return value, checkHeaderValue(h.Name, value, h.Secret)
}

// resolve fetches one secret for the named header, or for the signing key
// when header is empty. A context error passes through so that shutdown
// is not mistaken for a missing secret. Every other error is a
// configuration error that names the header or the signing key.
func (d *Dispatcher) resolve(ctx context.Context, j Job, ref plugins.SecretRef, header string) (secretBytes, error) {
	// Only errors name the use, so it is formatted only for them.
	use := func() string {
		if header == "" {
			return "signing"
		}
		return fmt.Sprintf("header %q", header)
	}
	if err := ref.Validate(); err != nil {
		return nil, configError("%s: %v", use(), err)
	}
	if d.secrets == nil {
		return nil, configError("%s: secret %s: no secret resolver is configured", use(), ref)
	}
	raw, err := d.secrets.Resolve(ctx, ref, SecretActor(j.Executor))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, configError("%s: resolve secret %s: %w", use(), ref, err)
	}
	return raw, nil
}

// SecretActor returns the actor name the dispatcher passes to
// SecretResolver.Resolve for an executor's deliveries: "executor:" and the
// executor name.
func SecretActor(executor string) string { return "executor:" + executor }

// validHeaderName reports whether name is an HTTP token (RFC 9110 §5.6.2).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// attemptHeaders lists the request headers for the attempt record, with
// secret values masked.
func attemptHeaders(j Job) []string {
	out := []string{HeaderID + ": " + j.ID}
	if j.Signing != nil {
		out = append(out, HeaderSignature+": [signed with secret "+j.Signing.Secret.String()+"]")
	}
	return append(out, MaskHeaders(j.Headers)...)
}

// deliver makes one attempt. ctx ends on shutdown and Cancel, and deliver
// adds the attempt timeout.
func (d *Dispatcher) deliver(ctx context.Context, j Job, number int) outcome {
	realStart := time.Now()
	out := outcome{attempt: Attempt{
		Round:     j.Round,
		Number:    number,
		StartedAt: d.cfg.Clock.Now(),
		Headers:   attemptHeaders(j),
	}}

	attemptCtx, cancel := context.WithTimeout(ctx, j.Policy.AttemptTimeout)
	defer cancel()
	if err := d.send(attemptCtx, j, &out); err != nil {
		classifyError(ctx, attemptCtx, j, &out, err)
	}

	out.attempt.EndedAt = d.cfg.Clock.Now()
	out.attempt.Duration = time.Since(realStart)
	return out
}

// send builds and sends the request and fills out from the response. It
// returns the error when no response arrived.
func (d *Dispatcher) send(ctx context.Context, j Job, out *outcome) error {
	req, err := d.buildRequest(ctx, j, out.attempt.StartedAt)
	if err != nil {
		return err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	// Draining lets the connection be reused. The body itself is never
	// stored because a receiver may echo request headers into it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainBytes))
	_ = resp.Body.Close()

	out.attempt.StatusCode = resp.StatusCode
	out.destinationFault = true
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		out.success = true
		return nil
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		out.attempt.RedirectRefused = true
		out.attempt.Error = fmt.Sprintf("HTTP %d: redirect to %q not followed", resp.StatusCode, resp.Header.Get("Location"))
	default:
		out.attempt.Error = fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	out.attempt.Retryable = true
	out.retryAfter, out.hasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), d.cfg.Clock.Now())
	return nil
}

// classifyError fills out for an attempt that ended without a response:
// aborted by ctx, a configuration error, a timeout or a network error.
func classifyError(ctx, attemptCtx context.Context, j Job, out *outcome, err error) {
	switch {
	case ctx.Err() != nil:
		out.aborted = true
		out.attempt.Error = "attempt aborted: " + context.Cause(ctx).Error()
	case isConfigError(err):
		out.attempt.Error = err.Error()
	case errors.Is(attemptCtx.Err(), context.DeadlineExceeded):
		out.destinationFault = true
		out.attempt.Retryable = true
		out.attempt.Error = fmt.Sprintf("timed out after %s", j.Policy.AttemptTimeout)
	default:
		out.destinationFault = true
		out.attempt.Retryable = true
		out.attempt.Error = err.Error()
	}
}
