package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func TestStoreSecretLifecycle(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, nil)
	mustCreateVault(t, s, "api-keys")
	mustCreateSecret(t, s, "api-keys", "API_KEY", "first")

	info, err := s.UpdateSecret(ctx, "api-keys", "API_KEY", NewValueString("second"), UpdateOptions{})
	if err != nil {
		t.Fatalf("UpdateSecret: %v", err)
	}
	if info.Version != 2 {
		t.Errorf("version after update = %d, want 2", info.Version)
	}
	if got := mustReveal(t, s, "api-keys", "API_KEY", 0); !got.Equal(NewValueString("second")) {
		t.Errorf("current value differs from the update (len %d)", got.Len())
	}
	if got := mustReveal(t, s, "api-keys", "API_KEY", 1); !got.Equal(NewValueString("first")) {
		t.Errorf("version 1 differs from the first value (len %d)", got.Len())
	}

	list, err := s.ListSecrets(ctx, "api-keys")
	if err != nil {
		t.Fatalf("ListSecrets: %v", err)
	}
	if len(list) != 1 || list[0].Name != "API_KEY" || list[0].Version != 2 {
		t.Errorf("ListSecrets = %+v, want one API_KEY at version 2", list)
	}

	if err := s.DeleteSecret(ctx, "api-keys", "API_KEY"); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	_, _, err = s.RevealSecret(ctx, "api-keys", "API_KEY", 0)
	if !errors.Is(err, ErrSecretNotFound) {
		t.Errorf("reveal after delete: got %v, want ErrSecretNotFound", err)
	}
}

func TestStoreErrors(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, nil)
	mustCreateVault(t, s, "api-keys")
	mustCreateSecret(t, s, "api-keys", "token", "v1")

	tests := []struct {
		name     string
		call     func() error
		sentinel error
		text     string
	}{
		{"vault exists", func() error { _, err := s.CreateVault(ctx, "api-keys"); return err }, ErrVaultExists,
			`create vault "api-keys": vault already exists; choose another name or delete the vault first`},
		{"vault missing on delete", func() error { return s.DeleteVault(ctx, "nope") }, ErrVaultNotFound,
			`delete vault "nope": vault not found; create it first or check the name`},
		{"vault missing on create secret", func() error { _, err := s.CreateSecret(ctx, "nope", "x", NewValueString("v")); return err }, ErrVaultNotFound,
			`create secret "x" in vault "nope": vault not found; create it first or check the name`},
		{"secret exists", func() error { _, err := s.CreateSecret(ctx, "api-keys", "token", NewValueString("v")); return err }, ErrSecretExists,
			`create secret "token" in vault "api-keys": secret already exists; use update to change its value`},
		{"secret missing on update", func() error {
			_, err := s.UpdateSecret(ctx, "api-keys", "nope", NewValueString("v"), UpdateOptions{})
			return err
		}, ErrSecretNotFound, `update secret "nope" in vault "api-keys": secret not found; create it first or check the vault and name`},
		{"version mismatch", func() error {
			_, err := s.UpdateSecret(ctx, "api-keys", "token", NewValueString("v"), UpdateOptions{IfVersion: 5})
			return err
		}, ErrVersionMismatch, `update secret "token" in vault "api-keys": version mismatch: current version is 1, expected 5; read the current version and retry`},
		{"empty value", func() error { _, err := s.CreateSecret(ctx, "api-keys", "e", Value{}); return err }, ErrEmptyValue,
			`create secret "e" in vault "api-keys": empty value; pass a non-empty value`},
		{"value too large", func() error {
			_, err := s.CreateSecret(ctx, "api-keys", "big", NewValue(make([]byte, DefaultMaxValueSize+1)))
			return err
		}, ErrValueTooLarge, `create secret "big" in vault "api-keys": value too large: 65537 bytes, the limit is 65536`},
		{"invalid name", func() error { _, err := s.CreateSecret(ctx, "api-keys", "a/b", NewValueString("v")); return err }, ErrInvalidName,
			`invalid secret name "a/b": contains '/'; use 1 to 128 letters, digits, '_', '-' or '.', starting with a letter, digit or '_'`},
		{"missing version", func() error { _, _, err := s.RevealSecret(ctx, "api-keys", "token", 9); return err }, ErrVersionNotFound,
			`reveal secret "token" in vault "api-keys" version 9: version not found; list the versions to see which are kept`},
		{"rollback to zero", func() error { _, err := s.Rollback(ctx, "api-keys", "token", 0); return err }, ErrVersionNotFound,
			`rollback secret "token" in vault "api-keys": version not found: versions count from 1; list the versions to see which are kept`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("error = %v, want %v", err, tt.sentinel)
			}
			if err.Error() != tt.text {
				t.Errorf("error text = %q, want %q", err.Error(), tt.text)
			}
		})
	}
}

