package plugins

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"testing"
)

var jsonSeeds = []string{
	`{}`,
	`{"id":"o-1","total":150000,"nil":null,"ok":true,"tags":["a","b"],"o":{"x":1}}`,
	`{"a":1,"a":2}`,
	`{"k\u00e9y":"v\ud83d\ude00","\"":"\\"}`,
	`{"n":-0.5e-10,"big":123456789012345678901234567890}`,
	`{ "sp" :  [ 1 , { } , [ ] ] }`,
	`[1,2]`,
	`"str"`,
	`{"a":}`,
	`{"a":"\x"}`,
	"{\"a\":\"\xff\"}",
	`{"a":01}`,
}

// FuzzObjectAgainstEncodingJSON checks the reader against encoding/json:
// both accept the same documents, and every member decodes to the value
// encoding/json gives it, including the last-wins rule for duplicates.
func FuzzObjectAgainstEncodingJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseValue(data)
		if valid := json.Valid(data); (err == nil) != valid {
			t.Fatalf("ParseValue(%q) error = %v, json.Valid = %v", data, err, valid)
		}
		if err != nil {
			return
		}

		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("decode valid input %q: %v", data, err)
		}
		want = numbersToFloat(want)
		if got := decodeWithReader(t, v); !reflect.DeepEqual(got, want) {
			t.Fatalf("reader decoded %q as %#v, want %#v", data, got, want)
		}

		wantObj, isObj := want.(map[string]any)
		if !isObj {
			return
		}
		o := NewObject(v)
		for key, wantVal := range wantObj {
			got := o.Get(key)
			if !got.Exists() {
				t.Fatalf("Get(%q) on %q is undefined, want %#v", key, data, wantVal)
			}
			if g := decodeWithReader(t, got); !reflect.DeepEqual(g, wantVal) {
				t.Fatalf("Get(%q) on %q = %#v, want %#v", key, data, g, wantVal)
			}
		}
	})
}

// decodeWithReader converts v to the types json.Unmarshal produces for an
// any, using only the reader's getters.
func decodeWithReader(t *testing.T, v Value) any {
	t.Helper()
	switch v.Kind() {
	case KindNull:
		return nil
	case KindBool:
		b, _ := v.Bool()
		return b
	case KindNumber:
		f, _ := v.Float()
		return f
	case KindString:
		s, _ := v.Text()
		return s
	case KindArray:
		out := []any{}
		for i := range v.Len() {
			out = append(out, decodeWithReader(t, v.Index(i)))
		}
		return out
	case KindObject:
		out := map[string]any{}
		o := NewObject(v)
		for _, k := range o.Keys(nil) {
			out[k] = decodeWithReader(t, o.Get(k))
		}
		return out
	default:
		t.Fatalf("Kind() = %v for a parsed value", v.Kind())
		return nil
	}
}

// numbersToFloat replaces every json.Number in a decoded tree by its
// float64, rounding out-of-range values to ±Inf as JSON.parse does, where
// encoding/json would fail to decode into float64.
func numbersToFloat(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case []any:
		for i := range x {
			x[i] = numbersToFloat(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = numbersToFloat(x[k])
		}
	}
	return v
}

// FuzzWriterString checks that every string the writer escapes reads back
// with encoding/json as the string encoding/json itself would write.
func FuzzWriterString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s", "\x00\x1f\x7f", "żółw 😀", "\xff\xc3", "\u2028<>&", "\xed\xa0\xbd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var w JSONWriter
		w.String(s)
		out := w.Bytes()
		if !json.Valid(out) {
			t.Fatalf("String(%q) wrote invalid JSON %q", s, out)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", out, err)
		}
		ref, _ := json.Marshal(s)
		var want string
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", ref, err)
		}
		if got != want {
			t.Fatalf("String(%q) read back as %q, want %q", s, got, want)
		}
	})
}

// FuzzWriterFloat checks that every finite float reads back exactly and
// that the text is the one encoding/json writes, whose format matches
// JavaScript's apart from -0.
func FuzzWriterFloat(f *testing.F) {
	for _, x := range []float64{0, 1, -1.5, 1e21, 1e-7, 1e-6, 123456.789, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		var w JSONWriter
		w.Float(x)
		out := string(w.Bytes())
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if out != "null" {
				t.Fatalf("Float(%v) = %s, want null", x, out)
			}
			return
		}
		back, err := strconv.ParseFloat(out, 64)
		if err != nil || back != x {
			t.Fatalf("Float(%v) = %s, which reads back as %v (%v)", x, out, back, err)
		}
		if x == 0 {
			return
		}
		want, _ := json.Marshal(x)
		if out != string(want) {
			t.Fatalf("Float(%v) = %s, want %s as encoding/json writes it", x, out, want)
		}
	})
}

// FuzzWriterCopiesValues checks that values copied from a document keep
// their exact bytes and that the writer's output is always valid JSON.
func FuzzWriterCopiesValues(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s), "key")
	}
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		v, err := ParseValue(data)
		if err != nil {
			return
		}
		var w JSONWriter
		w.BeginObject()
		w.Field(key, v)
		w.Field("absent", Value{})
		w.Key("list")
		w.BeginArray()
		w.Value(v)
		w.Value(Value{})
		w.EndArray()
		w.EndObject()
		if err := w.Err(); err != nil {
			t.Fatalf("Err() = %v, want nil", err)
		}
		out := w.Bytes()
		if !json.Valid(out) {
			t.Fatalf("output %q is not valid JSON", out)
		}

		// The writer replaces invalid UTF-8 in the key, as encoding/json does.
		var storedKey string
		quoted, _ := json.Marshal(key)
		if err := json.Unmarshal(quoted, &storedKey); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", quoted, err)
		}
		back := NewObject(mustValue(t, string(out)))
		if got := back.Get(storedKey).Raw(); !bytes.Equal(got, v.Raw()) {
			t.Fatalf("field %q = %q, want the exact input %q", key, got, v.Raw())
		}
		if back.Has("absent") {
			t.Fatalf("undefined field was written: %q", out)
		}
		list := back.Get("list")
		if got := list.Index(0).Raw(); !bytes.Equal(got, v.Raw()) {
			t.Fatalf("list[0] = %q, want %q", got, v.Raw())
		}
		if !list.Index(1).IsNull() {
			t.Fatalf("list[1] = %q, want null for undefined", list.Index(1).Raw())
		}
	})
}

// FuzzJSStringToNumber checks the JavaScript conversion against strconv on
// the inputs where both grammars agree, and that it never panics.
func FuzzJSStringToNumber(f *testing.F) {
	for _, s := range []string{"", " 12 ", "1e3", ".5", "5.", "0x1f", "0b2", "Infinity", "inf", "1_0", "+-1", "\u00a01\ufeff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := jsStringToNumber(s)
		if !isJSDecimalLiteralSafe(s) {
			return
		}
		want, _ := strconv.ParseFloat(s, 64)
		if got != want {
			t.Fatalf("jsStringToNumber(%q) = %v, want %v", s, got, want)
		}
	})
}

// isJSDecimalLiteralSafe reports whether s is a non-empty decimal literal
// with no surrounding space, the inputs where strconv.ParseFloat and
// JavaScript agree.
func isJSDecimalLiteralSafe(s string) bool {
	return s != "" && isJSDecimalLiteral(s)
}
