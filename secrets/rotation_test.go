package secrets

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitRotation waits until the background re-encryption reports that it
// finished and no value is left under an old data key.
func waitRotation(t *testing.T, s *Store) KeyStatus {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		status, err := s.KeyStatus(context.Background())
		if err != nil {
			t.Fatalf("KeyStatus: %v", err)
		}
		if !status.Rotating {
			return status
		}
		select {
		case <-s.rotationDone:
		case <-deadline:
			t.Fatalf("re-encryption still running after 30 s: %+v", status)
		}
	}
}

func valuesByKey(status KeyStatus) map[uint32]int {
	m := map[uint32]int{}
	for _, k := range status.DataKeys {
		m[k.ID] = k.Values
	}
	return m
}

func TestRotateDataKeyReencryptsAndRetires(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, func(c *Config) { c.RotationBatchSize = 7 })
	mustCreateVault(t, s, "v")
	for i := range 30 {
		mustCreateSecret(t, s, "v", fmt.Sprintf("k%02d", i), fmt.Sprintf("value-%d", i))
	}
	if _, err := s.UpdateSecret(ctx, "v", "k00", NewValueString("value-0b"), UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	info, err := s.RotateDataKey(ctx)
	if err != nil {
		t.Fatalf("RotateDataKey: %v", err)
	}
	if info.ID != 2 || !info.Active {
		t.Errorf("RotateDataKey = %+v, want active key 2", info)
	}
	status := waitRotation(t, s)
	if got, want := valuesByKey(status), map[uint32]int{1: 0, 2: 31}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("values per data key = %v, want %v", got, want)
	}

	for i := range 30 {
		want := fmt.Sprintf("value-%d", i)
		if i == 0 {
			want = "value-0b"
		}
		if got := mustReveal(t, s, "v", fmt.Sprintf("k%02d", i), 0); !got.Equal(NewValueString(want)) {
			t.Errorf("k%02d differs after re-encryption (len %d)", i, got.Len())
		}
	}
	if got := mustReveal(t, s, "v", "k00", 1); !got.Equal(NewValueString("value-0")) {
		t.Errorf("old version of k00 differs after re-encryption (len %d)", got.Len())
	}

	tests := []struct {
		name string
		id   uint32
		want error
	}{
		{"active key", 2, ErrDataKeyInUse},
		{"unknown key", 9, ErrDataKeyNotFound},
		{"unused key", 1, nil},
		{"already retired", 1, ErrDataKeyNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.RetireDataKey(ctx, tt.id)
			if !errors.Is(err, tt.want) {
				t.Errorf("RetireDataKey(%d) = %v, want %v", tt.id, err, tt.want)
			}
		})
	}
}

func TestRetireDataKeyInUseFails(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, nil)
	mustCreateVault(t, s, "v")
	mustCreateSecret(t, s, "v", "k", "value")

	// Switch the active key without starting re-encryption, so key 1 still
	// protects the value.
	s.keyMu.Lock()
	next, err := s.ring.Load().withNewDataKey(s.now())
	if err != nil {
		t.Fatal(err)
	}
	s.ring.Store(next)
	s.keyMu.Unlock()

	err = s.RetireDataKey(ctx, 1)
	var dke *DataKeyError
	if !errors.Is(err, ErrDataKeyInUse) || !errors.As(err, &dke) || dke.Values != 1 {
		t.Fatalf("RetireDataKey(1) = %v, want ErrDataKeyInUse by 1 value", err)
	}
	if got := mustReveal(t, s, "v", "k", 0); !got.Equal(NewValueString("value")) {
		t.Errorf("value unreadable after a refused retire (len %d)", got.Len())
	}
}

func TestRotationResumesAfterReopen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := testConfig(dir, nil)
	cfg.RotationBatchSize = 4
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustCreateVault(t, s, "v")
	for i := range 12 {
		mustCreateSecret(t, s, "v", fmt.Sprintf("k%d", i), fmt.Sprintf("value-%d", i))
	}
	ring := s.ring.Load()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A crash right after the header switched to a new data key leaves
	// every value under the old key and the rotating flag set.
	next, err := ring.withNewDataKey(cfg.Now())
	if err != nil {
		t.Fatal(err)
	}
	next.hdr.Rotating = true
	if err := writeHeader(headerPath(dir), next.hdr); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	status := waitRotation(t, s)
	if got, want := valuesByKey(status), map[uint32]int{1: 0, 2: 12}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("values per data key after resume = %v, want %v", got, want)
	}
	for i := range 12 {
		if got := mustReveal(t, s, "v", fmt.Sprintf("k%d", i), 0); !got.Equal(NewValueString(fmt.Sprintf("value-%d", i))) {
			t.Errorf("k%d differs after resumed re-encryption (len %d)", i, got.Len())
		}
	}
}

