package plugins_test

import (
	"fmt"

	"github.com/execvault/execvault/plugins"
)

func ExampleFire() {
	_ = plugins.CreateExecutor(plugins.Definition{
		Name: "example-large-orders",
		Trigger: plugins.RecordCreatedTrigger(plugins.RecordTriggerOptions{
			Type: "salesOrder",
			Condition: func(a *plugins.Args) bool {
				return a.NewRecord().NumberOr("totalPrice", 0) > 100000
			},
		}),
		Operation: plugins.Webhook{
			URL: "https://crm.example.com/api/v1/orders",
			RequestBody: func(a *plugins.Args, w *plugins.JSONWriter) error {
				rec := a.NewRecord()
				w.BeginObject()
				w.Field("orderId", rec.Get("id"))
				w.Field("status", rec.Get("status"))
				w.EndObject()
				return nil
			},
		},
	})
	index := len(plugins.Definitions()) - 1

	small := plugins.Fire(index, []byte(`{"newRecord":{"id":"so-1","totalPrice":5}}`))
	fmt.Printf("status %d\n", small[0])

	large := plugins.Fire(index, []byte(`{"newRecord":{"id":"so-2","totalPrice":"250000"}}`))
	fmt.Printf("status %d, body %s\n", large[0], large[5:])
	// Output:
	// status 0
	// status 1, body {"orderId":"so-2"}
}

func ExampleJSONWriter() {
	rec, _ := plugins.ParseValue([]byte(`{"id":7,"total":123456789012345678901234567890,"note":null}`))
	o := plugins.NewObject(rec)

	var w plugins.JSONWriter
	w.BeginObject()
	w.Field("orderId", o.Get("id"))
	w.Field("amount", o.Get("total")) // copied exactly, beyond float64
	w.Field("note", o.Get("note"))    // null stays null
	w.Field("customer", o.Get("customer"))
	w.StringField("source", "execvault\n")
	w.EndObject()
	fmt.Println(string(w.Bytes()), w.Err())
	// Output:
	// {"orderId":7,"amount":123456789012345678901234567890,"note":null,"source":"execvault\n"} <nil>
}

func ExampleObject_NumberOr() {
	for _, rec := range []string{`{}`, `{"totalPrice":null}`, `{"totalPrice":150000}`, `{"totalPrice":"1e6"}`, `{"totalPrice":"lots"}`} {
		v, _ := plugins.ParseValue([]byte(rec))
		o := plugins.NewObject(v)
		fmt.Println(rec, o.NumberOr("totalPrice", 0) > 100000)
	}
	// Output:
	// {} false
	// {"totalPrice":null} false
	// {"totalPrice":150000} true
	// {"totalPrice":"1e6"} true
	// {"totalPrice":"lots"} false
}
