package tsbuild

import (
	"fmt"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// BuildError lists the problems esbuild reported while bundling. It wraps
// ErrBuild.
type BuildError struct {
	Problems []Problem
}

// Problem is one error in the TypeScript sources. File is relative to
// Options.BaseDir; Line and Column are 1-based, and Column counts bytes.
// File is empty and Line and Column are 0 when the problem has no source
// position.
type Problem struct {
	File    string
	Line    int
	Column  int
	Message string
}

// String formats the problem as "file:line:column: message", the format
// editors and terminals recognise.
func (p Problem) String() string {
	if p.File == "" {
		return p.Message
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Message)
}

func newBuildError(messages []api.Message) *BuildError {
	e := &BuildError{}
	for _, m := range messages {
		p := Problem{Message: m.Text + resolveHint(m)}
		if m.Location != nil {
			p.File = m.Location.File
			p.Line = m.Location.Line
			p.Column = m.Location.Column + 1
		}
		e.Problems = append(e.Problems, p)
	}
	return e
}

// Error returns every problem on its own line after a summary line.
func (e *BuildError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d error", ErrBuild.Error(), len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	for _, p := range e.Problems {
		b.WriteString("\n")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns ErrBuild.
func (e *BuildError) Unwrap() error { return ErrBuild }

// resolveHint returns what to do about an import of a package that esbuild
// could not find, and "" for other messages. esbuild's own notes suggest
// build options that execvault does not expose, so they are not shown.
func resolveHint(m api.Message) string {
	path, ok := strings.CutPrefix(m.Text, `Could not resolve "`)
	if !ok {
		return ""
	}
	path = strings.TrimSuffix(path, `"`)
	if path == "" || strings.HasPrefix(path, ".") || strings.HasPrefix(path, "/") {
		return ""
	}
	for _, n := range m.Notes {
		if strings.Contains(n.Text, "built into node") {
			return ": Node.js built-in modules are not available to executors, which run sandboxed without file or network access"
		}
	}
	return fmt.Sprintf(": install it with npm install %s, so that a node_modules directory at or above the file contains it", packageName(path))
}

// packageName returns the npm package of an import path: its first
// segment, or its first two for a scoped package such as "@scope/pkg/sub".
func packageName(path string) string {
	segments := strings.SplitN(path, "/", 3)
	if strings.HasPrefix(path, "@") && len(segments) > 1 {
		return segments[0] + "/" + segments[1]
	}
	return segments[0]
}
