package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runPluginBuild runs the execvault binary's plugin build in dir, as a
// user would from a shell there, and returns its exit status and stderr.
// The binary is built without the race detector, so loading a large module
// does not take minutes.
// checkPluginBuild runs runPluginBuild and checks its exit status and
// that its stderr holds each of wantStderr.
func checkPluginBuild(t *testing.T, dir string, env []string, source, out string, wantCode int, wantStderr []string) {
	t.Helper()
	code, stderr := runPluginBuild(t, dir, env, source, out)
	if code != wantCode {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", code, wantCode, stderr)
	}
	for _, want := range wantStderr {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not contain %q", stderr, want)
		}
	}
}

func runPluginBuild(t *testing.T, dir string, env []string, source, out string) (int, string) {
	t.Helper()
	cmd := exec.Command(execvaultBinary(t), "--data-dir", filepath.Join(t.TempDir(), "data"),
		"plugin", "build", source, "-o", out)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "EXECVAULT_CACHE_DIR="+filepath.Join(os.TempDir(), "execvault-test-cache"))
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exitErr):
		return exitErr.ExitCode(), stderr.String()
	default:
		t.Fatalf("run plugin build: %v", err)
		return 0, ""
	}
}

// writeFiles creates dir and writes files, keyed by name, inside it.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPluginBuildGoFromAnyDirectory(t *testing.T) {
	example, err := filepath.Abs("../../plugins/examples/sync-to-external-crm")
	if err != nil {
		t.Fatal(err)
	}
	noModule := filepath.Join(t.TempDir(), "no-module")
	writeFiles(t, noModule, map[string]string{"main.go": "package main\n\nfunc main() {}\n"})

	tests := []struct {
		name       string
		dir        string
		source     string
		wantCode   int
		wantStderr []string
	}{
		{
			name:       "absolute path from outside the module",
			dir:        t.TempDir(),
			source:     example,
			wantStderr: []string{"built from " + example},
		},
		{
			name:       "relative path from the parent directory",
			dir:        filepath.Dir(example),
			source:     "sync-to-external-crm",
			wantStderr: []string{"built from sync-to-external-crm"},
		},
		{
			name:       "directory outside any module",
			dir:        t.TempDir(),
			source:     noModule,
			wantCode:   1,
			wantStderr: []string{noModule, "is not inside a Go module", "go mod init"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "plugin.wasm")
			checkPluginBuild(t, tt.dir, nil, tt.source, out, tt.wantCode, tt.wantStderr)

			data, err := os.ReadFile(out)
			switch {
			case tt.wantCode != 0 && err == nil:
				t.Errorf("failed build left %s behind", out)
			case tt.wantCode == 0 && err != nil:
				t.Errorf("read built plugin: %v", err)
			case tt.wantCode == 0 && !bytes.HasPrefix(data, []byte("\x00asm")):
				t.Errorf("built plugin starts with %q, want the Wasm header", data[:min(len(data), 4)])
			}
		})
	}
}

// TestPluginBuildGoModuleFromDocs follows docs/go-sdk.md: a module of its
// own with the go.mod lines the guide gives, the guide's first executor,
// and plugin build started outside the module.
func TestPluginBuildGoModuleFromDocs(t *testing.T) {
	guide, err := os.ReadFile("../../docs/go-sdk.md")
	if err != nil {
		t.Fatal(err)
	}
	checkout, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}

	executor, ok := fencedBlock(string(guide), "```go\n")
	if !ok {
		t.Fatal("docs/go-sdk.md has no Go code block")
	}
	var requireLine, replaceLine string
	for line := range strings.Lines(string(guide)) {
		switch {
		case strings.HasPrefix(line, "require github.com/execvault/execvault "):
			requireLine = line
		case strings.HasPrefix(line, "replace github.com/execvault/execvault => ../execvault"):
			replaceLine = strings.Replace(line, "../execvault", checkout, 1)
		}
	}
	if requireLine == "" {
		t.Fatal("docs/go-sdk.md has no require line for github.com/execvault/execvault")
	}
	if replaceLine == "" {
		t.Fatal("docs/go-sdk.md has no replace line pointing github.com/execvault/execvault at ../execvault")
	}

	module := filepath.Join(t.TempDir(), "executors")
	writeFiles(t, module, map[string]string{
		"go.mod": "module example.com/executors\n\ngo 1.26.0\n\n" + requireLine + "\n" + replaceLine,
	})
	writeFiles(t, filepath.Join(module, "order-alert"), map[string]string{"main.go": executor})

	out := filepath.Join(t.TempDir(), "order-alert.wasm")
	code, stderr := runPluginBuild(t, t.TempDir(), nil, filepath.Join(module, "order-alert"), out)
	if code != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("stat built plugin: %v", err)
	}
}

