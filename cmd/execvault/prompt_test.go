package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"
)

// TestPromptCancel cancels the command's context, as Ctrl-C does, while a
// prompt waits for the user. The command must return at once instead of
// waiting for a line that cancels it anyway.
func TestPromptCancel(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"hidden value prompt", []string{"secret", "create", "-V", "v", "-n", "k"}},
		{"new master key prompt", []string{"secret", "key", "change-master"}},
		{"secret deletion confirmation", []string{"secret", "delete", "-V", "v", "-n", "k"}},
		{"vault deletion confirmation", []string{"secret", "vault", "delete", "v"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// Both the hidden read and the confirmation read wait on
				// stdin, which nothing writes to until the command has returned.
				stdin, unblock := io.Pipe()
				oldIs, oldRead := isTerminal, readPassword
				isTerminal = func(io.Reader) bool { return true }
				readPassword = func(r io.Reader) ([]byte, error) { return io.ReadAll(r) }
				defer func() { isTerminal, readPassword = oldIs, oldRead }()

				ctx, cancel := context.WithCancel(t.Context())
				var stdout, stderr bytes.Buffer
				app := newApp(stdin, &stdout, &stderr)
				app.getenv = func(string) string { return "" }
				result := make(chan int, 1)
				go func() {
					result <- app.execute(ctx, append([]string{"--data-dir", t.TempDir(), "--key-file", t.TempDir() + "/master.key"}, tt.args...))
				}()
				synctest.Wait()
				cancel()
				synctest.Wait()

				select {
				case code := <-result:
					if code != exitError {
						t.Errorf("exit status after cancel = %d, want %d; stderr %q", code, exitError, stderr.String())
					}
				default:
					t.Error("command still waits at the prompt after its context was cancelled")
					unblock.CloseWithError(errors.New("test finished"))
					<-result
				}
				// The abandoned read ends when stdin closes.
				unblock.CloseWithError(errors.New("test finished"))
			})
		})
	}
}
