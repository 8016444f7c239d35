package plugins

import (
	"errors"
	"math"
	"testing"
)

func TestJSONWriterOutput(t *testing.T) {
	rec := NewObject(mustValue(t, `{"id":"o-1","big":123456789012345678901234567890,"nil":null,"f":1.50}`))
	tests := []struct {
		name  string
		write func(w *JSONWriter)
		want  string
	}{
		{"empty", func(w *JSONWriter) {}, ``},
		{"empty object", func(w *JSONWriter) { w.BeginObject(); w.EndObject() }, `{}`},
		{"empty array", func(w *JSONWriter) { w.BeginArray(); w.EndArray() }, `[]`},
		{"fields copied raw", func(w *JSONWriter) {
			w.BeginObject()
			w.Field("orderId", rec.Get("id"))
			w.Field("amount", rec.Get("big"))
			w.Field("price", rec.Get("f"))
			w.EndObject()
		}, `{"orderId":"o-1","amount":123456789012345678901234567890,"price":1.50}`},
		{"undefined field omitted", func(w *JSONWriter) {
			w.BeginObject()
			w.Field("a", rec.Get("missing"))
			w.Field("b", rec.Get("id"))
			w.Field("c", rec.Get("missing"))
			w.EndObject()
		}, `{"b":"o-1"}`},
		{"only undefined fields", func(w *JSONWriter) {
			w.BeginObject()
			w.Field("a", rec.Get("missing"))
			w.EndObject()
		}, `{}`},
		{"null kept", func(w *JSONWriter) {
			w.BeginObject()
			w.Field("n", rec.Get("nil"))
			w.EndObject()
		}, `{"n":null}`},
		{"undefined after Key", func(w *JSONWriter) {
			w.BeginObject()
			w.IntField("a", 1)
			w.Key("b")
			w.Value(Value{})
			w.IntField("c", 3)
			w.EndObject()
		}, `{"a":1,"c":3}`},
		{"undefined in array is null", func(w *JSONWriter) {
			w.BeginArray()
			w.Value(Value{})
			w.Int(1)
			w.EndArray()
		}, `[null,1]`},
		{"undefined at top is nothing", func(w *JSONWriter) { w.Value(Value{}) }, ``},
		{"typed values", func(w *JSONWriter) {
			w.BeginObject()
			w.StringField("s", "x")
			w.FloatField("f", 0.1)
			w.IntField("i", math.MaxInt64)
			w.BoolField("b", false)
			w.NullField("n")
			w.Key("arr")
			w.BeginArray()
			w.Bool(true)
			w.String("")
			w.BeginObject()
			w.EndObject()
			w.EndArray()
			w.EndObject()
		}, `{"s":"x","f":0.1,"i":9223372036854775807,"b":false,"n":null,"arr":[true,"",{}]}`},
		{"raw json trimmed", func(w *JSONWriter) {
			w.BeginArray()
			_ = w.RawJSON([]byte(" {\"a\": [1, 2]} \n"))
			w.EndArray()
		}, `[{"a": [1, 2]}]`},
		{"top-level string", func(w *JSONWriter) { w.String("hi") }, `"hi"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w JSONWriter
			tc.write(&w)
			if err := w.Err(); err != nil {
				t.Fatalf("Err() = %v, want nil", err)
			}
			if got := string(w.Bytes()); got != tc.want {
				t.Errorf("output = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestJSONWriterMisuse(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *JSONWriter)
	}{
		{"value without key", func(w *JSONWriter) { w.BeginObject(); w.Int(1) }},
		{"key outside object", func(w *JSONWriter) { w.Key("a") }},
		{"key in array", func(w *JSONWriter) { w.BeginArray(); w.Key("a") }},
		{"key after key", func(w *JSONWriter) { w.BeginObject(); w.Key("a"); w.Key("b") }},
		{"end after key", func(w *JSONWriter) { w.BeginObject(); w.Key("a"); w.EndObject() }},
		{"mismatched end", func(w *JSONWriter) { w.BeginObject(); w.EndArray() }},
		{"end without begin", func(w *JSONWriter) { w.EndObject() }},
		{"unclosed", func(w *JSONWriter) { w.BeginArray() }},
		{"two top-level values", func(w *JSONWriter) { w.Int(1); w.Int(2) }},
		{"field outside object", func(w *JSONWriter) { w.Field("a", Value{}) }},
		{"undefined field after key", func(w *JSONWriter) { w.BeginObject(); w.Key("a"); w.Field("b", Value{}) }},
		{"invalid raw json", func(w *JSONWriter) { _ = w.RawJSON([]byte(`{"a":`)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w JSONWriter
			tc.write(&w)
			if err := w.Err(); !errors.Is(err, ErrInvalidBody) {
				t.Errorf("Err() = %v, want an error wrapping ErrInvalidBody", err)
			}
		})
	}
}

func TestJSONWriterReset(t *testing.T) {
	var w JSONWriter
	w.Key("a")
	w.Reset()
	if err := w.Err(); err != nil {
		t.Fatalf("Err() after Reset = %v, want nil", err)
	}
	w.Int(5)
	if got := string(w.Bytes()); got != "5" {
		t.Errorf("output after Reset = %s, want 5", got)
	}
}

func TestJSONWriterString(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"plain", "abc", `"abc"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"short escapes", "\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"other controls", "\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"delete kept", "\x7f", "\"\x7f\""},
		{"html kept", "<a&b>", `"<a&b>"`},
		{"slash kept", "a/b", `"a/b"`},
		{"utf8 kept", "żółw 世界 😀", `"żółw 世界 😀"`},
		{"line separators kept", "\u2028\u2029", "\"\u2028\u2029\""},
		{"invalid utf8 replaced", "a\xffb\xc3", "\"a\uFFFDb\uFFFD\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w JSONWriter
			w.String(tc.input)
			if got := string(w.Bytes()); got != tc.want {
				t.Errorf("String(%q) = %s, want %s", tc.input, got, tc.want)
			}
		})
	}
}

// TestJSONWriterFloat checks numbers against JSON.stringify in Node.js 20.
func TestJSONWriterFloat(t *testing.T) {
	tests := []struct {
		name  string
		input float64
		want  string
	}{
		{"zero", 0, `0`},
		{"negative zero", math.Copysign(0, -1), `0`},
		{"integer", 100000, `100000`},
		{"fraction", 0.1, `0.1`},
		{"rounding shown", 0.30000000000000004, `0.30000000000000004`},
		{"negative", -2.5, `-2.5`},
		{"max safe integer", 9007199254740991, `9007199254740991`},
		{"just below 1e21", 1e20, `100000000000000000000`},
		{"1e21", 1e21, `1e+21`},
		{"large", 1.5e300, `1.5e+300`},
		{"1e-6", 1e-6, `0.000001`},
		{"1e-7", 1e-7, `1e-7`},
		{"small", 1.5e-10, `1.5e-10`},
		{"tiny", 5e-324, `5e-324`},
		{"NaN", math.NaN(), `null`},
		{"infinity", math.Inf(1), `null`},
		{"negative infinity", math.Inf(-1), `null`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w JSONWriter
			w.Float(tc.input)
			if got := string(w.Bytes()); got != tc.want {
				t.Errorf("Float(%v) = %s, want %s", tc.input, got, tc.want)
			}
		})
	}
}
