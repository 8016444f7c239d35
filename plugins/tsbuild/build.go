package tsbuild

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/plugins/jsengine/jsbundle"
)

// SDKModule is the import path that resolves to the built-in stand-in for
// the platform SDK.
const SDKModule = "@tailor-platform/sdk"

//go:embed sdk/index.js
var sdkSource string

// sdkNamespace is the esbuild namespace of the built-in SDK module. It is
// also the prefix stack traces show for frames inside the SDK.
const sdkNamespace = "execvault-sdk"

// Options configure Build and Bundle.
type Options struct {
	// Entries lists executor files, or directories whose executor files
	// are all taken (see ExpandEntries). Each file's default export is one
	// executor definition. Required.
	Entries []string

	// EngineWasm is the JavaScript engine module that Build prepends to
	// the bundle, as built from ./plugins/jsengine (see FindEngine).
	// Required by Build, ignored by Bundle.
	EngineWasm []byte

	// BaseDir is the directory that file names in messages, stack traces
	// and the manifest's source positions are relative to. Empty means
	// the current working directory.
	BaseDir string

	// Logger receives one debug record per bundle. Nil discards logs.
	Logger *slog.Logger
}

// Build bundles the executor files of opts.Entries with esbuild and returns
// a plugin module: opts.EngineWasm followed by the execvault.bundle custom
// section holding the bundle. Imports of SDKModule resolve to the built-in
// SDK module, and imports of TailorDB type files follow the rule in the
// package documentation.
//
// Errors wrap ErrNoEntries, ErrInvalidEngine, or ErrBuild with a
// *BuildError whose messages give file, line and column. The bundle is not
// run here, so a definition with the wrong shape is reported when the
// plugin is loaded. Build is safe for concurrent use.
func Build(ctx context.Context, opts Options) ([]byte, error) {
	if _, _, ok, err := plugins.SplitBundle(opts.EngineWasm); err != nil {
		return nil, fmt.Errorf("build plugin: %w: %w; rebuild it with make js-engine", ErrInvalidEngine, err)
	} else if ok {
		return nil, fmt.Errorf("build plugin: %w: the module already carries a bundle, so it is a built plugin rather than the engine", ErrInvalidEngine)
	}

	b, err := Bundle(ctx, opts)
	if err != nil {
		return nil, err
	}
	payload, err := jsbundle.Encode(b)
	if err != nil {
		return nil, fmt.Errorf("build plugin: %w", err)
	}
	return plugins.AppendBundleSection(opts.EngineWasm, payload), nil
}

// Bundle bundles the executor files of opts.Entries into one script with
// its source map, without the engine. See Build for the rules and errors.
// ctx is checked before and after bundling. NOTE: esbuild's Build call
// cannot be cancelled, so a cancellation during bundling takes effect only
// when it returns, typically after some milliseconds.
func Bundle(ctx context.Context, opts Options) (*jsbundle.Bundle, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bundle executors: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "tsbuild")

	baseDir := opts.BaseDir
	if baseDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("bundle executors: find working directory: %w; set Options.BaseDir", err)
		}
		baseDir = wd
	}
	baseDir, err := filepath.Abs(baseDir)
	if err != nil {
		return nil, fmt.Errorf("bundle executors: base directory %q: %w", opts.BaseDir, err)
	}

	files, err := ExpandEntries(opts.Entries)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(files))
	var entry strings.Builder
	for i, f := range files {
		names[i] = displayName(baseDir, f)
		quoted, _ := json.Marshal(f)
		fmt.Fprintf(&entry, "import * as m%d from %s;\n", i, quoted)
	}
	entry.WriteString("export const entries = [")
	for i := range files {
		if i > 0 {
			entry.WriteString(", ")
		}
		fmt.Fprintf(&entry, "m%d", i)
	}
	entry.WriteString("];\n")

	start := time.Now()
	result := api.Build(api.BuildOptions{
		Stdin: &api.StdinOptions{
			Contents:   entry.String(),
			ResolveDir: baseDir,
			Sourcefile: "<executors>",
			Loader:     api.LoaderJS,
		},
		AbsWorkingDir:  baseDir,
		Bundle:         true,
		Write:          false,
		Outfile:        filepath.Join(baseDir, "bundle.js"),
		Format:         api.FormatIIFE,
		GlobalName:     jsbundle.GlobalName,
		Platform:       api.PlatformNeutral,
		MainFields:     []string{"module", "main"},
		Target:         api.ES2017,
		Supported:      nativeSyntax,
		Sourcemap:      api.SourceMapExternal,
		SourcesContent: api.SourcesContentExclude,
		Charset:        api.CharsetUTF8,
		LogLevel:       api.LogLevelSilent,
		Plugins:        []api.Plugin{sdkPlugin(), tailordbPlugin()},
	})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bundle executors: %w", err)
	}
	if len(result.Errors) > 0 {
		return nil, newBuildError(result.Errors)
	}

	var code, sourceMap string
	for _, out := range result.OutputFiles {
		switch {
		case strings.HasSuffix(out.Path, ".map"):
			sourceMap = string(out.Contents)
		case strings.HasSuffix(out.Path, ".js"):
			code = string(out.Contents)
		}
	}
	if code == "" {
		return nil, fmt.Errorf("bundle executors: %w: esbuild produced no script", ErrBuild)
	}
	logger.Debug("executors bundled", "files", len(files), "code_bytes", len(code),
		"source_map_bytes", len(sourceMap), "duration", time.Since(start))
	return &jsbundle.Bundle{Code: code, SourceMap: sourceMap, Files: names}, nil
}

// nativeSyntax lists the syntax newer than the ES2017 target that esbuild
// leaves as written, because goja runs it directly. Left as written, ?? and
// ?. skip the temporary variables of esbuild's lowered form, which made a
// condition such as (r.total ?? 0) > 100 about 2 µs slower per firing
// under Wasm.
var nativeSyntax = map[string]bool{
	"nullish-coalescing": true,
	"optional-chain":     true,
}

// displayName is path relative to baseDir with forward slashes, which is
// how esbuild names files in messages and source maps.
func displayName(baseDir, path string) string {
	rel, err := filepath.Rel(baseDir, path)
	if err != nil {
		return filepath.ToSlash(path)
	}
	return filepath.ToSlash(rel)
}

// sdkPlugin resolves SDKModule to the embedded SDK source.
func sdkPlugin() api.Plugin {
	return api.Plugin{
		Name: "execvault-sdk",
		Setup: func(b api.PluginBuild) {
			b.OnResolve(api.OnResolveOptions{Filter: `^@tailor-platform/sdk$`},
				func(args api.OnResolveArgs) (api.OnResolveResult, error) {
					return api.OnResolveResult{Path: SDKModule, Namespace: sdkNamespace}, nil
				})
			b.OnLoad(api.OnLoadOptions{Filter: `.*`, Namespace: sdkNamespace},
				func(args api.OnLoadArgs) (api.OnLoadResult, error) {
					return api.OnLoadResult{Contents: &sdkSource, Loader: api.LoaderJS}, nil
				})
		},
	}
}
