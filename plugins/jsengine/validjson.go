package main

import (
	"encoding/binary"
	"math/bits"
)

// maxJSONDepth is the nesting limit of the scanner, the same as
// encoding/json's (Go 1.26).
const maxJSONDepth = 10000

// jsonScanner checks that a firing's arguments are one valid JSON value and,
// in the same pass, records where the members of every object and array sit,
// so that the lazy arguments never scan the bytes again. It accepts what
// encoding/json's Valid accepts. It exists because json.Valid steps through
// a state machine with an indirect call per byte.
//
// The scanner keeps its buffers between calls. It is not safe for
// concurrent use.
type jsonScanner struct {
	// open holds the members of the objects and arrays still being
	// scanned, innermost last.
	open []lazyField
	// members holds the members of every closed object and array. Each
	// container's members are contiguous, and the lazyField of the
	// container records their range in membersStart and membersEnd.
	members []lazyField
}

// Flags of a lazyField, set by the scanner.
const (
	// flagPlainKey marks a key of ASCII without escapes, which is its own
	// decoded form.
	flagPlainKey uint8 = 1 << iota
	// flagPlainString marks a string value of ASCII without escapes.
	flagPlainString
)

// validJSON reports whether raw is exactly one JSON value with optional
// surrounding space.
func validJSON(raw []byte) bool {
	var s jsonScanner
	_, ok := s.scan(raw)
	return ok
}

// scan validates raw and returns the field describing its top-level value.
// After a successful scan, s.members holds the members of every container in
// raw, and the offsets in all fields index raw.
func (s *jsonScanner) scan(raw []byte) (lazyField, bool) {
	s.open = s.open[:0]
	s.members = s.members[:0]
	start := skipSpace(raw, 0)
	end, root, ok := s.value(raw, start, 0)
	if !ok || skipSpace(raw, end) != len(raw) {
		return lazyField{}, false
	}
	root.valStart, root.valEnd = int32(start), int32(end)
	return root, true
}

