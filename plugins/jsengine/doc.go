// Command jsengine is the JavaScript engine guest for TypeScript executors.
// Built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o execvault-js-engine.wasm ./plugins/jsengine
//
// it is a Wasm reactor that exports the execvault plugin ABI (version 1)
// plus execvault_load, which takes a bundle in the format of package
// jsbundle. The engine holds no executor-specific code: the host appends a
// bundle to the engine's bytes as the execvault.bundle custom section, strips
// that section again when it loads the plugin, and hands the payload to
// execvault_load on every new instance. One compiled engine therefore serves
// every TypeScript executor.
//
// On load the engine evaluates the bundled script once in a goja runtime,
// reads the default export of each executor file, and turns each definition
// into a manifest entry: headers holding { vault, key } become secret
// references, a url string becomes a fixed URL and a url function a dynamic
// one, and a condition callback sets trigger.condition. On every firing it
// calls the condition, the url function and the requestBody function with
// the arguments object, and serialises the body as JSON.stringify does. A
// requestBody that only copies members of the arguments into an object
// literal is not called: the engine reads those members and writes the same
// JSON itself (see directBody).
//
// A thrown exception, a rejected promise, or a callback returning the wrong
// type fails the firing with status 0x02 and a message holding the
// JavaScript error and its stack, with positions mapped through the bundle's
// source map to the TypeScript source.
//
// Logic that does not touch the ABI builds on every platform, so its tests
// run natively; the exports and host imports build only for wasip1.
//
// default.pgo is a CPU profile of BenchmarkFireNative, which go build uses
// for profile-guided optimisation of the engine (Go's default -pgo=auto).
// It inlines the hot calls of goja and of this package, which cut the Wasm
// function calls of a sync-to-external-crm firing from about 780 to 720 and
// its time under wazero by about 4%. A native profile guides the Wasm build
// because PGO matches functions by name and call-site position, not by
// architecture. Regenerate it after larger changes to the engine, in this
// directory, with
//
//	go test -pgo=off -run '^$' -bench FireNative -benchtime 20s -cpuprofile default.pgo -o /dev/null .
package main
