package webhook

import "errors"

// Sentinel errors. Functions in this package wrap them with %w and add the
// job id, header, secret reference or address involved, so callers test with
// errors.Is and show the message to the user as it is.
var (
	// ErrInvalidConfig means a Config field is out of range.
	ErrInvalidConfig = errors.New("invalid webhook configuration")

	// ErrInvalidJob means Enqueue rejected a job before storing it.
	ErrInvalidJob = errors.New("invalid webhook job")

	// ErrJobNotFound means no job with the given id is stored.
	ErrJobNotFound = errors.New("webhook job not found")

	// ErrInvalidState means the job's status does not allow the request,
	// such as retrying a job that succeeded.
	ErrInvalidState = errors.New("webhook job in wrong state")

	// ErrConfiguration marks a delivery failure that retrying cannot fix: a
	// missing secret, a header value that is not allowed, an invalid URL or a
	// destination that the egress policy denies. The job fails at once.
	ErrConfiguration = errors.New("webhook configuration error")

	// ErrEgressDenied means the egress policy rejected every address of a
	// destination. Like ErrConfiguration, it fails the job at once.
	ErrEgressDenied = errors.New("destination denied by egress policy")

	// ErrClosed means the dispatcher was closed or its context ended.
	ErrClosed = errors.New("webhook dispatcher closed")

	// ErrAlreadyStarted means Start was called more than once.
	ErrAlreadyStarted = errors.New("webhook dispatcher already started")
)
