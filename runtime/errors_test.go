package runtime

import (
	"errors"
	"testing"

	"github.com/execvault/execvault/plugins"
)

// TestGuestErrorNamesExecutorOnce decodes error results as the SDKs and
// the host write them: the error names the executor once, whether or not
// the message already starts with its name.
func TestGuestErrorNamesExecutorOnce(t *testing.T) {
	exec := &Executor{Executor: plugins.Executor{Name: "big-order"}}
	tests := []struct {
		name    string
		message string
		want    string
	}{
		{
			"TypeScript engine message",
			`executor "big-order": url failed: TypeError: Cannot read property 'path' of undefined`,
			`executor "big-order": url failed: TypeError: Cannot read property 'path' of undefined`,
		},
		{
			"Go SDK message",
			`executor "big-order": request body: callback panicked: assignment to entry in nil map`,
			`executor "big-order": request body: callback panicked: assignment to entry in nil map`,
		},
		{"message without the name", "amount must be positive", `executor "big-order": amount must be positive`},
		{
			"message naming another executor",
			`executor "big-order-2": url failed: boom`,
			`executor "big-order": executor "big-order-2": url failed: boom`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeResult(exec, append([]byte{statusError}, tt.message...))
			var ge *GuestError
			if !errors.As(err, &ge) || ge.Error() != tt.want {
				t.Errorf("error = %v, want a GuestError %q", err, tt.want)
			}
		})
	}

	// An error the host detects names the executor too.
	_, err := decodeResult(exec, nil)
	if want := `executor "big-order": execvault_fire returned an empty result`; err == nil || err.Error() != want {
		t.Errorf("empty result: error = %v, want %q", err, want)
	}
}
