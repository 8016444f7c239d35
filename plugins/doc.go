// Package plugins is the Go SDK for execvault executor plugins and the
// definition of the manifest that every plugin, in any language, declares.
//
// The manifest types and their validation build on every platform, so the
// host uses them too. The guest side, which exports the plugin ABI described
// in docs/plugin-abi.md, builds only for GOOS=wasip1.
package plugins
