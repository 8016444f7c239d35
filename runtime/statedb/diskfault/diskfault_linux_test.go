package diskfault

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestFailFlushes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("before "); err != nil {
		t.Fatal(err)
	}
	drained := FailFlushes(t, path)

	if _, err := f.WriteString("after"); err != nil {
		t.Errorf("write after the fault = %v, want nil", err)
	}
	if err := f.Sync(); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Sync after the fault = %v, want EINVAL", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	drained()
	if got, err := os.ReadFile(path); err != nil || string(got) != "before after" {
		t.Errorf("file holds %q, %v; want %q", got, err, "before after")
	}

	// A file opened afterwards is not affected.
	g, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Sync(); err != nil {
		t.Errorf("Sync of a file opened after the fault = %v, want nil", err)
	}
}
