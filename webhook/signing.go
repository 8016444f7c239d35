package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks header names. The dispatcher sets webhook-id on every
// attempt and the other two when the job is signed.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// signingSecretPrefix starts a Standard Webhooks secret; the base64 key
// follows it.
const signingSecretPrefix = "whsec_"

// redacted is the marker that a secret value prints as.
const redacted = "[REDACTED]"

// secretBytes is a resolved secret value. It prints as a redaction marker
// through fmt, slog and encoding/json, so that a stray log argument cannot
// leak it.
type secretBytes []byte

func (secretBytes) String() string   { return redacted }
func (secretBytes) GoString() string { return redacted }

// Format prints the redaction marker for every verb, %x and %q included.
func (secretBytes) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue makes slog print the redaction marker.
func (secretBytes) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON encodes the redaction marker.
func (secretBytes) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// signingKey decodes a Standard Webhooks secret: an optional "whsec_"
// prefix followed by the base64 (standard alphabet, padded) key. The error
// never contains the secret.
func signingKey(secret secretBytes) (secretBytes, error) {
	text := strings.TrimPrefix(strings.TrimSpace(string(secret)), signingSecretPrefix)
	key, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, errors.New("signing secret is not whsec_ followed by standard base64")
	}
	if len(key) == 0 {
		return nil, errors.New("signing secret is empty")
	}
	return key, nil
}

// sign returns the webhook-signature value for id, timestamp and body: "v1,"
// and the base64 HMAC-SHA256 of "id.timestamp.body" under key.
func sign(key secretBytes, id string, timestamp time.Time, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(timestamp.Unix(), 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
