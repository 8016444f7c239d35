// Package manifest defines the plugin manifest: the JSON document in which
// every plugin, whatever its language, declares its ABI version and its
// executors, and the rules the host validates it against.
//
// It depends only on the standard library and exports no Wasm functions,
// so every guest (the Go SDK, the JavaScript engine) and the host share it.
package manifest
