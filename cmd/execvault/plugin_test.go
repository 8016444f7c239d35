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
			code, stderr := runPluginBuild(t, tt.dir, nil, tt.source, out)
			if code != tt.wantCode {
				t.Fatalf("exit status %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q does not contain %q", stderr, want)
				}
			}

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
