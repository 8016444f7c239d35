package triggers

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxSafeInteger is the largest integer n such that every integer from
// -n to n is exactly a float64, and so exactly a JavaScript number.
const maxSafeInteger = 1<<53 - 1

// extDateLayout writes BSON dates in UTC with milliseconds, the form that
// JavaScript's Date.prototype.toISOString produces.
const extDateLayout = "2006-01-02T15:04:05.000Z07:00"

// extValue is one parsed JSON value. Numbers keep their literal text and
// objects keep their key order.
type extValue struct {
	kind  byte // '{', '[', '"' (string), '0' (number), 't' (true), 'f' (false) or 'n' (null)
	text  string
	keys  []string
	elems []*extValue
}

// extError is a conversion error at a field path inside the document.
type extError struct {
	path []string
	msg  string
}

func (e *extError) Error() string {
	if len(e.path) == 0 {
		return e.msg
	}
	return fmt.Sprintf("field %q: %s", strings.Join(e.path, "."), e.msg)
}

// under prefixes the path of err, an *extError, with segment.
func under(segment string, err error) error {
	var e *extError
	if errors.As(err, &e) {
		e.path = append([]string{segment}, e.path...)
	}
	return err
}

// appendPlainJSON appends src, a MongoDB Extended JSON document in the
// canonical, relaxed or legacy strict form, to dst as plain JSON. Type
// wrappers become the values docs/triggers.md lists, such as
// {"$oid":"…"} becoming the hex string; everything else is copied, and
// numbers keep their text. src must hold one JSON object.
func appendPlainJSON(dst, src []byte) ([]byte, error) {
	// Unmarshal checks the syntax, with an offset in the error, and
	// bounds the nesting depth before the recursive parse below.
	var raw json.RawMessage
	if err := json.Unmarshal(src, &raw); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return dst, fmt.Errorf("invalid JSON at byte %d of %d: %w", syntax.Offset, len(src), err)
		}
		return dst, fmt.Errorf("invalid JSON: %w", err)
	}
	if !isObject(raw) {
		return dst, errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := parseExtValue(dec)
	if err != nil {
		return dst, fmt.Errorf("invalid JSON: %w", err)
	}
	return appendExtValue(dst, v)
}

func parseExtValue(dec *json.Decoder) (*extValue, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		v := &extValue{kind: byte(t)}
		for dec.More() {
			if t == '{' {
				key, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, key.(string))
			}
			elem, err := parseExtValue(dec)
			if err != nil {
				return nil, err
			}
			v.elems = append(v.elems, elem)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return v, nil
	case string:
		return &extValue{kind: '"', text: t}, nil
	case json.Number:
		return &extValue{kind: '0', text: string(t)}, nil
	case bool:
		if t {
			return &extValue{kind: 't'}, nil
		}
		return &extValue{kind: 'f'}, nil
	default:
		return &extValue{kind: 'n'}, nil
	}
}

func appendExtValue(dst []byte, v *extValue) ([]byte, error) {
	switch v.kind {
	case '{':
		if convert := wrapperFor(v); convert != nil {
			return convert(dst, v)
		}
		dst = append(dst, '{')
		for i, key := range v.keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, key)
			dst = append(dst, ':')
			var err error
			if dst, err = appendExtValue(dst, v.elems[i]); err != nil {
				return dst, under(key, err)
			}
		}
		return append(dst, '}'), nil
	case '[':
		dst = append(dst, '[')
		for i, elem := range v.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendExtValue(dst, elem); err != nil {
				return dst, under(strconv.Itoa(i), err)
			}
		}
		return append(dst, ']'), nil
	case '"':
		return appendString(dst, v.text), nil
	case '0':
		return append(dst, v.text...), nil
	case 't':
		return append(dst, "true"...), nil
	case 'f':
		return append(dst, "false"...), nil
	default:
		return append(dst, "null"...), nil
	}
}

// wrapperConverter appends the plain value of a type wrapper object.
type wrapperConverter func(dst []byte, v *extValue) ([]byte, error)

