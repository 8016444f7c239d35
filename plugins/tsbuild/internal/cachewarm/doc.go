// Package cachewarm holds one test that compiles a Wasm module into a
// wazero compilation cache directory. The tsbuild tests build it with
// go test -c and run it when they themselves run under the race detector,
// which slows wazero's own compiler more than tenfold: the warm-up runs
// uninstrumented, and the race-enabled tests then load the compiled engine
// from the cache. It is a test binary rather than a command because wazero
// keys its cache by its own version, which it reads from the build
// information, and that reads the same only between test binaries.
package cachewarm
