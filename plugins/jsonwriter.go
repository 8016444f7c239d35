package plugins

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// JSONWriter builds one JSON value, usually a webhook request body, the way
// JavaScript's JSON.stringify writes it:
//
//   - Values taken from the arguments (Value) are copied byte for byte, so a
//     number too large for float64 keeps its exact text.
//   - An undefined Value written after Key removes the key, as
//     JSON.stringify drops properties whose value is undefined. Inside an
//     array it is written as null, and at the top level nothing is written.
//   - Strings are escaped as JSON.stringify escapes them: the quote, the
//     backslash and control characters; everything else is written as UTF-8.
//   - Floats use the shortest text that reads back to the same float64, with
//     JavaScript's exponent thresholds; NaN and ±Inf become null.
//
// Misuse, such as a value inside an object without a key or an unclosed
// container, is recorded and reported by Err. The calls after the first
// error do nothing. Duplicate keys are written as given. The zero JSONWriter
// is ready to use. A JSONWriter is not safe for concurrent use.
type JSONWriter struct {
	buf  []byte
	base int // start of the value in buf; the SDK writes the result header before it

	// stack has one entry per open container.
	stack []writerFrame

	afterKey    bool // a key was written and its value has not been
	keyStart    int  // offset in buf where the pending key (and its comma) began
	keyHadItems bool // the object's hasItems flag before the pending key

	done bool // a complete top-level value has been written
	err  error
}

type writerFrame struct {
	object   bool
	hasItems bool
}

// Reset empties w and clears its error, keeping its storage.
func (w *JSONWriter) Reset() { w.resetWithPrefix(w.buf[:0]) }

// resetWithPrefix makes w append after prefix, which Bytes does not return.
func (w *JSONWriter) resetWithPrefix(prefix []byte) {
	w.buf = prefix
	w.base = len(prefix)
	w.stack = w.stack[:0]
	w.afterKey = false
	w.done = false
	w.err = nil
}

// Bytes returns the JSON written so far. The slice aliases w's buffer and is
// valid until the next call on w.
func (w *JSONWriter) Bytes() []byte { return w.buf[w.base:] }

// Len returns the number of bytes written so far.
func (w *JSONWriter) Len() int { return len(w.buf) - w.base }

// Err returns the first misuse recorded, wrapping ErrInvalidBody, or an
// error for an unfinished value: an open container or a key without a
// value. It returns nil for an empty writer, which stands for a request with
// no body.
func (w *JSONWriter) Err() error {
	if w.err != nil {
		return w.err
	}
	if len(w.stack) > 0 {
		return fmt.Errorf("%w: %d unclosed array or object; call EndObject or EndArray", ErrInvalidBody, len(w.stack))
	}
	return nil
}

func (w *JSONWriter) fail(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf("%w: "+format, append([]any{ErrInvalidBody}, args...)...)
	}
}

// beforeValue writes the separator that precedes a value and reports
// whether the value may be written.
func (w *JSONWriter) beforeValue() bool {
	if w.err != nil {
		return false
	}
	if len(w.stack) == 0 {
		if w.done {
			w.fail("a second top-level value after a complete one; wrap both in an array or object")
			return false
		}
		return true
	}

	top := &w.stack[len(w.stack)-1]
	if top.object {
		if !w.afterKey {
			w.fail("value inside an object without a key; call Key or a Field method")
			return false
		}
		w.afterKey = false
		return true
	}
	if top.hasItems {
		w.buf = append(w.buf, ',')
	}
	top.hasItems = true
	return true
}

// afterValue marks a top-level value as complete.
func (w *JSONWriter) afterValue() {
	if len(w.stack) == 0 {
		w.done = true
	}
}

// Key writes an object key. The next call must write its value.
func (w *JSONWriter) Key(key string) {
	if w.err != nil {
		return
	}
	if len(w.stack) == 0 || !w.stack[len(w.stack)-1].object {
		w.fail("key %q outside an object; call BeginObject first", key)
		return
	}
	if w.afterKey {
		w.fail("key %q follows a key without a value", key)
		return
	}

	top := &w.stack[len(w.stack)-1]
	w.keyStart = len(w.buf)
	w.keyHadItems = top.hasItems
	if top.hasItems {
		w.buf = append(w.buf, ',')
	}
	top.hasItems = true
	w.buf = appendQuoted(w.buf, key)
	w.buf = append(w.buf, ':')
	w.afterKey = true
}

// BeginObject opens an object.
func (w *JSONWriter) BeginObject() {
	if !w.beforeValue() {
		return
	}
	w.buf = append(w.buf, '{')
	w.stack = append(w.stack, writerFrame{object: true})
}

// EndObject closes the innermost open container, which must be an object.
func (w *JSONWriter) EndObject() { w.end(true) }

// BeginArray opens an array.
func (w *JSONWriter) BeginArray() {
	if !w.beforeValue() {
		return
	}
	w.buf = append(w.buf, '[')
	w.stack = append(w.stack, writerFrame{})
}

// EndArray closes the innermost open container, which must be an array.
func (w *JSONWriter) EndArray() { w.end(false) }

