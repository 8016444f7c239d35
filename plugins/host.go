package plugins

import "time"

// Host is the set of host functions a guest calls, with the signatures and
// return codes of the execvault import module. Inside a Wasm guest the SDK
// uses the real imports. Natively it uses a host that drops log messages,
// reads no secrets and returns the local clock. Tests of an executor can
// install their own with SetHost.
type Host interface {
	// Log writes msg at level 0 (debug), 1 (info), 2 (warn) or 3 (error).
	Log(level int32, msg []byte)

	// SecretGet copies the value of the secret key in vault into out and
	// returns its length. A length above len(out) means nothing was
	// written and the caller must retry with a larger buffer. It returns
	// -1 when the executor did not declare the pair, -2 when the secret
	// does not exist and -3 on any other failure.
	SecretGet(vault, key string, out []byte) int32

	// ClockNow returns wall-clock time in nanoseconds since the Unix epoch.
	ClockNow() int64
}

// Return codes of Host.SecretGet.
const (
	secretNotDeclared = -1
	secretNotFound    = -2
	secretFailed      = -3
)

// currentHost is replaced by the Wasm imports in a wasip1 build.
var currentHost Host = nativeHost{}

// SetHost replaces the host functions and returns the previous ones. It is
// meant for native tests of executors; a Wasm guest has no reason to call
// it. A nil h restores the native default. It is not safe for concurrent
// use with firings.
func SetHost(h Host) Host {
	prev := currentHost
	if h == nil {
		h = nativeHost{}
	}
	currentHost = h
	return prev
}

// nativeHost is the default Host outside Wasm.
type nativeHost struct{}

func (nativeHost) Log(int32, []byte) {}

func (nativeHost) SecretGet(string, string, []byte) int32 { return secretFailed }

func (nativeHost) ClockNow() int64 { return time.Now().UnixNano() }

// Now returns the host's wall-clock time. Inside a guest it comes from the
// clock_now import, which the host may fix for reproducible tests.
func Now() time.Time { return time.Unix(0, currentHost.ClockNow()) }
