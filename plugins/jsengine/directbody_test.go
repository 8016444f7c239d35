package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// directPaths lists a directBody's values as key=path, with a nested
// literal's values in brackets after its key.
func directPaths(obj *directObject) []string {
	var out []string
	for i, v := range obj.values {
		key := strings.TrimSuffix(string(obj.prefixes[i]), ":")
		if v.child != nil {
			out = append(out, key+"=[")
			out = append(out, directPaths(v.child)...)
			out = append(out, "]")
			continue
		}
		out = append(out, key+"="+strings.Join(v.path, "."))
	}
	return out
}

// noDirect is what TestDirectBodyOf expects of a function without a
// direct body.
const noDirect = "(none)"

func TestDirectBodyOf(t *testing.T) {
	tests := []struct {
		name string
		fn   string
		want string
	}{
		{name: "destructured members", fn: `({ newRecord }) => ({ orderId: newRecord.id, total: newRecord.totalPrice })`, want: `"orderId"=newRecord.id "total"=newRecord.totalPrice`},
		{name: "whole arguments parameter", fn: `(args) => ({ id: args.newRecord.id })`, want: `"id"=newRecord.id`},
		{name: "shorthand value", fn: `({ newRecord, event }) => ({ event, id: newRecord.id })`, want: `"event"=event "id"=newRecord.id`},
		{name: "destructured name as value", fn: `({ newRecord }) => ({ record: newRecord })`, want: `"record"=newRecord`},
		{name: "nested literal", fn: `({ r }) => ({ a: { b: r.x.y }, c: r.z })`, want: `"a"=[ "b"=r.x.y ] "c"=r.z`},
		{name: "block with return only", fn: `({ r }) => { return { a: r.x }; }`, want: `"a"=r.x`},
		{name: "empty literal", fn: `({ r }) => ({})`, want: ``},
		{name: "whole arguments as value", fn: `(args) => ({ all: args })`, want: noDirect},
		{name: "no parameter", fn: `() => ({ a: 1 })`, want: noDirect},
		{name: "two parameters", fn: `(a, b) => ({ x: a.x })`, want: noDirect},
		{name: "parameter default", fn: `(a = {}) => ({ x: a.x })`, want: noDirect},
		{name: "rest parameter", fn: `(...a) => ({ x: a.x })`, want: noDirect},
		{name: "pattern default", fn: `({ r = {} }) => ({ x: r.x })`, want: noDirect},
		{name: "pattern rename", fn: `({ newRecord: r }) => ({ x: r.x })`, want: noDirect},
		{name: "pattern rest", fn: `({ r, ...rest }) => ({ x: r.x })`, want: noDirect},
		{name: "array pattern", fn: `([r]) => ({ x: r.x })`, want: noDirect},
		{name: "global reference", fn: `({ r }) => ({ x: globalThis.x })`, want: noDirect},
		{name: "literal value", fn: `({ r }) => ({ x: r.x, source: "crm" })`, want: noDirect},
		{name: "computed member", fn: `({ r }) => ({ x: r["x"] })`, want: noDirect},
		{name: "optional chain", fn: `({ r }) => ({ x: r?.x })`, want: noDirect},
		{name: "call", fn: `({ r }) => ({ x: r.x.toString() })`, want: noDirect},
		{name: "arithmetic", fn: `({ r }) => ({ x: r.x * 2 })`, want: noDirect},
		{name: "toJSON key", fn: `({ r }) => ({ toJSON: r.f })`, want: noDirect},
		{name: "nested toJSON key", fn: `({ r }) => ({ a: { toJSON: r.f } })`, want: noDirect},
		{name: "spread", fn: `({ r }) => ({ ...r })`, want: noDirect},
		{name: "async arrow", fn: `async ({ r }) => ({ x: r.x })`, want: noDirect},
		{name: "function expression", fn: `function ({ r }) { return { x: r.x }; }`, want: noDirect},
		{name: "declaration before return", fn: `({ r }) => { const y = r.y; return { y }; }`, want: noDirect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, v, _ := shapeOf(t, tt.fn)
			src, _ := e.functionSource(v)
			got := noDirect
			if body := directBodyOf(src); body != nil {
				got = strings.Join(directPaths(body.root), " ")
			}
			if got != tt.want {
				t.Errorf("directBodyOf(%s) = %q, want %q", tt.fn, got, tt.want)
			}
		})
	}
}

