package plugins

import "errors"

// Sentinel errors of the SDK. Functions wrap them with the operation and the
// value at fault, so test for them with errors.Is.
var (
	// ErrInvalidJSON marks text that is not valid JSON: the callback
	// arguments, or a value passed to ParseValue or JSONWriter.RawJSON.
	ErrInvalidJSON = errors.New("invalid JSON")

	// ErrInvalidBody marks a request body that a callback built wrongly
	// with JSONWriter, such as a value without a key inside an object.
	ErrInvalidBody = errors.New("invalid request body")

	// ErrInvalidURL marks a URL returned by a Webhook.URLFunc that is not
	// an http or https URL.
	ErrInvalidURL = errors.New("invalid webhook URL")

	// ErrArgumentsOutsideBuffer marks an execvault_fire call whose
	// arguments do not lie inside the buffer execvault_alloc returned.
	ErrArgumentsOutsideBuffer = errors.New("arguments outside the allocated buffer")

	// ErrNoExecutor marks a firing for an executor index that the module
	// did not register.
	ErrNoExecutor = errors.New("no such executor")

	// ErrCallbackPanic marks a callback that panicked. The SDK recovers
	// the panic and reports it as a failed firing.
	ErrCallbackPanic = errors.New("callback panicked")

	// ErrSecretNotDeclared marks a GetSecret call for a vault and key that
	// the firing executor does not list in Definition.Secrets.
	ErrSecretNotDeclared = errors.New("secret not declared")

	// ErrSecretNotFound marks a declared secret that does not exist in the
	// host's secret store.
	ErrSecretNotFound = errors.New("secret not found")

	// ErrSecretUnavailable marks a secret the host failed to read for any
	// other reason, including a guest running without a host.
	ErrSecretUnavailable = errors.New("secret unavailable")
)
