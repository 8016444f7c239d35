package tsbuild

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/execvault/execvault/plugins"
)

// writeFile writes content to dir/name, creating parent directories.
func writeFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

const minimalExecutor = `import { createExecutor, recordCreatedTrigger } from "@tailor-platform/sdk";
import { order } from "../tailordb/order";

export default createExecutor({
  name: "minimal",
  trigger: recordCreatedTrigger({ type: order }),
  operation: { kind: "webhook", url: "https://example.com/" },
});
`

func TestBundleProblems(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		problem Problem
	}{
		{
			name: "syntax error",
			files: map[string]string{"executors/bad.ts": `import { createExecutor } from "@tailor-platform/sdk";
export default createExecutor({
  name: "bad",
  trigger: {,
});
`},
			problem: Problem{File: "executors/bad.ts", Line: 4, Column: 13, Message: `Expected identifier but found ","`},
		},
		{
			name: "unresolved import",
			files: map[string]string{"executors/missing.ts": `import { createExecutor } from "@tailor-platform/sdk";
import { helper } from "./lib/helper";
export default createExecutor(helper);
`},
			problem: Problem{File: "executors/missing.ts", Line: 2, Column: 24, Message: `Could not resolve "./lib/helper"`},
		},
		{
			name: "unknown package",
			files: map[string]string{"executors/pkg.ts": `import { z } from "zod";
export default z;
`},
			problem: Problem{File: "executors/pkg.ts", Line: 1, Column: 19, Message: `Could not resolve "zod": install it with npm install zod, so that a node_modules directory at or above the file contains it`},
		},
		{
			name: "unknown scoped package",
			files: map[string]string{"executors/scoped.ts": `import { x } from "@acme/tools/strings";
export default x;
`},
			problem: Problem{File: "executors/scoped.ts", Line: 1, Column: 19, Message: `Could not resolve "@acme/tools/strings": install it with npm install @acme/tools, so that a node_modules directory at or above the file contains it`},
		},
		{
			name: "Node.js built-in module",
			files: map[string]string{"executors/fs.ts": `import fs from "node:fs";
export default fs;
`},
			problem: Problem{File: "executors/fs.ts", Line: 1, Column: 16, Message: `Could not resolve "node:fs": Node.js built-in modules are not available to executors, which run sandboxed without file or network access`},
		},
		{
			name: "missing export of an existing file",
			files: map[string]string{
				"executors/named.ts": `import { nothing } from "./lib";
export default nothing;
`,
				"executors/lib.ts": `export const something = 1;
`,
			},
			problem: Problem{File: "executors/named.ts", Line: 1, Column: 10, Message: `No matching export in "executors/lib.ts" for import "nothing"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var entry string
			for name, content := range tt.files {
				p := writeFile(t, dir, name, content)
				if entry == "" || !strings.HasSuffix(name, "lib.ts") {
					entry = p
				}
			}
			_, err := Bundle(context.Background(), Options{Entries: []string{entry}, BaseDir: dir})
			if !errors.Is(err, ErrBuild) {
				t.Fatalf("Bundle error = %v, want %v", err, ErrBuild)
			}
			var be *BuildError
			if !errors.As(err, &be) {
				t.Fatalf("Bundle error %T is not a *BuildError", err)
			}
			if len(be.Problems) != 1 {
				t.Fatalf("problems = %q, want 1", be.Problems)
			}
			if got := be.Problems[0]; got != tt.problem {
				t.Errorf("problem = %+v, want %+v", got, tt.problem)
			}
			if !strings.Contains(err.Error(), tt.problem.String()) {
				t.Errorf("error = %q, want it to contain %q", err, tt.problem.String())
			}
		})
	}
}

func TestTailorDBImports(t *testing.T) {
	tests := []struct {
		name     string
		typeFile string
		content  string
		want     string
	}{
		{name: "missing file is virtual", want: `{ name: "order" }`},
		{
			name:     "existing file with db.type",
			typeFile: "tailordb/order.ts",
			content: `import { db } from "@tailor-platform/sdk";
export const order = db.type("Order", { total: db.float().index(), note: db.string({ optional: true }) });
`,
			want: `db.type("Order"`,
		},
		{
			name:     "existing file with plain object",
			typeFile: "tailordb/order/index.ts",
			content:  "export const order = { name: \"SalesOrder\" };\n",
			want:     `name: "SalesOrder"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			entry := writeFile(t, dir, "executors/minimal.ts", minimalExecutor)
			if tt.typeFile != "" {
				writeFile(t, dir, tt.typeFile, tt.content)
			}
			b, err := Bundle(context.Background(), Options{Entries: []string{entry}, BaseDir: dir})
			if err != nil {
				t.Fatalf("Bundle: %v", err)
			}
			if !strings.Contains(b.Code, tt.want) {
				t.Errorf("code does not contain %q:\n%s", tt.want, b.Code)
			}
		})
	}
}

func TestTailorDBTypeNamesThroughWasm(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		typeFile string
		content  string
		typeName string
	}{
		{name: "virtual module", typeName: "order"},
		{
			name:     "db.type",
			typeFile: "tailordb/order.ts",
			content: `import { db } from "@tailor-platform/sdk";
export const order = db.type("Order", { total: db.float().index(), note: db.string({ optional: true }) });
`,
			typeName: "Order",
		},
		{
			name:     "db.type with plural",
			typeFile: "tailordb/order.ts",
			content: `import { db } from "@tailor-platform/sdk";
export const order = db.type(["Order", "Orders"], {});
`,
			typeName: "Order",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "executors/minimal.ts", minimalExecutor)
			if tt.typeFile != "" {
				writeFile(t, dir, tt.typeFile, tt.content)
			}
			g := loadGuest(t, filepath.Join(dir, "executors"))
			data, err := g.manifestJSON(ctx)
			if err != nil {
				t.Fatal(err)
			}
			m, err := plugins.ParseManifest(data)
			if err != nil {
				t.Fatalf("ParseManifest: %v", err)
			}
			if got := m.Executors[0].Trigger.TypeName; got != tt.typeName {
				t.Errorf("typeName = %q, want %q", got, tt.typeName)
			}
		})
	}
}

