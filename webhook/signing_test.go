package webhook

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/execvault/execvault/plugins"
)

// The Standard Webhooks specification's published test vector.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesSpecificationVector(t *testing.T) {
	key, err := signingKey(secretBytes(vectorSecret))
	if err != nil {
		t.Fatalf("signing key: %v", err)
	}
	got := sign(key, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if got != vectorSignature {
		t.Errorf("signature = %q, want %q", got, vectorSignature)
	}
}

func TestSigningKeyForms(t *testing.T) {
	tests := []struct {
		name    string
		secret  string
		wantErr bool
	}{
		{"with prefix", vectorSecret, false},
		{"without prefix", strings.TrimPrefix(vectorSecret, "whsec_"), false},
		{"surrounding newline", vectorSecret + "\n", false},
		{"not base64", "whsec_not base64!", true},
		{"empty after prefix", "whsec_", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := signingKey(secretBytes(tt.secret))
			if (err != nil) != tt.wantErr {
				t.Fatalf("signingKey error = %v, want error %v", err, tt.wantErr)
			}
			if key := strings.TrimPrefix(tt.secret, "whsec_"); err != nil && key != "" && strings.Contains(err.Error(), key) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

// signedRequest is what a receiver got from a signed delivery.
type signedRequest struct {
	header http.Header
	body   []byte
}

func newSignedReceiver(t *testing.T) (*receiver, func() []signedRequest) {
	t.Helper()
	var mu sync.Mutex
	var got []signedRequest
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		mu.Lock()
		got = append(got, signedRequest{header: r.Header.Clone(), body: body})
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	return rc, func() []signedRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]signedRequest(nil), got...)
	}
}

func TestSignedDeliveryReproducesVector(t *testing.T) {
	rc, requests := newSignedReceiver(t)
	ref := plugins.SecretRef{Vault: "signing", Key: "crm-webhook"}
	secrets := newFakeSecrets(map[plugins.SecretRef]string{ref: vectorSecret})
	cfg := testConfig()
	cfg.Clock = newFakeClock(time.Unix(vectorTimestamp, 0))
	h := startDispatcher(t, nil, cfg, secrets)

	done := h.deliver(t, Job{ID: vectorID, URL: rc.URL, Body: []byte(vectorBody), Signing: &plugins.Signing{Secret: ref}})

	if done.Status != StatusSuccess {
		t.Fatalf("status = %s, want %s", done.Status, StatusSuccess)
	}
	reqs := requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	checks := []struct{ name, got, want string }{
		{HeaderID, reqs[0].header.Get(HeaderID), vectorID},
		{HeaderTimestamp, reqs[0].header.Get(HeaderTimestamp), fmt.Sprint(vectorTimestamp)},
		{HeaderSignature, reqs[0].header.Get(HeaderSignature), vectorSignature},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("header %s = %q, want %q", c.name, c.got, c.want)
		}
	}
	wh, err := standardwebhooks.NewWebhook(vectorSecret)
	if err != nil {
		t.Fatalf("standard webhooks verifier: %v", err)
	}
	if err := wh.VerifyIgnoringTimestamp(reqs[0].body, reqs[0].header); err != nil {
		t.Errorf("reference library rejects the delivery: %v", err)
	}
}

func TestSignedDeliveryVerifiesWithLibrary(t *testing.T) {
	bodies := []string{"", "{}", `{"amount": 123456789012345678901234567890}`}
	for _, body := range bodies {
		t.Run(fmt.Sprintf("%q", body), func(t *testing.T) {
			rc, requests := newSignedReceiver(t)
			ref := plugins.SecretRef{Vault: "signing", Key: "crm-webhook"}
			secrets := newFakeSecrets(map[plugins.SecretRef]string{ref: vectorSecret})
			h := startDispatcher(t, nil, testConfig(), secrets)

			done := h.deliver(t, Job{URL: rc.URL, Body: []byte(body), Signing: &plugins.Signing{Secret: ref}})

			if done.Status != StatusSuccess {
				t.Fatalf("status = %s, want %s", done.Status, StatusSuccess)
			}
			reqs := requests()
			if len(reqs) != 1 {
				t.Fatalf("receiver got %d requests, want 1", len(reqs))
			}
			if string(reqs[0].body) != body {
				t.Errorf("body = %q, want %q", reqs[0].body, body)
			}
			wh, err := standardwebhooks.NewWebhook(vectorSecret)
			if err != nil {
				t.Fatalf("standard webhooks verifier: %v", err)
			}
			// Verify also checks that the timestamp is within five minutes of now.
			if err := wh.Verify(reqs[0].body, reqs[0].header); err != nil {
				t.Errorf("reference library rejects the delivery: %v", err)
			}
			tampered := append([]byte(nil), reqs[0].body...)
			tampered = append(tampered, ' ')
			if err := wh.Verify(tampered, reqs[0].header); err == nil {
				t.Errorf("reference library accepts a changed body, want rejection")
			}
		})
	}
}

func TestSecretBytesRedacted(t *testing.T) {
	const canary = "canary-7Hq2"
	s := secretBytes(canary)
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("resolved", "value", s)
	jsonForm, err := json.Marshal(struct{ V secretBytes }{s})
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	forms := map[string]string{
		"%v":     fmt.Sprintf("%v", s),
		"%+v":    fmt.Sprintf("%+v", s),
		"%#v":    fmt.Sprintf("%#v", s),
		"%s":     fmt.Sprintf("%s", s),
		"%q":     fmt.Sprintf("%q", s),
		"%x":     fmt.Sprintf("%x", s),
		"%X":     fmt.Sprintf("%X", s),
		"%d":     fmt.Sprintf("%d", s),
		"Sprint": fmt.Sprint(s),
		"slog":   logs.String(),
		"json":   string(jsonForm),
	}
	hexCanary := fmt.Sprintf("%x", canary)
	for name, out := range forms {
		if strings.Contains(out, canary) || strings.Contains(strings.ToLower(out), hexCanary) || !strings.Contains(out, redacted) {
			t.Errorf("%s form = %q, want the redaction marker and no secret", name, out)
		}
	}
}

func FuzzSigningKey(f *testing.F) {
	for _, seed := range []string{vectorSecret, "whsec_", "", "whsec_@@@", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_YQ=="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, secret string) {
		key, err := signingKey(secretBytes(secret))
		if err != nil {
			if key != nil {
				t.Errorf("signingKey returned a key with error %v", err)
			}
			if len(secret) >= 8 && strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains the secret", err)
			}
			return
		}
		if len(key) == 0 {
			t.Errorf("signingKey accepted %q with an empty key", secret)
		}
		if got := sign(key, "msg_1", time.Unix(1, 0), nil); !strings.HasPrefix(got, "v1,") {
			t.Errorf("signature %q lacks the v1 prefix", got)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	key, err := signingKey(secretBytes(vectorSecret))
	if err != nil {
		b.Fatalf("signing key: %v", err)
	}
	body := []byte(strings.Repeat(`{"field":"value"},`, 64))
	ts := time.Unix(vectorTimestamp, 0)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		sign(key, vectorID, ts, body)
	}
}
