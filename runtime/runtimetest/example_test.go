package runtimetest_test

import (
	"context"
	"fmt"

	"github.com/execvault/execvault/runtime/runtimetest"
	"github.com/execvault/execvault/triggers"
)

// The echo test plugin fires on records of type "order" and sends its
// arguments to the URL given in env.url.
func Example() {
	h, err := runtimetest.NewHarness(runtimetest.Options{
		PluginDir: "../../testdata/plugins/echo-only",
		Env:       map[string]string{"url": "https://hooks.example.com/orders"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close()

	firings := h.Fire(context.Background(), triggers.RecordEvent{
		ID: "evt-1", EventType: triggers.EventTypeCreated, WorkspaceID: "ws", NamespaceName: "shop",
		TypeName: "order", NewRecord: []byte(`{"id":"o-1","total":12}`),
	})
	for _, f := range firings {
		fmt.Println(f.Executor, f.State)
	}
	for _, r := range h.Requests() {
		var args struct {
			TypeName  string
			NewRecord struct{ ID string }
		}
		_ = r.JSON(&args)
		fmt.Println(r.Method, r.URL, args.TypeName, args.NewRecord.ID)
	}
	// Output:
	// test-echo queued
	// test-echo-skip skipped
	// POST https://hooks.example.com/orders order o-1
}
