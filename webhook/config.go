package webhook

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Config tunes a Dispatcher. Start from DefaultConfig and change fields; the
// dispatcher checks it with Validate and does not change it afterwards.
type Config struct {
	// Workers is the maximum number of attempts in flight across all
	// destinations. Default 16.
	Workers int

	// PerHostConcurrency is the maximum number of attempts in flight to one
	// destination, which is a scheme, host and port. Default 8.
	PerHostConcurrency int

	// Policy is the retry policy for the zero fields of each job's Policy.
	// Default DefaultPolicy().
	Policy Policy

	// RetryAfterMax caps the delay that a Retry-After header can request.
	// Default 30 min.
	RetryAfterMax time.Duration

	// BreakerFailures is the number of consecutive failed attempts to one
	// destination that opens its circuit breaker. While open, the
	// destination's due jobs stay PENDING and use no attempts. Default 5.
	BreakerFailures int

	// BreakerCooldown is how long an open breaker pauses its destination
	// before it lets one probe attempt through. Default 30 s.
	BreakerCooldown time.Duration

	// DisableBreaker turns the circuit breaker off, so failed attempts
	// never pause a destination and each job waits only as its retry
	// policy sets. It suits a caller that waits for each job before it
	// enqueues the next, such as a replay of recorded events: no backlog
	// builds up, and a pause only delays the result. Default false.
	DisableBreaker bool

	// Retention is the age, measured from a job's last update, after which
	// finished jobs (SUCCESS, FAILED and CANCELED) are deleted. Zero keeps
	// finished jobs until DeleteFinished removes them. Default 30 days.
	Retention time.Duration

	// RetentionInterval is how often a started dispatcher deletes jobs past
	// Retention, which it also does when it starts. A Retention shorter
	// than RetentionInterval is used as the interval instead, but not one
	// shorter than a second. Default 1 h.
	RetentionInterval time.Duration

	// UserAgent is sent unless a job's headers set User-Agent. Default
	// "execvault-webhook/1".
	UserAgent string

	// Clock is the time source. Default SystemClock{}.
	Clock Clock

	// DialContext opens connections. Default a net.Dialer with a 30 s
	// connect timeout; with Egress set, that dialer also checks each
	// address it connects to against the policy.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)

	// TLSConfig configures TLS for https destinations. Nil uses the system
	// root certificates. The dispatcher clones it.
	TLSConfig *tls.Config

	// Resolver looks up host names when Egress is set, so that the policy
	// applies to the addresses actually dialed. Default net.DefaultResolver.
	Resolver Resolver

	// Egress restricts the destination addresses. Nil allows every address.
	Egress *EgressPolicy

	// OnAttempt, when set, is called after each attempt is recorded, with
	// a copy of the job as stored: PENDING with NextAttemptAt set when
	// another attempt is scheduled. It runs on the worker goroutine before
	// the next attempt is scheduled and before Wait returns the job, so it
	// must return quickly. Default nil.
	OnAttempt func(Job)

	// QuietAttempts logs failed attempts and failed jobs at debug level
	// instead of warn and error, for a caller that reports each of them
	// itself through OnAttempt and Wait. Default false.
	QuietAttempts bool
}

// Resolver looks up the IP addresses of a host. *net.Resolver implements
// it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DefaultConfig returns the defaults documented on each Config field.
func DefaultConfig() Config {
	return Config{
		Workers:            16,
		PerHostConcurrency: 8,
		Policy:             DefaultPolicy(),
		RetryAfterMax:      30 * time.Minute,
		BreakerFailures:    5,
		BreakerCooldown:    30 * time.Second,
		Retention:          30 * 24 * time.Hour,
		RetentionInterval:  time.Hour,
		UserAgent:          "execvault-webhook/1",
		Clock:              SystemClock{},
		Resolver:           net.DefaultResolver,
	}
}

// Validate reports the first field out of range, wrapping ErrInvalidConfig.
// Counts and durations must be positive except Retention, which may be zero;
// Clock and Resolver must be set.
func (c Config) Validate() error {
	switch {
	case c.Workers < 1:
		return fmt.Errorf("workers %d: %w: use at least 1", c.Workers, ErrInvalidConfig)
	case c.PerHostConcurrency < 1:
		return fmt.Errorf("per-host concurrency %d: %w: use at least 1", c.PerHostConcurrency, ErrInvalidConfig)
	case c.RetryAfterMax <= 0:
		return fmt.Errorf("retry-after max %s: %w: use a positive duration", c.RetryAfterMax, ErrInvalidConfig)
	case c.BreakerFailures < 1:
		return fmt.Errorf("breaker failures %d: %w: use at least 1", c.BreakerFailures, ErrInvalidConfig)
	case c.BreakerCooldown <= 0:
		return fmt.Errorf("breaker cooldown %s: %w: use a positive duration", c.BreakerCooldown, ErrInvalidConfig)
	case c.Retention < 0:
		return fmt.Errorf("retention %s: %w: use zero to keep finished jobs, or a positive duration", c.Retention, ErrInvalidConfig)
	case c.RetentionInterval <= 0:
		return fmt.Errorf("retention interval %s: %w: use a positive duration", c.RetentionInterval, ErrInvalidConfig)
	case c.Clock == nil:
		return fmt.Errorf("clock: %w: use SystemClock{}", ErrInvalidConfig)
	case c.Resolver == nil:
		return fmt.Errorf("resolver: %w: use net.DefaultResolver", ErrInvalidConfig)
	}
	if err := c.Policy.Validate(); err != nil {
		return fmt.Errorf("default %w", err)
	}
	if c.Egress != nil {
		if err := c.Egress.Validate(); err != nil {
			return err
		}
	}
	return nil
}
