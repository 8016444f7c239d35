package plugins

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

const secretCanary = "canary-5ecr3t-value-0xC0FFEE"

// fakeHost records log calls and serves secrets from a map with the ABI's
// return codes.
type fakeHost struct {
	secrets  map[SecretRef]string
	declared map[SecretRef]bool // nil declares everything
	failing  bool
	logs     []fakeLog
	calls    int
	now      int64
}

type fakeLog struct {
	level int32
	msg   string
}

func (h *fakeHost) Log(level int32, msg []byte) {
	h.logs = append(h.logs, fakeLog{level, string(msg)})
}

func (h *fakeHost) SecretGet(vault, key string, out []byte) int32 {
	h.calls++
	ref := SecretRef{Vault: vault, Key: key}
	switch {
	case h.failing:
		return secretFailed
	case h.declared != nil && !h.declared[ref]:
		return secretNotDeclared
	}
	v, ok := h.secrets[ref]
	if !ok {
		return secretNotFound
	}
	if len(v) <= len(out) {
		copy(out, v)
	}
	return int32(len(v))
}

func (h *fakeHost) ClockNow() int64 { return h.now }

func useHost(t *testing.T, h Host) {
	t.Helper()
	prev := SetHost(h)
	t.Cleanup(func() { SetHost(prev) })
}

func TestSecretRedaction(t *testing.T) {
	s := Secret{value: secretCanary}
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, nil))
	logger.Info("read secret", "secret", s)
	jsonOut, err := json.Marshal(map[string]any{"s": s})
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}

	outputs := map[string]string{
		"%v":      fmt.Sprintf("%v", s),
		"%s":      fmt.Sprintf("%s", s),
		"%q":      fmt.Sprintf("%q", s),
		"%x":      fmt.Sprintf("%x", s),
		"%#v":     fmt.Sprintf("%#v", s),
		"%+v":     fmt.Sprintf("%+v", struct{ S Secret }{s}),
		"pointer": fmt.Sprintf("%v", &s),
		"Sprint":  fmt.Sprint(s),
		"Errorf":  fmt.Errorf("wrap: %v", s).Error(),
		"slog":    logBuf.String(),
		"json":    string(jsonOut),
	}
	for name, out := range outputs {
		if strings.Contains(out, secretCanary) {
			t.Errorf("%s output contains the secret value", name)
		}
		if !strings.Contains(out, redacted) {
			t.Errorf("%s output = %q, want the redaction marker", name, out)
		}
	}
	if s.Reveal() != secretCanary {
		t.Errorf("Reveal() does not return the stored value")
	}
}

func TestGetSecret(t *testing.T) {
	long := strings.Repeat("k", 1000) + secretCanary
	host := &fakeHost{secrets: map[SecretRef]string{
		{Vault: "api-keys", Key: "short"}: secretCanary,
		{Vault: "api-keys", Key: "long"}:  long,
	}}
	useHost(t, host)

	var got []string
	registerForTest(t, Definition{
		Name:    "reads-secrets",
		Trigger: RecordCreatedTrigger(RecordTriggerOptions{Type: "t"}),
		Operation: Webhook{
			URL: "https://example.com/",
			RequestBody: func(*Args, *JSONWriter) error {
				for _, key := range []string{"short", "long"} {
					s, err := GetSecret("api-keys", key)
					if err != nil {
						return err
					}
					got = append(got, s.Reveal())
				}
				return nil
			},
		},
		Secrets: []SecretRef{{Vault: "api-keys", Key: "short"}, {Vault: "api-keys", Key: "long"}},
	})

	res := decodeResult(t, Fire(0, []byte(`{}`)))
	if res.status != StatusFire {
		t.Fatalf("status = %#x (message %q), want StatusFire", res.status, redactCanary(res.message))
	}
	if len(got) != 2 || got[0] != secretCanary || got[1] != long {
		t.Errorf("GetSecret returned %d values, matching %v, want 2 matching values", len(got), len(got) == 2 && got[0] == secretCanary && got[1] == long)
	}
	if host.calls != 3 {
		t.Errorf("host calls = %d, want 3 (one retry for the long value)", host.calls)
	}
	if bytes.Contains(secretScratch, []byte(secretCanary)) {
		t.Errorf("scratch buffer still holds the secret value after GetSecret")
	}
}

