// Package plugins is the Go SDK for execvault executor plugins and the
// definition of the manifest that every plugin, in any language, declares.
//
// # Manifest
//
// Manifest, Executor and their parts describe a module's executors in the
// form the host reads. ParseManifest decodes and validates one. These types build
// on every platform, so the host uses them too.
//
// # Writing an executor in Go
//
// An executor's main package registers a Definition from init and has an
// empty main. The definition reads like the platform's createExecutor:
//
//	func init() {
//		_ = plugins.CreateExecutor(plugins.Definition{
//			Name: "sync-to-external-crm",
//			Trigger: plugins.RecordCreatedTrigger(plugins.RecordTriggerOptions{
//				Type: "salesOrder",
//				Condition: func(a *plugins.Args) bool {
//					return a.NewRecord().NumberOr("totalPrice", 0) > 100000
//				},
//			}),
//			Operation: plugins.Webhook{
//				URL: "https://crm.example.com/api/v1/orders",
//				Headers: []plugins.Header{
//					plugins.SecretHeader("Authorization", "api-keys", "crm-api-token"),
//				},
//				RequestBody: func(a *plugins.Args, w *plugins.JSONWriter) error {
//					w.BeginObject()
//					w.Field("orderId", a.NewRecord().Get("id"))
//					w.EndObject()
//					return nil
//				},
//			},
//		})
//	}
//
//	func main() {}
//
// Build it with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
//
// # Arguments and bodies
//
// Callbacks receive *Args, a lazy view of the arguments JSON: fields are
// located on first use and returned as Value (raw JSON bytes) or Object (an
// indexed JSON object), never decoded through reflection. JSONWriter builds
// the body the way JSON.stringify would: values are copied byte for byte, an
// undefined field is left out and strings are escaped as JavaScript does.
// Value.Number and Object.NumberOr follow JavaScript's conversions, so
// (newRecord.totalPrice ?? 0) > 100000 has the same result in Go.
//
// # Firing
//
// Fire runs one executor and encodes the result buffer of the plugin ABI:
// skip, fire with URL and body, or error. A panic in a callback is recovered
// and returned as an error result, not a trap. The firing path reuses its
// buffers and does not allocate in steady state. Fire also runs natively, so
// executors can be tested with go test.
//
// # Guest glue
//
// The Wasm exports (execvault_alloc, execvault_manifest, execvault_fire)
// and the host imports (log, secret_get, clock_now) live in files built only
// for GOOS=wasip1; docs/plugin-abi.md defines them. Everything else is
// portable. GetSecret, Logger and Now reach the host through the Host
// interface, which SetHost replaces in native tests.
package plugins