// fireBothWays fires executor 0 of e once with its direct body and once
// calling requestBody, and returns both results.
func fireBothWays(t testing.TB, e *engine, args string) (direct, called firing) {
	t.Helper()
	ex := e.executors[0]
	if ex.direct == nil {
		t.Fatal("executor has no direct body")
	}
	direct = decodeResult(t, e.fire(0, []byte(args)))
	saved := ex.direct
	ex.direct = nil
	called = decodeResult(t, e.fire(0, []byte(args)))
	ex.direct = saved
	return direct, called
}

// directSource is an executor file whose requestBody is fn and whose
// condition is cond.
func directSource(cond, fn string) string {
	return sdkImport + fmt.Sprintf(`
const marker = { toJSON: () => "marker" };
export default createExecutor({
  name: "direct",
  trigger: recordCreatedTrigger({ type: "order", condition: %s }),
  operation: { kind: "webhook", url: "http://127.0.0.1:9/hook", requestBody: %s },
});
`, cond, fn)
}

func TestDirectBodyMatchesCall(t *testing.T) {
	const pass = `() => true`
	const body = `({ newRecord, event }) => ({ id: newRecord.id, n: { p: newRecord.price, c: newRecord.customer.name }, event })`
	const record = `{"newRecord":{"id":"o1","price":12.5,"customer":{"name":"Zoë \"Z\""}},"event":"created"}`
	tests := []struct {
		name string
		cond string
		fn   string
		args string
		want string // expected body; empty: an error, the same both ways
	}{
		{name: "plain record", cond: pass, fn: body, args: record,
			want: `{"id":"o1","n":{"p":12.5,"c":"Zoë \"Z\""},"event":"created"}`},
		{name: "missing member dropped", cond: pass, fn: body, args: `{"newRecord":{"customer":{}}}`,
			want: `{"n":{}}`},
		{name: "null on the path", cond: pass, fn: body, args: `{"newRecord":{"id":"o1","customer":null}}`},
		{name: "missing destructured name", cond: pass, fn: body, args: `{}`},
		{name: "string on the path", cond: pass, fn: `({ r }) => ({ n: r.length })`, args: `{"r":"abc"}`,
			want: `{"n":3}`},
		{name: "array on the path", cond: pass, fn: `({ r }) => ({ n: r.length, first: r.x })`, args: `{"r":[1,2]}`,
			want: `{"n":2}`},
		{name: "inherited member", cond: pass, fn: `({ r }) => ({ c: r.constructor })`, args: `{"r":{}}`,
			want: `{}`},
		{name: "object and array values", cond: pass, fn: `({ r }) => ({ a: r.a, b: r.b })`,
			args: `{"r":{"a":{"k":[1,"\u00e9",null]},"b":[true,{"x":-0}]}}`, want: `{"a":{"k":[1,"é",null]},"b":[true,{"x":0}]}`},
		{name: "scalar text forms", cond: pass,
			fn:   `({ r }) => ({ a: r.a, b: r.b, c: r.c, d: r.d, e: r.e, f: r.f, g: r.g, h: r.h, i: r.i, j: r.j })`,
			args: `{"r":{"a":12.50,"b":1e2,"c":-0,"d":1234567890123456789,"e":"x\/y","f":"plain","g":true,"h":null,"i":-15,"j":false}}`,
			want: `{"a":12.5,"b":100,"c":0,"d":1234567890123456800,"e":"x/y","f":"plain","g":true,"h":null,"i":-15,"j":false}`},
		{name: "member replaced by condition", cond: `(a) => { a.newRecord = { id: "new", customer: { name: marker } }; return true; }`,
			fn: body, args: record, want: `{"id":"new","n":{"c":"marker"},"event":"created"}`},
		{name: "member read then replaced", cond: `(a) => { const old = a.newRecord; a.newRecord = { id: old.id + "!" }; return true; }`,
			fn: `({ newRecord }) => ({ id: newRecord.id })`, args: record, want: `{"id":"o1!"}`},
		{name: "value replaced by condition", cond: `(a) => { a.newRecord.id = marker; return true; }`,
			fn: body, args: record, want: `{"id":"marker","n":{"p":12.5,"c":"Zoë \"Z\""},"event":"created"}`},
		{name: "member deleted by condition", cond: `(a) => { delete a.newRecord.customer; return true; }`,
			fn: body, args: record},
		{name: "Object.prototype.toJSON", cond: `() => { Object.prototype.toJSON = () => "proto"; return true; }`,
			fn: body, args: record, want: `"proto"`},
		{name: "throwing Object.prototype.toJSON getter",
			cond: `() => { Object.defineProperty(Object.prototype, "toJSON", { get() { throw new Error("no toJSON"); }, configurable: true }); return true; }`,
			fn:   body, args: record},
		{name: "throwing toJSON", cond: `(a) => { a.event = { toJSON() { throw new Error("no JSON"); } }; return true; }`,
			fn: body, args: record},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newSourceEngine(t, directSource(tt.cond, tt.fn))
			direct, called := fireBothWays(t, e, tt.args)
			if direct != called {
				t.Fatalf("direct firing = %+v, want %+v as calling requestBody", direct, called)
			}
			if tt.want == "" {
				if direct.status != statusError {
					t.Errorf("firing = %+v, want an error", direct)
				}
				return
			}
			if direct.status != statusFire || direct.body != tt.want {
				t.Errorf("body = %s (status %#x, error %q), want %s", direct.body, direct.status, direct.errMsg, tt.want)
			}
		})
	}
}

