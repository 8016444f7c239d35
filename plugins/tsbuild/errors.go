package tsbuild

import "errors"

// Sentinel errors. Errors returned by this package wrap one of them with
// the file, value or path involved.
var (
	// ErrNoEntries marks options that name no executor file, or a
	// directory that holds none.
	ErrNoEntries = errors.New("no executor files")

	// ErrBuild marks TypeScript that esbuild could not bundle, such as a
	// syntax error or an import that does not resolve. The error is a
	// *BuildError listing each problem with its file, line and column.
	ErrBuild = errors.New("bundle TypeScript executors")

	// ErrInvalidEngine marks engine bytes that are not a Wasm module or
	// already carry a bundle.
	ErrInvalidEngine = errors.New("invalid JavaScript engine module")

	// ErrEngineNotFound marks a missing engine file. The error names the
	// paths searched and explains how to build the engine.
	ErrEngineNotFound = errors.New("JavaScript engine not found")
)
