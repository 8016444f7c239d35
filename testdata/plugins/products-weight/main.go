// Command products-weight is a test executor for Debezium replays: it posts
// a product whenever an update changes its weight. Updates without a
// before-image (REPLICA IDENTITY DEFAULT) carry no old weight, so they do
// not fire.
package main

import "github.com/execvault/execvault/plugins"

func init() {
	_ = plugins.CreateExecutor(plugins.Definition{
		Name:        "products-weight",
		Description: "Report product weight changes",
		Trigger: plugins.RecordUpdatedTrigger(plugins.RecordTriggerOptions{
			Type:      "products",
			Condition: weightChanged,
		}),
		Operation: plugins.Webhook{
			URL:         "https://inventory.example.com/weights",
			Headers:     []plugins.Header{plugins.PlainHeader("Content-Type", "application/json")},
			RequestBody: body,
		},
	})
}

func weightChanged(a *plugins.Args) bool {
	before, after := a.OldRecord(), a.NewRecord()
	if !before.Has("weight") || !after.Has("weight") {
		return false
	}
	oldWeight, ok1 := before.Float("weight")
	newWeight, ok2 := after.Float("weight")
	return ok1 && ok2 && oldWeight != newWeight
}

func body(a *plugins.Args, w *plugins.JSONWriter) error {
	w.BeginObject()
	w.Field("id", a.NewRecord().Get("id"))
	w.Field("oldWeight", a.OldRecord().Get("weight"))
	w.Field("newWeight", a.NewRecord().Get("weight"))
	w.EndObject()
	return nil
}

func main() {}
