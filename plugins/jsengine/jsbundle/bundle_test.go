package jsbundle

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		bundle Bundle
	}{
		{name: "one file", bundle: Bundle{Code: "var x = 1;", Files: []string{"a.ts"}}},
		{name: "with source map", bundle: Bundle{Code: "var x = 1;", SourceMap: `{"version":3}`, Files: []string{"a.ts"}}},
		{name: "several files", bundle: Bundle{Code: "var x = '\u00e9\n';", Files: []string{"a.ts", "dir/b.ts"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload, err := Encode(&tt.bundle)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := Decode(payload)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.bundle) {
				t.Errorf("Decode = %+v, want %+v", *got, tt.bundle)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		message string
	}{
		{name: "not JSON", payload: "var x", message: "invalid character"},
		{name: "empty", payload: "", message: "unexpected end"},
		{name: "future format", payload: `{"format":2,"code":"1","files":["a.ts"]}`, message: "format version 2"},
		{name: "missing format", payload: `{"code":"1","files":["a.ts"]}`, message: "format version 0"},
		{name: "no code", payload: `{"format":1,"code":" ","files":["a.ts"]}`, message: "no code"},
		{name: "no files", payload: `{"format":1,"code":"1","files":[]}`, message: "no executor files"},
		{name: "empty file name", payload: `{"format":1,"code":"1","files":["a.ts",""]}`, message: "file 1 has an empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.payload))
			if !errors.Is(err, ErrInvalidBundle) {
				t.Fatalf("Decode error = %v, want %v", err, ErrInvalidBundle)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error = %q, want it to contain %q", err, tt.message)
			}
		})
	}
}

func TestEncodeRejectsEmptyBundle(t *testing.T) {
	_, err := Encode(&Bundle{Files: []string{"a.ts"}})
	if !errors.Is(err, ErrInvalidBundle) {
		t.Errorf("Encode error = %v, want %v", err, ErrInvalidBundle)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"format":1,"code":"var x","sourceMap":"{}","files":["a.ts"]}`))
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		b, err := Decode(payload)
		if err != nil {
			if !errors.Is(err, ErrInvalidBundle) {
				t.Fatalf("error %v does not wrap ErrInvalidBundle", err)
			}
			return
		}
		again, err := Encode(b)
		if err != nil {
			t.Fatalf("decoded bundle does not encode: %v", err)
		}
		b2, err := Decode(again)
		if err != nil || !reflect.DeepEqual(b, b2) {
			t.Fatalf("re-decode gave %+v, %v; want %+v", b2, err, b)
		}
	})
}
