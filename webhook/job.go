package webhook

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/execvault/execvault/plugins"
)

// Status is the state of a job. The zero value is not a valid status.
type Status string

// Job statuses. PENDING and RUNNING are unfinished, and the dispatcher
// resumes them after a restart. SUCCESS, FAILED and CANCELED are final until
// Retry moves a FAILED or CANCELED job back to PENDING.
const (
	StatusPending  Status = "PENDING"
	StatusRunning  Status = "RUNNING"
	StatusSuccess  Status = "SUCCESS"
	StatusFailed   Status = "FAILED"
	StatusCanceled Status = "CANCELED"
)

// Finished reports whether s is SUCCESS, FAILED or CANCELED.
func (s Status) Finished() bool {
	return s == StatusSuccess || s == StatusFailed || s == StatusCanceled
}

// Valid reports whether s is one of the five statuses.
func (s Status) Valid() bool {
	return s == StatusPending || s == StatusRunning || s.Finished()
}

// Job is one webhook delivery: a POST of Body to URL with Headers, retried
// under Policy until it succeeds, fails or is canceled. A Job value is a
// snapshot and safe to share, because the dispatcher never changes a value
// it returned.
//
// Headers keep secret references unresolved. The dispatcher resolves them at
// each attempt and never stores the values.
type Job struct {
	// ID is the delivery id, sent as webhook-id on every attempt. Enqueue
	// generates "msg_" plus 26 random lower-case base32 characters when it
	// is empty.
	// It is 1 to 256 printable ASCII characters without spaces.
	ID string `json:"id"`

	// Executor names the executor that fired. Required.
	Executor string `json:"executor"`

	// EventID identifies the event that caused the firing; optional.
	EventID string `json:"eventId,omitempty"`

	// URL is the http or https destination.
	URL string `json:"url"`

	// Headers are sent in order after the dispatcher's own headers.
	Headers []plugins.Header `json:"headers,omitempty"`

	// Body is sent byte for byte. Content-Type defaults to
	// application/json unless Headers set it. JSON encodes it as base64,
	// which keeps bytes that are not valid JSON intact.
	Body []byte `json:"body"`

	// Policy is the retry policy. Enqueue fills zero fields from
	// Config.Policy and stores the result with the job.
	Policy Policy `json:"policy"`

	// Signing turns on Standard Webhooks signatures when non-nil.
	Signing *plugins.Signing `json:"signing,omitempty"`

	// Status is the job's state. Enqueue ignores the caller's value.
	Status Status `json:"status"`

	// Round counts the times the job was started: 1 after Enqueue, plus one
	// for each Retry. Each round has a fresh budget of Policy.MaxAttempts.
	Round int `json:"round"`

	// Attempts lists every attempt of every round, oldest first.
	Attempts []Attempt `json:"attempts,omitempty"`

	// LastError is the reason of the last failed attempt, empty after a
	// success. A job FAILED because it used up its attempts has
	// " (attempt N of N)" at the end.
	LastError string `json:"lastError,omitempty"`

	// CreatedAt is when Enqueue stored the job, and UpdatedAt when its
	// status or attempts last changed, both from Config.Clock. Retention
	// measures a finished job's age from UpdatedAt.
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`

	// NextAttemptAt is when the next attempt is due, zero for a finished
	// job. A paused destination can delay the attempt past this time.
	NextAttemptAt time.Time `json:"nextAttemptAt,omitzero"`
}

// AttemptsInRound returns the number of attempts made in the job's current
// round.
func (j Job) AttemptsInRound() int {
	n := 0
	for _, a := range j.Attempts {
		if a.Round == j.Round {
			n++
		}
	}
	return n
}

// LastAttempt returns the most recent attempt and false when there is none.
func (j Job) LastAttempt() (Attempt, bool) {
	if len(j.Attempts) == 0 {
		return Attempt{}, false
	}
	return j.Attempts[len(j.Attempts)-1], true
}

// clone returns a deep copy so that callers never share slices with the
// dispatcher.
func (j Job) clone() Job {
	c := j
	c.Headers = cloneHeaders(j.Headers)
	c.Body = append([]byte(nil), j.Body...)
	if j.Signing != nil {
		s := *j.Signing
		c.Signing = &s
	}
	c.Attempts = make([]Attempt, len(j.Attempts))
	for i, a := range j.Attempts {
		a.Headers = append([]string(nil), a.Headers...)
		c.Attempts[i] = a
	}
	return c
}

func cloneHeaders(hs []plugins.Header) []plugins.Header {
	out := make([]plugins.Header, len(hs))
	for i, h := range hs {
		out[i] = h
		if h.Secret != nil {
			ref := *h.Secret
			out[i].Secret = &ref
		}
	}
	return out
}

// Attempt is the record of one delivery attempt. It never contains a secret
// value: Headers shows secret headers masked.
type Attempt struct {
	// Round is the job round the attempt belongs to, and Number its 1-based
	// position within that round.
	Round  int `json:"round"`
	Number int `json:"number"`

	// StartedAt and EndedAt come from Config.Clock. Duration is the
	// elapsed real time, which a test clock does not change.
	StartedAt time.Time     `json:"startedAt"`
	EndedAt   time.Time     `json:"endedAt"`
	Duration  time.Duration `json:"-"`

	// StatusCode is the HTTP status received, 0 when no response arrived.
	StatusCode int `json:"statusCode,omitempty"`

	// Error is the reason the attempt failed, empty on success.
	Error string `json:"error,omitempty"`

	// RedirectRefused is true when the destination responded with a
	// redirect, which the dispatcher never follows.
	RedirectRefused bool `json:"redirectRefused,omitempty"`

	// Retryable is false for a configuration error, which fails the job at
	// once.
	Retryable bool `json:"retryable"`

	// Headers lists the request headers as "Name: value" with secret values
	// masked, in the form MaskHeaders produces.
	Headers []string `json:"headers,omitempty"`
}

// attemptJSON is Attempt's JSON form: the duration as a Go duration string
// such as "1.5s", which a person reading CLI output can parse at a glance.
type attemptJSON struct {
	attemptFields
	Duration string `json:"duration"`
}

// attemptFields has Attempt's fields without its methods, so that encoding
// it does not recurse into MarshalJSON.
type attemptFields Attempt

// MarshalJSON encodes the attempt with its duration as a string.
func (a Attempt) MarshalJSON() ([]byte, error) {
	return json.Marshal(attemptJSON{attemptFields: attemptFields(a), Duration: a.Duration.String()})
}

// UnmarshalJSON decodes the form MarshalJSON produces.
func (a *Attempt) UnmarshalJSON(data []byte) error {
	var v attemptJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*a = Attempt(v.attemptFields)
	if v.Duration != "" {
		d, err := time.ParseDuration(v.Duration)
		if err != nil {
			return fmt.Errorf("decode attempt duration %q: %w", v.Duration, err)
		}
		a.Duration = d
	}
	return nil
}

// MaskHeaders returns the headers as "Name: value" lines for display and
// logs. A header whose value comes from a secret shows the reference, as in
// "Authorization: [secret api-keys/crm-api-token]", and never the value. Plain
// values are shown as they are.
func MaskHeaders(headers []plugins.Header) []string {
	out := make([]string, 0, len(headers))
	for _, h := range headers {
		out = append(out, h.Name+": "+maskedValue(h))
	}
	return out
}

func maskedValue(h plugins.Header) string {
	if h.Secret != nil {
		return "[secret " + h.Secret.String() + "]"
	}
	return h.Value
}
