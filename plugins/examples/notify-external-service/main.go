// Command notify-external-service is an execvault executor plugin: when an
// order record is created, it posts the order's id and total to an external
// API, authenticating with two secrets that the host adds as headers.
//
// Build it as a Wasm reactor module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o notify-external-service.wasm ./plugins/examples/notify-external-service
package main

import "github.com/execvault/execvault/plugins"

func init() {
	// The host rejects the module with the same message if the definition
	// is invalid, so the error needs no handling here.
	_ = plugins.CreateExecutor(plugins.Definition{
		Name:    "notify-external-service",
		Trigger: plugins.RecordCreatedTrigger(plugins.RecordTriggerOptions{Type: "order"}),
		Operation: plugins.Webhook{
			URL: "https://api.example.com/orders",
			Headers: []plugins.Header{
				plugins.PlainHeader("Content-Type", "application/json"),
				plugins.SecretHeader("Authorization", "api-keys", "external-api-token"),
				plugins.SecretHeader("X-API-Key", "api-keys", "api-secret"),
			},
			RequestBody: requestBody,
		},
	})
}

// requestBody writes { orderId: newRecord.id, amount: newRecord.total }.
// A field missing from the record is left out, as JSON.stringify leaves out
// undefined.
func requestBody(a *plugins.Args, w *plugins.JSONWriter) error {
	rec := a.NewRecord()
	w.BeginObject()
	w.Field("orderId", rec.Get("id"))
	w.Field("amount", rec.Get("total"))
	w.EndObject()
	return nil
}

func main() {}
