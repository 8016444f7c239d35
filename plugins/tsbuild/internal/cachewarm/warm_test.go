package cachewarm

import (
	"context"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"
)

// TestWarmCache compiles $EXECVAULT_WARM_MODULE into the compilation cache
// at $EXECVAULT_WARM_CACHE_DIR. Without those variables it is skipped.
func TestWarmCache(t *testing.T) {
	modulePath, cacheDir := os.Getenv("EXECVAULT_WARM_MODULE"), os.Getenv("EXECVAULT_WARM_CACHE_DIR")
	if modulePath == "" || cacheDir == "" {
		t.Skip("EXECVAULT_WARM_MODULE and EXECVAULT_WARM_CACHE_DIR are not set")
	}
	module, err := os.ReadFile(modulePath)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		t.Fatalf("open compilation cache: %v", err)
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	defer r.Close(ctx)
	if _, err := r.CompileModule(ctx, module); err != nil {
		t.Fatalf("compile %s: %v", modulePath, err)
	}
}
