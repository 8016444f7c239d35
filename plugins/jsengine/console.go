package main

import (
	"strings"

	"github.com/dop251/goja"
)

// maxLogMessageBytes caps one console message, so that logging a large
// object cannot flood the host log. The host rate-limits messages as well.
const maxLogMessageBytes = 8 << 10

// installConsole defines console.debug, log, info, warn and error. Each
// joins its arguments with spaces, writing strings as they are and other
// values as JSON where they have a JSON form, and passes the message to
// logf with the matching execvault.log level.
func installConsole(vm *goja.Runtime, logf func(level int32, msg string)) {
	stringify, _ := goja.AssertFunction(vm.Get("JSON").(*goja.Object).Get("stringify"))
	method := func(level int32) func(goja.FunctionCall) goja.Value {
		return func(call goja.FunctionCall) goja.Value {
			var b strings.Builder
			for i, arg := range call.Arguments {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(formatLogArg(arg, stringify))
				if b.Len() > maxLogMessageBytes {
					break
				}
			}
			msg := b.String()
			if len(msg) > maxLogMessageBytes {
				msg = strings.ToValidUTF8(msg[:maxLogMessageBytes], "") + " …(truncated)"
			}
			logf(level, msg)
			return goja.Undefined()
		}
	}

	console := vm.NewObject()
	_ = console.Set("debug", method(levelDebug))
	_ = console.Set("log", method(levelInfo))
	_ = console.Set("info", method(levelInfo))
	_ = console.Set("warn", method(levelWarn))
	_ = console.Set("error", method(levelError))
	_ = vm.Set("console", console)
}

func formatLogArg(v goja.Value, stringify goja.Callable) string {
	if isString(v) {
		return v.String()
	}
	if obj, ok := v.(*goja.Object); ok && !isFunction(v) {
		if obj.ClassName() == "Error" {
			if stack := obj.Get("stack"); stack != nil && isString(stack) {
				return cleanStack(stack.String())
			}
		}
		if s, err := stringify(goja.Undefined(), v); err == nil && isString(s) {
			return s.String()
		}
	}
	return safeString(v)
}
