package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// argumentsFactory turns the arguments JSON of one firing into the object
// passed to every callback of that firing.
//
// Objects and arrays in the arguments are lazy. They keep the raw JSON and
// convert a member to a JavaScript value only when a callback reads it, so
// a condition on one field of a large record skips the rest of the record. They behave as JSON.parse's result would,
// with these exceptions that follow from goja's dynamic objects: every
// property is a writable, enumerable, configurable data property,
// Object.freeze and Object.defineProperty with other attributes throw a
// TypeError, and deleting an array element sets it to undefined.
type argumentsFactory struct {
	vm *goja.Runtime
}

func newArgumentsFactory(vm *goja.Runtime) *argumentsFactory {
	return &argumentsFactory{vm: vm}
}

// errNotJSON marks arguments that are not one valid JSON value.
var errNotJSON = errors.New("not valid JSON")

// value returns the JavaScript value of raw, which must be valid JSON.
// raw may be reused by the caller after the firing: lazy values keep a
// copy.
func (f *argumentsFactory) value(raw []byte) (goja.Value, error) {
	if !validJSON(raw) {
		return nil, errNotJSON
	}
	raw = append([]byte(nil), raw...)
	start := skipSpace(raw, 0)
	end := len(raw)
	for end > start && isSpace(raw[end-1]) {
		end--
	}
	return f.convert(raw[start:end]), nil
}

// convert returns the value of one valid JSON value without surrounding
// space.
func (f *argumentsFactory) convert(raw []byte) goja.Value {
	switch raw[0] {
	case '{':
		return f.vm.NewDynamicObject(&lazyObject{f: f, raw: raw})
	case '[':
		return f.vm.NewDynamicArray(&lazyArray{f: f, raw: raw})
	case '"':
		if s, ok := plainString(raw); ok {
			return f.vm.ToValue(s)
		}
		var s string
		_ = json.Unmarshal(raw, &s)
		return f.vm.ToValue(s)
	case 't':
		return f.vm.ToValue(true)
	case 'f':
		return f.vm.ToValue(false)
	case 'n':
		return goja.Null()
	default:
		n, _ := strconv.ParseFloat(string(raw), 64)
		return f.vm.ToValue(n)
	}
}

// plainString returns the content of a JSON string without escapes. It
// reports false for content that needs decoding: escapes, or invalid UTF-8,
// which decoding replaces with U+FFFD as JSON.parse does.
func plainString(raw []byte) (string, bool) {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') >= 0 || !utf8.Valid(inner) {
		return "", false
	}
	return string(inner), true
}

// lazyField is one member of a lazy object: its key and either its raw
// value or the value already converted or assigned. The key is a slice of
// the raw JSON unless it had escapes, so indexing allocates no strings.
type lazyField struct {
	key       []byte
	raw       []byte
	value     goja.Value
	converted bool
}

// lazyObject is a JSON object converted member by member on first read.
type lazyObject struct {
	f       *argumentsFactory
	raw     []byte
	fields  []lazyField
	indexed bool
}

// index splits the object into members once. Later duplicates of a key
// replace earlier ones, as in JSON.parse.
func (o *lazyObject) index() {
	if o.indexed {
		return
	}
	o.indexed = true
	o.fields = make([]lazyField, 0, 8)
	pos := skipSpace(o.raw, 1)
	for pos < len(o.raw) && o.raw[pos] != '}' {
		keyEnd := skipValue(o.raw, pos)
		key := o.raw[pos+1 : keyEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			var decoded string
			_ = json.Unmarshal(o.raw[pos:keyEnd], &decoded)
			key = []byte(decoded)
		}
		pos = skipSpace(o.raw, keyEnd)
		pos = skipSpace(o.raw, pos+1) // the colon
		valueEnd := skipValue(o.raw, pos)
		field := lazyField{key: key, raw: o.raw[pos:valueEnd]}
		if i := o.find(string(key)); i >= 0 {
			o.fields[i] = field
		} else {
			o.fields = append(o.fields, field)
		}
		pos = skipSpace(o.raw, valueEnd)
		if pos < len(o.raw) && o.raw[pos] == ',' {
			pos = skipSpace(o.raw, pos+1)
		}
	}
}

func (o *lazyObject) find(key string) int {
	for i := range o.fields {
		if string(o.fields[i].key) == key {
			return i
		}
	}
	return -1
}

func (o *lazyObject) Get(key string) goja.Value {
	o.index()
	i := o.find(key)
	if i < 0 {
		return nil
	}
	field := &o.fields[i]
	if !field.converted {
		field.value = o.f.convert(field.raw)
		field.converted = true
		field.raw = nil
	}
	return field.value
}

