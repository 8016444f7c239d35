package main

// maxJSONDepth is the nesting limit of validJSON, the same as
// encoding/json's (Go 1.26).
const maxJSONDepth = 10000

// validJSON reports whether raw is exactly one JSON value with optional
// surrounding space, accepting what encoding/json's Valid accepts. It
// exists because json.Valid steps through a state machine with an
// indirect call per byte, which cost about a sixth of a firing.
func validJSON(raw []byte) bool {
	pos, ok := validValue(raw, skipSpace(raw, 0), 0)
	return ok && skipSpace(raw, pos) == len(raw)
}

func validValue(raw []byte, pos, depth int) (int, bool) {
	if pos >= len(raw) {
		return pos, false
	}
	switch c := raw[pos]; {
	case c == '{':
		return validObject(raw, pos, depth+1)
	case c == '[':
		return validArray(raw, pos, depth+1)
	case c == '"':
		return validString(raw, pos)
	case c == 't':
		return validLiteral(raw, pos, "true")
	case c == 'f':
		return validLiteral(raw, pos, "false")
	case c == 'n':
		return validLiteral(raw, pos, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return validNumber(raw, pos)
	}
	return pos, false
}

func validObject(raw []byte, pos, depth int) (int, bool) {
	if depth > maxJSONDepth {
		return pos, false
	}
	pos = skipSpace(raw, pos+1)
	if pos < len(raw) && raw[pos] == '}' {
		return pos + 1, true
	}
	for {
		if pos >= len(raw) || raw[pos] != '"' {
			return pos, false
		}
		var ok bool
		if pos, ok = validString(raw, pos); !ok {
			return pos, false
		}
		pos = skipSpace(raw, pos)
		if pos >= len(raw) || raw[pos] != ':' {
			return pos, false
		}
		if pos, ok = validValue(raw, skipSpace(raw, pos+1), depth); !ok {
			return pos, false
		}
		pos = skipSpace(raw, pos)
		if pos >= len(raw) {
			return pos, false
		}
		switch raw[pos] {
		case '}':
			return pos + 1, true
		case ',':
			pos = skipSpace(raw, pos+1)
		default:
			return pos, false
		}
	}
}

func validArray(raw []byte, pos, depth int) (int, bool) {
	if depth > maxJSONDepth {
		return pos, false
	}
	pos = skipSpace(raw, pos+1)
	if pos < len(raw) && raw[pos] == ']' {
		return pos + 1, true
	}
	for {
		var ok bool
		if pos, ok = validValue(raw, pos, depth); !ok {
			return pos, false
		}
		pos = skipSpace(raw, pos)
		if pos >= len(raw) {
			return pos, false
		}
		switch raw[pos] {
		case ']':
			return pos + 1, true
		case ',':
			pos = skipSpace(raw, pos+1)
		default:
			return pos, false
		}
	}
}

// validString accepts any bytes from 0x20 up, as encoding/json does: it
// does not check UTF-8, which decoding replaces with U+FFFD.
func validString(raw []byte, pos int) (int, bool) {
	pos++
	for pos < len(raw) {
		c := raw[pos]
		switch {
		case c == '"':
			return pos + 1, true
		case c < 0x20:
			return pos, false
		case c == '\\':
			pos++
			if pos >= len(raw) {
				return pos, false
			}
			switch raw[pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				pos++
			case 'u':
				if pos+4 >= len(raw) {
					return pos, false
				}
				for _, h := range raw[pos+1 : pos+5] {
					if !isHex(h) {
						return pos, false
					}
				}
				pos += 5
			default:
				return pos, false
			}
		default:
			pos++
		}
	}
	return pos, false
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
