package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/dgraph-io/badger/v4"

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

// resolverFunc adapts a function to webhook.SecretResolver.
type resolverFunc func(ctx context.Context, ref plugins.SecretRef, actor string) ([]byte, error)

func (f resolverFunc) Resolve(ctx context.Context, ref plugins.SecretRef, actor string) ([]byte, error) {
	return f(ctx, ref, actor)
}

func ExampleDispatcher() {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	secrets := resolverFunc(func(_ context.Context, ref plugins.SecretRef, _ string) ([]byte, error) {
		return []byte("Bearer example-token"), nil
	})
	d, err := webhook.NewDispatcher(db, webhook.DefaultConfig(), secrets, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := d.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()

	job, err := d.Enqueue(ctx, webhook.Job{
		ID:       "msg_example",
		Executor: "crm-sync",
		URL:      receiver.URL,
		Headers:  []plugins.Header{{Name: "Authorization", Secret: &plugins.SecretRef{Vault: "api-keys", Key: "crm-api-token"}}},
		Body:     []byte(`{"id":"c-1"}`),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	done, err := d.Wait(ctx, job.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	last, _ := done.LastAttempt()
	fmt.Println(done.ID, done.Status, last.StatusCode)
	fmt.Println(last.Headers[1])
	// Output:
	// msg_example SUCCESS 204
	// Authorization: [secret api-keys/crm-api-token]
}
