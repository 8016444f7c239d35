// Package cachewarm holds one test that compiles a Wasm module into a
// wazero compilation cache directory. The tsbuild tests build it with
// go test -c and run it when they run under the race detector, because the
// detector slows wazero's own compiler more than tenfold. The warm-up runs
// uninstrumented, and the race-enabled tests then load the compiled engine
// from the cache. It is a test binary rather than a command because wazero
// keys its cache by its own version as read from the build information,
// and test binaries report a different version than commands do.
package cachewarm
