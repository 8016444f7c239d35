package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// exportedStore returns the archive of a store with two vaults and a
// secret with three versions.
func exportedStore(t *testing.T) []byte {
	t.Helper()
	ctx := context.Background()
	s, _ := openTestStore(t, nil)
	mustCreateVault(t, s, "api-keys")
	mustCreateVault(t, s, "empty")
	mustCreateSecret(t, s, "api-keys", "token", "v1")
	for _, v := range []string{"v2", "v3"} {
		if _, err := s.UpdateSecret(ctx, "api-keys", "token", NewValueString(v), UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mustCreateSecret(t, s, "api-keys", "big", string(bytes.Repeat([]byte("x"), 60000)))
	var buf bytes.Buffer
	if err := s.Export(ctx, &buf); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return buf.Bytes()
}

func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	archive := exportedStore(t)
	if bytes.Contains(archive, []byte("v1")) && bytes.Contains(archive, bytes.Repeat([]byte("x"), 100)) {
		t.Fatal("archive holds plaintext values")
	}

	target, _ := openTestStore(t, nil)
	res, err := target.Import(ctx, bytes.NewReader(archive))
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if res != (ImportResult{Vaults: 2, Secrets: 2}) {
		t.Errorf("Import = %+v, want 2 vaults and 2 secrets", res)
	}
	for version, want := range map[uint64]string{1: "v1", 2: "v2", 3: "v3"} {
		if got := mustReveal(t, target, "api-keys", "token", version); !got.Equal(NewValueString(want)) {
			t.Errorf("imported version %d differs (len %d)", version, got.Len())
		}
	}
	if got := mustReveal(t, target, "api-keys", "big", 0); got.Len() != 60000 {
		t.Errorf("imported big value has %d bytes, want 60000", got.Len())
	}

	if _, err := target.Import(ctx, bytes.NewReader(archive)); !errors.Is(err, ErrStoreNotEmpty) {
		t.Errorf("second Import: %v, want ErrStoreNotEmpty", err)
	}
}

func TestImportRejectsBadArchives(t *testing.T) {
	archive := exportedStore(t)
	otherKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32))

	flipped := bytes.Clone(archive)
	flipped[len(flipped)-20] ^= 1

	tests := []struct {
		name    string
		data    []byte
		key     string
		wantErr error
	}{
		{"wrong key", archive, otherKey, ErrWrongKey},
		{"flipped bit", flipped, testKey, ErrInvalidArchive},
		{"truncated", archive[:len(archive)-40], testKey, ErrInvalidArchive},
		{"last chunk dropped", archive[:len(archive)/2], testKey, ErrInvalidArchive},
		{"not an archive", []byte("hello"), testKey, ErrInvalidArchive},
		{"empty", nil, testKey, ErrInvalidArchive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := filepath.Join(t.TempDir(), "data")
			cfg := testConfig(dir, nil)
			cfg.Getenv = func(k string) string {
				if k == EnvMasterKey {
					return tt.key
				}
				return ""
			}
			s, err := Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			auditBefore, err := s.AuditLog(ctx, AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}

			_, err = s.Import(ctx, bytes.NewReader(tt.data))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Import = %v, want %v", err, tt.wantErr)
			}
			vaults, err := s.ListVaults(ctx)
			if err != nil || len(vaults) != 0 {
				t.Errorf("vaults after a failed import = %+v, %v; want none", vaults, err)
			}
			// The failure is audited, and is the only change.
			auditAfter, err := s.AuditLog(ctx, AuditFilter{})
			if err != nil || len(auditAfter) != len(auditBefore)+1 {
				t.Fatalf("audit entries after a failed import = %d, %v; want %d", len(auditAfter), err, len(auditBefore)+1)
			}
			if last := auditAfter[len(auditAfter)-1]; last.Action != ActionImport || last.Outcome != OutcomeError || last.Detail == "" {
				t.Errorf("last audit entry = %+v, want a failed import with a detail", last)
			}
		})
	}
}

