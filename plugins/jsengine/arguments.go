package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"unsafe"

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
	vm      *goja.Runtime
	scanner jsonScanner
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
	v, _, err := f.valueObject(raw)
	return v, err
}

// valueObject is value that also returns the lazy object behind the value,
// or nil when raw is not a JSON object.
func (f *argumentsFactory) valueObject(raw []byte) (goja.Value, *lazyObject, error) {
	root, ok := f.scanner.scan(raw)
	if !ok {
		return nil, nil, errNotJSON
	}
	// The copy and the member table belong to this firing's values, which
	// a callback may keep in a global after the firing ends.
	raw = append([]byte(nil), raw...)
	members := append([]lazyField(nil), f.scanner.members...)
	f.convertField(raw, members, &root)
	return root.value, root.object, nil
}

// convertField sets field.value, and field.object when the value is a JSON
// object.
func (f *argumentsFactory) convertField(raw []byte, members []lazyField, field *lazyField) {
	if raw[field.valStart] == '{' {
		obj := &lazyObject{f: f, raw: raw, members: members,
			fields: members[field.membersStart:field.membersEnd:field.membersEnd]}
		field.value = f.vm.NewDynamicObject(obj)
		field.object = obj
		return
	}
	field.value = f.convert(raw, members, field)
}

// convert returns the value that field describes when that is not a JSON
// object, which convertField converts. raw and members are the firing's
// copy of the arguments and its member table.
func (f *argumentsFactory) convert(raw []byte, members []lazyField, field *lazyField) goja.Value {
	text := raw[field.valStart:field.valEnd]
	switch text[0] {
	case '[':
		return f.vm.NewDynamicArray(&lazyArray{f: f, raw: raw, members: members,
			elements: members[field.membersStart:field.membersEnd:field.membersEnd]})
	case '"':
		if field.flags&flagPlainString != 0 {
			// raw is never written after the copy in value, so the
			// string may share its bytes.
			return f.vm.ToValue(unsafe.String(unsafe.SliceData(text[1:]), len(text)-2))
		}
		var s string
		_ = json.Unmarshal(text, &s)
		return f.vm.ToValue(s)
	case 't':
		return f.vm.ToValue(true)
	case 'f':
		return f.vm.ToValue(false)
	case 'n':
		return goja.Null()
	default:
		if n, ok := smallInteger(text); ok {
			return f.vm.ToValue(n)
		}
		n, _ := strconv.ParseFloat(string(text), 64)
		return f.vm.ToValue(n)
	}
}

// smallInteger parses a JSON number that is an integer of at most 15
// digits, which a float64 holds exactly. It reports false for every other
// number, including -0, whose sign an integer would lose.
func smallInteger(text []byte) (int64, bool) {
	digits := text
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 15 || (digits[0] == '0' && len(text) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if text[0] == '-' {
		n = -n
	}
	return n, true
}

// lazyField is one member of a lazy object or array: where its key and
// value sit in the raw JSON, and the value once converted or assigned.
// Offsets keep the table small and free of strings. A key that had escapes
// or non-ASCII bytes, or was added by a callback, is kept in
// lazyObject.extraKeys instead, and keyStart is then -1 minus its position
// there. For an object or array value, membersStart and membersEnd give its
// own members in the firing's member table.
type lazyField struct {
	keyStart, keyEnd         int32
	valStart, valEnd         int32
	membersStart, membersEnd int32
	flags                    uint8
	value                    goja.Value // nil until converted or assigned
	// object is the lazy object behind value while value is the
	// conversion of a JSON object, else nil.
	object *lazyObject
}

// lazyObject is a JSON object converted member by member on first read.
type lazyObject struct {
	f         *argumentsFactory
	raw       []byte
	members   []lazyField
	fields    []lazyField
	extraKeys []string
	indexed   bool
}

// index decodes escaped keys and drops duplicate keys once, before the
// first access. Later duplicates of a key replace earlier ones, as in
// JSON.parse.
func (o *lazyObject) index() {
	if o.indexed {
		return
	}
	o.indexed = true
	unique := o.fields[:0]
	for _, field := range o.fields {
		if field.keyStart >= 0 && field.flags&flagPlainKey == 0 {
			var decoded string
			_ = json.Unmarshal(o.raw[field.keyStart-1:field.keyEnd+1], &decoded)
			field.keyStart = o.addExtraKey(decoded)
		}
		// unique never grows past the element being read, so writing it
		// in place is safe.
		if i := o.findField(unique, &field); i >= 0 {
			unique[i] = field
		} else {
			unique = append(unique, field)
		}
	}
	o.fields = unique
}

func (o *lazyObject) addExtraKey(key string) int32 {
	o.extraKeys = append(o.extraKeys, key)
	return -int32(len(o.extraKeys))
}

// key returns a field's key. A key from the JSON shares the bytes of raw,
// which are never written.
func (o *lazyObject) key(f *lazyField) string {
	if f.keyStart < 0 {
		return o.extraKeys[-f.keyStart-1]
	}
	return unsafe.String(unsafe.SliceData(o.raw[f.keyStart:]), int(f.keyEnd-f.keyStart))
}

// findField returns the index in fields of the field whose key equals f's
// key, or -1. It compares keys in place, without allocating.
func (o *lazyObject) findField(fields []lazyField, f *lazyField) int {
	if f.keyStart < 0 {
		return o.findIn(fields, o.extraKeys[-f.keyStart-1])
	}
	key := o.raw[f.keyStart:f.keyEnd]
	for i := range fields {
		other := &fields[i]
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
	return o.findIn(o.fields, key)
}

func (o *lazyObject) findIn(fields []lazyField, key string) int {
	for i := range fields {
		f := &fields[i]
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
		o.f.convertField(o.raw, o.members, field)
	}
	return field.value
}

// field returns the field of the own property key, or false when the
// object has none. The pointer is valid until the object's next Set or
// Delete.
func (o *lazyObject) field(key string) (*lazyField, bool) {
	o.index()
	i := o.find(key)
	if i < 0 {
		return nil, false
	}
	return &o.fields[i], true
}

func (o *lazyObject) Set(key string, val goja.Value) bool {
	o.index()
	if val == nil {
		val = goja.Undefined()
	}
	if i := o.find(key); i >= 0 {
		o.fields[i].value = val
		o.fields[i].object = nil
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
	members  []lazyField
	elements []lazyField
}

func (a *lazyArray) Len() int {
	return len(a.elements)
}

func (a *lazyArray) Get(idx int) goja.Value {
	if idx < 0 || idx >= len(a.elements) {
		return nil
	}
	el := &a.elements[idx]
	if el.value == nil {
		a.f.convertField(a.raw, a.members, el)
	}
	return el.value
}

func (a *lazyArray) Set(idx int, val goja.Value) bool {
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
