package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/execvault/execvault/plugins"
)

func TestSecretValueNeverLeaks(t *testing.T) {
	const canary = "canary-Zq81xW"
	apiKey := plugins.SecretRef{Vault: "api-keys", Key: "crm-api-token"}
	broken := plugins.SecretRef{Vault: "api-keys", Key: "broken-token"}
	signing := plugins.SecretRef{Vault: "signing", Key: "crm-webhook"}
	secrets := newFakeSecrets(map[plugins.SecretRef]string{
		apiKey:  canary,
		broken:  canary + "\r\nX-Evil: 1",
		signing: vectorSecret,
	})

	var mu sync.Mutex
	var received []string
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		mu.Lock()
		received = append(received, r.Header.Get("Authorization"))
		mu.Unlock()
		if n%2 == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h := startDispatcher(t, nil, testConfig(), secrets)

	good := h.deliver(t, Job{
		URL:     rc.URL,
		Headers: []plugins.Header{{Name: "Authorization", Secret: &apiKey}, {Name: "X-Plain", Value: "visible"}},
		Signing: &plugins.Signing{Secret: signing},
	})
	bad := h.deliver(t, Job{URL: rc.URL, Headers: []plugins.Header{{Name: "Authorization", Secret: &broken}}})

	// The receiver must have seen the value, or the checks below prove
	// nothing.
	mu.Lock()
	if len(received) == 0 || received[0] != canary {
		t.Fatalf("receiver got Authorization %q, want the secret value", received)
	}
	mu.Unlock()
	if good.Status != StatusSuccess || bad.Status != StatusFailed {
		t.Fatalf("statuses = %s, %s, want SUCCESS, FAILED", good.Status, bad.Status)
	}

	wantMasked := "Authorization: [secret api-keys/crm-api-token]"
	if hs := good.Attempts[0].Headers; !strings.Contains(strings.Join(hs, "\n"), wantMasked) || !strings.Contains(strings.Join(hs, "\n"), "X-Plain: visible") {
		t.Errorf("attempt headers = %q, want %q and the plain header", hs, wantMasked)
	}

	places := map[string]string{"logs": h.logs.String(), "last error": bad.LastError}
	for _, j := range []Job{good, bad} {
		data, err := json.Marshal(j)
		if err != nil {
			t.Fatalf("marshal job: %v", err)
		}
		places["job JSON "+j.ID] = string(data)
	}
	var stored bytes.Buffer
	err := h.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			stored.Write(it.Item().Key())
			if err := it.Item().Value(func(v []byte) error { stored.Write(v); return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read database: %v", err)
	}
	places["database"] = stored.String()
	if !strings.Contains(places["logs"], "api-keys/crm-api-token") {
		t.Errorf("debug logs lack the masked header, so the check below proves nothing")
	}

	for where, text := range places {
		if strings.Contains(text, canary) {
			t.Errorf("%s contains the secret value", where)
		}
	}
	for _, want := range []string{"api-keys/broken-token", `header "Authorization"`} {
		if !strings.Contains(bad.LastError, want) {
			t.Errorf("last error = %q, want it to contain %q", bad.LastError, want)
		}
	}
}
