package secrets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const canary = "canary-7f3a9e1c-SECRET-VALUE"

func TestValueRedaction(t *testing.T) {
	v := NewValueString(canary)
	wrapped := struct {
		Header string
		Secret Value
	}{"Authorization", v}

	outputs := map[string]string{
		"%v":  fmt.Sprintf("%v", v),
		"%s":  fmt.Sprintf("%s", v),
		"%q":  fmt.Sprintf("%q", v),
		"%#v": fmt.Sprintf("%#v", v),
		"%x":  fmt.Sprintf("%x", v),
		"%+v": fmt.Sprintf("%+v", wrapped),
		"%d":  fmt.Sprintf("%d", v),
		"ptr": fmt.Sprintf("%v", &v),
	}
	data, err := json.Marshal(wrapped)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	outputs["json"] = string(data)

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("resolved", "value", v, "wrapped", wrapped)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("resolved", "value", v)
	outputs["slog"] = logs.String()

	key, err := NewMasterKey(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	outputs["master key"] = fmt.Sprintf("%v %s %#v %q", key, key, key, key)

	for name, out := range outputs {
		if strings.Contains(out, canary) || strings.Contains(out, "kkkk") {
			t.Errorf("%s output leaks the value: %s", name, strings.ReplaceAll(out, canary, "<CANARY>"))
		}
		if !strings.Contains(out, Redacted) {
			t.Errorf("%s output = %s, want it to contain %s", name, out, Redacted)
		}
	}
	if got := v.Reveal(); got != canary {
		t.Errorf("Reveal returned %d bytes, want the %d bytes stored", len(got), len(canary))
	}
}

func TestValueEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"same", "abc", "abc", true},
		{"different", "abc", "abd", false},
		{"prefix", "abc", "ab", false},
		{"both empty", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewValueString(tt.a).Equal(NewValueString(tt.b)); got != tt.want {
				t.Errorf("Equal = %v, want %v", got, tt.want)
			}
		})
	}
}
