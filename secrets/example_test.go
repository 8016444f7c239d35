package secrets_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/execvault/execvault/secrets"
)

func Example() {
	dir, err := os.MkdirTemp("", "execvault-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	cfg := secrets.DefaultConfig(filepath.Join(dir, "data"))
	cfg.KeyFile = filepath.Join(dir, "config", "master.key")
	cfg.Getenv = func(string) string { return "" }
	cfg.Logger = slog.New(slog.DiscardHandler)
	store, err := secrets.Open(context.Background(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	ctx := secrets.WithActor(context.Background(), "cli")
	if _, err := store.CreateVault(ctx, "api-keys"); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := store.CreateSecret(ctx, "api-keys", "crm-api-token", secrets.NewValueString("Bearer abc123")); err != nil {
		fmt.Println(err)
		return
	}

	value, err := store.Resolve(ctx, "api-keys", "crm-api-token", "executor:sync-to-external-crm")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(value, value.Len())

	_, err = store.CreateVault(ctx, "api-keys")
	fmt.Println(err)
	// Output:
	// [REDACTED] 13
	// create vault "api-keys": vault already exists; choose another name or delete the vault first
}
