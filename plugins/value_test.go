package plugins

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseValueValidity(t *testing.T) {
	tests := []struct {
		name  string
		input string
	}{
		{"empty", ``},
		{"blank", `  `},
		{"null", `null`},
		{"true with space", " true\n"},
		{"bad literal", `tru`},
		{"literal with tail", `nullx`},
		{"zero", `0`},
		{"negative zero", `-0`},
		{"leading zero", `01`},
		{"minus alone", `-`},
		{"fraction", `1.25`},
		{"dot without digits", `1.`},
		{"exponent", `1e+10`},
		{"exponent without digits", `1e`},
		{"capital exponent", `2E-3`},
		{"plus sign", `+1`},
		{"string", `"abc"`},
		{"unterminated string", `"abc`},
		{"escapes", `"\" \\ \/ \b \f \n \r \t \u00e9"`},
		{"bad escape", `"\x"`},
		{"short unicode escape", `"\u12"`},
		{"raw control character", "\"a\tb\""},
		{"invalid utf8", "\"\xff\""},
		{"empty object", `{}`},
		{"object", `{"a":1,"b":[true,null]}`},
		{"trailing comma in object", `{"a":1,}`},
		{"missing colon", `{"a" 1}`},
		{"number key", `{1:2}`},
		{"empty array", `[ ]`},
		{"trailing comma in array", `[1,]`},
		{"two values", `1 2`},
		{"nested", `{"a":{"b":{"c":[[],{}]}}}`},
		{"unclosed", `{"a":[1,2}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseValue([]byte(tc.input))
			got := err == nil
			want := json.Valid([]byte(tc.input))
			if got != want {
				t.Errorf("ParseValue(%q) valid = %v (err %v), want %v as json.Valid", tc.input, got, err, want)
			}
			if err != nil && !errors.Is(err, ErrInvalidJSON) {
				t.Errorf("ParseValue(%q) error = %v, want it to wrap ErrInvalidJSON", tc.input, err)
			}
		})
	}
}

func TestParseValueDepthLimit(t *testing.T) {
	deep := strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1)
	if _, err := ParseValue([]byte(deep)); err == nil {
		t.Errorf("ParseValue of %d nested arrays: got nil error, want a depth error", maxJSONDepth+1)
	}
	ok := strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth)
	if _, err := ParseValue([]byte(ok)); err != nil {
		t.Errorf("ParseValue of %d nested arrays: got %v, want nil", maxJSONDepth, err)
	}
}

func TestValueKind(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  Kind
	}{
		{"null", `null`, KindNull},
		{"true", `true`, KindBool},
		{"false", `false`, KindBool},
		{"number", `-1.5`, KindNumber},
		{"string", `"x"`, KindString},
		{"array", `[1]`, KindArray},
		{"object", `{}`, KindObject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := mustValue(t, tc.input)
			if got := v.Kind(); got != tc.want {
				t.Errorf("Kind() = %v, want %v", got, tc.want)
			}
		})
	}
	if got := (Value{}).Kind(); got != KindUndefined {
		t.Errorf("zero Value Kind() = %v, want undefined", got)
	}
}

func TestValueText(t *testing.T) {
	tests := []struct {
		name  string
		input string
	}{
		{"plain", `"hello"`},
		{"empty", `""`},
		{"escapes", `"a\"b\\c\/d\b\f\n\r\t"`},
		{"unicode escape", `"caf\u00e9 \u4e16"`},
		{"surrogate pair", `"\ud83d\ude00"`},
		{"lone high surrogate", `"\ud83d x"`},
		{"lone low surrogate", `"\ude00"`},
		{"high then non-low", `"\ud83d\u0041"`},
		{"two high surrogates", `"\ud83d\ud83d\ude00"`},
		{"utf8", `"żółw 世界"`},
		{"invalid utf8", "\"a\xffb\xc3\""},
		{"escaped nul", `"\u0000"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := mustValue(t, tc.input).Text()
			if !ok {
				t.Fatalf("Text() ok = false, want true")
			}
			var want string
			if err := json.Unmarshal([]byte(tc.input), &want); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}
			if got != want {
				t.Errorf("Text() = %q, want %q", got, want)
			}
		})
	}
	if _, ok := mustValue(t, `1`).Text(); ok {
		t.Errorf("Text() of a number: ok = true, want false")
	}
}

