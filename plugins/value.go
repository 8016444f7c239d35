package plugins

import (
	"math"
	"strconv"
)

// Kind is the type of a JSON value, plus undefined for a value that is not
// there at all (JavaScript's undefined).
type Kind uint8

// The kinds of Value.
const (
	KindUndefined Kind = iota // absent: the zero Value
	KindNull                  // null
	KindBool                  // true or false
	KindNumber                // a number, kept as its exact text
	KindString                // a string, kept with its escapes
	KindArray                 // an array
	KindObject                // an object
)

// String returns the lower-case name of the kind, as JavaScript's typeof
// would name it except that null and arrays get their own names.
func (k Kind) String() string {
	switch k {
	case KindUndefined:
		return "undefined"
	case KindNull:
		return "null"
	case KindBool:
		return "boolean"
	case KindNumber:
		return "number"
	case KindString:
		return "string"
	case KindArray:
		return "array"
	case KindObject:
		return "object"
	default:
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Value is one JSON value held as its raw bytes, or undefined. A Value read
// from the callback arguments aliases the guest's argument buffer, so it is
// valid only during the callback that received it. Copy what must outlive
// it. The zero Value is undefined. A Value is immutable and safe to share.
type Value struct {
	// raw is a complete, valid JSON value with no surrounding whitespace,
	// or nil for undefined.
	raw []byte
}

// ParseValue validates data as one JSON value and returns it as a Value
// without copying. Surrounding whitespace is trimmed. It returns an error
// wrapping ErrInvalidJSON, naming the byte offset, when data is not JSON.
func ParseValue(data []byte) (Value, error) {
	if err := validateJSON(data); err != nil {
		return Value{}, err
	}
	start := skipSpace(data, 0)
	end := len(data)
	for end > start && isJSONSpace(data[end-1]) {
		end--
	}
	return Value{raw: data[start:end:end]}, nil
}

// Kind returns the type of v, KindUndefined for the zero Value.
func (v Value) Kind() Kind {
	if len(v.raw) == 0 {
		return KindUndefined
	}
	switch v.raw[0] {
	case 'n':
		return KindNull
	case 't', 'f':
		return KindBool
	case '"':
		return KindString
	case '[':
		return KindArray
	case '{':
		return KindObject
	default:
		return KindNumber
	}
}

// Exists reports whether v is anything but undefined. A JSON null exists.
func (v Value) Exists() bool { return len(v.raw) != 0 }

// IsNull reports whether v is a JSON null.
func (v Value) IsNull() bool { return v.Kind() == KindNull }

// IsNullish reports whether v is null or undefined, the two values that
// JavaScript's ?? operator replaces.
func (v Value) IsNullish() bool { return len(v.raw) == 0 || v.raw[0] == 'n' }

// Raw returns the exact JSON text of v, nil when v is undefined. The slice
// aliases the source buffer and must not be modified.
func (v Value) Raw() []byte { return v.raw }

// Float returns the number v holds and true, or 0 and false when v is not a
// JSON number. A number beyond the float64 range returns ±Inf, as
// JavaScript's JSON.parse does, and a long mantissa is rounded to the
// nearest float64; use Raw to keep the exact text.
func (v Value) Float() (float64, bool) {
	if v.Kind() != KindNumber {
		return 0, false
	}
	return parseJSONNumber(v.raw), true
}

// Int returns the number v holds and true when it is a JSON number whose
// text is an integer that fits in an int64, such as 42 or -7. Numbers
// written with a fraction or exponent (1.0, 1e3) return 0 and false even when
// their value is integral; use Float for those.
func (v Value) Int() (int64, bool) {
	if v.Kind() != KindNumber {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v.raw), 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// Bool returns the boolean v holds and true, or false and false when v is
// not a JSON boolean.
func (v Value) Bool() (bool, bool) {
	if v.Kind() != KindBool {
		return false, false
	}
	return v.raw[0] == 't', true
}

// Text returns the decoded content of a JSON string and true, or "" and
// false when v is not a string. Escapes are decoded, and invalid UTF-8 and
// unpaired surrogate escapes become U+FFFD, as encoding/json decodes them.
// It allocates the returned string.
func (v Value) Text() (string, bool) {
	if v.Kind() != KindString {
		return "", false
	}
	if !needsUnescape(v.raw) {
		return string(v.raw[1 : len(v.raw)-1]), true
	}
	return string(appendUnescaped(nil, v.raw)), true
}

// needsUnescape reports whether the string literal raw has escapes or bytes
// that are not ASCII, so its content differs from its raw bytes or must be
// checked for invalid UTF-8.
func needsUnescape(raw []byte) bool {
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' || c >= 0x80 {
			return true
		}
	}
	return false
}

// Number converts v to a number with JavaScript's Number() rules. Undefined
// is NaN, null and false are 0 and true is 1. A string is parsed as a
// JavaScript numeric literal, where empty or blank is 0 and anything
// unparsable is NaN. An object is NaN. An array is converted through its
// string form: [] is 0, [7] is 7 and [1,2] is NaN. Comparisons with NaN are
// false, as in JavaScript.
func (v Value) Number() float64 {
	switch v.Kind() {
	case KindUndefined:
		return math.NaN()
	case KindNull:
		return 0
	case KindBool:
		if v.raw[0] == 't' {
			return 1
		}
		return 0
	case KindNumber:
		return parseJSONNumber(v.raw)
	case KindString:
		s, _ := v.Text()
		return jsStringToNumber(s)
	case KindArray:
		return arrayToNumber(v.raw)
	default:
		return math.NaN()
	}
}

// NumberOr returns def when v is null or undefined and v.Number() otherwise,
// which is JavaScript's Number(v ?? def) for a numeric def. It reproduces
// comparisons such as (newRecord.totalPrice ?? 0) > 100000, where JavaScript
// converts the left side to a number.
func (v Value) NumberOr(def float64) float64 {
	if v.IsNullish() {
		return def
	}
	return v.Number()
}

// Get returns the member key of v when v is an object, and undefined when v
// is not an object or has no such member. With duplicate keys the last one
// wins, as in JSON.parse. It scans v on every call, so index v with
// NewObject to look up many keys.
func (v Value) Get(key string) Value {
	if v.Kind() != KindObject {
		return Value{}
	}
	var found Value
	forEachMember(v.raw, func(k, val []byte, escaped bool) {
		if keyEquals(k, escaped, key) {
			found = Value{raw: val}
		}
	})
	return found
}

// Index returns element i of v when v is an array, and undefined when v is
// not an array or i is out of range. It scans v on every call.
func (v Value) Index(i int) Value {
	if v.Kind() != KindArray || i < 0 {
		return Value{}
	}
	var found Value
	n := 0
	forEachElement(v.raw, func(val []byte) bool {
		if n == i {
			found = Value{raw: val}
			return false
		}
		n++
		return true
	})
	return found
}

// Len returns the number of elements of an array or members of an object,
// and 0 for any other kind.
func (v Value) Len() int {
	n := 0
	switch v.Kind() {
	case KindArray:
		forEachElement(v.raw, func([]byte) bool { n++; return true })
	case KindObject:
		forEachMember(v.raw, func(_, _ []byte, _ bool) { n++ })
	}
	return n
}

// forEachMember calls fn with the raw key literal, raw value and escape flag
// of every member of the valid JSON object raw, in order.
func forEachMember(raw []byte, fn func(key, val []byte, escaped bool)) {
	i := skipSpace(raw, 1)
	for i < len(raw) && raw[i] == '"' {
		keyEnd, escaped, _ := skipString(raw, i)
		key := raw[i:keyEnd]
		i = skipSpace(raw, keyEnd)
		i = skipSpace(raw, i+1) // past ':'
		valEnd := skipKnownValid(raw, i)
		fn(key, raw[i:valEnd:valEnd], escaped)
		i = skipSpace(raw, valEnd)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
}

// forEachElement calls fn with every element of the valid JSON array raw
// until fn returns false.
func forEachElement(raw []byte, fn func(val []byte) bool) {
	i := skipSpace(raw, 1)
	for i < len(raw) && raw[i] != ']' {
		end := skipKnownValid(raw, i)
		if !fn(raw[i:end:end]) {
			return
		}
		i = skipSpace(raw, end)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
}

// keyEquals reports whether the raw key literal (quotes included) decodes
// to key.
func keyEquals(raw []byte, escaped bool, key string) bool {
	if !escaped {
		return len(raw) == len(key)+2 && string(raw[1:len(raw)-1]) == key
	}
	var buf [64]byte
	return string(appendUnescaped(buf[:0], raw)) == key
}
