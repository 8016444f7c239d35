// Package runtime loads executor plugins compiled to WebAssembly, runs them
// under wazero in pooled, resource-limited instances, and turns the events
// that reach it into webhook deliveries.
//
// A Runtime owns one plugin directory. Every .wasm file in it is compiled
// once (with an on-disk compilation cache), its manifest is read and
// validated, and its executors join a registry that is swapped atomically
// when files change. For each record event the runtime selects the
// executors whose trigger matches, runs their condition and body in Wasm,
// and hands the result to the webhook dispatcher, which resolves secret
// headers on the host side. A guest never receives a secret value unless it
// asks for one that its manifest declares.
package runtime
