package runtime

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap one of these where
// a caller may want to tell the cases apart.
var (
	// ErrInvalidPlugin reports a module that cannot be loaded: not Wasm, a
	// missing or mistyped export, or an invalid manifest.
	ErrInvalidPlugin = errors.New("invalid plugin")

	// ErrExecutorNotFound reports an executor name that no loaded plugin
	// declares.
	ErrExecutorNotFound = errors.New("executor not found")

	// ErrLimitExceeded reports a firing stopped by one of its limits.
	ErrLimitExceeded = errors.New("limit exceeded")

	// ErrGuest reports a firing whose callback failed inside the guest:
	// a trap, or an error the guest returned.
	ErrGuest = errors.New("guest error")

	// ErrClosed reports use of a closed runtime.
	ErrClosed = errors.New("runtime closed")

	// errEnqueue marks a firing whose executor ran but whose webhook job
	// the Deliverer did not store.
	errEnqueue = errors.New("enqueue webhook")
)

// PluginError names the plugin file that failed to load and why.
type PluginError struct {
	File string
	Err  error
}

func (e *PluginError) Error() string { return fmt.Sprintf("load plugin %s: %v", e.File, e.Err) }

func (e *PluginError) Unwrap() []error { return []error{ErrInvalidPlugin, e.Err} }

// LimitError reports which limit stopped a firing, or the loading of a
// plugin.
type LimitError struct {
	// Executor names the executor whose callback was stopped. It is empty
	// for a call made while the plugin loads, which runs for no executor.
	Executor string
	// Limit is "timeout", "memory" or "output".
	Limit  string
	Detail string
}

func (e *LimitError) Error() string {
	if e.Executor == "" {
		return fmt.Sprintf("loading the plugin exceeded its %s limit: %s", e.Limit, e.Detail)
	}
	return fmt.Sprintf("executor %q exceeded its %s limit: %s", e.Executor, e.Limit, e.Detail)
}

func (e *LimitError) Unwrap() error { return ErrLimitExceeded }

// GuestError reports a callback that failed inside the guest.
type GuestError struct {
	// Executor names the executor whose callback failed. It is empty for
	// a call made while the plugin loads.
	Executor string
	// Message describes the failure: the host's description of a trap or
	// a malformed result, or the message the guest returned. The Go and
	// TypeScript SDKs start their messages with the executor's name.
	Message string
}

// Error names the executor once: it prefixes Message with the name unless
// Message already starts with it, as an SDK's message does.
func (e *GuestError) Error() string {
	if e.Executor == "" {
		return "loading the plugin: " + e.Message
	}
	name := fmt.Sprintf("executor %q", e.Executor)
	if strings.HasPrefix(e.Message, name) {
		return e.Message
	}
	return name + ": " + e.Message
}

func (e *GuestError) Unwrap() error { return ErrGuest }

// Errors of the deadline-check rewriter. A load that fails with one of
// them is a PluginError, so it also matches ErrInvalidPlugin.
var (
	// errUninstrumentable reports a function body that contains an
	// instruction the rewriter does not decode.
	errUninstrumentable = errors.New("instruction not supported by the deadline-check rewriter: build the plugin for WebAssembly 2.0")

	// errSIMD reports a function body that contains a SIMD instruction,
	// which the rewriter does not decode.
	errSIMD = errors.New("SIMD instructions are not supported by the deadline-check rewriter: build the plugin without SIMD")

	// errReservedImport reports a module that imports the host function
	// the rewriter adds; only the runtime may insert it.
	errReservedImport = errors.New("execvault.deadline_check is inserted by the runtime and may not be imported by a plugin")
)
