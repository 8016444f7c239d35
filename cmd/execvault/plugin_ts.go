package main

import (
	"context"
	"fmt"
	"os"

	"github.com/execvault/execvault/plugins/tsbuild"
)

// buildTypeScriptPlugin bundles TypeScript executor files and writes the
// plugin: the JavaScript engine module followed by the bundle.
func (a *app) buildTypeScriptPlugin(ctx context.Context, source, out string) error {
	executable, _ := os.Executable()
	enginePath, err := tsbuild.FindEngine(a.getenv, executable)
	if err != nil {
		return err
	}
	engine, err := os.ReadFile(enginePath)
	if err != nil {
		return fmt.Errorf("read JavaScript engine: %w", err)
	}

	wasm, err := tsbuild.Build(ctx, tsbuild.Options{Entries: []string{source}, EngineWasm: engine})
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, wasm, 0o644); err != nil {
		return fmt.Errorf("write plugin: %w", err)
	}
	return nil
}
