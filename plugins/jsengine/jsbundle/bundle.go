// Package jsbundle defines the payload of the execvault.bundle custom
// section: the bundled JavaScript of one or more executor files, its source
// map, and the names of those files. The bundler encodes it and the
// JavaScript engine guest decodes it, so the package has no dependencies
// beyond the standard library and builds for every platform, wasip1
// included.
package jsbundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// FormatVersion is the payload format this package writes and the only one
// it reads.
const FormatVersion = 1

// GlobalName is the global variable that the bundled script assigns. Its
// value is an object whose "entries" property is an array holding, for each
// name in Bundle.Files and in the same order, that file's module namespace
// object. The engine reads the default export of each namespace.
const GlobalName = "__execvaultBundle"

// ErrInvalidBundle marks a payload that cannot be decoded or breaks a rule
// of the format. Decode wraps it with the detail.
var ErrInvalidBundle = errors.New("invalid JavaScript bundle")

// Bundle is the decoded payload.
type Bundle struct {
	// Code is a classic script (not a module) that assigns GlobalName when
	// run once in a fresh JavaScript runtime.
	Code string

	// SourceMap is the source map (version 3 JSON) of Code; empty when
	// there is none. Its source paths are what stack traces show.
	SourceMap string

	// Files names the executor files, as messages show them, in the order
	// of the entries array. It is never empty.
	Files []string
}

// wire is the JSON form of Bundle.
type wire struct {
	Format    int      `json:"format"`
	Code      string   `json:"code"`
	SourceMap string   `json:"sourceMap,omitempty"`
	Files     []string `json:"files"`
}

// Encode returns the payload bytes of b. It returns an error wrapping
// ErrInvalidBundle when b has no code or no files.
func Encode(b *Bundle) ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, fmt.Errorf("encode bundle: %w", err)
	}
	return json.Marshal(wire{Format: FormatVersion, Code: b.Code, SourceMap: b.SourceMap, Files: b.Files})
}

// Decode parses payload bytes written by Encode. Errors wrap
// ErrInvalidBundle and name the problem, such as an unknown format version.
func Decode(payload []byte) (*Bundle, error) {
	var w wire
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, fmt.Errorf("decode bundle: %w: %w", ErrInvalidBundle, err)
	}
	if w.Format != FormatVersion {
		return nil, fmt.Errorf("decode bundle: %w: format version %d, this engine reads version %d; rebuild the plugin with a matching execvault",
			ErrInvalidBundle, w.Format, FormatVersion)
	}
	b := &Bundle{Code: w.Code, SourceMap: w.SourceMap, Files: w.Files}
	if err := b.validate(); err != nil {
		return nil, fmt.Errorf("decode bundle: %w", err)
	}
	return b, nil
}

func (b *Bundle) validate() error {
	if strings.TrimSpace(b.Code) == "" {
		return fmt.Errorf("%w: no code", ErrInvalidBundle)
	}
	if len(b.Files) == 0 {
		return fmt.Errorf("%w: no executor files", ErrInvalidBundle)
	}
	for i, f := range b.Files {
		if f == "" {
			return fmt.Errorf("%w: file %d has an empty name", ErrInvalidBundle, i)
		}
	}
	return nil
}
