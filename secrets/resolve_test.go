package secrets

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestResolveCacheInvalidation(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(t *testing.T, s *Store)
		want   string // "" means the secret is gone
	}{
		{"update", func(t *testing.T, s *Store) {
			if _, err := s.UpdateSecret(ctx, "v", "k", NewValueString("new"), UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}, "new"},
		{"rollback", func(t *testing.T, s *Store) {
			if _, err := s.UpdateSecret(ctx, "v", "k", NewValueString("new"), UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Resolve(ctx, "v", "k", "executor:a"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Rollback(ctx, "v", "k", 1); err != nil {
				t.Fatal(err)
			}
		}, "old"},
		{"delete secret", func(t *testing.T, s *Store) {
			if err := s.DeleteSecret(ctx, "v", "k"); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"delete vault", func(t *testing.T, s *Store) {
			if err := s.DeleteVault(ctx, "v"); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"rotate data key", func(t *testing.T, s *Store) {
			if _, err := s.RotateDataKey(ctx); err != nil {
				t.Fatal(err)
			}
			if s.cache.len() != 0 {
				t.Errorf("cache holds %d values after rotation, want 0", s.cache.len())
			}
		}, "old"},
		{"retire old data key", func(t *testing.T, s *Store) {
			old := s.ring.Load().activeID()
			if _, err := s.RotateDataKey(ctx); err != nil {
				t.Fatal(err)
			}
			waitRotation(t, s)
			if err := s.RetireDataKey(ctx, old); err != nil {
				t.Fatal(err)
			}
		}, "old"},
		{"update twice", func(t *testing.T, s *Store) {
			for _, v := range []string{"mid", "new"} {
				if _, err := s.UpdateSecret(ctx, "v", "k", NewValueString(v), UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}, "new"},
	}
	// With the cache off, every Resolve reads Badger, through the pooled
	// read transactions that a commit must make stale.
	for _, cacheSize := range []int{DefaultCacheSize, 0} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("cache %d/%s", cacheSize, tt.name), func(t *testing.T) {
				s, _ := openTestStore(t, func(c *Config) { c.CacheSize = cacheSize })
				mustCreateVault(t, s, "v")
				mustCreateSecret(t, s, "v", "k", "old")
				for range 2 {
					if got, err := s.Resolve(ctx, "v", "k", "executor:a"); err != nil || !got.Equal(NewValueString("old")) {
						t.Fatalf("first Resolve = len %d, %v; want the stored value", got.Len(), err)
					}
				}
				if want := min(cacheSize, 1); s.cache.len() != want {
					t.Fatalf("cache holds %d values, want %d", s.cache.len(), want)
				}

				tt.change(t, s)
				got, err := s.Resolve(ctx, "v", "k", "executor:a")
				if tt.want == "" {
					if err == nil {
						t.Fatalf("Resolve after %s succeeded, want an error", tt.name)
					}
					return
				}
				if err != nil {
					t.Fatalf("Resolve after %s: %v", tt.name, err)
				}
				if !got.Equal(NewValueString(tt.want)) {
					t.Errorf("Resolve after %s returned a stale value (len %d, want len %d)", tt.name, got.Len(), len(tt.want))
				}
			})
		}
	}
}

func TestValueCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newValueCache(2)
	g := c.currentGeneration()
	c.add(cacheEntry{key: cacheKey{"v", "a"}, value: NewValueString("a")}, g)
	c.add(cacheEntry{key: cacheKey{"v", "b"}, value: NewValueString("b")}, g)
	if _, ok := c.get(cacheKey{"v", "a"}); !ok {
		t.Fatal("a missing before eviction")
	}
	c.add(cacheEntry{key: cacheKey{"v", "c"}, value: NewValueString("c")}, g)

	for _, tt := range []struct {
		name string
		want bool
	}{{"a", true}, {"b", false}, {"c", true}} {
		if _, ok := c.get(cacheKey{"v", tt.name}); ok != tt.want {
			t.Errorf("entry %s cached = %v, want %v", tt.name, ok, tt.want)
		}
	}

	// An add computed before an invalidation is dropped.
	stale := c.currentGeneration()
	c.invalidate("v", "a")
	c.add(cacheEntry{key: cacheKey{"v", "a"}, value: NewValueString("stale")}, stale)
	if _, ok := c.get(cacheKey{"v", "a"}); ok {
		t.Error("stale add after invalidation was cached")
	}
}

func TestResolveAudit(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, func(c *Config) {
		c.Authorize = func(actor, vault, name string) error {
			if actor == "executor:intruder" {
				return errors.New("actor not allowed")
			}
			return nil
		}
	})
	mustCreateVault(t, s, "v")
	mustCreateSecret(t, s, "v", "k", "value")

	for range 5 {
		if _, err := s.Resolve(ctx, "v", "k", "executor:billing"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Resolve(ctx, "v", "k", "executor:intruder"); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("denied Resolve: error %v, want ErrAccessDenied", err)
	}
	for range 2 {
		if _, err := s.Resolve(ctx, "v", "missing", "executor:billing"); !errors.Is(err, ErrSecretNotFound) {
			t.Errorf("Resolve of a missing secret: error %v, want ErrSecretNotFound", err)
		}
	}

	// The denied read is written at once. The counted reads appear after a
	// flush, which AuditLog performs, sorted by actor and name.
	entries, err := s.AuditLog(ctx, AuditFilter{Vault: "v"})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range entries {
		lines = append(lines, fmt.Sprintf("%s %s %s %d %s %d", e.Actor, e.Action, e.Name, e.Version, e.Outcome, e.Count))
	}
	want := []string{
		"unknown create  0 ok 0",
		"unknown create k 1 ok 0",
		"executor:intruder denied k 0 denied 0",
		"executor:billing read k 1 ok 5",
		"executor:billing read missing 0 not_found 2",
	}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("audit lines:\ngot  %q\nwant %q", lines, want)
	}
}

func TestAuditFilterAndLimit(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, nil)
	actx := WithActor(ctx, "cli")
	for _, v := range []string{"a", "b"} {
		if _, err := s.CreateVault(actx, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateSecret(actx, "b", "k", NewValueString("same")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateSecret(actx, "b", "k", NewValueString("same"), UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	all, err := s.AuditLog(ctx, AuditFilter{})
	if err != nil || len(all) != 4 {
		t.Fatalf("AuditLog = %d entries, %v; want 4", len(all), err)
	}
	onlyB, err := s.AuditLog(ctx, AuditFilter{Vault: "b"})
	if err != nil || len(onlyB) != 3 {
		t.Fatalf("AuditLog(b) = %d entries, %v; want 3", len(onlyB), err)
	}
	last, err := s.AuditLog(ctx, AuditFilter{Limit: 1})
	if err != nil || len(last) != 1 || last[0].Action != ActionUpdate {
		t.Fatalf("AuditLog(limit 1) = %+v, %v; want the update", last, err)
	}
	if onlyB[1].ValueMAC == "" || onlyB[1].ValueMAC != onlyB[2].ValueMAC {
		t.Errorf("value MACs of equal values = %q and %q, want equal and set", onlyB[1].ValueMAC, onlyB[2].ValueMAC)
	}
	for _, e := range all {
		if e.Actor != "cli" {
			t.Errorf("entry %d actor = %q, want cli", e.Seq, e.Actor)
		}
	}
}

// TestAuditFilterUnknownVault checks that a filter naming a vault that
// neither exists nor appears in the log fails as not found, while a
// deleted vault still lists its entries.
func TestAuditFilterUnknownVault(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, nil)
	for _, v := range []string{"kept", "deleted"} {
		if _, err := s.CreateVault(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteVault(ctx, "deleted"); err != nil {
		t.Fatal(err)
	}

	entries, err := s.AuditLog(ctx, AuditFilter{Vault: "kep"})
	var ve *VaultError
	if !errors.Is(err, ErrVaultNotFound) || !errors.As(err, &ve) || ve.Vault != "kep" {
		t.Errorf("AuditLog(kep) = %d entries, %v; want a *VaultError for kep wrapping ErrVaultNotFound", len(entries), err)
	}
	deleted, err := s.AuditLog(ctx, AuditFilter{Vault: "deleted"})
	if err != nil || len(deleted) != 2 {
		t.Errorf("AuditLog(deleted) = %d entries, %v; want the create and the delete", len(deleted), err)
	}
}

func TestResolveReadsOwnWritesUnderLoad(t *testing.T) {
	for _, cacheSize := range []int{DefaultCacheSize, 0} {
		t.Run(fmt.Sprintf("cache %d", cacheSize), func(t *testing.T) {
			testResolveReadsOwnWritesUnderLoad(t, cacheSize)
		})
	}
}

func testResolveReadsOwnWritesUnderLoad(t *testing.T, cacheSize int) {
	ctx := context.Background()
	s, _ := openTestStore(t, func(c *Config) {
		c.MaxVersions = 1000
		c.CacheSize = cacheSize
	})
	mustCreateVault(t, s, "v")
	mustCreateSecret(t, s, "v", "k", "v0")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Resolve(ctx, "v", "k", "executor:reader"); err != nil {
					t.Errorf("concurrent Resolve: %v", err)
					return
				}
			}
		}()
	}

	// Readers keep filling the cache and the pool of read transactions,
	// so a value or snapshot from before an update must not serve a read
	// that starts after the update returns.
	for i := 1; i <= 60; i++ {
		want := fmt.Sprintf("v%d", i)
		if _, err := s.UpdateSecret(ctx, "v", "k", NewValueString(want), UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Resolve(ctx, "v", "k", "executor:writer")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(NewValueString(want)) {
			t.Fatalf("Resolve after update %d returned a stale value (len %d, want len %d)", i, got.Len(), len(want))
		}
	}
	close(stop)
	wg.Wait()
}
