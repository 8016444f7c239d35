package webhook

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/execvault/execvault/plugins"
)

// TestRequestHeadersMatchSentRequest checks that RequestHeaders lists the
// headers a receiver gets, and none of their secret values.
func TestRequestHeadersMatchSentRequest(t *testing.T) {
	const token = "Bearer canary-preview-token-3b9d"
	tokenRef := plugins.SecretRef{Vault: "api-keys", Key: "crm-token"}
	signingRef := plugins.SecretRef{Vault: "api-keys", Key: "signing"}

	tests := []struct {
		name    string
		headers []plugins.Header
		signing *plugins.Signing
		want    []string
	}{
		{
			name: "defaults only",
			want: []string{"Content-Type: application/json", "User-Agent: execvault-webhook/1", "webhook-id: msg_preview"},
		},
		{
			name: "secret header and signature",
			headers: []plugins.Header{
				{Name: "Authorization", Secret: &tokenRef},
				{Name: "X-Tenant", Value: "acme"},
			},
			signing: &plugins.Signing{Secret: signingRef},
			want: []string{
				"Content-Type: application/json",
				"User-Agent: execvault-webhook/1",
				"webhook-id: msg_preview",
				"Authorization: [secret api-keys/crm-token]",
				"X-Tenant: acme",
				"webhook-timestamp: [time of the attempt]",
				"webhook-signature: [signed with secret api-keys/signing]",
			},
		},
		{
			name:    "job replaces a default",
			headers: []plugins.Header{{Name: "content-type", Value: "text/plain"}},
			want:    []string{"User-Agent: execvault-webhook/1", "webhook-id: msg_preview", "content-type: text/plain"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var got http.Header
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
				mu.Lock()
				got = r.Header.Clone()
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent)
			})
			secrets := newFakeSecrets(map[plugins.SecretRef]string{tokenRef: token, signingRef: vectorSecret})
			h := startDispatcher(t, nil, testConfig(), secrets)
			job := Job{ID: "msg_preview", Executor: "crm-sync", URL: rc.URL, Headers: tt.headers, Signing: tt.signing}

			lines := h.d.RequestHeaders(job)
			if !slices.Equal(lines, tt.want) {
				t.Errorf("RequestHeaders =\n%q\nwant\n%q", lines, tt.want)
			}
			for _, line := range lines {
				if strings.Contains(line, "canary") || strings.Contains(line, vectorSecret) {
					t.Errorf("RequestHeaders line %q shows a secret value", line)
				}
			}

			if done := h.deliver(t, job); done.Status != StatusSuccess {
				t.Fatalf("delivery status = %s, want SUCCESS: %s", done.Status, done.LastError)
			}
			mu.Lock()
			defer mu.Unlock()
			var sent []string
			for name := range got {
				switch name {
				case "Accept-Encoding", "Content-Length":
					// Added by the HTTP transport.
				default:
					sent = append(sent, name)
				}
			}
			var listed []string
			for _, line := range lines {
				name, _, _ := strings.Cut(line, ":")
				listed = append(listed, http.CanonicalHeaderKey(name))
			}
			slices.Sort(sent)
			slices.Sort(listed)
			if !slices.Equal(sent, listed) {
				t.Errorf("headers sent = %q, RequestHeaders names = %q", sent, listed)
			}
		})
	}
}
