package plugins

import (
	"fmt"
	"log/slog"
)

// redacted is the marker that every formatting of a Secret prints.
const redacted = "[REDACTED]"

// Secret is a secret value read with GetSecret. Every way of printing it,
// through fmt verbs, log/slog or encoding/json, prints [REDACTED]; only
// Reveal returns the value. The zero Secret is empty.
type Secret struct {
	value string
}

// Reveal returns the secret value. Pass it straight to where it is needed
// and never into a log message, an error or a request body that is logged.
func (s Secret) Reveal() string { return s.value }

// String returns the redaction marker.
func (s Secret) String() string { return redacted }

// GoString returns the redaction marker, for %#v.
func (s Secret) GoString() string { return redacted }

// Format prints the redaction marker for every verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue returns the redaction marker for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON returns the redaction marker as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns the redaction marker.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// secretScratch is the reused buffer for SecretGet. It is cleared after
// every read so that no value lingers in it.
var secretScratch = make([]byte, 256)

// maxSecretLen bounds the buffer GetSecret grows for one value.
const maxSecretLen = 1 << 20

// GetSecret reads the secret key in vault, which the executor that is
// firing must list in Definition.Secrets; the platform's getSecret. Called
// outside a firing, for example from init, it leaves the check to the host.
//
// It returns an error wrapping ErrSecretNotDeclared when the pair is not
// declared, ErrSecretNotFound when the secret does not exist, and
// ErrSecretUnavailable when the host cannot read it, including natively
// without SetHost. Errors name the vault and key, never the value.
func GetSecret(vault, key string) (Secret, error) {
	ref := SecretRef{Vault: vault, Key: key}
	if def := guest.current; def != nil && !declares(def.Secrets, ref) {
		return Secret{}, fmt.Errorf("get secret %s: %w by executor %q: add it to the definition's Secrets", ref, ErrSecretNotDeclared, def.Name)
	}

	buf := secretScratch
	for range 2 {
		n := currentHost.SecretGet(vault, key, buf)
		switch {
		case n == secretNotDeclared:
			return Secret{}, fmt.Errorf("get secret %s: %w: the host rejected it; declare it in the executor's Secrets", ref, ErrSecretNotDeclared)
		case n == secretNotFound:
			return Secret{}, fmt.Errorf("get secret %s: %w: create it with 'execvault secret create'", ref, ErrSecretNotFound)
		case n < 0:
			return Secret{}, fmt.Errorf("get secret %s: %w: the host returned code %d", ref, ErrSecretUnavailable, n)
		case int(n) <= len(buf):
			s := Secret{value: string(buf[:n])}
			clear(buf[:n])
			return s, nil
		case n > maxSecretLen:
			return Secret{}, fmt.Errorf("get secret %s: %w: its %d bytes exceed the %d-byte limit", ref, ErrSecretUnavailable, n, maxSecretLen)
		default:
			buf = make([]byte, n)
		}
	}
	return Secret{}, fmt.Errorf("get secret %s: %w: its length changed between two reads", ref, ErrSecretUnavailable)
}

func declares(refs []SecretRef, ref SecretRef) bool {
	for _, r := range refs {
		if r == ref {
			return true
		}
	}
	return false
}