// value scans the value at pos. It returns the value's end, and a field
// holding only the value's member range and flags. The field is returned
// rather than filled through a pointer, which the recursion would move to
// the heap.
func (s *jsonScanner) value(raw []byte, pos, depth int) (int, lazyField, bool) {
	var f lazyField
	if pos >= len(raw) {
		return pos, f, false
	}
	var ok bool
	switch c := raw[pos]; {
	case c == '{':
		pos, f.membersStart, f.membersEnd, ok = s.object(raw, pos, depth+1)
	case c == '[':
		pos, f.membersStart, f.membersEnd, ok = s.array(raw, pos, depth+1)
	case c == '"':
		var plain bool
		pos, plain, ok = scanString(raw, pos)
		if plain {
			f.flags = flagPlainString
		}
	case c == 't':
		pos, ok = validLiteral(raw, pos, "true")
	case c == 'f':
		pos, ok = validLiteral(raw, pos, "false")
	case c == 'n':
		pos, ok = validLiteral(raw, pos, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		pos, ok = validNumber(raw, pos)
	}
	return pos, f, ok
}

// close moves the members of the container opened at mark from s.open to
// s.members and returns their range there.
func (s *jsonScanner) close(mark int) (start, end int32) {
	start = int32(len(s.members))
	s.members = append(s.members, s.open[mark:]...)
	s.open = s.open[:mark]
	return start, int32(len(s.members))
}

// object scans the object at pos and returns its end and the range of its
// members in s.members.
func (s *jsonScanner) object(raw []byte, pos, depth int) (end int, start, stop int32, ok bool) {
	if depth > maxJSONDepth {
		return pos, 0, 0, false
	}
	mark := len(s.open)
	pos = skipSpace(raw, pos+1)
	if pos < len(raw) && raw[pos] == '}' {
		start, stop = s.close(mark)
		return pos + 1, start, stop, true
	}
	for {
		if pos >= len(raw) || raw[pos] != '"' {
			return pos, 0, 0, false
		}
		keyEnd, plain, ok := scanString(raw, pos)
		if !ok {
			return keyEnd, 0, 0, false
		}
		keyStart := pos + 1
		pos = skipSpace(raw, keyEnd)
		if pos >= len(raw) || raw[pos] != ':' {
			return pos, 0, 0, false
		}
		pos = skipSpace(raw, pos+1)
		valStart := pos
		var member lazyField
		if pos, member, ok = s.value(raw, pos, depth); !ok {
			return pos, 0, 0, false
		}
		member.keyStart, member.keyEnd = int32(keyStart), int32(keyEnd-1)
		member.valStart, member.valEnd = int32(valStart), int32(pos)
		if plain {
			member.flags |= flagPlainKey
		}
		s.open = append(s.open, member)

		pos = skipSpace(raw, pos)
		if pos >= len(raw) {
			return pos, 0, 0, false
		}
		switch raw[pos] {
		case '}':
			start, stop = s.close(mark)
			return pos + 1, start, stop, true
		case ',':
			pos = skipSpace(raw, pos+1)
		default:
			return pos, 0, 0, false
		}
	}
}

// array scans the array at pos and returns its end and the range of its
// elements in s.members.
func (s *jsonScanner) array(raw []byte, pos, depth int) (end int, start, stop int32, ok bool) {
	if depth > maxJSONDepth {
		return pos, 0, 0, false
	}
	mark := len(s.open)
	pos = skipSpace(raw, pos+1)
	if pos < len(raw) && raw[pos] == ']' {
		start, stop = s.close(mark)
		return pos + 1, start, stop, true
	}
	for {
		valStart := pos
		var element lazyField
		if pos, element, ok = s.value(raw, pos, depth); !ok {
			return pos, 0, 0, false
		}
		element.valStart, element.valEnd = int32(valStart), int32(pos)
		s.open = append(s.open, element)

		pos = skipSpace(raw, pos)
		if pos >= len(raw) {
			return pos, 0, 0, false
		}
		switch raw[pos] {
		case ']':
			start, stop = s.close(mark)
			return pos + 1, start, stop, true
		case ',':
			pos = skipSpace(raw, pos+1)
		default:
			return pos, 0, 0, false
		}
	}
}

// scanString returns the end of the string starting at pos. It accepts any
// bytes from 0x20 up, as encoding/json does: it does not check UTF-8, which
// decoding replaces with U+FFFD. plain reports a string of ASCII without
// escapes, whose content needs no decoding.
func scanString(raw []byte, pos int) (end int, plain, ok bool) {
	pos++
	plain = true
	for pos < len(raw) {
		// Jump eight bytes at a time to the next byte that needs a look,
		// because a Wasm loop iteration per byte was a visible part of a
		// firing.
		for pos+8 <= len(raw) {
			mask := specialBytes(binary.LittleEndian.Uint64(raw[pos:]))
			if mask != 0 {
				pos += bits.TrailingZeros64(mask) / 8
				break
			}
			pos += 8
		}
		if pos >= len(raw) {
			break
		}
		c := raw[pos]
		switch {
		case c == '"':
			return pos + 1, plain, true
		case c < 0x20:
			return pos, false, false
		case c == '\\':
			plain = false
			pos++
			if pos >= len(raw) {
				return pos, false, false
			}
			switch raw[pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				pos++
			case 'u':
				if pos+4 >= len(raw) {
					return pos, false, false
				}
				for _, h := range raw[pos+1 : pos+5] {
					if !isHex(h) {
						return pos, false, false
					}
				}
				pos += 5
			default:
				return pos, false, false
			}
		default:
			if c >= 0x80 {
				plain = false
			}
			pos++
		}
	}
	return pos, false, false
}

// Constants of specialBytes: a byte of 0x01, of 0x20 and of 0x80, and of
// each special printable byte, repeated in every byte of a word.
const (
	eachByte01    = 0x0101010101010101
	eachByte20    = 0x2020202020202020
	eachByte80    = 0x8080808080808080
	eachQuote     = '"' * eachByte01
	eachBackslash = '\\' * eachByte01
)

// specialBytes returns a mask that is zero when no byte of the
// little-endian word w is a quote, a backslash, a control character or
// not ASCII, the bytes that scanString must look at. Otherwise its lowest
// set bit is the high bit of the first such byte. Bits above it may be set
// by mistake: in (x - 0x01..01) & ^x & 0x80..80, which marks the zero bytes
// of x, a borrow only carries upwards.
func specialBytes(w uint64) uint64 {
	control := (w - eachByte20) & ^w & eachByte80
	quote := ((w ^ eachQuote) - eachByte01) & ^(w ^ eachQuote) & eachByte80
	backslash := ((w ^ eachBackslash) - eachByte01) & ^(w ^ eachBackslash) & eachByte80
	return control | quote | backslash | w&eachByte80
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func validLiteral(raw []byte, pos int, literal string) (int, bool) {
	if len(raw)-pos < len(literal) || string(raw[pos:pos+len(literal)]) != literal {
		return pos, false
	}
	return pos + len(literal), true
}

func validNumber(raw []byte, pos int) (int, bool) {
	if raw[pos] == '-' {
		pos++
	}
	digits := func() bool {
		start := pos
		for pos < len(raw) && raw[pos] >= '0' && raw[pos] <= '9' {
			pos++
		}
		return pos > start
	}
	switch {
	case pos >= len(raw):
		return pos, false
	case raw[pos] == '0':
		pos++
	case !digits():
		return pos, false
	}
	if pos < len(raw) && raw[pos] == '.' {
		pos++
		if !digits() {
			return pos, false
		}
	}
	if pos < len(raw) && (raw[pos] == 'e' || raw[pos] == 'E') {
		pos++
		if pos < len(raw) && (raw[pos] == '+' || raw[pos] == '-') {
			pos++
		}
		if !digits() {
			return pos, false
		}
	}
	return pos, true
}
