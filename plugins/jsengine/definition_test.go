package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/execvault/execvault/plugins/jsengine/jsbundle"
	"github.com/execvault/execvault/plugins/tsbuild"
)

// bundleSource bundles one executor file with the given source and returns
// the bundle payload and the bundled script.
func bundleSource(t testing.TB, source string) ([]byte, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "executor.ts"), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := tsbuild.Bundle(context.Background(), tsbuild.Options{Entries: []string{dir}, BaseDir: dir})
	if err != nil {
		t.Fatalf("bundle: %v", err)
	}
	payload, err := jsbundle.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	return payload, b.Code
}

// loadSource bundles one executor file with the given source and returns
// the error of loading it, or nil.
func loadSource(t *testing.T, source string) error {
	t.Helper()
	payload, _ := bundleSource(t, source)
	return newEngine(host{}).load(payload)
}

const sdkImport = `import { createExecutor, recordCreatedTrigger, recordTrigger, scheduleTrigger, incomingWebhookTrigger } from "@tailor-platform/sdk";
`

func TestLoadRejectsBadDefinitions(t *testing.T) {
	tests := []struct {
		name   string
		source string
		want   string
	}{
		{
			name:   "no default export",
			source: "export const x = 1;\n",
			want:   "executor.ts has no default export",
		},
		{
			name:   "default export not an object",
			source: "export default 42;\n",
			want:   "executor.ts: default export is a number, expected an executor definition",
		},
		{
			name:   "misspelt property",
			source: sdkImport + `export default createExecutor({ name: "typo", trigger: scheduleTrigger({ cron: "* * * * *" }), operation: { kind: "webhook", url: "https://example.com/" }, desription: "x" });`,
			want:   `executor.ts: executor "typo": unknown property "desription" in definition`,
		},
		{
			name:   "misspelt trigger option",
			source: sdkImport + `export default createExecutor({ name: "typo", trigger: recordCreatedTrigger({ type: "order", condtion: () => true }), operation: { kind: "webhook", url: "https://example.com/" } });`,
			want:   `recordCreatedTrigger: unknown option "condtion": use type, condition`,
		},
		{
			name:   "header value a number",
			source: sdkImport + `export default createExecutor({ name: "hdr", trigger: scheduleTrigger({ cron: "* * * * *" }), operation: { kind: "webhook", url: "https://example.com/", headers: { "X-Count": 3 } } });`,
			want:   `executor "hdr": operation.headers["X-Count"]: is a number, expected a string or a secret reference { vault, key }`,
		},
		{
			name:   "secret reference without key",
			source: sdkImport + `export default createExecutor({ name: "hdr", trigger: scheduleTrigger({ cron: "* * * * *" }), operation: { kind: "webhook", url: "https://example.com/", headers: { Authorization: { vault: "v" } } } });`,
			want:   `operation.headers.Authorization.key: is undefined, expected a string`,
		},
		{
			name:   "function operation",
			source: sdkImport + `export default createExecutor({ name: "fn", trigger: scheduleTrigger({ cron: "* * * * *" }), operation: { kind: "function", body: () => 1 } });`,
			want:   `operation kind "function" is not supported: use "webhook"`,
		},
		{
			name:   "url missing",
			source: sdkImport + `export default createExecutor({ name: "nourl", trigger: scheduleTrigger({ cron: "* * * * *" }), operation: { kind: "webhook" } });`,
			want:   `operation.url: is undefined, expected a URL string or a function`,
		},
		{
			name:   "condition not a function",
			source: sdkImport + `export default createExecutor({ name: "cond", trigger: { kind: "record", typeName: "order", events: ["created"], condition: true }, operation: { kind: "webhook", url: "https://example.com/" } });`,
			want:   `trigger.condition: is a boolean, expected a function returning a boolean`,
		},
		{
			name:   "unknown record event",
			source: sdkImport + `export default createExecutor({ name: "ev", trigger: recordTrigger({ type: "order", events: ["created", "removed"] }), operation: { kind: "webhook", url: "https://example.com/" } });`,
			want:   `recordTrigger: unknown event "removed"`,
		},
		{
			name:   "type without name",
			source: sdkImport + `export default createExecutor({ name: "ty", trigger: recordCreatedTrigger({ type: {} }), operation: { kind: "webhook", url: "https://example.com/" } });`,
			want:   `recordCreatedTrigger: type is an object, expected a TailorDB type or a type name`,
		},
		{
			name:   "response status out of range",
			source: sdkImport + `export default createExecutor({ name: "wh", trigger: incomingWebhookTrigger({ response: { status: 99 } }), operation: { kind: "webhook", url: "https://example.com/" } });`,
			want:   `trigger.response.status: is a number (99), expected an HTTP status from 200 to 599`,
		},
		{
			name:   "top-level throw",
			source: "throw new Error(\"config missing\");\nexport default 1;\n",
			want:   "evaluate executor files: Error: config missing\n    at executor.ts:1:7",
		},
		{
			name:   "throwing getter",
			source: sdkImport + `export default createExecutor({ name: "getter", get trigger() { throw new Error("lazy trigger"); }, operation: { kind: "webhook", url: "https://example.com/" } });`,
			want:   "reading the definition raised Error: lazy trigger",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := loadSource(t, tt.source)
			if err == nil {
				t.Fatal("load succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadRejectsDuplicateNames(t *testing.T) {
	dir := t.TempDir()
	source := sdkImport + `export default createExecutor({ name: "same", trigger: scheduleTrigger({ cron: "* * * * *" }), operation: { kind: "webhook", url: "https://example.com/" } });`
	for _, name := range []string{"a.ts", "b.ts"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(source), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := tsbuild.Bundle(context.Background(), tsbuild.Options{Entries: []string{dir}, BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := jsbundle.Encode(b)
	err = newEngine(host{}).load(payload)
	if want := `executor name "same" is defined in both a.ts and b.ts`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want it to contain %q", err, want)
	}
}

func TestFireCallbackFailures(t *testing.T) {
	tests := []struct {
		name   string
		source string // trigger options after type
		body   string // operation options after url
		args   string
		want   string
	}{
		{
			name:   "condition returns a string",
			source: `condition: () => "yes"`,
			want:   `condition returned a string, expected a boolean`,
		},
		{
			name:   "condition misses a return",
			source: `condition: ({ newRecord }) => { if (newRecord.id === "2") { return true; } }`,
			want:   `condition returned undefined, expected a boolean: a callback with a block body { ... } must return a value on every path`,
		},
		{
			name: "requestBody misses a return",
			body: `requestBody: ({ newRecord }) => { const body = { id: newRecord.id }; }`,
			want: `requestBody returned undefined, which has no JSON form: a callback with a block body { ... } must return a value on every path`,
		},
		{
			name:   "condition throws a string",
			source: `condition: () => { throw "plain"; }`,
			want:   `condition failed: plain`,
		},
		{
			name:   "condition reads a missing record",
			source: `condition: ({ newRecord }) => newRecord.total > 1`,
			args:   `{}`,
			want:   `TypeError: Cannot read property 'total' of undefined`,
		},
		{
			name:   "rejected promise",
			source: `condition: async () => { throw new Error("async no"); }`,
			want:   `condition failed: promise rejected: Error: async no`,
		},
		{
			name:   "runaway recursion",
			source: `condition: () => { const f = (n) => f(n + 1) + 1; return f(0) > 0; }`,
			want:   `RangeError: Maximum call stack size exceeded`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			source := sdkImport + `export default createExecutor({ name: "cb", trigger: recordCreatedTrigger({ type: "order", ` + tt.source + ` }), operation: { kind: "webhook", url: "https://example.com/", ` + tt.body + ` } });`
			if err := os.WriteFile(filepath.Join(dir, "cb.ts"), []byte(source), 0o644); err != nil {
				t.Fatal(err)
			}
			e, _ := newTestEngine(t, dir)
			args := tt.args
			if args == "" {
				args = `{"newRecord":{"id":"1"}}`
			}
			got := decodeResult(t, e.fire(0, []byte(args)))
			if got.status != statusError {
				t.Fatalf("status = %#x, want error", got.status)
			}
			if !strings.Contains(got.errMsg, tt.want) {
				t.Errorf("message = %q\nwant it to contain %q", got.errMsg, tt.want)
			}

			// The instance stays usable after a failed firing.
			again := decodeResult(t, e.fire(0, []byte(args)))
			if again.status != statusError || again.errMsg != got.errMsg {
				t.Errorf("second firing = %#x %q, want the same failure", again.status, again.errMsg)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	vm := newEngine(host{}).vm
	tests := []struct {
		expr string
		want string
	}{
		{expr: "undefined", want: "undefined"},
		{expr: "null", want: "null"},
		{expr: "1.5", want: "a number"},
		{expr: "10n", want: "a bigint"},
		{expr: "true", want: "a boolean"},
		{expr: "'s'", want: "a string"},
		{expr: "Symbol('s')", want: "a symbol"},
		{expr: "[1]", want: "an array"},
		{expr: "({})", want: "an object"},
		{expr: "(() => 1)", want: "a function"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			v, err := vm.RunString(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(v); got != tt.want {
				t.Errorf("describe(%s) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestFailedLoadKeepsNoExecutors(t *testing.T) {
	dir := t.TempDir()
	good := sdkImport + `export default createExecutor({ name: "good", trigger: scheduleTrigger({ cron: "* * * * *" }), operation: { kind: "webhook", url: "https://example.com/" } });`
	bad := sdkImport + `export default createExecutor({ name: "bad", trigger: scheduleTrigger({ cron: "* * * * *" }), operation: { kind: "graphql" } });`
	for name, source := range map[string]string{"a-good.ts": good, "b-bad.ts": bad} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(source), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := tsbuild.Bundle(context.Background(), tsbuild.Options{Entries: []string{dir}, BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := jsbundle.Encode(b)
	e := newEngine(host{})
	if err := e.load(payload); err == nil {
		t.Fatal("load succeeded, want the error of b-bad.ts")
	}
	data, _ := e.manifestJSON()
	if want := `"executors":[]`; !strings.Contains(string(data), want) {
		t.Errorf("manifest after a failed load = %s, want it to contain %s", data, want)
	}
	if err := e.load(payload); err == nil || !strings.Contains(err.Error(), "already called") {
		t.Errorf("second load error = %v, want already called", err)
	}
}
