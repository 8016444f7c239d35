// Command extism-peer is the sync-to-external-crm executor packaged as an
// Extism plugin, for benchmarks that compare execvault's runtime with the
// Extism Go SDK on the same guest work.
//
// The condition and the body are the ones of
// plugins/examples/sync-to-external-crm, run by the same execvault SDK
// code (plugins.Fire), so the two runtimes differ only in how the
// arguments reach the guest and the result leaves it. The export "fire"
// reads its input through the Extism PDK and sets the execvault result
// buffer (status byte, URL length, URL, body) as the Extism output.
//
// Build it as a Wasm reactor module from this directory:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o extism-peer.wasm .
//
// The execvault SDK imports the host functions of the execvault module
// (log, secret_get, clock_now), so the Extism host must provide them.
package main

import (
	"github.com/execvault/execvault/plugins"
	"github.com/extism/go-pdk"
)

func init() {
	_ = plugins.CreateExecutor(plugins.Definition{
		Name:        "sync-to-external-crm",
		Description: "Sync sales orders to external CRM system",
		Trigger: plugins.RecordCreatedTrigger(plugins.RecordTriggerOptions{
			Type:      "salesOrder",
			Condition: condition,
		}),
		Operation: plugins.Webhook{
			URL: "https://crm.example.com/api/v1/orders",
			Headers: []plugins.Header{
				plugins.PlainHeader("Content-Type", "application/json"),
				plugins.SecretHeader("Authorization", "api-keys", "crm-api-token"),
				plugins.SecretHeader("X-API-Key", "api-keys", "crm-api-key"),
			},
			RequestBody: requestBody,
		},
	})
}

func condition(a *plugins.Args) bool {
	return a.NewRecord().NumberOr("totalPrice", 0) > 100000
}

func requestBody(a *plugins.Args, w *plugins.JSONWriter) error {
	rec := a.NewRecord()
	w.BeginObject()
	w.Field("orderId", rec.Get("id"))
	w.Field("customerId", rec.Get("customerID"))
	w.Field("totalPrice", rec.Get("totalPrice"))
	w.Field("status", rec.Get("status"))
	w.Field("createdAt", rec.Get("createdAt"))
	w.EndObject()
	return nil
}

// fire runs the executor on the Extism input and returns 0; a failing
// callback is reported in the result's status byte, as in execvault.
//
//go:wasmexport fire
func fire() int32 {
	pdk.Output(plugins.Fire(0, pdk.Input()))
	return 0
}

func main() {}