func TestDirectBodyOfPlatformExample(t *testing.T) {
	e, _ := newTestEngine(t, filepath.Join(examples, "sync-to-external-crm.ts"))
	if e.executors[0].direct == nil {
		t.Fatal("sync-to-external-crm requestBody has no direct body")
	}
	direct, called := fireBothWays(t, e, crmArguments)
	if direct != called {
		t.Errorf("direct firing = %+v, want %+v as calling requestBody", direct, called)
	}

	_, args, err := e.args.valueObject([]byte(crmArguments))
	if err != nil {
		t.Fatalf("arguments: %v", err)
	}
	out, done, err := e.json.serializeDirect(nil, args, e.executors[0].direct)
	if !done || err != nil {
		t.Fatalf("serializeDirect = done %v, error %v; want done", done, err)
	}
	if string(out) != called.body {
		t.Errorf("serializeDirect = %s, want %s", out, called.body)
	}
}

func FuzzDirectBody(f *testing.F) {
	for _, seed := range []string{
		`{"newRecord":{"id":"o1","price":12.5,"customer":{"name":"Zoë"}},"event":"created"}`,
		`{"newRecord":{"id":{"a":[1,2]},"customer":{"name":null}},"newRecord":{"id":3}}`,
		`{"newRecord":{"customer":"x"},"event":["a"]}`,
		`{"newRecord":null}`,
		`[1,2]`,
		`{"newRecord":{"id":"\ud800","customer":{"name":"a\u0000b"}}}`,
		`{"newRecord":{"id":1.50,"price":-0,"customer":{"name":123456789012345678}},"event":1E-7}`,
	} {
		f.Add(seed)
	}
	const source = `import { createExecutor, recordCreatedTrigger } from "@tailor-platform/sdk";
export default createExecutor({
  name: "direct",
  trigger: recordCreatedTrigger({ type: "order" }),
  operation: {
    kind: "webhook",
    url: "http://127.0.0.1:9/hook",
    requestBody: ({ newRecord, event }) => ({ id: newRecord.id, n: { p: newRecord.price, c: newRecord.customer.name }, event }),
  },
});
`
	e, _ := newSourceEngine(f, source)
	f.Fuzz(func(t *testing.T, args string) {
		direct, called := fireBothWays(t, e, args)
		if direct != called {
			t.Fatalf("direct firing = %+v, want %+v as calling requestBody", direct, called)
		}
	})
}
