package main

import (
	"strings"
	"testing"

	"github.com/dop251/goja"
)

// stringifyBoth serialises the value of a JavaScript expression with
// jsonWriter and with JSON.stringify.
func stringifyBoth(t *testing.T, vm *goja.Runtime, w *jsonWriter, expr string) (fast, want string, fastOK, wantOK bool) {
	t.Helper()
	v, err := vm.RunString("(" + expr + ")")
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	out, ok, err := w.serialize(nil, v)
	if err != nil {
		t.Fatalf("serialize(%s): %v", expr, err)
	}
	s, err := w.stringify(goja.Undefined(), v)
	if err != nil {
		t.Fatalf("JSON.stringify(%s): %v", expr, err)
	}
	return string(out), s.String(), ok, !goja.IsUndefined(s)
}

func TestAppendJSONMatchesStringify(t *testing.T) {
	tests := []struct {
		name string
		expr string
	}{
		{name: "plain object", expr: `{a: 1, b: "x", c: true, d: null}`},
		{name: "undefined and functions dropped", expr: `{a: undefined, b: () => 1, c: Symbol("s"), d: 2}`},
		{name: "array holes become null", expr: `[1, undefined, () => 1, , "x"]`},
		{name: "date", expr: `{at: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6))}`},
		{name: "toJSON", expr: `{x: {toJSON() { return "custom"; }}}`},
		{name: "numbers", expr: `[0, -0, 1.5, 1e21, 1e-7, 2**53, NaN, Infinity, -Infinity, 0.1+0.2]`},
		{name: "escapes", expr: `{"q\"uote": "a\"b\\c\n\r\t\b\f\u0001\u001f/<>&"}`},
		{name: "non-ASCII", expr: `{"clé": "naïve ☃ 😀", lone: "\ud800x"}`},
		{name: "boxed primitives", expr: `[new String("s"), new Number(3), new Boolean(false)]`},
		{name: "map and set", expr: `{m: new Map([[1, 2]]), s: new Set([1])}`},
		{name: "integer keys first", expr: `{b: 1, 2: "two", a: 3, 1: "one"}`},
		{name: "nested", expr: `{a: {b: {c: [{d: [1, [2, [3]]]}]}}}`},
		{name: "getter", expr: `{get g() { return 7; }}`},
		{name: "class instance", expr: `new (class P { constructor() { this.x = 1; } })()`},
		{name: "inherited not included", expr: `Object.create({inherited: 1}, {own: {value: 2, enumerable: true}})`},
		{name: "non-enumerable", expr: `Object.defineProperty({a: 1}, "hidden", {value: 2, enumerable: false})`},
		{name: "top-level string", expr: `"text"`},
		{name: "top-level undefined", expr: `undefined`},
		{name: "top-level function", expr: `function f() {}`},
		{name: "deep nesting", expr: `(() => { let v = {}; for (let i = 0; i < 100; i++) v = {v}; return v; })()`},
	}
	vm := goja.New()
	w := newJSONWriter(vm)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fast, want, fastOK, wantOK := stringifyBoth(t, vm, w, tt.expr)
			if fastOK != wantOK {
				t.Fatalf("defined = %v, want %v", fastOK, wantOK)
			}
			if wantOK && fast != want {
				t.Errorf("appendJSON = %s, want %s", fast, want)
			}
		})
	}
}

func TestAppendJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		expr string
	}{
		{name: "cycle", expr: `(() => { const a = {}; a.self = a; return {a}; })()`},
		{name: "bigint", expr: `{n: 10n}`},
		{name: "throwing getter", expr: `{get g() { throw new Error("no"); }}`},
	}
	vm := goja.New()
	w := newJSONWriter(vm)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := vm.RunString("(" + tt.expr + ")")
			if err != nil {
				t.Fatalf("evaluate: %v", err)
			}
			if _, _, err := w.serialize(nil, v); err == nil {
				t.Error("appendJSON succeeded, want the error JSON.stringify raises")
			}
		})
	}
}

// FuzzLazyArguments checks that the lazy arguments object serialises to
// the same JSON as JSON.parse's result, and that both reject the same
// inputs.
func FuzzLazyArguments(f *testing.F) {
	for _, seed := range []string{
		`{"newRecord":{"id":"o1","totalPrice":100001,"tags":["a","b"],"meta":null}}`,
		`{"a":1,"a":2,"b":{"c":[1,{"d":"\u00e9\n"}]}}`,
		`[1, 2.50, -0, 1e400, "x"]`,
		` {"k\"ey": "v\\\"", "": true} `,
		`"just a string"`,
		`{"a":`,
		`{"a":1}{"b":2}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		vm := goja.New()
		w := newJSONWriter(vm)
		lazy, lazyErr := newArgumentsFactory(vm).value(raw)

		parse, _ := goja.AssertFunction(vm.Get("JSON").(*goja.Object).Get("parse"))
		parsed, parseErr := parse(goja.Undefined(), vm.ToValue(string(raw)))
		if (lazyErr == nil) != (parseErr == nil) {
			t.Skipf("validity differs from goja's JSON.parse, which accepts some invalid UTF-8: lazy %v, parse %v", lazyErr, parseErr)
		}
		if lazyErr != nil {
			return
		}

		got, _, err := w.serialize(nil, lazy)
		if err != nil {
			t.Fatalf("serialize(lazy): %v", err)
		}
		want, err := w.stringify(goja.Undefined(), parsed)
		if err != nil {
			t.Fatalf("JSON.stringify(JSON.parse): %v", err)
		}
		if string(got) != want.String() {
			t.Fatalf("lazy serialises as %s, want %s", got, want)
		}
	})
}

// TestAppendJSONSpecialBytePositions puts each kind of byte that needs care
// at every position of strings up to 19 bytes long, across the boundaries
// of the eight-byte steps, and compares with JSON.stringify.
func TestAppendJSONSpecialBytePositions(t *testing.T) {
	vm := goja.New()
	w := newJSONWriter(vm)
	for _, special := range []string{`"`, `\`, "\n", "\x01", "\x7f", "é"} {
		for length := range 20 {
			for pos := range length + 1 {
				s := strings.Repeat("a", pos) + special + strings.Repeat("b", length-pos)
				v := vm.ToValue(s)
				got, ok, err := w.serialize(nil, v)
				if err != nil || !ok {
					t.Fatalf("serialize(%q) = ok %v, error %v", s, ok, err)
				}
				want, err := w.stringify(goja.Undefined(), v)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != want.String() {
					t.Fatalf("serialize(%q) = %s, want %s", s, got, want)
				}
			}
		}
	}
}
