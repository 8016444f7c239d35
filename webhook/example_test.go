package webhook_test

import (
	"fmt"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/webhook"
)

func ExampleMaskHeaders() {
	headers := []plugins.Header{
		{Name: "Authorization", Secret: &plugins.SecretRef{Vault: "api-keys", Key: "crm-api-token"}},
		{Name: "X-Tenant", Value: "acme"},
	}
	for _, line := range webhook.MaskHeaders(headers) {
		fmt.Println(line)
	}
	// Output:
	// Authorization: [secret api-keys/crm-api-token]
	// X-Tenant: acme
}
