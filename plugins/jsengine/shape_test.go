package main

import (
	"slices"
	"testing"

	"github.com/dop251/goja"
)

// shapeOf evaluates a function expression in a fresh engine and returns the
// engine, the function and its shape.
func shapeOf(t *testing.T, fn string) (*engine, goja.Value, *objectShape) {
	t.Helper()
	e := newEngine(host{})
	v, err := e.vm.RunString("(" + fn + ")")
	if err != nil {
		t.Fatalf("evaluate %s: %v", fn, err)
	}
	src, ok := e.functionSource(v)
	if !ok {
		t.Fatalf("functionSource(%s) failed", fn)
	}
	return e, v, returnedLiteralShape(src)
}

// shapeKeys lists a shape's keys, with a child's keys in brackets after
// its key.
func shapeKeys(s *objectShape) []string {
	if s == nil {
		return nil
	}
	var keys []string
	for i, k := range s.keys {
		keys = append(keys, k)
		if child := s.children[i]; child != nil {
			keys = append(keys, "[")
			keys = append(keys, shapeKeys(child)...)
			keys = append(keys, "]")
		}
	}
	return keys
}

func TestReturnedLiteralShape(t *testing.T) {
	tests := []struct {
		name string
		fn   string
		want []string // nil: no shape
	}{
		{name: "arrow with literal body", fn: `({ r }) => ({ a: r.x, "b-c": 1 })`, want: []string{"a", "b-c"}},
		{name: "arrow with extra parentheses", fn: `(r) => (({ a: 1 }))`, want: nil},
		{name: "shorthand", fn: `(r) => { const a = 1, b = 2; return { a, b }; }`, want: []string{"a", "b"}},
		{name: "function expression", fn: `function (r) { var x = r; return { x }; }`, want: []string{"x"}},
		{name: "nested literal", fn: `(r) => ({ a: { b: 1, c: { d: 2 } }, e: [{ f: 1 }] })`, want: []string{"a", "[", "b", "c", "[", "d", "]", "]", "e"}},
		{name: "nested literal without shape", fn: `(r) => ({ a: { ...r } })`, want: []string{"a"}},
		{name: "empty literal", fn: `() => ({})`, want: []string{}},
		{name: "async arrow", fn: `async (r) => ({ a: 1 })`, want: nil},
		{name: "async function", fn: `async function (r) { return { a: 1 }; }`, want: nil},
		{name: "generator", fn: `function* (r) { return { a: 1 }; }`, want: nil},
		{name: "spread", fn: `(r) => ({ a: 1, ...r })`, want: nil},
		{name: "computed key", fn: `(r) => ({ [r.k]: 1 })`, want: nil},
		{name: "getter", fn: `(r) => ({ get a() { return 1; } })`, want: nil},
		{name: "method", fn: `(r) => ({ a() { return 1; } })`, want: nil},
		{name: "numeric key", fn: `(r) => ({ 1: "x" })`, want: nil},
		{name: "index string key", fn: `(r) => ({ a: 1, "2": "x" })`, want: nil},
		{name: "non-index numeric string key", fn: `(r) => ({ "01": 1, "-1": 2 })`, want: []string{"01", "-1"}},
		{name: "duplicate key", fn: `(r) => ({ a: 1, a: 2 })`, want: nil},
		{name: "proto key", fn: `(r) => ({ __proto__: null, a: 1 })`, want: nil},
		{name: "non-ASCII key", fn: `(r) => ({ "clé": 1 })`, want: nil},
		{name: "conditional result", fn: `(r) => r.x ? { a: 1 } : { b: 2 }`, want: nil},
		{name: "early return", fn: `(r) => { if (r.x) return null; return { a: 1 }; }`, want: nil},
		{name: "statement before return", fn: `(r) => { r.n++; return { a: 1 }; }`, want: nil},
		{name: "not a literal", fn: `(r) => r`, want: nil},
		{name: "literal property", fn: `(r) => ({ a: 1 }).a`, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, shape := shapeOf(t, tt.fn)
			if tt.want == nil {
				if shape != nil {
					t.Fatalf("shape = %q, want none", shapeKeys(shape))
				}
				return
			}
			if shape == nil {
				t.Fatalf("shape = none, want %q", tt.want)
			}
			if got := shapeKeys(shape); !slices.Equal(got, tt.want) {
				t.Errorf("shape = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestShapedBodyMatchesStringify(t *testing.T) {
	const args = `({ n: 5, s: "x\"y", d: new Date(Date.UTC(2024, 0, 2)), list: [1, undefined], u: undefined })`
	tests := []struct {
		name  string
		setup string
		fn    string
	}{
		{name: "values of every kind", fn: `(r) => ({ n: r.n, f: 1.5, big: 2 ** 60, neg: -0, s: r.s, d: r.d, list: r.list, nul: null, t: true })`},
		{name: "dropped members", fn: `(r) => ({ u: r.u, f: () => 1, sym: Symbol("s"), kept: 1, last: undefined })`},
		{name: "all members dropped", fn: `(r) => ({ u: r.u })`},
		{name: "nested literals", fn: `(r) => ({ a: { b: r.n, c: { d: r.s, e: undefined } }, f: { toJSON() { return "j"; } } })`},
		{name: "inherited toJSON", setup: `Object.prototype.toJSON = function () { return "proto"; };`, fn: `(r) => ({ a: 1 })`},
		{name: "nested inherited toJSON", setup: `Object.prototype.toJSON = function () { return "proto"; };`, fn: `(r) => ({ a: { b: 1 } })`},
		{name: "escaped key", fn: `(r) => ({ "q\"k\\ey\n": 1 })`},
		{name: "non-finite numbers", fn: `(r) => ({ a: NaN, b: Infinity, c: -Infinity, d: 1e21, e: 2 ** 53, f: -(2 ** 53) })`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, fnValue, shape := shapeOf(t, tt.fn)
			if shape == nil {
				t.Fatalf("%s has no shape", tt.fn)
			}
			if tt.setup != "" {
				if _, err := e.vm.RunString(tt.setup); err != nil {
					t.Fatal(err)
				}
			}
			argValue, err := e.vm.RunString(args)
			if err != nil {
				t.Fatal(err)
			}
			fn, _ := goja.AssertFunction(fnValue)
			result, err := fn(goja.Undefined(), argValue)
			if err != nil {
				t.Fatal(err)
			}

			got, gotOK, err := e.json.serializeShaped(nil, result, shape)
			if err != nil {
				t.Fatalf("serializeShaped: %v", err)
			}
			want, err := e.json.stringify(goja.Undefined(), result)
			if err != nil {
				t.Fatalf("JSON.stringify: %v", err)
			}
			if !gotOK || string(got) != want.String() {
				t.Errorf("serializeShaped = %s (ok %v), want %s as JSON.stringify", got, gotOK, want)
			}
		})
	}
}

// TestShapeReadsOriginalToString loads a bundle that replaces
// Function.prototype.toString with one that describes another literal, and
// checks that the body still has the keys its code creates.
func TestShapeReadsOriginalToString(t *testing.T) {
	const source = sdkImport + `
Function.prototype.toString = function () { return "() => ({ wrong: 1 })"; };
export default createExecutor({
  name: "liar",
  trigger: recordCreatedTrigger({ type: "order" }),
  operation: {
    kind: "webhook",
    url: "http://127.0.0.1:9/hook",
    requestBody: ({ newRecord }) => ({ id: newRecord.id, n: 1 }),
  },
});
`
	e, _ := newSourceEngine(t, source)
	if got := shapeKeys(e.executors[0].bodyShape); !slices.Equal(got, []string{"id", "n"}) {
		t.Errorf("body shape = %q, want [id n]", got)
	}
	got := fireByName(t, e, "liar", `{"newRecord":{"id":"o1"}}`)
	if want := `{"id":"o1","n":1}`; got.body != want {
		t.Errorf("body = %s (error %q), want %s", got.body, got.errMsg, want)
	}
}