func TestValueFloatIntBool(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		wantFloat float64
		wantFOK   bool
		wantInt   int64
		wantIOK   bool
	}{
		{"integer", `42`, 42, true, 42, true},
		{"negative", `-7`, -7, true, -7, true},
		{"fraction", `1.5`, 1.5, true, 0, false},
		{"integral fraction", `1.0`, 1, true, 0, false},
		{"exponent", `1e3`, 1000, true, 0, false},
		{"beyond int64", `9223372036854775808`, 9223372036854775808, true, 0, false},
		{"beyond float64", `1e400`, math.Inf(1), true, 0, false},
		{"string", `"5"`, 0, false, 0, false},
		{"null", `null`, 0, false, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := mustValue(t, tc.input)
			f, fok := v.Float()
			if f != tc.wantFloat || fok != tc.wantFOK {
				t.Errorf("Float() = %v, %v, want %v, %v", f, fok, tc.wantFloat, tc.wantFOK)
			}
			n, iok := v.Int()
			if n != tc.wantInt || iok != tc.wantIOK {
				t.Errorf("Int() = %v, %v, want %v, %v", n, iok, tc.wantInt, tc.wantIOK)
			}
		})
	}

	if b, ok := mustValue(t, `true`).Bool(); !b || !ok {
		t.Errorf("Bool() of true = %v, %v, want true, true", b, ok)
	}
	if b, ok := mustValue(t, `false`).Bool(); b || !ok {
		t.Errorf("Bool() of false = %v, %v, want false, true", b, ok)
	}
	if b, ok := mustValue(t, `0`).Bool(); b || ok {
		t.Errorf("Bool() of 0 = %v, %v, want false, false", b, ok)
	}
}