func TestImportedNames(t *testing.T) {
	dir := t.TempDir()
	importer := writeFile(t, dir, "a.ts", `import { order, type Order, customer as c } from "../tailordb/order";
import def, { invoice } from '../tailordb/order'
import * as all from "../tailordb/order";
export { refund } from "../tailordb/order";
import { unrelated } from "../tailordb/other";
import { "not-an-identifier" as x, default as d } from "../tailordb/order";
`)
	got := importedNames(importer, "../tailordb/order")
	want := []string{"Order", "customer", "invoice", "order", "refund"}
	if !slices.Equal(got, want) {
		t.Errorf("importedNames = %q, want %q", got, want)
	}
	if got := importedNames(filepath.Join(dir, "absent.ts"), "../tailordb/order"); got != nil {
		t.Errorf("importedNames of a missing importer = %q, want none", got)
	}
}

func TestExpandEntries(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.ts", "a.ts", "c.mjs", "types.d.ts", "a.test.ts", "a.spec.ts", "_draft.ts", ".hidden.ts", "notes.md", "sub/d.ts"} {
		writeFile(t, dir, name, "export default 1;\n")
	}
	abs := func(names ...string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = filepath.Join(dir, n)
		}
		return out
	}
	tests := []struct {
		name    string
		entries []string
		want    []string
	}{
		{name: "directory", entries: []string{dir}, want: abs("a.ts", "b.ts", "c.mjs")},
		{name: "files as given", entries: abs("notes.md", "a.ts"), want: abs("notes.md", "a.ts")},
		{name: "duplicates taken once", entries: append(abs("b.ts"), dir), want: abs("b.ts", "a.ts", "c.mjs")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandEntries(tt.entries)
			if err != nil {
				t.Fatalf("ExpandEntries: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ExpandEntries = %q, want %q", got, tt.want)
			}
		})
	}

	errorTests := []struct {
		name    string
		entries []string
		want    error
	}{
		{name: "none", entries: nil, want: ErrNoEntries},
		{name: "directory without executors", entries: []string{filepath.Join(dir, "sub", "..", "sub", "empty")}, want: os.ErrNotExist},
		{name: "missing file", entries: abs("absent.ts"), want: os.ErrNotExist},
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	errorTests = append(errorTests, struct {
		name    string
		entries []string
		want    error
	}{name: "empty directory", entries: abs("empty"), want: ErrNoEntries})
	for _, tt := range errorTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ExpandEntries(tt.entries)
			if !errors.Is(err, tt.want) {
				t.Errorf("ExpandEntries error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestBuildRejectsBadEngine(t *testing.T) {
	dir := t.TempDir()
	entry := writeFile(t, dir, "executors/minimal.ts", minimalExecutor)
	plugin := plugins.AppendBundleSection([]byte("\x00asm\x01\x00\x00\x00"), []byte("{}"))
	tests := []struct {
		name   string
		engine []byte
	}{
		{name: "missing", engine: nil},
		{name: "not wasm", engine: []byte("#!/bin/sh\n")},
		{name: "already a plugin", engine: plugin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(context.Background(), Options{Entries: []string{entry}, EngineWasm: tt.engine, BaseDir: dir})
			if !errors.Is(err, ErrInvalidEngine) {
				t.Errorf("Build error = %v, want %v", err, ErrInvalidEngine)
			}
		})
	}
}

func TestBundleCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Bundle(ctx, Options{Entries: []string{examplesDir}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Bundle error = %v, want %v", err, context.Canceled)
	}
}

func TestFindEngine(t *testing.T) {
	dir := t.TempDir()
	engine := writeFile(t, dir, "custom.wasm", "\x00asm\x01\x00\x00\x00")
	beside := writeFile(t, dir, "bin/"+EngineFileName, "\x00asm\x01\x00\x00\x00")
	env := func(value string) func(string) string {
		return func(key string) string {
			if key == EngineEnv {
				return value
			}
			return ""
		}
	}
	tests := []struct {
		name       string
		env        string
		executable string
		want       string
		wantErr    error
	}{
		{name: "environment", env: engine, executable: filepath.Join(dir, "bin", "execvault"), want: engine},
		{name: "beside executable", executable: filepath.Join(dir, "bin", "execvault"), want: beside},
		{name: "environment names missing file", env: filepath.Join(dir, "absent.wasm"), wantErr: ErrEngineNotFound},
		{name: "nothing beside executable", executable: filepath.Join(dir, "execvault"), wantErr: ErrEngineNotFound},
		{name: "no executable", wantErr: ErrEngineNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FindEngine(env(tt.env), tt.executable)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("FindEngine error = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "make js-engine") {
				t.Errorf("error = %q, want it to say how to build the engine", err)
			}
			if got != tt.want {
				t.Errorf("FindEngine = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBundleConcurrently(t *testing.T) {
	const workers = 4
	errs := make(chan error, workers)
	for range workers {
		go func() {
			b, err := Bundle(context.Background(), Options{Entries: []string{examplesDir}, BaseDir: "../.."})
			if err == nil && len(b.Files) != 2 {
				err = errors.New("bundle lists " + strings.Join(b.Files, ", ") + ", want two files")
			}
			errs <- err
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