// wrapperFor returns the converter of the type wrapper that v is, or nil.
// An object is a wrapper when its keys are exactly those of one wrapper
// type; any other object, such as {"$minKey": 1} or a DBRef, is copied as
// an object.
func wrapperFor(v *extValue) wrapperConverter {
	if len(v.keys) == 0 || len(v.keys) > 2 || !strings.HasPrefix(v.keys[0], "$") {
		return nil
	}
	keys := slices.Clone(v.keys)
	slices.Sort(keys)
	switch strings.Join(keys, " ") {
	case "$oid":
		return convertOID
	case "$numberInt":
		return convertNumberInt
	case "$numberLong":
		return convertNumberLong
	case "$numberDouble":
		return convertNumberDouble
	case "$numberDecimal":
		return convertNumberDecimal
	case "$date":
		return convertDate
	case "$binary", "$binary $type":
		return convertBinary
	case "$uuid":
		return convertUUID
	case "$timestamp":
		return convertTimestamp
	case "$regularExpression", "$options $regex":
		return convertRegex
	case "$symbol":
		return convertSymbol
	case "$code", "$code $scope":
		return convertCode
	case "$undefined":
		return convertUndefined
	}
	return nil
}

// field returns the value under key in the object v, or nil.
func (v *extValue) field(key string) *extValue {
	for i, k := range v.keys {
		if k == key {
			return v.elems[i]
		}
	}
	return nil
}

func wrapperErr(format string, args ...any) error {
	return &extError{msg: fmt.Sprintf(format, args...)}
}

// stringField returns the string under key, or an error saying that the
// wrapper wants a string there.
func stringField(v *extValue, key string) (string, error) {
	f := v.field(key)
	if f == nil || f.kind != '"' {
		return "", wrapperErr("%s must be a string", key)
	}
	return f.text, nil
}

func convertOID(dst []byte, v *extValue) ([]byte, error) {
	s, err := stringField(v, "$oid")
	if err != nil {
		return dst, err
	}
	if len(s) != 24 || !isHex(s) {
		return dst, wrapperErr("$oid must be 24 hex digits, got %q", s)
	}
	return appendString(dst, s), nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func convertNumberInt(dst []byte, v *extValue) ([]byte, error) {
	s, err := stringField(v, "$numberInt")
	if err != nil {
		return dst, err
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return dst, wrapperErr("$numberInt must be a 32-bit integer, got %q", s)
	}
	return strconv.AppendInt(dst, n, 10), nil
}

func convertNumberLong(dst []byte, v *extValue) ([]byte, error) {
	s, err := stringField(v, "$numberLong")
	if err != nil {
		return dst, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return dst, wrapperErr("$numberLong must be a 64-bit integer, got %q", s)
	}
	return appendInt64(dst, n), nil
}

// appendInt64 appends n as a JSON number when a float64 holds it exactly,
// and otherwise as a string of its decimal digits, so that executors
// reading numbers as doubles (JavaScript) never see a rounded value.
func appendInt64(dst []byte, n int64) []byte {
	if n >= -maxSafeInteger && n <= maxSafeInteger {
		return strconv.AppendInt(dst, n, 10)
	}
	dst = append(dst, '"')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '"')
}