func TestStoreVersionsPruneAndRollback(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, func(c *Config) { c.MaxVersions = 3 })
	mustCreateVault(t, s, "v")
	mustCreateSecret(t, s, "v", "k", "value-1")
	for i := 2; i <= 5; i++ {
		if _, err := s.UpdateSecret(ctx, "v", "k", NewValueString(fmt.Sprintf("value-%d", i)), UpdateOptions{IfVersion: uint64(i - 1)}); err != nil {
			t.Fatalf("update to version %d: %v", i, err)
		}
	}

	versions, err := s.ListVersions(ctx, "v", "k")
	if err != nil {
		t.Fatalf("ListVersions: %v", err)
	}
	var got []uint64
	for _, v := range versions {
		got = append(got, v.Version)
	}
	if !slices.Equal(got, []uint64{3, 4, 5}) || !versions[2].Current || versions[0].Current {
		t.Errorf("kept versions = %v (current flags %+v), want [3 4 5] with 5 current", got, versions)
	}
	if _, _, err := s.RevealSecret(ctx, "v", "k", 2); !errors.Is(err, ErrVersionNotFound) {
		t.Errorf("reveal pruned version 2: error %v, want ErrVersionNotFound", err)
	}

	info, err := s.Rollback(ctx, "v", "k", 3)
	if err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if info.Version != 6 {
		t.Errorf("version after rollback = %d, want 6", info.Version)
	}
	if got := mustReveal(t, s, "v", "k", 0); !got.Equal(NewValueString("value-3")) {
		t.Errorf("value after rollback is not version 3's value (len %d)", got.Len())
	}
	if _, err := s.Rollback(ctx, "v", "k", 3); !errors.Is(err, ErrVersionNotFound) {
		t.Errorf("rollback to pruned version 3: error %v, want ErrVersionNotFound", err)
	}
}

func TestStoreDeleteVaultRemovesSecrets(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, nil)
	mustCreateVault(t, s, "a")
	mustCreateVault(t, s, "ab")
	mustCreateSecret(t, s, "a", "k1", "one")
	mustCreateSecret(t, s, "a", "k2", "two")
	mustCreateSecret(t, s, "ab", "k1", "other")

	if err := s.DeleteVault(ctx, "a"); err != nil {
		t.Fatalf("DeleteVault: %v", err)
	}
	err := s.db.View(func(txn *badger.Txn) error {
		for _, prefix := range [][]byte{secretPrefix("a"), versionVaultPrefix("a")} {
			if keys := collectKeys(txn, prefix); len(keys) != 0 {
				t.Errorf("%d keys left under prefix %q", len(keys), prefix)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustReveal(t, s, "ab", "k1", 0); !got.Equal(NewValueString("other")) {
		t.Errorf("secret of vault ab changed by deleting vault a (len %d)", got.Len())
	}

	// A new vault with the old name starts empty.
	mustCreateVault(t, s, "a")
	list, err := s.ListSecrets(ctx, "a")
	if err != nil || len(list) != 0 {
		t.Errorf("ListSecrets of recreated vault = %+v, %v; want empty", list, err)
	}
}

func TestStoreListsSortedWithTimes(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	s, _ := openTestStore(t, func(c *Config) { c.Now = clock.Now })
	created := clock.Now()
	for _, v := range []string{"zeta", "alpha", "mid-vault"} {
		mustCreateVault(t, s, v)
	}
	clock.Advance(time.Minute)
	mustCreateSecret(t, s, "alpha", "b", "x")
	mustCreateSecret(t, s, "alpha", "a", "x")

	vaults, err := s.ListVaults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vaults {
		names = append(names, v.Name)
	}
	if !slices.Equal(names, []string{"alpha", "mid-vault", "zeta"}) {
		t.Errorf("vault order = %v, want alpha, mid-vault, zeta", names)
	}
	if !vaults[0].CreatedAt.Equal(created) || !vaults[0].UpdatedAt.Equal(created.Add(time.Minute)) {
		t.Errorf("alpha times = %v / %v, want %v / %v", vaults[0].CreatedAt, vaults[0].UpdatedAt, created, created.Add(time.Minute))
	}
	secrets, err := s.ListSecrets(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets) != 2 || secrets[0].Name != "a" || secrets[1].Name != "b" {
		t.Errorf("secrets = %+v, want a then b", secrets)
	}
}

func TestStoreConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, func(c *Config) { c.MaxVersions = 1000 })
	mustCreateVault(t, s, "v")
	mustCreateSecret(t, s, "v", "k", "0")

	const writers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := s.UpdateSecret(ctx, "v", "k", NewValueString(fmt.Sprintf("%d-%d", w, i)), UpdateOptions{})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent update: %v", err)
		}
	}
	info, err := s.GetSecret(ctx, "v", "k")
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != 1+writers*each {
		t.Errorf("version = %d, want %d: an update was lost", info.Version, 1+writers*each)
	}
}

