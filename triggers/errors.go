package triggers

import (
	"errors"
	"fmt"
)

// Sentinel errors. Functions wrap them with %w and add the value at fault,
// so callers test with errors.Is.
var (
	// ErrInvalidEvent marks an event that is malformed or lacks a field.
	ErrInvalidEvent = errors.New("invalid event")

	// ErrUnsupportedOp marks a Debezium change event whose op is not one
	// of c, u, d, r, t or m.
	ErrUnsupportedOp = errors.New("unsupported debezium op")

	// ErrLineTooLong marks a JSONL line longer than the reader's limit.
	ErrLineTooLong = errors.New("line too long")

	// ErrInvalidSchedule marks a cron spec or time zone that cannot be
	// parsed, or a spec that never fires.
	ErrInvalidSchedule = errors.New("invalid schedule")

	// ErrScheduleExists marks a second schedule added under a name that
	// the scheduler already has.
	ErrScheduleExists = errors.New("schedule already exists")

	// ErrMethodNotAllowed marks an incoming webhook request whose method
	// is not POST, GET, PUT or DELETE.
	ErrMethodNotAllowed = errors.New("method not allowed")

	// ErrBodyTooLarge marks an incoming webhook request body above the
	// configured limit.
	ErrBodyTooLarge = errors.New("request body too large")

	// ErrInvalidBody marks an incoming webhook request body that does not
	// match its content type.
	ErrInvalidBody = errors.New("invalid request body")

	// ErrEventNotFound marks a sequence number with no pending event in
	// the event log.
	ErrEventNotFound = errors.New("event not found")

	// ErrBatchTooLarge marks an Append batch that does not fit in one
	// Badger transaction.
	ErrBatchTooLarge = errors.New("event batch too large")

	// ErrCorruptLog marks a stored event that cannot be decoded: damaged
	// bytes, or a format that this version does not read.
	ErrCorruptLog = errors.New("stored event cannot be decoded")

	// ErrInvalidConfig marks a configuration value out of range.
	ErrInvalidConfig = errors.New("invalid config")
)

// LineError reports a JSONL line that could not be turned into an event.
// The reader skips the line and goes on with the next one.
type LineError struct {
	// Line is the 1-based line number in the input.
	Line int
	// Err is the cause, wrapping one of the package's sentinel errors.
	Err error
}

// Error returns the line number followed by the cause.
func (e *LineError) Error() string {
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}

// Unwrap returns the cause.
func (e *LineError) Unwrap() error { return e.Err }

// ItemError reports one element of a request body that could not be
// turned into an event.
type ItemError struct {
	// Index is the 0-based position in the body's array; 0 for a body
	// holding a single object.
	Index int
	// Err is the cause, wrapping one of the package's sentinel errors.
	Err error
}

// Error returns the index followed by the cause.
func (e *ItemError) Error() string {
	return fmt.Sprintf("event %d: %v", e.Index, e.Err)
}

// Unwrap returns the cause.
func (e *ItemError) Unwrap() error { return e.Err }
