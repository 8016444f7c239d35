package main

import (
	"strings"
	"testing"
)

// newSourceEngine bundles one executor file with the given source, loads it
// into a native engine and returns the engine and the bundled script.
func newSourceEngine(t testing.TB, source string) (*engine, string) {
	t.Helper()
	payload, code := bundleSource(t, source)
	e := newEngine(host{})
	if err := e.load(payload); err != nil {
		t.Fatalf("load: %v", err)
	}
	return e, code
}

// TestNativeNullishAndOptionalChain runs ?? and ?. as esbuild leaves them
// for goja and checks each result against what the operators mean.
func TestNativeNullishAndOptionalChain(t *testing.T) {
	const source = sdkImport + `
const pick = (r: any) => ({
  total: r.total ?? -1,
  zero: r.zero ?? -1,
  empty: r.empty ?? "default",
  nul: r.nul ?? "default",
  deep: r.a?.b?.c ?? "none",
  missingDeep: r.missing?.b.c ?? "none",
  call: r.fn?.() ?? "no call",
  index: r.list?.[1] ?? "no index",
  missingIndex: r.missing?.[0] ?? "no index",
  assigned: (r.total ??= 5, r.total),
});
export default createExecutor({
  name: "operators",
  trigger: recordCreatedTrigger({ type: "order" }),
  operation: {
    kind: "webhook",
    url: "http://127.0.0.1:9/hook",
    requestBody: ({ newRecord }) => pick(newRecord),
  },
});
`
	e, code := newSourceEngine(t, source)
	for _, operator := range []string{"??", "?."} {
		if !strings.Contains(code, operator) {
			t.Errorf("bundle has no %s: esbuild lowered it", operator)
		}
	}

	tests := []struct {
		name   string
		record string
		body   string
	}{
		{
			name:   "values present",
			record: `{"total":3,"zero":0,"empty":"","nul":null,"a":{"b":{"c":"C"}},"list":["x","y"]}`,
			body:   `{"total":3,"zero":0,"empty":"","nul":"default","deep":"C","missingDeep":"none","call":"no call","index":"y","missingIndex":"no index","assigned":3}`,
		},
		{
			name:   "values absent",
			record: `{"a":{"b":null}}`,
			body:   `{"total":-1,"zero":-1,"empty":"default","nul":"default","deep":"none","missingDeep":"none","call":"no call","index":"no index","missingIndex":"no index","assigned":5}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fireByName(t, e, "operators", `{"newRecord":`+tt.record+`}`)
			if got.body != tt.body {
				t.Errorf("body = %s (error %q), want %s", got.body, got.errMsg, tt.body)
			}
		})
	}
}
