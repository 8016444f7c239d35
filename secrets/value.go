package secrets

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// Redacted is the marker a Value or MasterKey prints in place of its contents.
const Redacted = "[REDACTED]"

// Value is a secret value. It is immutable and safe to share between
// goroutines. fmt (every verb), log/slog, encoding/json and encoding.TextMarshaler
// all print Redacted. Only Reveal and Bytes return the contents.
// The zero Value is empty.
type Value struct {
	s string
}

// NewValue returns a Value holding a copy of b.
func NewValue(b []byte) Value { return Value{s: string(b)} }

// NewValueString returns a Value holding s.
func NewValueString(s string) Value { return Value{s: s} }

// Reveal returns the secret contents. Call it only where the value leaves
// the process on purpose, such as an outgoing request header.
func (v Value) Reveal() string { return v.s }

// Bytes returns a copy of the secret contents.
func (v Value) Bytes() []byte { return []byte(v.s) }

// Len returns the length of the value in bytes. The length is not secret.
func (v Value) Len() int { return len(v.s) }

// IsZero reports whether the value is empty.
func (v Value) IsZero() bool { return v.s == "" }

// Equal reports whether two values hold the same bytes, in time that
// depends only on their lengths.
func (v Value) Equal(o Value) bool {
	return subtle.ConstantTimeCompare([]byte(v.s), []byte(o.s)) == 1
}

// String returns Redacted.
func (v Value) String() string { return Redacted }

// GoString returns Redacted, for %#v.
func (v Value) GoString() string { return Redacted }

// Format prints Redacted for every verb, quoted for %q.
func (v Value) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", Redacted)
		return
	}
	_, _ = f.Write([]byte(Redacted))
}

// LogValue returns Redacted for log/slog.
func (v Value) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON returns Redacted as a JSON string. Values cross the admin
// API in an explicit field, never through this method.
func (v Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText returns Redacted.
func (v Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