func (o *lazyObject) Set(key string, val goja.Value) bool {
	o.index()
	if i := o.find(key); i >= 0 {
		o.fields[i] = lazyField{key: o.fields[i].key, value: val, converted: true}
		return true
	}
	o.fields = append(o.fields, lazyField{key: []byte(key), value: val, converted: true})
	return true
}

func (o *lazyObject) Has(key string) bool {
	o.index()
	return o.find(key) >= 0
}

func (o *lazyObject) Delete(key string) bool {
	o.index()
	if i := o.find(key); i >= 0 {
		o.fields = append(o.fields[:i], o.fields[i+1:]...)
	}
	return true
}

// Keys lists the keys in the order of ordinary JavaScript objects: array
// indexes ascending, then the other keys in insertion order.
func (o *lazyObject) Keys() []string {
	o.index()
	keys := make([]string, 0, len(o.fields))
	var indexes []uint32
	for i := range o.fields {
		if n, ok := arrayIndex(o.fields[i].key); ok {
			indexes = append(indexes, n)
		}
	}
	if len(indexes) > 0 {
		slices.Sort(indexes)
		for _, n := range indexes {
			keys = append(keys, strconv.FormatUint(uint64(n), 10))
		}
	}
	for i := range o.fields {
		if _, ok := arrayIndex(o.fields[i].key); !ok {
			keys = append(keys, string(o.fields[i].key))
		}
	}
	return keys
}

// arrayIndex reports whether key is the canonical form of an array index,
// an integer from 0 to 2^32-2 without leading zeros.
func arrayIndex(key []byte) (uint32, bool) {
	if len(key) == 0 || len(key) > 10 || (len(key) > 1 && key[0] == '0') {
		return 0, false
	}
	var n uint64
	for _, c := range key {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<32-2 {
		return 0, false
	}
	return uint32(n), true
}

// lazyArray is a JSON array converted element by element on first read.
type lazyArray struct {
	f        *argumentsFactory
	raw      []byte
	elements []lazyField
	indexed  bool
}

func (a *lazyArray) index() {
	if a.indexed {
		return
	}
	a.indexed = true
	pos := skipSpace(a.raw, 1)
	for pos < len(a.raw) && a.raw[pos] != ']' {
		end := skipValue(a.raw, pos)
		a.elements = append(a.elements, lazyField{raw: a.raw[pos:end]})
		pos = skipSpace(a.raw, end)
		if pos < len(a.raw) && a.raw[pos] == ',' {
			pos = skipSpace(a.raw, pos+1)
		}
	}
}

func (a *lazyArray) Len() int {
	a.index()
	return len(a.elements)
}

func (a *lazyArray) Get(idx int) goja.Value {
	a.index()
	if idx < 0 || idx >= len(a.elements) {
		return nil
	}
	el := &a.elements[idx]
	if !el.converted {
		el.value = a.f.convert(el.raw)
		el.converted = true
		el.raw = nil
	}
	return el.value
}

func (a *lazyArray) Set(idx int, val goja.Value) bool {
	a.index()
	if idx < 0 {
		return false
	}
	if idx >= len(a.elements) {
		a.SetLen(idx + 1)
	}
	a.elements[idx] = lazyField{value: val, converted: true}
	return true
}

func (a *lazyArray) SetLen(n int) bool {
	a.index()
	if n < 0 {
		return false
	}
	for len(a.elements) < n {
		a.elements = append(a.elements, lazyField{value: goja.Undefined(), converted: true})
	}
	a.elements = a.elements[:n]
	return true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func skipSpace(raw []byte, pos int) int {
	for pos < len(raw) && isSpace(raw[pos]) {
		pos++
	}
	return pos
}

// skipValue returns the end of the JSON value starting at pos. raw must be
// valid JSON, which value checks before any lazy value exists.
func skipValue(raw []byte, pos int) int {
	switch raw[pos] {
	case '"':
		pos++
		for pos < len(raw) {
			switch raw[pos] {
			case '\\':
				pos += 2
			case '"':
				return pos + 1
			default:
				pos++
			}
		}
		return pos
	case '{', '[':
		depth := 0
		for pos < len(raw) {
			switch raw[pos] {
			case '"':
				pos = skipValue(raw, pos)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return pos + 1
				}
			}
			pos++
		}
		return pos
	default:
		for pos < len(raw) {
			switch raw[pos] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return pos
			}
			pos++
		}
		return pos
	}
}
