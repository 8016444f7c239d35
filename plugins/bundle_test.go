package plugins

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// section encodes one Wasm section with a one-byte size; content must be
// shorter than 128 bytes.
func section(id byte, content []byte) []byte {
	return append([]byte{id, byte(len(content))}, content...)
}

// customSection encodes a custom section with a short name.
func customSection(name string, payload []byte) []byte {
	content := append([]byte{byte(len(name))}, name...)
	return section(0, append(content, payload...))
}

// module joins the Wasm header and the given sections.
func module(sections ...[]byte) []byte {
	out := bytes.Clone(wasmHeader)
	for _, s := range sections {
		out = append(out, s...)
	}
	return out
}

var (
	typeSection   = section(1, []byte{0x01, 0x60, 0x00, 0x00})
	funcSection   = section(3, []byte{0x01, 0x00})
	codeSection   = section(10, []byte{0x01, 0x02, 0x00, 0x0b})
	nameSection   = customSection("name", []byte{0x00, 0x01, 0x00})
	minimalEngine = module(typeSection, funcSection, codeSection)
)

func TestAppendThenSplitBundle(t *testing.T) {
	tests := []struct {
		name    string
		engine  []byte
		payload []byte
	}{
		{name: "empty module", engine: module(), payload: []byte(`{"code":"1"}`)},
		{name: "module with code", engine: minimalEngine, payload: []byte("payload")},
		{name: "empty payload", engine: minimalEngine, payload: []byte{}},
		{name: "payload over 127 bytes", engine: minimalEngine, payload: bytes.Repeat([]byte("x"), 300)},
		{name: "payload over 16 KiB", engine: minimalEngine, payload: bytes.Repeat([]byte("y"), 20000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			combined := AppendBundleSection(tt.engine, tt.payload)
			engine, payload, ok, err := SplitBundle(combined)
			if err != nil {
				t.Fatalf("SplitBundle: %v", err)
			}
			if !ok {
				t.Fatal("SplitBundle found no bundle section")
			}
			if !bytes.Equal(engine, tt.engine) {
				t.Errorf("engine = %x, want %x", engine, tt.engine)
			}
			if !bytes.Equal(payload, tt.payload) {
				t.Errorf("payload = %q, want %q", payload, tt.payload)
			}
		})
	}
}

func TestSplitBundleSectionPosition(t *testing.T) {
	bundle := customSection(BundleSectionName, []byte("js"))
	tests := []struct {
		name   string
		module []byte
		engine []byte
	}{
		{name: "first", module: module(bundle, typeSection, funcSection, codeSection), engine: minimalEngine},
		{name: "middle", module: module(typeSection, bundle, funcSection, codeSection), engine: minimalEngine},
		{name: "last", module: module(typeSection, funcSection, codeSection, bundle), engine: minimalEngine},
		{
			name:   "beside other custom sections",
			module: module(nameSection, typeSection, funcSection, bundle, codeSection, nameSection),
			engine: module(nameSection, typeSection, funcSection, codeSection, nameSection),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engine, payload, ok, err := SplitBundle(tt.module)
			if err != nil {
				t.Fatalf("SplitBundle: %v", err)
			}
			if !ok {
				t.Fatal("SplitBundle found no bundle section")
			}
			if !bytes.Equal(engine, tt.engine) {
				t.Errorf("engine = %x, want %x", engine, tt.engine)
			}
			if string(payload) != "js" {
				t.Errorf("payload = %q, want %q", payload, "js")
			}
		})
	}
}