func convertNumberDouble(dst []byte, v *extValue) ([]byte, error) {
	s, err := stringField(v, "$numberDouble")
	if err != nil {
		return dst, err
	}
	switch s {
	case "Infinity", "-Infinity", "NaN":
		return appendString(dst, s), nil
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil || !isJSONNumber(s) {
		return dst, wrapperErr("$numberDouble must be a finite number, Infinity, -Infinity or NaN, got %q", s)
	}
	return append(dst, s...), nil
}

func convertNumberDecimal(dst []byte, v *extValue) ([]byte, error) {
	s, err := stringField(v, "$numberDecimal")
	if err != nil {
		return dst, err
	}
	switch s {
	case "Infinity", "-Infinity", "NaN", "-NaN":
		return appendString(dst, s), nil
	}
	if !isJSONNumber(s) {
		return dst, wrapperErr("$numberDecimal must be a decimal number, Infinity, -Infinity or NaN, got %q", s)
	}
	if !doubleRoundTrips(s) {
		return appendString(dst, s), nil
	}
	return append(dst, s...), nil
}

// doubleRoundTrips reports whether the decimal number s, in JSON number
// syntax, keeps its value when read as a float64 and printed again with
// the same digits. That holds when s is zero, or has at most 15
// significant digits and lies in the normal float64 range.
func doubleRoundTrips(s string) bool {
	mantissa, _, _ := strings.Cut(strings.ToLower(s), "e")
	digits := strings.Trim(strings.NewReplacer("-", "", ".", "").Replace(mantissa), "0")
	if digits == "" {
		return true
	}
	if len(digits) > 15 {
		return false
	}
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && math.Abs(f) >= 0x1p-1022
}

// isJSONNumber reports whether s is a number in JSON syntax.
func isJSONNumber(s string) bool {
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil && string(n) == s
}

// convertDate writes a BSON date as RFC 3339 in UTC with milliseconds. It
// reads the legacy strict form {"$date": <milliseconds>}, the canonical
// {"$date": {"$numberLong": "<milliseconds>"}} and the relaxed
// {"$date": "<RFC 3339>"}. A date outside the years 0000 to 9999, which
// RFC 3339 cannot write, becomes its milliseconds since the Unix epoch.
func convertDate(dst []byte, v *extValue) ([]byte, error) {
	f := v.field("$date")
	var ms int64
	switch {
	case f.kind == '0':
		n, err := strconv.ParseInt(f.text, 10, 64)
		if err != nil {
			return dst, wrapperErr("$date must be whole milliseconds since the Unix epoch, got %s", f.text)
		}
		ms = n
	case f.kind == '{' && len(f.keys) == 1 && f.keys[0] == "$numberLong":
		s, err := stringField(f, "$numberLong")
		if err == nil {
			ms, err = strconv.ParseInt(s, 10, 64)
		}
		if err != nil {
			return dst, wrapperErr("$date.$numberLong must be a 64-bit integer string of milliseconds since the Unix epoch")
		}
	case f.kind == '"':
		t, err := time.Parse(time.RFC3339Nano, f.text)
		if err != nil {
			return dst, wrapperErr("$date must be an RFC 3339 time, got %q", f.text)
		}
		if t.Nanosecond()%int(time.Millisecond) != 0 {
			dst = append(dst, '"')
			dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
			return append(dst, '"'), nil
		}
		ms = t.UnixMilli()
	default:
		return dst, wrapperErr("$date must be milliseconds since the Unix epoch, {\"$numberLong\": ...} or an RFC 3339 string")
	}
	t := time.UnixMilli(ms).UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		return appendInt64(dst, ms), nil
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, extDateLayout)
	return append(dst, '"'), nil
}

// convertBinary writes binary data as its base64 text, except a UUID
// (subtype 04) of 16 bytes, which becomes the UUID's canonical string. It
// reads {"$binary": {"base64": …, "subType": …}} and the legacy
// {"$binary": …, "$type": …}.
func convertBinary(dst []byte, v *extValue) ([]byte, error) {
	var data, subtype string
	var err error
	if v.field("$type") != nil {
		if data, err = stringField(v, "$binary"); err == nil {
			subtype, err = stringField(v, "$type")
		}
	} else {
		inner := v.field("$binary")
		if inner.kind != '{' || len(inner.keys) != 2 {
			return dst, wrapperErr(`$binary must be {"base64": …, "subType": …}`)
		}
		if data, err = stringField(inner, "base64"); err == nil {
			subtype, err = stringField(inner, "subType")
		}
	}
	if err != nil {
		return dst, err
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return dst, wrapperErr("$binary is not base64: %v", err)
	}
	if n, err := strconv.ParseUint(subtype, 16, 8); err != nil || len(subtype) > 2 {
		return dst, wrapperErr("binary subtype must be one or two hex digits, got %q", subtype)
	} else if n == 4 && len(raw) == 16 {
		return appendUUID(dst, raw), nil
	}
	return appendString(dst, data), nil
}

