package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/dop251/goja"
)

// maxStackFrames caps the frames a failure message lists.
const maxStackFrames = 10

// rejection is a promise returned by a callback that was rejected.
type rejection struct {
	value goja.Value
}

func (r *rejection) Error() string { return "promise rejected: " + safeString(r.value) }

// describeError formats a JavaScript failure as its message followed by
// one "    at function (file:line:column)" line per stack frame, with
// positions already mapped to the TypeScript source by the source map.
func describeError(err error) string {
	var ex *goja.Exception
	if errors.As(err, &ex) {
		return safeString(ex.Value()) + formatFrames(ex.Stack())
	}

	// Stack overflows and interrupts are uncatchable in JavaScript, so
	// they are not *goja.Exception values and carry no thrown value.
	var overflow *goja.StackOverflowError
	if errors.As(err, &overflow) {
		return "RangeError: Maximum call stack size exceeded" + formatFrames(overflow.Stack())
	}

	var rej *rejection
	if errors.As(err, &rej) {
		if obj, ok := rej.value.(*goja.Object); ok {
			if stack := obj.Get("stack"); stack != nil && isString(stack) {
				return "promise rejected: " + cleanStack(stack.String())
			}
		}
		return rej.Error()
	}
	return err.Error()
}

// formatFrames returns one "\n    at ..." line per frame, at most
// maxStackFrames of them.
func formatFrames(frames []goja.StackFrame) string {
	var b strings.Builder
	for i := range frames {
		if i == maxStackFrames {
			fmt.Fprintf(&b, "\n    ... %d more frames", len(frames)-i)
			break
		}
		b.WriteString("\n    at ")
		writeFrame(&b, &frames[i])
	}
	return b.String()
}

func writeFrame(b *strings.Builder, frame *goja.StackFrame) {
	pos := frame.Position()
	if pos.Filename == "" {
		b.WriteString(frame.FuncName())
		return
	}
	location := pos.Filename + ":" + strconv.Itoa(pos.Line) + ":" + strconv.Itoa(oneBasedColumn(pos.Filename, pos.Column))
	if name := frame.FuncName(); name != "" && name != "<anonymous>" {
		b.WriteString(name + " (" + location + ")")
		return
	}
	b.WriteString(location)
}

// oneBasedColumn corrects goja's columns: goja reports 1-based columns in
// the bundle itself but passes on the 0-based column of the source map
// (github.com/go-sourcemap/sourcemap v2.1.3) for mapped positions.
func oneBasedColumn(file string, column int) int {
	if file == bundleScriptName {
		return column
	}
	return column + 1
}

// stackPosition matches a position in an Error's stack property followed
// by the bytecode offset goja appends, as in "file.ts:3:9(12)".
var stackPosition = regexp.MustCompile(`([^\s(]+):(\d+):(\d+)\(\d+\)`)

// cleanStack rewrites goja's stack property into the format describeError
// uses: no bytecode offsets and four-space indents.
func cleanStack(stack string) string {
	lines := strings.Split(strings.TrimRight(stack, "\n"), "\n")
	if len(lines) > maxStackFrames+1 {
		more := len(lines) - maxStackFrames - 1
		lines = append(lines[:maxStackFrames+1], fmt.Sprintf("    ... %d more frames", more))
	}
	for i, line := range lines {
		if strings.HasPrefix(line, "\tat ") {
			lines[i] = "    at " + stackPosition.ReplaceAllStringFunc(line[len("\tat "):], fixStackPosition)
		}
	}
	return strings.Join(lines, "\n")
}

// safeString converts a thrown value to a string. A value whose toString
// throws is described by its type instead, because converting it must not
// raise a second exception while the first is being reported.
func safeString(v goja.Value) (s string) {
	if v == nil {
		return "undefined"
	}
	defer func() {
		if recover() != nil {
			s = "thrown " + describe(v)
		}
	}()
	return v.String()
}

func fixStackPosition(match string) string {
	m := stackPosition.FindStringSubmatch(match)
	column, err := strconv.Atoi(m[3])
	if err != nil {
		return match
	}
	return m[1] + ":" + m[2] + ":" + strconv.Itoa(oneBasedColumn(m[1], column))
}
