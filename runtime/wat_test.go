package runtime

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommittedWasmMatchesWat rebuilds every committed WebAssembly-text
// guest with wat2wasm and checks that the committed .wasm beside it is
// what its source builds to, so a test never runs a stale module. make test
// installs wat2wasm (Debian's wabt); without it the test is skipped.
func TestCommittedWasmMatchesWat(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm not on PATH; make test installs it (Debian package wabt)")
	}
	var sources []string
	for _, root := range []string{"../testdata", "../plugins/examples"} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".wat") {
				sources = append(sources, path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(sources) == 0 {
		t.Fatal("found no .wat sources")
	}

	for _, src := range sources {
		t.Run(src, func(t *testing.T) {
			committed, err := os.ReadFile(strings.TrimSuffix(src, ".wat") + ".wasm")
			if err != nil {
				t.Fatalf("no built module beside %s: %v; run make wat", src, err)
			}
			out := filepath.Join(t.TempDir(), "out.wasm")
			if msg, err := exec.Command(wat2wasm, src, "-o", out).CombinedOutput(); err != nil {
				t.Fatalf("wat2wasm %s: %v\n%s", src, err, msg)
			}
			built, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(built, committed) {
				t.Errorf("%s is stale: wat2wasm builds %d bytes, the committed module has %d; run make wat", src, len(built), len(committed))
			}
		})
	}
}
