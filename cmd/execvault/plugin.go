package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func init() { commandAdders = append(commandAdders, addPluginCommands) }

func addPluginCommands(a *app, root *cobra.Command) {
	plugin := &cobra.Command{Use: "plugin", Short: "Build executor plugins"}

	var out string
	build := &cobra.Command{
		Use:   "build SOURCE -o FILE.wasm",
		Short: "Compile an executor to a WebAssembly plugin",
		Long: `Compile an executor to a WebAssembly plugin.

SOURCE is a directory holding a Go main package written against the
github.com/execvault/execvault/plugins SDK, or a TypeScript executor file
(.ts), or a directory of TypeScript executor files. Go sources are built
with the Go toolchain on PATH (GOOS=wasip1 GOARCH=wasm, c-shared), in the
package's directory, so the go.mod in it or a parent directory applies.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return &usageError{errors.New("missing -o FILE.wasm: name the plugin file to write")}
			}
			return a.buildPlugin(cmd.Context(), args[0], out)
		},
	}
	build.Flags().StringVarP(&out, "output", "o", "", "plugin file to write (.wasm)")
	plugin.AddCommand(build)
	root.AddCommand(plugin)
}

func (a *app) buildPlugin(ctx context.Context, source, out string) error {
	info, err := os.Stat(source)
	if err != nil {
		return fmt.Errorf("plugin source %s: %w", source, err)
	}
	if isTypeScriptSource(source, info) {
		return a.buildTypeScriptPlugin(ctx, source, out)
	}
	if !info.IsDir() {
		return fmt.Errorf("plugin source %s is neither a Go package directory nor a .ts file", source)
	}
	return a.buildGoPlugin(ctx, source, out)
}

// isTypeScriptSource reports a .ts file, or a directory with .ts files and
// no Go files.
func isTypeScriptSource(source string, info os.FileInfo) bool {
	if !info.IsDir() {
		return strings.HasSuffix(source, ".ts")
	}
	goFiles, _ := filepath.Glob(filepath.Join(source, "*.go"))
	tsFiles, _ := filepath.Glob(filepath.Join(source, "*.ts"))
	return len(goFiles) == 0 && len(tsFiles) > 0
}

func (a *app) buildGoPlugin(ctx context.Context, dir, out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return errors.New("building a Go plugin needs the Go toolchain: go was not found on PATH")
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}

	// The go command finds the module from its working directory. Running
	// it in the package's directory makes the package build with its own
	// go.mod wherever execvault was started.
	gomod, err := goModFile(ctx, goBin, absDir)
	if err != nil {
		return err
	}
	if gomod == "" || gomod == os.DevNull {
		return fmt.Errorf("plugin source %s is not inside a Go module because neither it nor a parent directory has a go.mod: "+
			"run 'go mod init' there and require github.com/execvault/execvault, as docs/go-sdk.md shows", dir)
	}

	cmd := exec.CommandContext(ctx, goBin, "build", "-buildmode=c-shared", "-o", absOut, ".")
	cmd.Dir = absDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	cmd.Stdout = a.stderr
	cmd.Stderr = a.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", dir, err)
	}
	fmt.Fprintf(a.stderr, "Plugin: %s built from %s\n", out, dir)
	return nil
}

// goModFile returns the path of the go.mod that the go command uses in dir.
// The path is empty or os.DevNull when dir is in no module.
func goModFile(ctx context.Context, goBin, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, goBin, "env", "GOMOD")
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
