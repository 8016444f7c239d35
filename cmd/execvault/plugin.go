package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/execvault/execvault/runtime"
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
package's directory, so the go.mod in it or a parent directory applies.

The built plugin is then loaded as execvault run loads it (compiled, its
exports checked and its manifest read, with no executor fired). If that
fails, the command fails and FILE.wasm is not written.`,
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
	typeScript := isTypeScriptSource(source, info)
	if !typeScript && !info.IsDir() {
		return fmt.Errorf("plugin source %s is neither a Go package directory nor a .ts file", source)
	}
	if err := checkOutputDir(out); err != nil {
		return err
	}

	// The plugin is built and loaded in a directory of its own and copied
	// to out only when it loads, so a plugin that cannot load never
	// reaches a directory that execvault run reads.
	buildDir, err := os.MkdirTemp("", "execvault-plugin-build-")
	if err != nil {
		return fmt.Errorf("create plugin build directory: %w", err)
	}
	defer os.RemoveAll(buildDir)
	built := filepath.Join(buildDir, "plugin.wasm")

	if typeScript {
		err = a.buildTypeScriptPlugin(ctx, source, built)
	} else {
		err = a.buildGoPlugin(ctx, source, built)
	}
	if err != nil {
		return err
	}
	if err := a.loadBuiltPlugin(ctx, buildDir); err != nil {
		return fmt.Errorf("plugin built from %s does not load: %w", source, err)
	}

	data, err := os.ReadFile(built)
	if err != nil {
		return fmt.Errorf("read built plugin: %w", err)
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return fmt.Errorf("write plugin: %w", err)
	}
	fmt.Fprintf(a.stderr, "Plugin: %s built from %s\n", out, source)
	return nil
}

// loadBuiltPlugin loads the plugins in dir as execvault run loads them. It
// compiles each module, checks its exports and imports, instantiates it and
// reads its manifest. It fires no executor and has no secret store, so it
// reads no secret and sends no request.
func (a *app) loadBuiltPlugin(ctx context.Context, dir string) error {
	cfg := runtime.DefaultConfig()
	cfg.PluginDir = dir
	cfg.CacheDir = a.cacheDir()
	cfg.PoolSize = 1
	cfg.Logger = slog.New(slog.DiscardHandler)
	rt, err := runtime.New(ctx, cfg)
	if err != nil {
		// A PluginError names the temporary build file, which means
		// nothing to the user, so only its cause is returned.
		var loadErr *runtime.PluginError
		if errors.As(err, &loadErr) {
			return loadErr.Err
		}
		return err
	}
	return rt.Close(ctx)
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

// checkOutputDir returns an error when the directory of out does not
// exist or is not a directory, so that the command fails before a build
// that could not be written.
func checkOutputDir(out string) error {
	dir := filepath.Dir(out)
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("output directory %s of -o %s does not exist: create it with mkdir -p %s, or name a file in an existing directory", dir, out, dir)
	}
	if err != nil {
		return fmt.Errorf("output directory of -o %s: %w", out, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("output directory %s of -o %s is not a directory: name a file in a directory", dir, out)
	}
	return nil
}