func TestRotationUnderLoad(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, func(c *Config) {
		c.RotationBatchSize = 3
		c.CacheSize = 0
		c.MaxVersions = 1000
	})
	mustCreateVault(t, s, "v")
	const secrets = 20
	for i := range secrets {
		mustCreateSecret(t, s, "v", fmt.Sprintf("k%d", i), fmt.Sprintf("k%d-v1", i))
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, failures atomic.Int64
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("k%d", i%secrets)
				info, value, err := s.RevealSecret(ctx, "v", name, 0)
				if err != nil {
					t.Errorf("reveal %s during rotation: %v", name, err)
					failures.Add(1)
					return
				}
				if want := fmt.Sprintf("%s-v%d", name, info.Version); !value.Equal(NewValueString(want)) {
					t.Errorf("reveal %s during rotation: value of another version (len %d, want len %d)", name, value.Len(), len(want))
					failures.Add(1)
					return
				}
				if _, err := s.Resolve(ctx, "v", name, "executor:load"); err != nil {
					t.Errorf("resolve %s during rotation: %v", name, err)
					failures.Add(1)
					return
				}
				reads.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprintf("k%d", i%secrets)
			info, err := s.GetSecret(ctx, "v", name)
			if err != nil {
				t.Errorf("get %s: %v", name, err)
				return
			}
			next := fmt.Sprintf("%s-v%d", name, info.Version+1)
			if _, err := s.UpdateSecret(ctx, "v", name, NewValueString(next), UpdateOptions{IfVersion: info.Version}); err != nil {
				t.Errorf("update %s during rotation: %v", name, err)
				return
			}
		}
	}()

	// Retiring each old key while readers run checks that no read uses a
	// snapshot naming a data key that its keyring no longer has.
	for range 3 {
		old := s.ring.Load().activeID()
		if _, err := s.RotateDataKey(ctx); err != nil {
			t.Fatalf("RotateDataKey: %v", err)
		}
		waitRotation(t, s)
		if err := s.RetireDataKey(ctx, old); err != nil {
			t.Fatalf("RetireDataKey(%d): %v", old, err)
		}
	}
	close(stop)
	wg.Wait()

	if reads.Load() == 0 || failures.Load() != 0 {
		t.Errorf("reads during rotation = %d with %d failures, want some reads and no failures", reads.Load(), failures.Load())
	}
	status := waitRotation(t, s)
	for _, k := range status.DataKeys {
		if !k.Active && k.Values != 0 {
			t.Errorf("data key %d still protects %d values after rotation", k.ID, k.Values)
		}
	}
}

func TestRewrapKEK(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := testConfig(dir, nil)
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustCreateVault(t, s, "v")
	mustCreateSecret(t, s, "v", "k", "value")
	next, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RewrapKEK(ctx, next); err != nil {
		t.Fatalf("RewrapKEK: %v", err)
	}
	audit, err := s.AuditLog(ctx, AuditFilter{Limit: 1})
	if err != nil || len(audit) != 1 || audit[0].Detail != "1 data key re-wrapped" {
		t.Errorf("last audit entry = %+v, %v; want detail %q", audit, err, "1 data key re-wrapped")
	}
	if got := mustReveal(t, s, "v", "k", 0); !got.Equal(NewValueString("value")) {
		t.Errorf("value differs right after RewrapKEK (len %d)", got.Len())
	}
	s.Close()

	if s, err := Open(ctx, cfg); !errors.Is(err, ErrWrongKey) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open with the old key after RewrapKEK: %v, want ErrWrongKey", err)
	}

	withNew := cfg
	withNew.Getenv = func(k string) string {
		if k == EnvMasterKey {
			return next.Base64()
		}
		return ""
	}
	s, err = Open(ctx, withNew)
	if err != nil {
		t.Fatalf("Open with the new key: %v", err)
	}
	if got := mustReveal(t, s, "v", "k", 0); !got.Equal(NewValueString("value")) {
		t.Errorf("value differs after reopen with the new key (len %d)", got.Len())
	}

	// Switch to a passphrase and back to a raw key.
	if err := s.RewrapKEK(ctx, PassphraseKey(NewValueString("a long passphrase"))); err != nil {
		t.Fatalf("RewrapKEK to a passphrase: %v", err)
	}
	s.Close()
	withPass := cfg
	withPass.Getenv = func(k string) string {
		if k == EnvPassphrase {
			return "a long passphrase"
		}
		return ""
	}
	s, err = Open(ctx, withPass)
	if err != nil {
		t.Fatalf("Open with the new passphrase: %v", err)
	}
	defer s.Close()
	if got := mustReveal(t, s, "v", "k", 0); !got.Equal(NewValueString("value")) {
		t.Errorf("value differs after reopen with the passphrase (len %d)", got.Len())
	}
	if err := s.RewrapKEK(ctx, PassphraseKey(NewValueString("a long passphrase"))); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("RewrapKEK to the passphrase in use: %v, want ErrInvalidKey", err)
	}
}

// TestFailedKeyOperationsAreAudited checks that a data key rotation and a
// master key change that fail are recorded with the error outcome.
func TestFailedKeyOperationsAreAudited(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(ctx, testConfig(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	if err := s.RewrapKEK(ctx, s.ring.Load().master); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("RewrapKEK to the current key: %v, want ErrInvalidKey", err)
	}
	// The header cannot be written into a directory that does not exist.
	hdrPath := s.hdrPath
	s.hdrPath = filepath.Join(dir, "missing", "secrets.header")
	_, rotateErr := s.RotateDataKey(ctx)
	s.hdrPath = hdrPath
	if rotateErr == nil {
		t.Fatal("RotateDataKey with an unwritable header succeeded, want an error")
	}

	entries, err := s.AuditLog(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Outcome == OutcomeError {
			got = append(got, e.Action)
		}
	}
	if want := []string{ActionRewrap, ActionRotate}; !slices.Equal(got, want) {
		t.Errorf("failed actions in the audit log = %q, want %q", got, want)
	}
}
