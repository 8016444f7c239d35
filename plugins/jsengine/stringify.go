package main

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/dop251/goja"
)

// maxFastJSONDepth is the nesting depth up to which appendJSON serialises
// objects itself. Deeper values go to JSON.stringify, which also detects
// cycles.
const maxFastJSONDepth = 64

// jsonWriter serialises request bodies. It writes plain data (ordinary
// objects, arrays, ASCII strings, numbers, booleans and null) itself,
// because goja's JSON.stringify decodes every string rune by rune. Every
// other value goes to JSON.stringify, so the output always matches it:
// toJSON methods (Date among them), boxed primitives, BigInt errors,
// non-ASCII strings and cycles all take that path.
type jsonWriter struct {
	vm        *goja.Runtime
	stringify goja.Callable
	// objectPrototype is the prototype of object literals.
	objectPrototype *goja.Object
}

func newJSONWriter(vm *goja.Runtime) *jsonWriter {
	stringify, _ := goja.AssertFunction(vm.Get("JSON").(*goja.Object).Get("stringify"))
	return &jsonWriter{vm: vm, stringify: stringify, objectPrototype: vm.NewObject().Prototype()}
}

// serialize appends the JSON form of v, turning an exception thrown while
// reading v, such as by a getter or a toJSON method, into an error.
func (w *jsonWriter) serialize(dst []byte, v goja.Value) (out []byte, ok bool, err error) {
	if ex := w.vm.Try(func() { out, ok, err = w.appendJSON(dst, v, 0) }); ex != nil {
		return dst, false, ex
	}
	return out, ok, err
}

// serializeShaped is serialize for a value that is known to be a fresh
// object of the given shape, such as the result of a requestBody callback
// that returns an object literal. A nil shape serialises v as serialize
// does.
func (w *jsonWriter) serializeShaped(dst []byte, v goja.Value, shape *objectShape) (out []byte, ok bool, err error) {
	if shape == nil {
		return w.serialize(dst, v)
	}
	if ex := w.vm.Try(func() { out, ok, err = w.appendShaped(dst, v, shape, 0) }); ex != nil {
		return dst, false, ex
	}
	return out, ok, err
}

// appendShaped appends the JSON form of v, reading the keys of shape
// instead of enumerating v's keys. It checks what a literal cannot vary:
// v must be an ordinary object without a toJSON method, inherited ones
// included. Otherwise it serialises v as appendJSON does.
func (w *jsonWriter) appendShaped(dst []byte, v goja.Value, shape *objectShape, depth int) (out []byte, ok bool, err error) {
	obj, isObject := v.(*goja.Object)
	if !isObject || depth >= maxFastJSONDepth || obj.ClassName() != "Object" || hasToJSON(obj) {
		return w.appendJSON(dst, v, depth)
	}

	dst = append(dst, '{')
	first := true
	for i, key := range shape.keys {
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, shape.prefixes[i]...)
		var written bool
		if child := shape.children[i]; child != nil {
			dst, written, err = w.appendShaped(dst, obj.Get(key), child, depth+1)
		} else {
			dst, written, err = w.appendJSON(dst, obj.Get(key), depth+1)
		}
		if err != nil {
			return dst, false, err
		}
		if !written {
			dst = dst[:mark]
			continue
		}
		first = false
	}
	return append(dst, '}'), true, nil
}

func hasToJSON(obj *goja.Object) bool {
	toJSON := obj.Get("toJSON")
	return toJSON != nil && !goja.IsUndefined(toJSON)
}

// appendJSON appends the JSON form of v. ok is false when v has none
// (undefined, a function or a symbol), where JSON.stringify returns
// undefined.
func (w *jsonWriter) appendJSON(dst []byte, v goja.Value, depth int) (out []byte, ok bool, err error) {
	if v == nil || goja.IsUndefined(v) {
		return dst, false, nil
	}
	if goja.IsNull(v) {
		return append(dst, "null"...), true, nil
	}
	if _, isSymbol := v.(*goja.Symbol); isSymbol {
		return dst, false, nil
	}
	if goja.IsString(v) {
		s := v.String()
		if !hasSpecialByte(s) {
			dst = append(dst, '"')
			dst = append(dst, s...)
			return append(dst, '"'), true, nil
		}
		if !isASCII(s) {
			return w.fallback(dst, v)
		}
		return appendQuoted(dst, s), true, nil
	}

	obj, isObject := v.(*goja.Object)
	if !isObject {
		if goja.IsNumber(v) {
			if goja.IsNaN(v) || goja.IsInfinity(v) {
				return append(dst, "null"...), true, nil
			}
			// Integers of magnitude below 2^53 print as JavaScript prints
			// them, and AppendInt does not allocate as String does.
			if f := v.ToFloat(); f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				return strconv.AppendInt(dst, int64(f), 10), true, nil
			}
			return append(dst, v.String()...), true, nil
		}
		if b, isBool := v.Export().(bool); isBool {
			if b {
				return append(dst, "true"...), true, nil
			}
			return append(dst, "false"...), true, nil
		}
		return w.fallback(dst, v)
	}

	if isFunction(v) {
		return dst, false, nil
	}
	if depth >= maxFastJSONDepth {
		return w.fallback(dst, v)
	}
	class := obj.ClassName()
	if class != "Object" && class != "Array" {
		return w.fallback(dst, v)
	}
	if hasToJSON(obj) {
		return w.fallback(dst, v)
	}

	if class == "Array" {
		length := obj.Get("length").ToInteger()
		dst = append(dst, '[')
		for i := int64(0); i < length; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			var written bool
			dst, written, err = w.appendJSON(dst, obj.Get(strconv.FormatInt(i, 10)), depth+1)
			if err != nil {
				return dst, false, err
			}
			if !written {
				dst = append(dst, "null"...)
			}
		}
		return append(dst, ']'), true, nil
	}

	dst = append(dst, '{')
	first := true
	for _, key := range obj.Keys() {
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		if isASCII(key) {
			dst = appendQuoted(dst, key)
		} else if dst, _, err = w.fallback(dst, w.vm.ToValue(key)); err != nil {
			return dst, false, err
		}
		dst = append(dst, ':')
		var written bool
		dst, written, err = w.appendJSON(dst, obj.Get(key), depth+1)
		if err != nil {
			return dst, false, err
		}
		if !written {
			dst = dst[:mark]
			continue
		}
		first = false
	}
	return append(dst, '}'), true, nil
}

// fallback appends what JSON.stringify returns for v.
func (w *jsonWriter) fallback(dst []byte, v goja.Value) ([]byte, bool, error) {
	s, err := w.stringify(goja.Undefined(), v)
	if err != nil {
		return dst, false, err
	}
	if goja.IsUndefined(s) {
		return dst, false, nil
	}
	return append(dst, s.String()...), true, nil
}

// hasSpecialByte reports whether s holds a byte that a JSON string literal
// must escape or that is not ASCII. It reads eight bytes at a time, because
// under Wasm a loop iteration per byte is a visible cost.
func hasSpecialByte(s string) bool {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if specialBytes(binary.LittleEndian.Uint64(b[i:])) != 0 {
			return true
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends an ASCII string as a JSON string literal, escaping
// exactly what JSON.stringify escapes.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