func TestSplitBundleWithoutSection(t *testing.T) {
	tests := []struct {
		name   string
		module []byte
	}{
		{name: "header only", module: module()},
		{name: "plain module", module: minimalEngine},
		{name: "other custom section", module: module(nameSection, typeSection)},
		{name: "name that is a prefix", module: module(customSection("execvault.bun", []byte("js")))},
		{name: "name that extends it", module: module(customSection(BundleSectionName+"2", []byte("js")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engine, payload, ok, err := SplitBundle(tt.module)
			if err != nil {
				t.Fatalf("SplitBundle: %v", err)
			}
			if ok {
				t.Errorf("ok = true with payload %q, want false", payload)
			}
			if !bytes.Equal(engine, tt.module) {
				t.Errorf("engine = %x, want the module unchanged %x", engine, tt.module)
			}
		})
	}
}

func TestSplitBundleErrors(t *testing.T) {
	bundle := customSection(BundleSectionName, []byte("js"))
	tests := []struct {
		name    string
		module  []byte
		want    error
		message string
	}{
		{name: "empty input", module: nil, want: ErrNotWasm, message: "header"},
		{name: "wrong magic", module: []byte("\x00wsm\x01\x00\x00\x00"), want: ErrNotWasm, message: "header"},
		{name: "version 2", module: []byte("\x00asm\x02\x00\x00\x00"), want: ErrNotWasm, message: "version 1"},
		{name: "truncated size", module: module([]byte{1}), want: ErrMalformedWasm, message: "truncated"},
		{name: "unterminated size", module: module([]byte{1, 0x80, 0x80}), want: ErrMalformedWasm, message: "truncated"},
		{name: "size over 32 bits", module: module([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x7f}), want: ErrMalformedWasm, message: "32 bits"},
		{name: "size past end", module: module([]byte{1, 10, 0}), want: ErrMalformedWasm, message: "declares 10 bytes but 1 remain"},
		{name: "custom name past end", module: module([]byte{0, 2, 9, 'a'}), want: ErrMalformedWasm, message: "9-byte name"},
		{name: "custom without name", module: module([]byte{0, 0}), want: ErrMalformedWasm, message: "name length"},
		{name: "two bundles", module: module(bundle, typeSection, bundle), want: ErrDuplicateBundle, message: "offsets 8 and"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, ok, err := SplitBundle(tt.module)
			if !errors.Is(err, tt.want) {
				t.Fatalf("SplitBundle error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error = %q, want it to contain %q", err, tt.message)
			}
			if ok {
				t.Error("ok = true alongside an error")
			}
		})
	}
}

func TestSplitBundleDoesNotAlias(t *testing.T) {
	combined := AppendBundleSection(minimalEngine, []byte("js"))
	engine, payload, _, err := SplitBundle(combined)
	if err != nil {
		t.Fatalf("SplitBundle: %v", err)
	}
	for i := range combined {
		combined[i] = 0xff
	}
	if !bytes.Equal(engine, minimalEngine) {
		t.Errorf("engine changed with the input: %x", engine)
	}
	if string(payload) != "js" {
		t.Errorf("payload changed with the input: %q", payload)
	}
}

func FuzzSplitBundle(f *testing.F) {
	f.Add(minimalEngine)
	f.Add(AppendBundleSection(minimalEngine, []byte("payload")))
	f.Add(module(nameSection, customSection(BundleSectionName, nil)))
	f.Add(module([]byte{0, 0x80}))
	f.Add([]byte("\x00asm"))
	f.Fuzz(func(t *testing.T, input []byte) {
		engine, payload, ok, err := SplitBundle(input)
		if err != nil {
			if ok || engine != nil || payload != nil {
				t.Fatalf("error %v returned alongside results", err)
			}
			return
		}
		if !ok {
			if !bytes.Equal(engine, input) {
				t.Fatal("module without a bundle came back changed")
			}
			return
		}

		// Putting the bundle back at the end must give a module that
		// splits into the same parts.
		again := AppendBundleSection(engine, payload)
		engine2, payload2, ok2, err := SplitBundle(again)
		if err != nil || !ok2 {
			t.Fatalf("re-split: ok %v, error %v", ok2, err)
		}
		if !bytes.Equal(engine2, engine) || !bytes.Equal(payload2, payload) {
			t.Fatal("re-split gave different parts")
		}
		if len(engine) >= len(input) {
			t.Fatalf("engine is %d bytes, input %d: nothing was removed", len(engine), len(input))
		}
	})
}
