package plugins

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Status bytes that start a result buffer.
const (
	// StatusSkip means the condition returned false; nothing follows.
	StatusSkip byte = 0x00

	// StatusFire is followed by a 4-byte little-endian URL length n, n
	// bytes of URL (n is 0 for a fixed URL) and the request body.
	StatusFire byte = 0x01

	// StatusError is followed by a UTF-8 message saying why the callback
	// failed.
	StatusError byte = 0x02
)

// fireHeaderLen is the status byte plus the URL length.
const fireHeaderLen = 5

// dispatcher is the per-module firing state. Its buffers are reused, so a
// firing that writes no more than the largest earlier one does not allocate
// in the SDK.
type dispatcher struct {
	args    Args
	writer  JSONWriter
	result  []byte
	current *Definition // the executor firing now, nil between firings
}

var guest dispatcher

// Fire runs executor number index (its position in registration order) on
// the arguments JSON and returns the result buffer of the plugin ABI:
// StatusSkip, StatusFire with the URL and body, or StatusError with a
// message. Panics in callbacks are recovered and returned as StatusError.
//
// The execvault_fire export calls Fire; tests call it natively to run an
// executor end to end. The returned slice and the Values handed to the
// callbacks alias buffers that the next call reuses. Fire is not safe for
// concurrent use.
func Fire(index int, args []byte) []byte {
	d := &guest
	if index < 0 || index >= len(registry.defs) {
		return d.fail(fmt.Errorf("fire executor %d: %w: this module registers %d executors", index, ErrNoExecutor, len(registry.defs)))
	}
	def := &registry.defs[index]

	d.current = def
	defer func() { d.current = nil }()

	if err := d.args.reset(args); err != nil {
		return d.fail(fmt.Errorf("executor %q: %w", def.Name, err))
	}

	if cond := def.Trigger.Condition; cond != nil {
		ok, err := callCondition(cond, &d.args)
		if err != nil {
			return d.fail(fmt.Errorf("executor %q: condition: %w", def.Name, err))
		}
		if !ok {
			d.result = append(d.result[:0], StatusSkip)
			return d.result
		}
	}

	d.result = append(d.result[:0], StatusFire, 0, 0, 0, 0)
	if urlFunc := def.Operation.URLFunc; urlFunc != nil {
		url, err := callURL(urlFunc, &d.args)
		if err != nil {
			return d.fail(fmt.Errorf("executor %q: url: %w", def.Name, err))
		}
		if err := checkURL(url); err != nil {
			return d.fail(fmt.Errorf("executor %q: url: %w", def.Name, err))
		}
		binary.LittleEndian.PutUint32(d.result[1:fireHeaderLen], uint32(len(url)))
		d.result = append(d.result, url...)
	}

	if body := def.Operation.RequestBody; body != nil {
		d.writer.resetWithPrefix(d.result)
		err := callBody(body, &d.args, &d.writer)
		d.result = d.writer.buf // keep the grown buffer for the next firing
		if err == nil {
			err = d.writer.Err()
		}
		if err != nil {
			return d.fail(fmt.Errorf("executor %q: request body: %w", def.Name, err))
		}
	}
	return d.result
}

// fail returns a StatusError result carrying err's message.
func (d *dispatcher) fail(err error) []byte {
	d.result = append(d.result[:0], StatusError)
	d.result = append(d.result, err.Error()...)
	return d.result
}

func callCondition(fn func(*Args) bool, a *Args) (ok bool, err error) {
	defer recoverCallback(&err)
	return fn(a), nil
}

func callURL(fn func(*Args) (string, error), a *Args) (url string, err error) {
	defer recoverCallback(&err)
	return fn(a)
}

func callBody(fn func(*Args, *JSONWriter) error, a *Args, w *JSONWriter) (err error) {
	defer recoverCallback(&err)
	return fn(a, w)
}

// recoverCallback turns a panic in a callback into an error. It must be
// deferred directly by the function that calls the callback.
func recoverCallback(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %v", ErrCallbackPanic, r)
	}
}

// checkURL rejects a computed URL that is not http or https or that holds
// characters a request line cannot carry. The host applies its own address
// policy when it sends the request.
func checkURL(url string) error {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return fmt.Errorf("%w %q: return an http:// or https:// URL", ErrInvalidURL, url)
	}
	if strings.ContainsAny(url, " \t\r\n\x00") {
		return fmt.Errorf("%w %q: it contains white space or NUL; escape it with net/url", ErrInvalidURL, url)
	}
	return nil
}