// TestValueNumberJavaScript checks Number(v) against results of Node.js 20
// for the same inputs.
func TestValueNumberJavaScript(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name  string
		input string // "" stands for undefined
		want  float64
	}{
		{"undefined", "", nan},
		{"null", `null`, 0},
		{"true", `true`, 1},
		{"false", `false`, 0},
		{"number", `150000`, 150000},
		{"big number", `123456789012345678901234567890`, 1.2345678901234568e29},
		{"numeric string", `"200000"`, 200000},
		{"padded string", `" \t\n 12.5 \u00a0"`, 12.5},
		{"empty string", `""`, 0},
		{"blank string", `"   "`, 0},
		{"hex string", `"0x1F"`, 31},
		{"octal string", `"0o17"`, 15},
		{"binary string", `"0b101"`, 5},
		{"signed hex string", `"-0x10"`, nan},
		{"bad hex string", `"0xG"`, nan},
		{"infinity string", `"Infinity"`, math.Inf(1)},
		{"negative infinity string", `"-Infinity"`, math.Inf(-1)},
		{"go inf string", `"inf"`, nan},
		{"underscore string", `"1_000"`, nan},
		{"trailing dot string", `"5."`, 5},
		{"leading dot string", `".5"`, 0.5},
		{"dot string", `"."`, nan},
		{"exponent string", `"1e3"`, 1000},
		{"bad exponent string", `"1e"`, nan},
		{"text string", `"abc"`, nan},
		{"number then text", `"12abc"`, nan},
		{"object", `{"a":1}`, nan},
		{"empty array", `[]`, 0},
		{"one-number array", `[7]`, 7},
		{"one-string array", `["8"]`, 8},
		{"null array", `[null]`, 0},
		{"nested array", `[[9]]`, 9},
		{"two-element array", `[1,2]`, nan},
		{"bool array", `[true]`, nan},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v Value
			if tc.input != "" {
				v = mustValue(t, tc.input)
			}
			got := v.Number()
			if got != tc.want && !(math.IsNaN(got) && math.IsNaN(tc.want)) {
				t.Errorf("Number() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestObjectNumberOrNullish(t *testing.T) {
	rec := NewObject(mustValue(t, `{"a":null,"b":250000,"c":"300000","d":false,"e":"x"}`))
	tests := []struct {
		name string
		key  string
		want bool // (rec[key] ?? 0) > 100000
	}{
		{"null is zero", "a", false},
		{"number above", "b", true},
		{"numeric string above", "c", true},
		{"false is zero", "d", false},
		{"text is NaN", "e", false},
		{"missing is zero", "zzz", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rec.NumberOr(tc.key, 0) > 100000; got != tc.want {
				t.Errorf("(rec.%s ?? 0) > 100000 = %v, want %v", tc.key, got, tc.want)
			}
		})
	}
	if got := rec.NumberOr("missing", 200000); got != 200000 {
		t.Errorf("NumberOr(missing, 200000) = %v, want 200000", got)
	}
}

func TestObjectLookups(t *testing.T) {
	rec := NewObject(mustValue(t, `{ "id" : "o-1", "n": 12, "dup": 1, "nil": null, "esc\u0061ped": true, "dup": 2, "nested": {"x": [1, {"y": 2}]} }`))
	if !rec.IsObject() {
		t.Fatalf("IsObject() = false, want true")
	}
	if got, want := rec.Len(), 7; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	if s, ok := rec.String("id"); s != "o-1" || !ok {
		t.Errorf(`String("id") = %q, %v, want "o-1", true`, s, ok)
	}
	if f, ok := rec.Float("n"); f != 12 || !ok {
		t.Errorf(`Float("n") = %v, %v, want 12, true`, f, ok)
	}
	if got := string(rec.Raw("dup")); got != "2" {
		t.Errorf(`Raw("dup") = %s, want the last duplicate 2`, got)
	}
	if !rec.Has("nil") || !rec.IsNull("nil") {
		t.Errorf(`Has("nil"), IsNull("nil") = %v, %v, want true, true`, rec.Has("nil"), rec.IsNull("nil"))
	}
	if rec.Has("missing") || rec.Raw("missing") != nil {
		t.Errorf(`Has("missing") = true or Raw("missing") non-nil, want absent`)
	}
	if b, ok := rec.Bool("escaped"); !b || !ok {
		t.Errorf(`Bool("escaped") = %v, %v, want true, true (key written with an escape)`, b, ok)
	}
	if got := string(rec.Get("nested").Get("x").Index(1).Get("y").Raw()); got != "2" {
		t.Errorf("nested.x[1].y = %s, want 2", got)
	}
	if got := rec.Get("nested").Get("x").Len(); got != 2 {
		t.Errorf("len(nested.x) = %d, want 2", got)
	}
	if got := rec.Get("nested").Get("x").Index(5); got.Exists() {
		t.Errorf("nested.x[5] = %s, want undefined", got.Raw())
	}
	keys := rec.Keys(nil)
	if got := strings.Join(keys, ","); got != "id,n,dup,nil,escaped,dup,nested" {
		t.Errorf("Keys() = %s, want id,n,dup,nil,escaped,dup,nested", got)
	}

	for _, input := range []string{`null`, `5`, `[1]`} {
		o := NewObject(mustValue(t, input))
		if o.IsObject() || o.Has("a") || o.Len() != 0 {
			t.Errorf("NewObject(%s): IsObject %v, Has(a) %v, Len %d, want false, false, 0", input, o.IsObject(), o.Has("a"), o.Len())
		}
	}
}

func mustValue(t testing.TB, s string) Value {
	t.Helper()
	v, err := ParseValue([]byte(s))
	if err != nil {
		t.Fatalf("ParseValue(%q): %v", s, err)
	}
	return v
}
