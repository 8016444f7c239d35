package main

import (
	"encoding/json"
	"math/bits"
	"math/rand/v2"
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

func TestSpecialBytesFindsFirst(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }
	words := []uint64{0, ^uint64(0), 0x4141414141414141, 0x7e7e7e7e7e7e7e7e, 0x2020202020202020}
	// Every byte value in every position of an otherwise plain word.
	for pos := range 8 {
		for c := range 256 {
			words = append(words, 0x4141414141414141&^(0xff<<(8*pos))|uint64(c)<<(8*pos))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		words = append(words, rng.Uint64())
	}
	for _, w := range words {
		want := 8 // no special byte
		for i := range 8 {
			if special(byte(w >> (8 * i))) {
				want = i
				break
			}
		}
		got := 8
		if mask := specialBytes(w); mask != 0 {
			got = bits.TrailingZeros64(mask) / 8
		}
		if got != want {
			t.Fatalf("first special byte of %#016x = %d, want %d (8 means none)", w, got, want)
		}
	}
}

func TestScanStringPlain(t *testing.T) {
	tests := []struct {
		name  string
		input string
		plain bool
	}{
		{name: "empty", input: `""`, plain: true},
		{name: "short ASCII", input: `"abc"`, plain: true},
		{name: "long ASCII", input: `"abcdefghijklmnopqrstuvwxyz0123456789"`, plain: true},
		{name: "escape after a word", input: `"abcdefghij\nkl"`, plain: false},
		{name: "non-ASCII late", input: `"abcdefghijklmnopé"`, plain: false},
		{name: "DEL", input: "\"abcdefgh\x7f\"", plain: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end, plain, ok := scanString([]byte(tt.input), 0)
			if !ok || end != len(tt.input) {
				t.Fatalf("scanString = end %d, ok %v; want end %d, ok", end, ok, len(tt.input))
			}
			if plain != tt.plain {
				t.Errorf("plain = %v, want %v", plain, tt.plain)
			}
		})
	}
}
