package runtime

import (
	"strings"
	"testing"
)

// TestAuthorize checks the secret access policy on the sync-to-external-crm
// example, whose webhook references api-keys/crm-api-token and
// api-keys/crm-api-key and which declares no secret for its guest code.
func TestAuthorize(t *testing.T) {
	rt := newTestRuntime(t, testConfig(goExamplePlugins(t)))
	const crm = "sync-to-external-crm"
	tests := []struct {
		name    string
		actor   string
		vault   string
		key     string
		wantErr string // "" when allowed
	}{
		{"dispatch of a referenced header secret", "executor:" + crm, "api-keys", "crm-api-token", ""},
		{"dispatch of another secret", "executor:" + crm, "api-keys", "other", `executor "sync-to-external-crm" neither references nor declares secret api-keys/other`},
		{"guest code of an undeclared secret", "guest:" + crm, "api-keys", "crm-api-token", `executor "sync-to-external-crm" does not declare secret api-keys/crm-api-token`},
		{"executor not loaded", "executor:removed", "api-keys", "crm-api-token", `executor "removed" is not loaded; load its plugin again`},
		{"command line", "cli", "api-keys", "other", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := rt.Authorize(tt.actor, tt.vault, tt.key)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Authorize(%s, %s/%s) = %v, want allowed", tt.actor, tt.vault, tt.key, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Authorize(%s, %s/%s) = %v, want an error containing %q", tt.actor, tt.vault, tt.key, err, tt.wantErr)
			}
		})
	}
}
