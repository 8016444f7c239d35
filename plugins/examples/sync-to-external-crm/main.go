// Command sync-to-external-crm is an execvault executor plugin: when a sales
// order above 100000 is created, it posts the order to an external CRM,
// authenticating with two secrets that the host adds as headers.
//
// Build it as a Wasm reactor module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o sync-to-external-crm.wasm ./plugins/examples/sync-to-external-crm
package main

import "github.com/execvault/execvault/plugins"

func init() {
	// The host rejects the module with the same message if the definition
	// is invalid, so the error needs no handling here.
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

// condition is (newRecord.totalPrice ?? 0) > 100000: a missing or null
// total counts as 0, and a string total is converted as JavaScript would.
func condition(a *plugins.Args) bool {
	return a.NewRecord().NumberOr("totalPrice", 0) > 100000
}

// requestBody copies five record fields under the CRM's names. A field
// missing from the record is left out, as JSON.stringify leaves out
// undefined, while a null field is sent as null.
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

func main() {}
