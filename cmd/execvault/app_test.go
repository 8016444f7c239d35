package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmptyPathFlagRejected passes --data-dir and --key-file as an empty
// string, as a script does with an unset variable. The command fails with
// a usage error naming the flag, and creates nothing in the default
// directories.
func TestEmptyPathFlagRejected(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("EXECVAULT_DATA_DIR", "")
	t.Setenv("EXECVAULT_KEY_FILE", "")
	t.Setenv("EXECVAULT_MASTER_KEY", "")
	t.Setenv("EXECVAULT_PASSPHRASE", "")
	other := t.TempDir()

	tests := []struct {
		flag string
		args []string
	}{
		{"--data-dir", []string{"--data-dir", "", "--key-file", filepath.Join(other, "master.key"), "secret", "vault", "create", "api-keys"}},
		{"--data-dir", []string{"secret", "vault", "create", "api-keys", "--data-dir="}},
		{"--key-file", []string{"--data-dir", filepath.Join(other, "data"), "--key-file", "", "secret", "vault", "create", "api-keys"}},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tt.args, strings.NewReader(""), &stdout, &stderr)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr %q", tt.args, code, exitUsage, stderr.String())
		}
		if want := "invalid " + tt.flag + ` ""`; !strings.Contains(stderr.String(), want) {
			t.Errorf("%q: stderr %q, want it to contain %q", tt.args, stderr.String(), want)
		}
	}

	for _, dir := range []string{home, other} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 0 {
			t.Errorf("%s holds %d entries after the rejected commands, want none", dir, len(entries))
		}
	}
}