func TestExportImportPassphrase(t *testing.T) {
	ctx := context.Background()
	passEnv := func(p string) func(string) string {
		return func(k string) string {
			if k == EnvPassphrase {
				return p
			}
			return ""
		}
	}
	src := testConfig(filepath.Join(t.TempDir(), "src"), nil)
	src.Getenv = passEnv("shared passphrase")
	s, err := Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	mustCreateVault(t, s, "v")
	mustCreateSecret(t, s, "v", "k", "value")
	var buf bytes.Buffer
	if err := s.Export(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// The target has its own salt, and the archive carries the export's.
	dst := testConfig(filepath.Join(t.TempDir(), "dst"), nil)
	dst.Getenv = passEnv("shared passphrase")
	d, err := Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Import(ctx, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("Import with the same passphrase: %v", err)
	}
	if got := mustReveal(t, d, "v", "k", 0); !got.Equal(NewValueString("value")) {
		t.Errorf("imported value differs (len %d)", got.Len())
	}
}

// largeArchiveSecrets is the number of secrets in largeArchive.
const largeArchiveSecrets = 50

// largeArchive exports vault "big" with largeArchiveSecrets secrets of
// 60000 bytes each, too large together for one import transaction.
// Secret kNN holds the letter 'a'+NN%26 repeated.
func largeArchive(t *testing.T) *bytes.Buffer {
	t.Helper()
	ctx := context.Background()
	s, _ := openTestStore(t, nil)
	mustCreateVault(t, s, "big")
	for i := range largeArchiveSecrets {
		value := bytes.Repeat([]byte{byte('a' + i%26)}, 60000)
		if _, err := s.CreateSecret(ctx, "big", fmt.Sprintf("k%02d", i), NewValue(value)); err != nil {
			t.Fatal(err)
		}
	}
	var archive bytes.Buffer
	if err := s.Export(ctx, &archive); err != nil {
		t.Fatal(err)
	}
	return &archive
}

func TestImportLargeArchive(t *testing.T) {
	ctx := context.Background()
	const secrets = largeArchiveSecrets
	archive := largeArchive(t)

	logs := &syncBuffer{}
	target, err := Open(ctx, testConfig(filepath.Join(t.TempDir(), "data"), logs))
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	res, err := target.Import(ctx, archive)
	if err != nil {
		t.Fatalf("Import of a %d-secret archive: %v", secrets, err)
	}
	if res.Secrets != secrets {
		t.Errorf("imported %d secrets, want %d", res.Secrets, secrets)
	}
	if !bytes.Contains(logs.Bytes(), []byte("importing one secret at a time")) {
		t.Error("the archive fit one transaction, so the per-secret path went untested; enlarge it")
	}
	for i := range secrets {
		got := mustReveal(t, target, "big", fmt.Sprintf("k%02d", i), 0)
		if !got.Equal(NewValue(bytes.Repeat([]byte{byte('a' + i%26)}, 60000))) {
			t.Errorf("k%02d differs after import (len %d)", i, got.Len())
		}
	}
}

// cancelAfterCtx returns nil from Err until arm is called. After that,
// Err returns nil calls more times and then context.Canceled.
type cancelAfterCtx struct {
	context.Context
	mu    sync.Mutex
	armed bool
	calls int
}

func (c *cancelAfterCtx) arm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = true
}

func (c *cancelAfterCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed {
		return nil
	}
	c.calls--
	if c.calls < 0 {
		return context.Canceled
	}
	return nil
}

// armingHandler arms ctx when the store logs that it imports one secret
// per transaction.
type armingHandler struct {
	slog.Handler
	ctx *cancelAfterCtx
}

func (armingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h armingHandler) WithAttrs([]slog.Attr) slog.Handler     { return h }
func (h armingHandler) WithGroup(string) slog.Handler          { return h }

func (h armingHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "one secret at a time") {
		h.ctx.arm()
	}
	return nil
}

func TestImportLargeArchiveStoppedHalfway(t *testing.T) {
	ctx := context.Background()
	archive := largeArchive(t)

	// The vaults and the first two secrets are written, then the context
	// ends, as Ctrl-C ends the CLI's.
	stop := &cancelAfterCtx{Context: ctx, calls: 3}
	cfg := testConfig(filepath.Join(t.TempDir(), "data"), nil)
	cfg.Logger = slog.New(armingHandler{Handler: slog.DiscardHandler, ctx: stop})
	target, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()

	_, err = target.Import(stop, archive)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Import stopped halfway: error %v, want context.Canceled", err)
	}
	for _, want := range []string{"2 of 50 secrets", "part of the archive", "new data directory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Import stopped halfway: error %q does not contain %q", err, want)
		}
	}

	list, err := target.ListSecrets(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Errorf("secrets written before the stop = %d, want 2", len(list))
	}
	entries, err := target.AuditLog(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(entries); n == 0 || entries[n-1].Action != ActionImport || entries[n-1].Outcome != OutcomeError {
		t.Errorf("audit log = %+v, want it to end with the failed import", entries)
	}
}

// TestImportIntoRemovesStoreItCreated checks that ImportInto leaves no
// store behind when an import into a new data directory fails, and keeps
// a store that existed before.
func TestImportIntoRemovesStoreItCreated(t *testing.T) {
	ctx := context.Background()
	archive := exportedStore(t)
	withKey := func(cfg Config, key string) Config {
		cfg.Getenv = func(k string) string {
			if k == EnvMasterKey {
				return key
			}
			return ""
		}
		return cfg
	}
	otherKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32))

	t.Run("new store, wrong key", func(t *testing.T) {
		root := t.TempDir()
		dir := filepath.Join(root, "new", "data")
		_, err := ImportInto(ctx, withKey(testConfig(dir, nil), otherKey), bytes.NewReader(archive))
		if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "removed again") {
			t.Fatalf("ImportInto with a wrong key: %v, want ErrWrongKey saying the new store was removed", err)
		}
		if _, err := os.Stat(filepath.Join(root, "new")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("directory created for the store, after the failed import: stat error %v, want it removed", err)
		}
		res, err := ImportInto(ctx, withKey(testConfig(dir, nil), testKey), bytes.NewReader(archive))
		if err != nil || res.Vaults == 0 {
			t.Fatalf("ImportInto with the right key after the failure = %+v, %v; want the archive imported", res, err)
		}
	})

	t.Run("existing store, bad archive", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		cfg := withKey(testConfig(dir, nil), testKey)
		s, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		_, err = ImportInto(ctx, cfg, bytes.NewReader([]byte("hello")))
		if !errors.Is(err, ErrInvalidArchive) || strings.Contains(err.Error(), "removed") {
			t.Fatalf("ImportInto a bad archive into an existing store: %v, want ErrInvalidArchive without a removal", err)
		}
		cfg.MustExist = true
		s, err = Open(ctx, cfg)
		if err != nil {
			t.Fatalf("Open the existing store after the failed import: %v", err)
		}
		s.Close()
	})
}
