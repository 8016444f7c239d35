package webhook

import "time"

// breakerState is the state of one destination's circuit breaker.
type breakerState int

const (
	// breakerClosed lets every attempt through.
	breakerClosed breakerState = iota
	// breakerOpen pauses the destination until openUntil.
	breakerOpen
	// breakerHalfOpen lets one probe attempt through; its result closes or
	// reopens the breaker.
	breakerHalfOpen
)

func (s breakerState) String() string {
	switch s {
	case breakerOpen:
		return "open"
	case breakerHalfOpen:
		return "half-open"
	default:
		return "closed"
	}
}

// breaker counts consecutive failed attempts to one destination. It is not
// safe for concurrent use; the dispatcher guards it with its mutex.
type breaker struct {
	state     breakerState
	failures  int
	openUntil time.Time
	probing   bool
}

// allow reports whether an attempt may start now and, when it may not
// because the breaker is open, when it may. A half-open breaker admits one
// probe at a time and returns a zero time while the probe runs.
func (b *breaker) allow(now time.Time) (bool, time.Time) {
	switch b.state {
	case breakerOpen:
		if now.Before(b.openUntil) {
			return false, b.openUntil
		}
		b.state = breakerHalfOpen
		fallthrough
	case breakerHalfOpen:
		if b.probing {
			return false, time.Time{}
		}
		b.probing = true
		return true, time.Time{}
	default:
		return true, time.Time{}
	}
}

// record updates the breaker with the result of an attempt that allow
// admitted. It returns the state before and after, so that the caller can
// log a change.
func (b *breaker) record(success bool, now time.Time, threshold int, cooldown time.Duration) (before, after breakerState) {
	before = b.state
	b.probing = false
	if success {
		b.state = breakerClosed
		b.failures = 0
		return before, b.state
	}

	b.failures++
	if b.state == breakerHalfOpen || b.failures >= threshold {
		b.state = breakerOpen
		b.openUntil = now.Add(cooldown)
	}
	return before, b.state
}

// release frees a half-open probe slot after an attempt whose result does
// not reflect the destination's health, such as a configuration error.
func (b *breaker) release() { b.probing = false }

// idle reports whether the breaker holds no state worth keeping.
func (b *breaker) idle() bool { return b.state == breakerClosed && b.failures == 0 }
