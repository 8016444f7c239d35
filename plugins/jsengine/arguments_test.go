package main

import (
	"strings"
	"testing"

	"github.com/dop251/goja"
)

// TestLazyArgumentsMutations runs the same script over a lazy arguments
// object and over JSON.parse's result and compares what it returns.
func TestLazyArgumentsMutations(t *testing.T) {
	const raw = `{"newRecord":{"id":"o1","n":1,"tags":["a","b"],"k\u0065y":"escaped"},"old":null}`
	tests := []struct {
		name   string
		script string
	}{
		{name: "read nested", script: `a.newRecord.tags[1] + a.newRecord.n + a.newRecord.key`},
		{name: "set existing", script: `(a.newRecord.n = 5, JSON.stringify(a))`},
		{name: "set new key", script: `(a.newRecord.added = {x: 1}, JSON.stringify(a.newRecord))`},
		{name: "delete key", script: `(delete a.newRecord.id, JSON.stringify(a.newRecord) + ("id" in a.newRecord))`},
		{name: "has key", script: `("n" in a.newRecord) + "," + ("missing" in a.newRecord) + "," + a.hasOwnProperty("old")`},
		{name: "spread", script: `JSON.stringify({...a.newRecord, n: 2})`},
		{name: "keys", script: `Object.keys(a.newRecord).join(",")`},
		{name: "array push", script: `(a.newRecord.tags.push("c"), JSON.stringify(a.newRecord.tags) + a.newRecord.tags.length)`},
		{name: "array shrink", script: `(a.newRecord.tags.length = 1, JSON.stringify(a.newRecord.tags))`},
		{name: "array methods", script: `a.newRecord.tags.map((t) => t.toUpperCase()).join("") + Array.isArray(a.newRecord.tags)`},
		{name: "array set past end", script: `(a.newRecord.tags[3] = "d", JSON.stringify(a.newRecord.tags))`},
		{name: "set undefined", script: `(a.newRecord.n = undefined, JSON.stringify(a.newRecord) + ("n" in a.newRecord))`},
		{name: "null member", script: `String(a.old) + typeof a.old`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func(lazy bool) string {
				vm := goja.New()
				var args goja.Value
				var err error
				if lazy {
					args, err = newArgumentsFactory(vm).value([]byte(raw))
				} else {
					args, err = vm.RunString("JSON.parse(" + "'" + raw + "'" + ")")
				}
				if err != nil {
					t.Fatalf("arguments: %v", err)
				}
				if err := vm.Set("a", args); err != nil {
					t.Fatal(err)
				}
				v, err := vm.RunString(tt.script)
				if err != nil {
					t.Fatalf("run %s (lazy %v): %v", tt.script, lazy, err)
				}
				return v.String()
			}
			if got, want := run(true), run(false); got != want {
				t.Errorf("lazy arguments give %q, want %q as with JSON.parse", got, want)
			}
		})
	}
}

// TestLazyArgumentsDocumentedDifferences pins the ways lazy arguments
// differ from JSON.parse's result, as documented on argumentsFactory.
func TestLazyArgumentsDocumentedDifferences(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		want    string
		wantErr string
	}{
		{name: "freeze throws", script: `Object.freeze(a.x)`, wantErr: "TypeError"},
		{name: "read-only property throws", script: `Object.defineProperty(a.x, "z", {value: 1, writable: false})`, wantErr: "TypeError"},
		{name: "deleted element is undefined", script: `delete a.arr[0]; JSON.stringify(a.arr) + a.arr.length`, want: "[null,2]2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vm := goja.New()
			args, err := newArgumentsFactory(vm).value([]byte(`{"x":{"y":1},"arr":[1,2]}`))
			if err != nil {
				t.Fatal(err)
			}
			if err := vm.Set("a", args); err != nil {
				t.Fatal(err)
			}
			v, err := vm.RunString(tt.script)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.String() != tt.want {
				t.Errorf("result = %s, want %s", v, tt.want)
			}
		})
	}
}

// TestLazyObjectDuplicateKeys compares the keys and values of objects with
// duplicate keys, and with distinct keys of the same length and the same
// first and last bytes, against JSON.parse's result.
func TestLazyObjectDuplicateKeys(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{name: "distinct similar keys", raw: `{"axb":1,"ayb":2,"azb":3}`},
		{name: "duplicate after colliding key", raw: `{"axb":1,"ayb":2,"axb":3}`},
		{name: "empty keys", raw: `{"":1,"a":2,"":3}`},
		{name: "escaped duplicate", raw: `{"axb":1,"a\u0078b":2,"ayb":3}`},
		{name: "many keys", raw: `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k3":33,"k0":0.5}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vm := goja.New()
			lazy, err := newArgumentsFactory(vm).value([]byte(tt.raw))
			if err != nil {
				t.Fatalf("lazy arguments: %v", err)
			}
			parsed, err := vm.RunString("JSON.parse('" + tt.raw + "')")
			if err != nil {
				t.Fatalf("JSON.parse: %v", err)
			}
			summary, err := vm.RunString(`(o) => Object.keys(o).join(",") + " " + JSON.stringify(o)`)
			if err != nil {
				t.Fatal(err)
			}
			fn, _ := goja.AssertFunction(summary)
			got, err := fn(goja.Undefined(), lazy)
			if err != nil {
				t.Fatalf("summarize lazy: %v", err)
			}
			want, err := fn(goja.Undefined(), parsed)
			if err != nil {
				t.Fatalf("summarize parsed: %v", err)
			}
			if got.String() != want.String() {
				t.Errorf("lazy object = %s, want %s as JSON.parse", got, want)
			}
		})
	}
}
