package runtime

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWatchReloadsChangedDirectory adds, breaks and removes plugin files
// while Watch runs, and checks the loaded set after each reload.
func TestWatchReloadsChangedDirectory(t *testing.T) {
	dir := t.TempDir()
	rt := newTestRuntime(t, testConfig(dir))
	echo, err := os.ReadFile(filepath.Join(testdataPlugins, "echo.wasm"))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	reloads := make(chan error, 16)
	done := make(chan error, 1)
	go func() { done <- rt.Watch(ctx, func(err error) { reloads <- err }) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitReload := func(step string) error {
		t.Helper()
		select {
		case err := <-reloads:
			return err
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no reload within 10s", step)
			return nil
		}
	}
	// Watch adds its watch asynchronously; a file written before that
	// would go unnoticed, so write until a reload happens.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := os.WriteFile(filepath.Join(dir, "echo.wasm"), echo, 0o644); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-reloads:
			if err != nil {
				t.Fatalf("reload after adding echo.wasm: %v", err)
			}
		case <-time.After(500 * time.Millisecond):
			if time.Now().Before(deadline) {
				continue
			}
			t.Fatal("adding echo.wasm caused no reload within 10s")
		}
		break
	}
	if _, err := rt.Executor("test-echo"); err != nil {
		t.Fatalf("after adding echo.wasm: %v", err)
	}

	if err := os.WriteFile(filepath.Join(dir, "echo.wasm"), []byte("broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := waitReload("breaking echo.wasm"); err == nil {
		t.Error("reload of a broken echo.wasm reported no error")
	}
	fireEcho(t, rt)

	if err := os.Remove(filepath.Join(dir, "echo.wasm")); err != nil {
		t.Fatal(err)
	}
	if err := waitReload("removing echo.wasm"); err != nil {
		t.Errorf("reload after removing echo.wasm: %v", err)
	}
	if _, err := rt.Executor("test-echo"); err == nil {
		t.Error("test-echo is still loaded after its file was removed")
	}
}