func (w *JSONWriter) end(object bool) {
	if w.err != nil {
		return
	}
	name := "EndArray"
	if object {
		name = "EndObject"
	}
	if len(w.stack) == 0 || w.stack[len(w.stack)-1].object != object {
		w.fail("%s without a matching Begin call", name)
		return
	}
	if w.afterKey {
		w.fail("%s right after a key; write the key's value first", name)
		return
	}

	w.stack = w.stack[:len(w.stack)-1]
	if object {
		w.buf = append(w.buf, '}')
	} else {
		w.buf = append(w.buf, ']')
	}
	w.afterValue()
}

// Value copies v byte for byte. undefined is dropped with its key inside an
// object, written as null inside an array and not written at the top level.
func (w *JSONWriter) Value(v Value) {
	if !v.Exists() {
		w.undefined()
		return
	}
	if !w.beforeValue() {
		return
	}
	w.buf = append(w.buf, v.raw...)
	w.afterValue()
}

func (w *JSONWriter) undefined() {
	if w.err != nil {
		return
	}
	switch {
	case w.afterKey:
		w.buf = w.buf[:w.keyStart]
		w.stack[len(w.stack)-1].hasItems = w.keyHadItems
		w.afterKey = false
	case len(w.stack) > 0:
		w.Null()
	}
}

// RawJSON validates data as one JSON value and copies it without its
// surrounding whitespace. It returns, and records, an error wrapping
// ErrInvalidJSON when data is not JSON.
func (w *JSONWriter) RawJSON(data []byte) error {
	v, err := ParseValue(data)
	if err != nil {
		if w.err == nil {
			w.err = fmt.Errorf("%w: raw value: %w", ErrInvalidBody, err)
		}
		return err
	}
	w.Value(v)
	return nil
}

// String writes s as a JSON string. Invalid UTF-8 bytes are written as
// U+FFFD.
func (w *JSONWriter) String(s string) {
	if !w.beforeValue() {
		return
	}
	w.buf = appendQuoted(w.buf, s)
	w.afterValue()
}

// Float writes f as JavaScript writes a number: the shortest decimal that
// reads back as f, in exponent form below 1e-6 and from 1e21 up. NaN and
// ±Inf are written as null and -0 as 0, as JSON.stringify does.
func (w *JSONWriter) Float(f float64) {
	if !w.beforeValue() {
		return
	}
	w.buf = appendJSNumber(w.buf, f)
	w.afterValue()
}

// Int writes n exactly, even beyond 2^53 where a JavaScript number would
// lose precision.
func (w *JSONWriter) Int(n int64) {
	if !w.beforeValue() {
		return
	}
	w.buf = strconv.AppendInt(w.buf, n, 10)
	w.afterValue()
}

// Bool writes true or false.
func (w *JSONWriter) Bool(b bool) {
	if !w.beforeValue() {
		return
	}
	w.buf = strconv.AppendBool(w.buf, b)
	w.afterValue()
}

// Null writes null.
func (w *JSONWriter) Null() {
	if !w.beforeValue() {
		return
	}
	w.buf = append(w.buf, "null"...)
	w.afterValue()
}

// Field writes key and v inside an object, or nothing when v is undefined:
// the Go form of { key: record.field } in a JavaScript object literal.
func (w *JSONWriter) Field(key string, v Value) {
	if !v.Exists() {
		switch {
		case w.err != nil:
		case len(w.stack) == 0 || !w.stack[len(w.stack)-1].object:
			w.fail("field %q outside an object; call BeginObject first", key)
		case w.afterKey:
			w.fail("key %q follows a key without a value", key)
		}
		return
	}
	w.Key(key)
	w.Value(v)
}

// StringField writes key and the string s inside an object.
func (w *JSONWriter) StringField(key, s string) {
	w.Key(key)
	w.String(s)
}

// FloatField writes key and the number f inside an object. See Float.
func (w *JSONWriter) FloatField(key string, f float64) {
	w.Key(key)
	w.Float(f)
}

// IntField writes key and the integer n inside an object.
func (w *JSONWriter) IntField(key string, n int64) {
	w.Key(key)
	w.Int(n)
}

// BoolField writes key and the boolean b inside an object.
func (w *JSONWriter) BoolField(key string, b bool) {
	w.Key(key)
	w.Bool(b)
}

// NullField writes key and null inside an object.
func (w *JSONWriter) NullField(key string) {
	w.Key(key)
	w.Null()
}

const lowerHex = "0123456789abcdef"

// appendQuoted appends s as a JSON string literal with JSON.stringify's
// escapes: \" \\ \b \f \n \r \t, \u00XX with lower-case hex for the other
// control characters, and U+FFFD for each invalid UTF-8 byte.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}

		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSNumber appends f as JavaScript's Number.prototype.toString writes
// it, which JSON.stringify uses for finite numbers.
func appendJSNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if f == 0 {
		return append(dst, '0') // also -0
	}

	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}

	// Go writes a two-digit exponent such as 1e-07, JavaScript 1e-7.
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
	n := len(dst)
	if n-start >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1]
		dst = dst[:n-1]
	}
	return dst
}
