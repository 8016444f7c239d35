package plugins

import (
	"bytes"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth is the deepest nesting of arrays and objects the reader
// accepts. It matches the limit of encoding/json (Go 1.26), so both accept
// the same documents.
const maxJSONDepth = 10000

// isJSONSpace reports whether c is one of the four whitespace bytes that
// RFC 8259 allows between tokens.
func isJSONSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && isJSONSpace(data[i]) {
		i++
	}
	return i
}

// syntaxError builds the error for invalid JSON at byte offset i. The
// message names the offset and the byte, never the surrounding text, because
// the document may carry record data that does not belong in logs.
func syntaxError(data []byte, i int, expected string) error {
	if i >= len(data) {
		return fmt.Errorf("%w: unexpected end of input at offset %d, expected %s", ErrInvalidJSON, i, expected)
	}
	return fmt.Errorf("%w: unexpected byte %q at offset %d, expected %s", ErrInvalidJSON, data[i], i, expected)
}

// validateJSON checks that data holds exactly one JSON value, optionally
// surrounded by whitespace, following RFC 8259 as encoding/json reads it:
// bytes of 0x80 and above inside strings are accepted whether or not they
// form valid UTF-8.
func validateJSON(data []byte) error {
	i := skipSpace(data, 0)
	end, err := skipValue(data, i, 0)
	if err != nil {
		return err
	}
	end = skipSpace(data, end)
	if end != len(data) {
		return syntaxError(data, end, "end of input")
	}
	return nil
}

// skipValue validates the JSON value starting at data[i] (no leading
// whitespace) and returns the offset just past it.
func skipValue(data []byte, i, depth int) (int, error) {
	if i >= len(data) {
		return i, syntaxError(data, i, "a value")
	}
	switch c := data[i]; {
	case c == '"':
		end, _, err := skipString(data, i)
		return end, err
	case c == '{':
		return skipObject(data, i, depth+1)
	case c == '[':
		return skipArray(data, i, depth+1)
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(data, i)
	case c == 't':
		return skipLiteral(data, i, "true")
	case c == 'f':
		return skipLiteral(data, i, "false")
	case c == 'n':
		return skipLiteral(data, i, "null")
	default:
		return i, syntaxError(data, i, "a value")
	}
}

func skipLiteral(data []byte, i int, lit string) (int, error) {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return i, syntaxError(data, i, lit)
	}
	return i + len(lit), nil
}

func skipObject(data []byte, i, depth int) (int, error) {
	if depth > maxJSONDepth {
		return i, fmt.Errorf("%w: nesting deeper than %d levels at offset %d", ErrInvalidJSON, maxJSONDepth, i)
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return i, syntaxError(data, i, "a string key")
		}
		var err error
		if i, _, err = skipString(data, i); err != nil {
			return i, err
		}
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != ':' {
			return i, syntaxError(data, i, "':'")
		}
		i = skipSpace(data, i+1)
		if i, err = skipValue(data, i, depth); err != nil {
			return i, err
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return i, syntaxError(data, i, "',' or '}'")
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, syntaxError(data, i, "',' or '}'")
		}
	}
}

func skipArray(data []byte, i, depth int) (int, error) {
	if depth > maxJSONDepth {
		return i, fmt.Errorf("%w: nesting deeper than %d levels at offset %d", ErrInvalidJSON, maxJSONDepth, i)
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(data, i, depth); err != nil {
			return i, err
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return i, syntaxError(data, i, "',' or ']'")
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, syntaxError(data, i, "',' or ']'")
		}
	}
}

// skipString validates the string starting at the quote data[i] and returns
// the offset past its closing quote. The flag is true when the content must
// be decoded before comparing, because it has escapes or bytes of 0x80 and
// above, which may be invalid UTF-8.
func skipString(data []byte, i int) (end int, escaped bool, err error) {
	i++
	for i < len(data) {
		// Most string bytes are printable ASCII that needs no attention.
		for i < len(data) && plainStringByte[data[i]] {
			i++
		}
		if i >= len(data) {
			break
		}
		c := data[i]
		switch {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(data) {
				return i + 1, escaped, syntaxError(data, i+1, "an escape character")
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(data) || !isHex(data[k]) {
						return k, escaped, syntaxError(data, k, "a hex digit")
					}
				}
				i += 6
			default:
				return i + 1, escaped, syntaxError(data, i+1, "an escape character")
			}
		case c < 0x20:
			return i, escaped, syntaxError(data, i, "a string character")
		default:
			if c >= utf8.RuneSelf {
				escaped = true
			}
			i++
		}
	}
	return i, escaped, syntaxError(data, i, "'\"'")
}

// plainStringByte marks the bytes that may appear in a JSON string and need
// no handling: printable ASCII other than the quote and the backslash.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skipNumber validates the RFC 8259 number at data[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(data []byte, i int) (int, error) {
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		return i, syntaxError(data, i, "a digit")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return i, syntaxError(data, i, "a digit after '.'")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return i, syntaxError(data, i, "a digit in the exponent")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	return i, nil
}

// skipKnownValid returns the offset past the value at data[i], which the
// caller knows to be valid JSON already. It only tracks strings and nesting,
// so it is several times faster than skipValue.
func skipKnownValid(data []byte, i int) int {
	depth := 0
	for i < len(data) {
		switch data[i] {
		case '"':
			i = skipKnownString(data, i)
			if depth == 0 {
				return i
			}
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing container ends a scalar
			}
			depth--
			i++
			if depth == 0 {
				return i
			}
		case ',', ':', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
			i++
		default:
			i++
		}
	}
	return i
}

// skipKnownString returns the offset past the valid string literal whose
// opening quote is data[i]. The closing quote is the first one not preceded
// by an odd number of backslashes.
func skipKnownString(data []byte, i int) int {
	i++
	for {
		j := bytes.IndexByte(data[i:], '"')
		if j < 0 {
			return len(data)
		}
		i += j
		backslashes := 0
		for k := i - 1; k >= 0 && data[k] == '\\'; k-- {
			backslashes++
		}
		i++
		if backslashes%2 == 0 {
			return i
		}
	}
}

// appendUnescaped appends the content of the valid JSON string literal raw
// (quotes included) to dst, decoding escapes. Invalid UTF-8 and unpaired
// surrogate escapes become U+FFFD, as encoding/json decodes them.
func appendUnescaped(dst, raw []byte) []byte {
	s := raw[1 : len(raw)-1]
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' {
			switch s[i+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := rune(hex4(s[i+2:]))
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2 = rune(hex4(s[i+2:]))
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\' and '/' stand for themselves.
				dst = append(dst, s[i+1])
			}
			i += 2
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

func hex4(b []byte) uint16 {
	var v uint16
	for _, c := range b[:4] {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= uint16(c - '0')
		case c >= 'a' && c <= 'f':
			v |= uint16(c - 'a' + 10)
		default:
			v |= uint16(c - 'A' + 10)
		}
	}
	return v
}