func appendUUID(dst, b []byte) []byte {
	dst = append(dst, '"')
	for i, part := range [][]byte{b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]} {
		if i > 0 {
			dst = append(dst, '-')
		}
		dst = hex.AppendEncode(dst, part)
	}
	return append(dst, '"')
}

func convertUUID(dst []byte, v *extValue) ([]byte, error) {
	s, err := stringField(v, "$uuid")
	if err != nil {
		return dst, err
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 || len(s) != 36 {
		return dst, wrapperErr("$uuid must be a UUID such as 00112233-4455-6677-8899-aabbccddeeff, got %q", s)
	}
	return appendUUID(dst, b), nil
}

// convertTimestamp writes a BSON timestamp as {"t": seconds, "i": increment}.
func convertTimestamp(dst []byte, v *extValue) ([]byte, error) {
	inner := v.field("$timestamp")
	if inner.kind != '{' || len(inner.keys) != 2 {
		return dst, wrapperErr(`$timestamp must be {"t": seconds, "i": increment}`)
	}
	dst = append(dst, '{')
	for i, key := range []string{"t", "i"} {
		f := inner.field(key)
		if f == nil || f.kind != '0' {
			return dst, wrapperErr(`$timestamp must be {"t": seconds, "i": increment}`)
		}
		if _, err := strconv.ParseUint(f.text, 10, 32); err != nil {
			return dst, wrapperErr("$timestamp.%s must be a 32-bit unsigned integer, got %s", key, f.text)
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, key...)
		dst = append(dst, `":`...)
		dst = append(dst, f.text...)
	}
	return append(dst, '}'), nil
}

// convertRegex writes a regular expression as {"pattern": …, "options": …}.
// It reads {"$regularExpression": {"pattern": …, "options": …}} and the
// legacy {"$regex": …, "$options": …}.
func convertRegex(dst []byte, v *extValue) ([]byte, error) {
	patternKey, optionsKey, from := "$regex", "$options", v
	if inner := v.field("$regularExpression"); inner != nil {
		if inner.kind != '{' || len(inner.keys) != 2 {
			return dst, wrapperErr(`$regularExpression must be {"pattern": …, "options": …}`)
		}
		patternKey, optionsKey, from = "pattern", "options", inner
	}
	pattern, err := stringField(from, patternKey)
	if err != nil {
		return dst, err
	}
	options, err := stringField(from, optionsKey)
	if err != nil {
		return dst, err
	}
	dst = append(dst, `{"pattern":`...)
	dst = appendString(dst, pattern)
	dst = append(dst, `,"options":`...)
	dst = appendString(dst, options)
	return append(dst, '}'), nil
}

func convertSymbol(dst []byte, v *extValue) ([]byte, error) {
	s, err := stringField(v, "$symbol")
	if err != nil {
		return dst, err
	}
	return appendString(dst, s), nil
}

// convertCode writes JavaScript code as its source text, or, with a
// scope, as {"code": …, "scope": …}.
func convertCode(dst []byte, v *extValue) ([]byte, error) {
	code, err := stringField(v, "$code")
	if err != nil {
		return dst, err
	}
	scope := v.field("$scope")
	if scope == nil {
		return appendString(dst, code), nil
	}
	if scope.kind != '{' {
		return dst, wrapperErr("$scope must be an object")
	}
	dst = append(dst, `{"code":`...)
	dst = appendString(dst, code)
	dst = append(dst, `,"scope":`...)
	if dst, err = appendExtValue(dst, scope); err != nil {
		return dst, under("$scope", err)
	}
	return append(dst, '}'), nil
}

func convertUndefined(dst []byte, v *extValue) ([]byte, error) {
	if f := v.field("$undefined"); f.kind != 't' {
		return dst, wrapperErr("$undefined must be true")
	}
	return append(dst, "null"...), nil
}
