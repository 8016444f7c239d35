package secrets

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestParseMasterKey(t *testing.T) {
	valid := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	tests := []struct {
		name string
		text string
		ok   bool
	}{
		{"valid", valid, true},
		{"surrounding whitespace", "  " + valid + "\n", true},
		{"short key", base64.StdEncoding.EncodeToString([]byte("short")), false},
		{"long key", base64.StdEncoding.EncodeToString(make([]byte, 33)), false},
		{"not base64", "not base64 at all!", false},
		{"url alphabet", strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString(make([]byte, 32))) + "-_", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParseMasterKey([]byte(tt.text))
			if got := err == nil; got != tt.ok {
				t.Fatalf("ParseMasterKey error = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidKey) {
					t.Errorf("error %v does not wrap ErrInvalidKey", err)
				}
				if tt.text != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.text)) {
					t.Errorf("error %q quotes the key text", err)
				}
				return
			}
			if key.Base64() != valid {
				t.Errorf("Base64() = %q, want the parsed key %q", key.Base64(), valid)
			}
		})
	}
}

func TestWriteKeyFileKeepsExistingKey(t *testing.T) {
	path := t.TempDir() + "/master.key"
	first, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyFile(path, first); err != nil {
		t.Fatalf("WriteKeyFile: %v", err)
	}
	second, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyFile(path, second); err == nil {
		t.Fatal("WriteKeyFile over an existing key succeeded, want an error")
	}
	key, _, err := loadKeyFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if key.Base64() != first.Base64() {
		t.Error("key file no longer holds the first key")
	}
	if err := WriteKeyFile(path+".pass", PassphraseKey(NewValueString("pw"))); err == nil {
		t.Error("WriteKeyFile of a passphrase succeeded, want an error")
	}
}
