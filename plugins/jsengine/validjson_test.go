package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name  string
		input string
	}{
		{name: "object", input: `{"a":1,"b":[true,false,null],"c":{"d":"e"}}`},
		{name: "surrounding space", input: " \t\r\n{} \n"},
		{name: "numbers", input: `[0,-0,1.5,-1.5e10,1E+2,1e-2,123456789012345678901234567890]`},
		{name: "escapes", input: `"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"`},
		{name: "invalid UTF-8 in string", input: "\"\xff\""},
		{name: "empty", input: ``},
		{name: "space only", input: `  `},
		{name: "two values", input: `{}{}`},
		{name: "trailing comma", input: `[1,]`},
		{name: "trailing comma in object", input: `{"a":1,}`},
		{name: "leading zero", input: `01`},
		{name: "bare minus", input: `-`},
		{name: "dot without digits", input: `1.`},
		{name: "exponent without digits", input: `1e+`},
		{name: "plus sign", input: `+1`},
		{name: "control character", input: "\"a\x01b\""},
		{name: "bad escape", input: `"\x"`},
		{name: "short unicode escape", input: `"\u12"`},
		{name: "unterminated string", input: `"abc`},
		{name: "unquoted key", input: `{a:1}`},
		{name: "missing colon", input: `{"a" 1}`},
		{name: "literal prefix", input: `tru`},
		{name: "literal suffix", input: `nullx`},
		{name: "single quotes", input: `'a'`},
		{name: "deep nesting at limit", input: strings.Repeat("[", 10000) + strings.Repeat("]", 10000)},
		{name: "deep nesting over limit", input: strings.Repeat("[", 10001) + strings.Repeat("]", 10001)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := validJSON([]byte(tt.input)), json.Valid([]byte(tt.input))
			if got != want {
				t.Errorf("validJSON = %v, want %v as json.Valid", got, want)
			}
		})
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, seed := range []string{`{"a":[1,2.5e-3,"x\n"]}`, `[`, `"\u00zz"`, `-0.0E+1`, ` null `} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		if got, want := validJSON(input), json.Valid(input); got != want {
			t.Fatalf("validJSON(%q) = %v, want %v as json.Valid", input, got, want)
		}
	})
}