func TestStoreClosed(t *testing.T) {
	s, _ := openTestStore(t, nil)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.ListVaults(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("ListVaults after Close: %v, want ErrClosed", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"empty dir", func(c *Config) { c.Dir = "" }},
		{"zero versions", func(c *Config) { c.MaxVersions = 0 }},
		{"huge values", func(c *Config) { c.MaxValueSize = 2 << 20 }},
		{"negative cache", func(c *Config) { c.CacheSize = -1 }},
		{"zero flush", func(c *Config) { c.AuditFlushInterval = 0 }},
		{"zero batch", func(c *Config) { c.RotationBatchSize = 0 }},
		{"nil logger", func(c *Config) { c.Logger = nil }},
		{"bad kdf", func(c *Config) { c.KDF.Threads = 0 }},
		{"key file inside dir", func(c *Config) { c.KeyFile = "/nonexistent/keys/master.key" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig("/nonexistent")
			tt.mutate(&cfg)
			if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Validate = %v, want ErrInvalidConfig", err)
			}
		})
	}
	// The CLI shows this error for --key-file and --data-dir, so it
	// names the key file and the data directory, not the Config fields.
	inside := DefaultConfig("/nonexistent")
	inside.KeyFile = "/nonexistent/master.key"
	want := "key file /nonexistent/master.key is inside the data directory /nonexistent"
	if err := inside.Validate(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Validate with the key file inside the data directory = %v, want it to contain %q", err, want)
	}

	cfg := DefaultConfig("/nonexistent")
	cfg.KeyFile = "/nonexistent-keys/master.key"
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate(DefaultConfig) = %v, want nil", err)
	}
}

func TestStoreKeepsOneVersion(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, func(c *Config) { c.MaxVersions = 1 })
	mustCreateVault(t, s, "v")
	mustCreateSecret(t, s, "v", "k", "first")
	if _, err := s.UpdateSecret(ctx, "v", "k", NewValueString("second"), UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	versions, err := s.ListVersions(ctx, "v", "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 1 || versions[0].Version != 2 || !versions[0].Current {
		t.Errorf("versions = %+v, want only version 2, current", versions)
	}
	if _, _, err := s.RevealSecret(ctx, "v", "k", 1); !errors.Is(err, ErrVersionNotFound) {
		t.Errorf("reveal of pruned version 1: %v, want ErrVersionNotFound", err)
	}
	if got := mustReveal(t, s, "v", "k", 0); !got.Equal(NewValueString("second")) {
		t.Errorf("current value differs (len %d)", got.Len())
	}
	err = s.db.View(func(txn *badger.Txn) error {
		if keys := collectKeys(txn, versionPrefix("v", "k")); len(keys) != 0 {
			t.Errorf("%d version keys left, want 0", len(keys))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDeleteVaultTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 30 000 records")
	}
	ctx := context.Background()
	s, _ := openTestStore(t, nil)
	mustCreateVault(t, s, "huge")
	mustCreateSecret(t, s, "huge", "k", "value")
	record := rawGet(t, s, secretKey("huge", "k"))
	for batch := range 6 {
		err := s.db.Update(func(txn *badger.Txn) error {
			for i := range 5000 {
				if err := txn.Set(secretKey("huge", fmt.Sprintf("k%d-%d", batch, i)), record); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	err := s.DeleteVault(ctx, "huge")
	if !errors.Is(err, badger.ErrTxnTooBig) || !strings.Contains(err.Error(), "delete some secrets first") {
		t.Fatalf("DeleteVault of a huge vault = %v, want ErrTxnTooBig with advice", err)
	}
	if _, err := s.GetSecret(ctx, "huge", "k"); err != nil {
		t.Errorf("secret after a failed vault delete: %v, want it kept", err)
	}
}

// TestOpenMustExist checks that a store opened with MustExist is never
// created: no directory, no header and no key file appear.
func TestOpenMustExist(t *testing.T) {
	base := t.TempDir()
	cfg := testConfig(filepath.Join(base, "data"), nil)
	cfg.KeyFile = filepath.Join(base, "keys", "master.key")
	cfg.Getenv = func(string) string { return "" }
	cfg.MustExist = true

	_, err := Open(context.Background(), cfg)
	if !errors.Is(err, ErrNoStore) {
		t.Fatalf("Open of a missing store: error %v, want ErrNoStore", err)
	}
	if !strings.Contains(err.Error(), cfg.Dir) {
		t.Errorf("error %q does not name the directory %s", err, cfg.Dir)
	}
	for _, path := range []string{cfg.Dir, cfg.KeyFile} {
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after the failed Open (stat error %v)", path, err)
		}
	}

	// Once created, the store opens with MustExist.
	cfg.MustExist = false
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	cfg.MustExist = true
	s, err = Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open of an existing store with MustExist: %v", err)
	}
	s.Close()
}