// fencedBlock returns the body of the first fenced block in text that opens
// with the line open.
func fencedBlock(text, open string) (string, bool) {
	_, rest, ok := strings.Cut(text, open)
	if !ok {
		return "", false
	}
	body, _, ok := strings.Cut(rest, "```\n")
	return body, ok
}

// buildJSEngine builds the JavaScript engine guest into a test directory
// and returns its path.
func buildJSEngine(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "execvault-js-engine.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-o", path, "./plugins/jsengine")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build JavaScript engine: %v\n%s", err, out)
	}
	return path
}

func TestPluginBuildChecksThatOutputLoads(t *testing.T) {
	engineEnv := []string{"EXECVAULT_JS_ENGINE=" + buildJSEngine(t)}
	tsExample, err := filepath.Abs("../../plugins/examples/ts/sync-to-external-crm.ts")
	if err != nil {
		t.Fatal(err)
	}

	noSDK := filepath.Join(t.TempDir(), "no-sdk")
	writeFiles(t, noSDK, map[string]string{
		"go.mod":  "module example.com/nosdk\n\ngo 1.26.0\n",
		"main.go": "package main\n\nfunc main() {}\n",
	})
	typo := filepath.Join(t.TempDir(), "typo.ts")
	writeFiles(t, filepath.Dir(typo), map[string]string{filepath.Base(typo): `import { createExecutor, recordCreatedTrigger } from "@tailor-platform/sdk";

export default createExecutor({
  name: "typo",
  trigger: recordCreatedTrigger({
    type: "salesOrder",
    condtion: ({ newRecord }) => (newRecord.totalPrice ?? 0) > 100000,
  }),
  operation: { kind: "webhook", url: "https://crm.example.com/api/v1/orders" },
});
`})

	tests := []struct {
		name   string
		source string
		// existing, when set, is written to the output path before the
		// build.
		existing   string
		wantCode   int
		wantStderr []string
	}{
		{
			name:       "Go main package without the SDK",
			source:     noSDK,
			wantCode:   1,
			wantStderr: []string{"plugin built from " + noSDK + " does not load", `missing export "execvault_alloc"`},
		},
		{
			name:       "TypeScript option typo",
			source:     typo,
			wantCode:   1,
			wantStderr: []string{"plugin built from " + typo + " does not load", `unknown option "condtion"`},
		},
		{
			name:       "TypeScript option typo over an existing plugin",
			source:     typo,
			existing:   "previous plugin",
			wantCode:   1,
			wantStderr: []string{`unknown option "condtion"`},
		},
		{
			name:       "TypeScript example",
			source:     tsExample,
			wantStderr: []string{"built from " + tsExample},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "plugin.wasm")
			if tt.existing != "" {
				writeFiles(t, filepath.Dir(out), map[string]string{filepath.Base(out): tt.existing})
			}
			checkPluginBuild(t, t.TempDir(), engineEnv, tt.source, out, tt.wantCode, tt.wantStderr)

			data, err := os.ReadFile(out)
			switch {
			case tt.existing != "" && string(data) != tt.existing:
				t.Errorf("after the failed build %s holds %.20q, want %q", out, data, tt.existing)
			case tt.existing == "" && tt.wantCode != 0 && err == nil:
				t.Errorf("failed build left %s behind", out)
			case tt.wantCode == 0 && err != nil:
				t.Errorf("read built plugin: %v", err)
			}
		})
	}
}

func TestPluginBuildMissingOutputDir(t *testing.T) {
	env := newCLIEnv(t)
	missing := filepath.Join(t.TempDir(), "plugins.d")
	out := filepath.Join(missing, "crm.wasm")
	code, _, stderr := env.run("", "plugin", "build", "../../plugins/examples/sync-to-external-crm", "-o", out)
	if code != exitError {
		t.Errorf("exit status %d, want %d", code, exitError)
	}
	if want := "output directory " + missing + " of -o " + out + " does not exist: create it with mkdir -p " + missing; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, want it to contain %q", stderr, want)
	}
}
