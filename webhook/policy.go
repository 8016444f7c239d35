package webhook

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/execvault/execvault/plugins"
)

// Jitter selects how the dispatcher randomises a backoff delay.
type Jitter string

// Jitter modes.
const (
	// JitterProportional multiplies the delay by a random factor in
	// [0.8, 1.2), which keeps the schedule recognisable. It is the default.
	JitterProportional Jitter = "proportional"

	// JitterFull picks the delay uniformly in [0, delay), which spreads a
	// burst of failures the most.
	JitterFull Jitter = "full"

	// JitterNone uses the exact exponential delay.
	JitterNone Jitter = "none"
)

// Policy is the retry policy of one job. Zero fields take the value from
// Config.Policy when the job is enqueued.
//
// After the n-th failed attempt of a round (n ≥ 1) the next attempt is due
// after min(BackoffMax, BackoffBase·2^(n-1)), randomised by Jitter, unless
// the response carried a Retry-After header: then its delay, capped at
// Config.RetryAfterMax, replaces the backoff.
type Policy struct {
	// MaxAttempts is the number of attempts in all, first one included.
	// Default 10.
	MaxAttempts int

	// AttemptTimeout bounds one attempt from dial to the end of the
	// response headers and a drained body. Default 60 s.
	AttemptTimeout time.Duration

	// BackoffBase is the delay after the first failure. Default 10 s.
	BackoffBase time.Duration

	// BackoffMax caps the exponential delay before jitter. Default 30 min.
	BackoffMax time.Duration

	// Jitter randomises the delay. Default JitterProportional.
	Jitter Jitter
}

// DefaultPolicy returns the platform's policy: 10 attempts of 60 s each,
// backoff from 10 s doubling to at most 30 min, with ±20% jitter. Without
// Retry-After the nine waits add up to about 72 minutes.
func DefaultPolicy() Policy {
	return Policy{
		MaxAttempts:    10,
		AttemptTimeout: 60 * time.Second,
		BackoffBase:    10 * time.Second,
		BackoffMax:     30 * time.Minute,
		Jitter:         JitterProportional,
	}
}

// PolicyFromRetry converts a manifest's retry override into a Policy whose
// unset fields stay zero, so that Enqueue fills them from Config.Policy. A nil
// retry returns the zero Policy.
func PolicyFromRetry(r *plugins.Retry) Policy {
	if r == nil {
		return Policy{}
	}
	return Policy{
		MaxAttempts:    r.MaxAttempts,
		AttemptTimeout: time.Duration(r.AttemptTimeoutMillis) * time.Millisecond,
	}
}

// WithDefaults returns p with each zero field taken from def.
func (p Policy) WithDefaults(def Policy) Policy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = def.MaxAttempts
	}
	if p.AttemptTimeout == 0 {
		p.AttemptTimeout = def.AttemptTimeout
	}
	if p.BackoffBase == 0 {
		p.BackoffBase = def.BackoffBase
	}
	if p.BackoffMax == 0 {
		p.BackoffMax = def.BackoffMax
	}
	if p.Jitter == "" {
		p.Jitter = def.Jitter
	}
	return p
}

// Validate reports the first field out of range. Every field must be set:
// MaxAttempts from 1 to 1000, positive durations, BackoffMax not below
// BackoffBase, and a known Jitter.
func (p Policy) Validate() error {
	switch {
	case p.MaxAttempts < 1 || p.MaxAttempts > maxAttemptsLimit:
		return fmt.Errorf("retry policy max attempts %d: %w: use 1 to %d", p.MaxAttempts, ErrInvalidConfig, maxAttemptsLimit)
	case p.AttemptTimeout <= 0:
		return fmt.Errorf("retry policy attempt timeout %s: %w: use a positive duration", p.AttemptTimeout, ErrInvalidConfig)
	case p.BackoffBase <= 0:
		return fmt.Errorf("retry policy backoff base %s: %w: use a positive duration", p.BackoffBase, ErrInvalidConfig)
	case p.BackoffMax < p.BackoffBase:
		return fmt.Errorf("retry policy backoff max %s below base %s: %w", p.BackoffMax, p.BackoffBase, ErrInvalidConfig)
	}
	switch p.Jitter {
	case JitterProportional, JitterFull, JitterNone:
	default:
		return fmt.Errorf("retry policy jitter %q: %w: use %q, %q or %q", p.Jitter, ErrInvalidConfig, JitterProportional, JitterFull, JitterNone)
	}
	return nil
}

// maxAttemptsLimit bounds MaxAttempts so that a typo cannot keep a job
// retrying for weeks.
const maxAttemptsLimit = 1000

// backoff returns the delay after the failures-th failed attempt of a
// round. random is a number in [0, 1) that drives the jitter.
func (p Policy) backoff(failures int, random float64) time.Duration {
	if failures < 1 {
		failures = 1
	}

	// Doubling past 62 steps overflows int64, and the cap applies long
	// before that for any sane base.
	d := p.BackoffMax
	if failures-1 < 62 {
		scaled := float64(p.BackoffBase) * math.Exp2(float64(failures-1))
		if scaled < float64(p.BackoffMax) {
			d = time.Duration(scaled)
		}
	}

	switch p.Jitter {
	case JitterFull:
		return time.Duration(random * float64(d))
	case JitterProportional:
		return time.Duration(float64(d) * (0.8 + 0.4*random))
	default:
		return d
	}
}

// policyJSON is Policy's JSON form, with durations as Go duration strings.
type policyJSON struct {
	MaxAttempts    int    `json:"maxAttempts"`
	AttemptTimeout string `json:"attemptTimeout"`
	BackoffBase    string `json:"backoffBase"`
	BackoffMax     string `json:"backoffMax"`
	Jitter         Jitter `json:"jitter"`
}

// MarshalJSON encodes the policy with durations such as "1m0s".
func (p Policy) MarshalJSON() ([]byte, error) {
	return json.Marshal(policyJSON{
		MaxAttempts:    p.MaxAttempts,
		AttemptTimeout: p.AttemptTimeout.String(),
		BackoffBase:    p.BackoffBase.String(),
		BackoffMax:     p.BackoffMax.String(),
		Jitter:         p.Jitter,
	})
}

// UnmarshalJSON decodes the form MarshalJSON produces.
func (p *Policy) UnmarshalJSON(data []byte) error {
	var v policyJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	out := Policy{MaxAttempts: v.MaxAttempts, Jitter: v.Jitter}
	for _, f := range []struct {
		text string
		dst  *time.Duration
	}{
		{v.AttemptTimeout, &out.AttemptTimeout},
		{v.BackoffBase, &out.BackoffBase},
		{v.BackoffMax, &out.BackoffMax},
	} {
		if f.text == "" {
			continue
		}
		d, err := time.ParseDuration(f.text)
		if err != nil {
			return fmt.Errorf("decode retry policy duration %q: %w", f.text, err)
		}
		*f.dst = d
	}
	*p = out
	return nil
}

// parseRetryAfter reads a Retry-After value, either delay seconds or an
// HTTP date, relative to now. It returns false for an absent or malformed
// value. A date in the past yields a zero delay.
func parseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(value, 10, 63); err == nil {
		// Anything beyond about 292 years does not fit a Duration, and the
		// cap applies long before.
		if secs > uint64(math.MaxInt64/int64(time.Second)) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	if d := at.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}
