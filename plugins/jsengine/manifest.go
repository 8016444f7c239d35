package main

// sdkName identifies the engine in the manifest's sdk field.
//
// The engine shares the manifest types with the host and the Go SDK through
// package manifest. It cannot import package plugins, whose wasip1 build
// exports the Go SDK's own execvault_* functions, which would clash with the
// engine's exports at link time.
const sdkName = "execvault-js/1"
