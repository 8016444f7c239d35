package plugins

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// BundleSectionName is the name of the Wasm custom section that carries a
// JavaScript bundle. A module holding this section is a JavaScript engine
// guest plus one bundle: the host strips the section, shares the compiled
// engine among every such module and hands the payload to the engine's
// execvault_load export.
const BundleSectionName = "execvault.bundle"

// wasmHeader is the Wasm binary magic number followed by format version 1.
var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// customSectionID is the section id of Wasm custom sections.
const customSectionID = 0

// Errors that SplitBundle returns, wrapped with the offset and detail.
var (
	// ErrNotWasm marks input that does not start with the Wasm magic
	// number and version 1.
	ErrNotWasm = errors.New("not a WebAssembly binary module")

	// ErrMalformedWasm marks a module whose section headers are truncated
	// or invalid.
	ErrMalformedWasm = errors.New("malformed WebAssembly module")

	// ErrDuplicateBundle marks a module that carries more than one bundle
	// section.
	ErrDuplicateBundle = errors.New("module carries more than one " + BundleSectionName + " section")
)

// AppendBundleSection returns a new slice holding engine followed by one
// custom section named BundleSectionName whose payload is payload. It does
// not inspect engine: a caller that may hold a module already carrying a
// bundle calls SplitBundle first, because a module with two bundle sections
// is rejected when it is loaded. Neither argument is modified.
func AppendBundleSection(engine, payload []byte) []byte {
	var name []byte
	name = binary.AppendUvarint(name, uint64(len(BundleSectionName)))
	name = append(name, BundleSectionName...)
	contentLen := uint64(len(name) + len(payload))

	out := make([]byte, 0, len(engine)+1+binary.MaxVarintLen64+len(name)+len(payload))
	out = append(out, engine...)
	out = append(out, customSectionID)
	out = binary.AppendUvarint(out, contentLen)
	out = append(out, name...)
	out = append(out, payload...)
	return out
}

// SplitBundle finds the custom section named BundleSectionName in a Wasm
// binary module, wherever it sits among the sections. It returns the module
// without that section as engine, the section's payload, and ok true. When
// the module has no such section, it returns the module itself, a nil
// payload and ok false. engine and payload never alias module when ok is
// true, so the caller may keep them after changing module.
//
// The errors wrap ErrNotWasm for input without the Wasm header,
// ErrMalformedWasm for a truncated or invalid section header, and
// ErrDuplicateBundle when the section appears twice. Only section headers
// are checked: the contents of other sections are left to the Wasm
// compiler.
func SplitBundle(module []byte) (engine, payload []byte, ok bool, err error) {
	if len(module) < len(wasmHeader) || !bytes.Equal(module[:len(wasmHeader)], wasmHeader) {
		return nil, nil, false, fmt.Errorf("split bundle: %w: expected the 8-byte header \\0asm version 1", ErrNotWasm)
	}

	start, end := -1, -1
	pos := len(wasmHeader)
	for pos < len(module) {
		sectionStart := pos
		id := module[pos]
		pos++

		size, n, err := readVarU32(module[pos:])
		if err != nil {
			return nil, nil, false, fmt.Errorf("split bundle: section %d at offset %d: size: %w", id, sectionStart, err)
		}
		pos += n
		if uint64(size) > uint64(len(module)-pos) {
			return nil, nil, false, fmt.Errorf("split bundle: %w: section %d at offset %d declares %d bytes but %d remain",
				ErrMalformedWasm, id, sectionStart, size, len(module)-pos)
		}
		content := module[pos : pos+int(size)]
		pos += int(size)

		if id != customSectionID {
			continue
		}
		nameLen, n, err := readVarU32(content)
		if err != nil {
			return nil, nil, false, fmt.Errorf("split bundle: custom section at offset %d: name length: %w", sectionStart, err)
		}
		if uint64(nameLen) > uint64(len(content)-n) {
			return nil, nil, false, fmt.Errorf("split bundle: %w: custom section at offset %d has a %d-byte name but %d bytes of content remain",
				ErrMalformedWasm, sectionStart, nameLen, len(content)-n)
		}
		if string(content[n:n+int(nameLen)]) != BundleSectionName {
			continue
		}
		if start >= 0 {
			return nil, nil, false, fmt.Errorf("split bundle: %w: at offsets %d and %d", ErrDuplicateBundle, start, sectionStart)
		}
		start, end = sectionStart, pos
		payload = bytes.Clone(content[n+int(nameLen):])
	}

	if start < 0 {
		return module, nil, false, nil
	}
	engine = make([]byte, 0, len(module)-(end-start))
	engine = append(engine, module[:start]...)
	engine = append(engine, module[end:]...)
	if payload == nil {
		payload = []byte{}
	}
	return engine, payload, true, nil
}

// readVarU32 decodes an unsigned LEB128 value of at most 32 bits, as the
// Wasm binary format encodes section sizes and name lengths. It returns the
// value and the number of bytes read.
func readVarU32(b []byte) (uint32, int, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, 0, fmt.Errorf("%w: LEB128 value truncated after %d bytes", ErrMalformedWasm, i)
		}
		c := b[i]
		if i == 4 && c&0xf0 != 0 {
			return 0, 0, fmt.Errorf("%w: LEB128 value exceeds 32 bits", ErrMalformedWasm)
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("%w: LEB128 value longer than 5 bytes", ErrMalformedWasm)
}
