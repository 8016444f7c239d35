package secrets

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name  string
		input string
		ok    bool
	}{
		{"platform name", "stripe-secret-key", true},
		{"platform digits", "a1b2c3", true},
		{"env style", "API_KEY", true},
		{"dotted", "stripe.key", true},
		{"leading underscore", "_TOKEN", true},
		{"one character", "k", true},
		{"max length", strings.Repeat("a", 128), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", 129), false},
		{"slash", "a/b", false},
		{"dot dot", "a..b", false},
		{"only dot dot", "..", false},
		{"leading dot", ".env", false},
		{"leading hyphen", "-rf", false},
		{"space", "api key", false},
		{"tab", "api\tkey", false},
		{"newline", "api\nkey", false},
		{"nul", "api\x00key", false},
		{"delete char", "api\x7fkey", false},
		{"non-ascii", "clé", false},
		{"colon", "a:b", false},
		{"backslash", `a\b`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateName(tt.input)
			if got := err == nil; got != tt.ok {
				t.Fatalf("ValidateName(%q) = %v, want ok=%v", tt.input, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidName) {
				t.Errorf("ValidateName(%q) error %v does not wrap ErrInvalidName", tt.input, err)
			}
		})
	}
}

func TestValidateNameErrorText(t *testing.T) {
	err := ValidateVaultName("a/b")
	const want = `invalid vault name "a/b": contains '/'; use 1 to 128 letters, digits, '_', '-' or '.', starting with a letter, digit or '_'`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

// platformName is the platform's own rule for vault and secret names.
var platformName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

// allowedName is the documented rule, written independently of the code.
var allowedName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

func FuzzValidateName(f *testing.F) {
	for _, seed := range []string{"api-keys", "API_KEY", "stripe.key", "", "a/b", "..", "a..b", "-x", ".x", "x\x00", strings.Repeat("z", 129)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName(name)
		want := allowedName.MatchString(name) && !strings.Contains(name, "..")
		if (err == nil) != want {
			t.Fatalf("ValidateName(%q) = %v, want ok=%v", name, err, want)
		}
		if platformName.MatchString(name) && err != nil {
			t.Fatalf("ValidateName(%q) rejects a platform name: %v", name, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidName) {
			t.Fatalf("ValidateName(%q) error does not wrap ErrInvalidName", name)
		}
	})
}

func FuzzStorageKeysDistinct(f *testing.F) {
	f.Add("ab", "c", "a", "bc")
	f.Add("a", "b", "a", "b")
	f.Add("x", "y.z", "x.y", "z")
	f.Fuzz(func(t *testing.T, v1, n1, v2, n2 string) {
		if checkNames(v1, n1) != nil || checkNames(v2, n2) != nil {
			return
		}
		same := v1 == v2 && n1 == n2
		if got := bytes.Equal(secretKey(v1, n1), secretKey(v2, n2)); got != same {
			t.Fatalf("secretKey(%q,%q) vs (%q,%q): equal=%v, want %v", v1, n1, v2, n2, got, same)
		}
		if got := bytes.Equal(versionKey(v1, n1, 1), versionKey(v2, n2, 1)); got != same {
			t.Fatalf("versionKey(%q,%q) vs (%q,%q): equal=%v, want %v", v1, n1, v2, n2, got, same)
		}
		if got := bytes.Equal(valueAD(v1, n1, 1, 1, time.Time{}), valueAD(v2, n2, 1, 1, time.Time{})); got != same {
			t.Fatalf("valueAD(%q,%q) vs (%q,%q): equal=%v, want %v", v1, n1, v2, n2, got, same)
		}
		vault, name, err := decodeSecretKey(secretKey(v1, n1))
		if err != nil || vault != v1 || name != n1 {
			t.Fatalf("decodeSecretKey(secretKey(%q,%q)) = %q, %q, %v", v1, n1, vault, name, err)
		}
		// A secret key never falls under another vault's secret prefix.
		if v1 != v2 && bytes.HasPrefix(secretKey(v1, n1), secretPrefix(v2)) {
			t.Fatalf("secret key of vault %q has the prefix of vault %q", v1, v2)
		}
	})
}