func TestGetSecretErrors(t *testing.T) {
	declared := SecretRef{Vault: "api-keys", Key: "token"}
	tests := []struct {
		name    string
		host    *fakeHost
		ref     SecretRef
		want    error
		calls   int
		message string
	}{
		{"not declared locally", &fakeHost{}, SecretRef{Vault: "api-keys", Key: "other"}, ErrSecretNotDeclared, 0, `"reads-secret"`},
		{"rejected by host", &fakeHost{declared: map[SecretRef]bool{}}, declared, ErrSecretNotDeclared, 1, "api-keys/token"},
		{"missing", &fakeHost{}, declared, ErrSecretNotFound, 1, "api-keys/token"},
		{"host failure", &fakeHost{failing: true}, declared, ErrSecretUnavailable, 1, "code -3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			useHost(t, tc.host)
			var err error
			registerForTest(t, Definition{
				Name:    "reads-secret",
				Trigger: RecordCreatedTrigger(RecordTriggerOptions{Type: "t"}),
				Operation: Webhook{
					URL: "https://example.com/",
					RequestBody: func(*Args, *JSONWriter) error {
						_, err = GetSecret(tc.ref.Vault, tc.ref.Key)
						return nil
					},
				},
				Secrets: []SecretRef{declared},
			})
			Fire(0, []byte(`{}`))
			if !errors.Is(err, tc.want) {
				t.Errorf("GetSecret error = %v, want %v", err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), tc.message) {
				t.Errorf("GetSecret error = %q, want it to contain %q", err, tc.message)
			}
			if tc.host.calls != tc.calls {
				t.Errorf("host calls = %d, want %d", tc.host.calls, tc.calls)
			}
		})
	}

	t.Run("value above the size limit", func(t *testing.T) {
		ref := SecretRef{Vault: "api-keys", Key: "huge"}
		useHost(t, &fakeHost{secrets: map[SecretRef]string{ref: strings.Repeat("x", maxSecretLen+1)}})
		_, err := GetSecret(ref.Vault, ref.Key)
		if !errors.Is(err, ErrSecretUnavailable) || !strings.Contains(err.Error(), "limit") {
			t.Errorf("GetSecret of %d bytes = %v, want ErrSecretUnavailable naming the limit", maxSecretLen+1, err)
		}
	})

	t.Run("native default", func(t *testing.T) {
		useHost(t, nil)
		if _, err := GetSecret("api-keys", "token"); !errors.Is(err, ErrSecretUnavailable) {
			t.Errorf("GetSecret without a host = %v, want ErrSecretUnavailable", err)
		}
	})
}

func TestLoggerSendsToHost(t *testing.T) {
	host := &fakeHost{}
	useHost(t, host)

	log := Logger().With("component", "crm")
	log.Debug("checking order", "order_id", "so-1")
	log.Info("order synced")
	log.Warn("slow answer", "elapsed_ms", 900)
	log.Error("rejected", "token", Secret{value: secretCanary})

	want := []fakeLog{
		{0, `msg="checking order" component=crm order_id=so-1`},
		{1, `msg="order synced" component=crm`},
		{2, `msg="slow answer" component=crm elapsed_ms=900`},
		{3, `msg=rejected component=crm token=[REDACTED]`},
	}
	if len(host.logs) != len(want) {
		t.Fatalf("host received %d log messages, want %d: %q", len(host.logs), len(want), host.logs)
	}
	for i := range want {
		if host.logs[i] != want[i] {
			t.Errorf("log %d = %+v, want %+v", i, host.logs[i], want[i])
		}
	}
}

func TestLoggerConcurrentUse(t *testing.T) {
	host := &fakeHost{}
	useHost(t, host)
	log := Logger()

	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			child := log.With("worker", g)
			for i := range 50 {
				child.Info("tick", "n", i)
			}
		})
	}
	wg.Wait()

	if got := len(host.logs); got != 200 {
		t.Fatalf("host received %d messages, want 200", got)
	}
	for _, l := range host.logs {
		if !strings.HasPrefix(l.msg, "msg=tick worker=") {
			t.Errorf("message %q is interleaved or malformed, want msg=tick worker=...", l.msg)
		}
	}
}

func TestNowUsesHostClock(t *testing.T) {
	useHost(t, &fakeHost{now: 1_700_000_000_123_456_789})
	if got := Now().UnixNano(); got != 1_700_000_000_123_456_789 {
		t.Errorf("Now() = %d ns, want 1700000000123456789", got)
	}
}

// redactCanary keeps the canary out of failure messages.
func redactCanary(s string) string { return strings.ReplaceAll(s, secretCanary, redacted) }
