package plugins

import (
	"math"
	"strconv"
	"strings"
)

// parseJSONNumber converts the text of a valid JSON number to float64 with
// round-to-nearest. Out-of-range values become ±Inf and tiny ones ±0, as in
// JavaScript, so the range error of strconv is deliberately ignored.
func parseJSONNumber(raw []byte) float64 {
	f, _ := strconv.ParseFloat(string(raw), 64)
	return f
}

// isJSWhiteSpace reports whether r is WhiteSpace or LineTerminator in the
// ECMAScript grammar, which Number() trims from both ends of a string.
func isJSWhiteSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x00A0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// jsStringToNumber converts s with JavaScript's Number(string) rules.
// Surrounding white space is ignored and an empty string is 0. "Infinity"
// with an optional sign is ±Inf. The 0x, 0o and 0b prefixes read unsigned
// integers in base 16, 8 and 2. Anything else must be a decimal literal such
// as "-1.5e3", "5." or ".5", so Go-only forms such as "inf", "1_000" or
// "0x1p3" are NaN.
func jsStringToNumber(s string) float64 {
	s = strings.TrimFunc(s, isJSWhiteSpace)
	if s == "" {
		return 0
	}

	switch s {
	case "Infinity", "+Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}

	if len(s) > 2 && s[0] == '0' {
		base := 0
		switch s[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 0 {
			return parseJSRadixInteger(s[2:], base)
		}
	}

	if !isJSDecimalLiteral(s) {
		return math.NaN()
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// parseJSRadixInteger reads the digits of a 0x, 0o or 0b literal. Values
// beyond 2^53 are rounded like JavaScript rounds them only approximately:
// the digits are accumulated in float64, which can differ from the correctly
// rounded result in the last bit for very long literals.
func parseJSRadixInteger(digits string, base int) float64 {
	v := 0.0
	for i := 0; i < len(digits); i++ {
		d := digitValue(digits[i])
		if d < 0 || d >= base {
			return math.NaN()
		}
		v = v*float64(base) + float64(d)
	}
	return v
}

func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	default:
		return -1
	}
}

// isJSDecimalLiteral matches ECMAScript's StrDecimalLiteral without the
// Infinity forms: [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?
func isJSDecimalLiteral(s string) bool {
	i := 0
	if s[0] == '+' || s[0] == '-' {
		i++
	}

	intDigits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		intDigits++
	}
	fracDigits := 0
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			fracDigits++
		}
	}
	if intDigits == 0 && fracDigits == 0 {
		return false
	}

	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		expDigits := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			expDigits++
		}
		if expDigits == 0 {
			return false
		}
	}
	return i == len(s)
}

// arrayToNumber converts the valid JSON array raw with JavaScript's
// Number(array): the array becomes the string of its elements joined by
// commas, so only an empty array (0) or a one-element array can be a number.
func arrayToNumber(raw []byte) float64 {
	var only Value
	n := 0
	forEachElement(raw, func(val []byte) bool {
		n++
		only = Value{raw: val}
		return n < 2
	})

	switch {
	case n == 0:
		return 0
	case n > 1:
		return math.NaN()
	}

	switch only.Kind() {
	case KindNull:
		return 0 // null joins as the empty string
	case KindNumber, KindString:
		return only.Number()
	case KindArray:
		return arrayToNumber(only.raw)
	default:
		return math.NaN() // "true", "false" and "[object Object]"
	}
}
