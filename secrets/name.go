package secrets

import (
	"strings"
	"unicode/utf8"
)

// MaxNameLength is the maximum length of a vault or secret name, in bytes.
const MaxNameLength = 128

// ValidateVaultName checks a vault name against the name rule and returns
// a *NameError wrapping ErrInvalidName when it fails. See ValidateName.
func ValidateVaultName(name string) error { return validateName("vault", name) }

// ValidateName checks a secret name against the name rule and returns a
// *NameError wrapping ErrInvalidName when it fails.
//
// A name is 1 to MaxNameLength ASCII letters, digits, '_', '-' and '.',
// starting with a letter, digit or '_', and never containing "..". The rule
// accepts every platform name (^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$) and
// environment-style names such as API_KEY and stripe.key. A leading '-'
// would read as a command-line flag and a leading '.' as a hidden file, so
// both are rejected.
func ValidateName(name string) error { return validateName("secret", name) }

func validateName(kind, name string) error {
	if isValidName(name) {
		return nil
	}
	fail := func(reason string) error { return &NameError{Kind: kind, Name: name, Reason: reason} }

	switch {
	case name == "":
		return fail("empty")
	case len(name) > MaxNameLength:
		return fail("longer than 128 bytes")
	case strings.Contains(name, ".."):
		return fail(`contains ".."`)
	}

	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case c == '-' || c == '.':
			if i == 0 {
				return fail("starts with " + string(c))
			}
		case c == '/':
			return fail("contains '/'")
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			return fail("contains whitespace")
		case c < 0x20 || c == 0x7f:
			return fail("contains a control character")
		case c >= utf8.RuneSelf:
			return fail("contains a non-ASCII character")
		default:
			return fail("contains " + string(c))
		}
	}
	return nil
}

// nameBytes marks the bytes a name may contain. isValidName checks the
// two other parts of the rule: no leading '-' or '.', and no "..".
var nameBytes = func() (set [256]bool) {
	for c := range 256 {
		set[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
	}
	return set
}()

// isValidName reports whether name follows the name rule. It makes one
// pass and builds no error, because Resolve checks two names per call.
// validateName works out the reason only for a name this rejects.
func isValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength || name[0] == '-' || name[0] == '.' {
		return false
	}
	var previous byte
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !nameBytes[c] || c == '.' && previous == '.' {
			return false
		}
		previous = c
	}
	return true
}
