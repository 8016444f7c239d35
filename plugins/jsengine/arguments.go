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
// a condition on one field of a large record skips the rest of the record.
// They behave as JSON.parse's result would, except where goja's dynamic
// objects differ. Every property is a writable, enumerable, configurable
// data property, so Object.freeze and Object.defineProperty with other
// attributes throw a TypeError. Deleting an array element sets it to
// undefined.
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

// lazyField is one member of a lazy object or array: where its key and
// value sit in the raw JSON, and the value once converted or assigned.
// Offsets keep the index small and free of strings. A key that had escapes,
// or was added by a callback, is kept in lazyObject.extraKeys instead, and
// keyStart is then -1 minus its position there.
type lazyField struct {
	keyStart, keyEnd int32
	valStart, valEnd int32
	value            goja.Value // nil until converted or assigned
}

// lazyObject is a JSON object converted member by member on first read.
type lazyObject struct {
	f         *argumentsFactory
	raw       []byte
	fields    []lazyField
	extraKeys []string
	indexed   bool
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
		field := lazyField{keyStart: int32(pos + 1), keyEnd: int32(keyEnd - 1)}
		if key := o.raw[pos+1 : keyEnd-1]; bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			var decoded string
			_ = json.Unmarshal(o.raw[pos:keyEnd], &decoded)
			field.keyStart = o.addExtraKey(decoded)
		}
		pos = skipSpace(o.raw, keyEnd)
		pos = skipSpace(o.raw, pos+1) // the colon
		valueEnd := skipValue(o.raw, pos)
		field.valStart, field.valEnd = int32(pos), int32(valueEnd)
		if i := o.findField(&field); i >= 0 {
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

func (o *lazyObject) addExtraKey(key string) int32 {
	o.extraKeys = append(o.extraKeys, key)
	return -int32(len(o.extraKeys))
}

// key returns a field's key as a new string.
func (o *lazyObject) key(f *lazyField) string {
	if f.keyStart < 0 {
		return o.extraKeys[-f.keyStart-1]
	}
	return string(o.raw[f.keyStart:f.keyEnd])
}

// findField returns the index of the field whose key equals f's key, or
// -1. It compares keys in place, without allocating.
func (o *lazyObject) findField(f *lazyField) int {
	if f.keyStart < 0 {
		return o.find(o.extraKeys[-f.keyStart-1])
	}
	key := o.raw[f.keyStart:f.keyEnd]
	for i := range o.fields {
		other := &o.fields[i]
		if other.keyStart < 0 {
			if o.extraKeys[-other.keyStart-1] == string(key) {
				return i
			}
		} else if bytes.Equal(o.raw[other.keyStart:other.keyEnd], key) {
			return i
		}
	}
	return -1
}

// find returns the index of the field with the given key, or -1.
func (o *lazyObject) find(key string) int {
	for i := range o.fields {
		f := &o.fields[i]
		if f.keyStart < 0 {
			if o.extraKeys[-f.keyStart-1] == key {
				return i
			}
		} else if string(o.raw[f.keyStart:f.keyEnd]) == key {
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
	if field.value == nil {
		field.value = o.f.convert(o.raw[field.valStart:field.valEnd])
	}
	return field.value
}

func (o *lazyObject) Set(key string, val goja.Value) bool {
	o.index()
	if val == nil {
		val = goja.Undefined()
	}
	if i := o.find(key); i >= 0 {
		o.fields[i].value = val
		return true
	}
	o.fields = append(o.fields, lazyField{keyStart: o.addExtraKey(key), value: val})
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
		if n, ok := arrayIndex(o.key(&o.fields[i])); ok {
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
		if key := o.key(&o.fields[i]); !isArrayIndex(key) {
			keys = append(keys, key)
		}
	}
	return keys
}

// arrayIndex reports whether key is the canonical form of an array index,
// an integer from 0 to 2^32-2 without leading zeros.
func arrayIndex(key string) (uint32, bool) {
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

func isArrayIndex(key string) bool {
	_, ok := arrayIndex(key)
	return ok
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
		a.elements = append(a.elements, lazyField{valStart: int32(pos), valEnd: int32(end)})
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
	if el.value == nil {
		el.value = a.f.convert(a.raw[el.valStart:el.valEnd])
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
	if val == nil {
		val = goja.Undefined()
	}
	a.elements[idx] = lazyField{value: val}
	return true
}

func (a *lazyArray) SetLen(n int) bool {
	a.index()
	if n < 0 {
		return false
	}
	for len(a.elements) < n {
		a.elements = append(a.elements, lazyField{value: goja.Undefined()})
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
