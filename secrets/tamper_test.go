package secrets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// rawGet returns a copy of the raw value under key.
func rawGet(t *testing.T, s *Store, key []byte) []byte {
	t.Helper()
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatalf("raw get %x: %v", key, err)
	}
	return out
}

func rawSet(t *testing.T, s *Store, key, value []byte) {
	t.Helper()
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(key, value) }); err != nil {
		t.Fatalf("raw set %x: %v", key, err)
	}
}

// recordOf returns the encoded version record of a version, from the
// secret record's head for the current version or from its version key.
func recordOf(t *testing.T, s *Store, vault, name string, version uint64) []byte {
	t.Helper()
	rec, err := decodeSecretRecord(rawGet(t, s, secretKey(vault, name)))
	if err != nil {
		t.Fatal(err)
	}
	if version == rec.Current {
		return rec.Head.encode()
	}
	return rawGet(t, s, versionKey(vault, name, version))
}

// setRecordOf stores an encoded version record where a version lives,
// whether or not the record decodes.
func setRecordOf(t *testing.T, s *Store, vault, name string, version uint64, record []byte) {
	t.Helper()
	raw := rawGet(t, s, secretKey(vault, name))
	// The head may be damaged by an earlier call, so only the fixed part
	// is read: the current version is at bytes 18 to 26.
	if current := binary.BigEndian.Uint64(raw[18:26]); version != current {
		rawSet(t, s, versionKey(vault, name, version), record)
		return
	}
	rawSet(t, s, secretKey(vault, name), append(bytes.Clone(raw[:secretRecordSize]), record...))
}

func TestTamperMovedCiphertextFails(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, func(c *Config) { c.CacheSize = 0 })
	mustCreateVault(t, s, "a")
	mustCreateVault(t, s, "b")
	mustCreateSecret(t, s, "a", "x", "value-of-a-x")
	mustCreateSecret(t, s, "a", "y", "value-of-a-y")
	mustCreateSecret(t, s, "b", "x", "value-of-b-x")
	mustCreateSecret(t, s, "b", "z", "value-of-b-z")
	for _, ref := range [][2]string{{"a", "x"}, {"b", "z"}} {
		if _, err := s.UpdateSecret(ctx, ref[0], ref[1], NewValueString("second"), UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	source := recordOf(t, s, "a", "x", 1)

	tests := []struct {
		name    string
		vault   string
		secret  string
		version uint64
		current bool
	}{
		{"other vault", "b", "x", 1, true},
		{"other name", "a", "y", 1, true},
		{"other version", "a", "x", 2, true},
		{"older version of another secret", "b", "z", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setRecordOf(t, s, tt.vault, tt.secret, tt.version, source)
			_, _, err := s.RevealSecret(ctx, tt.vault, tt.secret, tt.version)
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("reveal of moved ciphertext: error %v, want ErrCorrupt", err)
			}
			if !tt.current {
				return
			}
			if _, err := s.Resolve(ctx, tt.vault, tt.secret, "executor:test"); !errors.Is(err, ErrCorrupt) {
				t.Errorf("resolve of moved ciphertext: error %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestTamperFlippedBitFails(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, func(c *Config) { c.CacheSize = 0 })
	mustCreateVault(t, s, "v")
	mustCreateSecret(t, s, "v", "k", "a value of some length")
	if _, err := s.UpdateSecret(ctx, "v", "k", NewValueString("the current value"), UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, version := range []uint64{1, 2} {
		original := recordOf(t, s, "v", "k", version)
		for i := range original {
			for _, bit := range []byte{0x01, 0x80} {
				t.Run(fmt.Sprintf("version %d byte %d bit %#x", version, i, bit), func(t *testing.T) {
					flipped := bytes.Clone(original)
					flipped[i] ^= bit
					setRecordOf(t, s, "v", "k", version, flipped)
					if _, _, err := s.RevealSecret(ctx, "v", "k", version); !errors.Is(err, ErrCorrupt) {
						t.Errorf("reveal with byte %d flipped: error %v, want ErrCorrupt", i, err)
					}
				})
			}
		}
		setRecordOf(t, s, "v", "k", version, original)
	}
	if got := mustReveal(t, s, "v", "k", 1); got.Len() != len("a value of some length") {
		t.Errorf("restored version 1 opens to %d bytes, want %d", got.Len(), len("a value of some length"))
	}
	if got := mustReveal(t, s, "v", "k", 2); got.Len() != len("the current value") {
		t.Errorf("restored version 2 opens to %d bytes, want %d", got.Len(), len("the current value"))
	}
}

// snapshotDir returns a digest of every file under dir: path, mode and
// content hash.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		entry := info.Mode().String()
		if !d.IsDir() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			entry += fmt.Sprintf(" %x", sha256.Sum256(data))
		}
		snap[path] = entry
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return snap
}

func TestWrongMasterKey(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := testConfig(dir, nil)
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustCreateVault(t, s, "v")
	mustCreateSecret(t, s, "v", "k", "value")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := snapshotDir(t, dir)

	otherKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	tests := []struct {
		name   string
		env    map[string]string
		advice string
	}{
		{"other key", map[string]string{EnvMasterKey: otherKey}, "(tried the key in EXECVAULT_MASTER_KEY); set EXECVAULT_MASTER_KEY or --key-file to the store's current key (the one it was created with, or the last one that 'secret key change-master' set)"},
		{"passphrase for key store", map[string]string{EnvPassphrase: "hunter2"}, "(tried the passphrase in EXECVAULT_PASSPHRASE); unset EXECVAULT_PASSPHRASE and set EXECVAULT_MASTER_KEY or --key-file to the store's current key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wrong := cfg
			wrong.Getenv = func(k string) string { return tt.env[k] }
			s, err := Open(ctx, wrong)
			if err == nil {
				s.Close()
				t.Fatal("Open with a wrong key succeeded")
			}
			if !errors.Is(err, ErrWrongKey) {
				t.Errorf("error = %v, want ErrWrongKey", err)
			}
			prefix := "wrong master key for " + dir + ": "
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tt.advice) {
				t.Errorf("error text = %q, want prefix %q and advice %q", err, prefix, tt.advice)
			}
			if after := snapshotDir(t, dir); !mapsEqual(after, before) {
				t.Errorf("data directory changed after a wrong key: got %v, want %v", after, before)
			}
		})
	}

	s, err = Open(ctx, cfg)
	if err != nil {
		t.Fatalf("reopen with the right key: %v", err)
	}
	defer s.Close()
	if got := mustReveal(t, s, "v", "k", 0); !got.Equal(NewValueString("value")) {
		t.Errorf("value after reopen differs (len %d)", got.Len())
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestPassphraseStore(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := testConfig(dir, nil)
	cfg.Getenv = func(string) string { return "" }
	cfg.Passphrase = NewValueString("correct horse battery staple")
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustCreateVault(t, s, "v")
	mustCreateSecret(t, s, "v", "k", "value")
	status, err := s.KeyStatus(ctx)
	if err != nil || !status.Passphrase {
		t.Errorf("KeyStatus = %+v, %v; want Passphrase true", status, err)
	}
	s.Close()

	wrong := cfg
	wrong.Passphrase = NewValueString("correct horse battery stapler")
	if s, err := Open(ctx, wrong); !errors.Is(err, ErrWrongKey) {
		if s != nil {
			s.Close()
		}
		t.Errorf("Open with a wrong passphrase: error %v, want ErrWrongKey", err)
	}

	viaEnv := cfg
	viaEnv.Passphrase = Value{}
	viaEnv.Getenv = func(k string) string {
		if k == EnvPassphrase {
			return "correct horse battery staple"
		}
		return ""
	}
	// Without any key, the error states that the store takes a passphrase,
	// not a key file, both when opening and when checking the key.
	none := cfg
	none.Passphrase = Value{}
	none.KeyFile = filepath.Join(t.TempDir(), "master.key")
	want := "the store was created with a passphrase; set " + EnvPassphrase
	if s, err := Open(ctx, none); !errors.Is(err, ErrNoMasterKey) || !strings.Contains(err.Error(), want) {
		if s != nil {
			s.Close()
		}
		t.Errorf("Open without a key: error %v, want ErrNoMasterKey and %q", err, want)
	}
	if err := CheckMasterKey(none); !errors.Is(err, ErrNoMasterKey) || !strings.Contains(err.Error(), want) {
		t.Errorf("CheckMasterKey without a key: error %v, want ErrNoMasterKey and %q", err, want)
	}

	s, err = Open(ctx, viaEnv)
	if err != nil {
		t.Fatalf("Open with the passphrase from the environment: %v", err)
	}
	defer s.Close()
	if got := mustReveal(t, s, "v", "k", 0); !got.Equal(NewValueString("value")) {
		t.Errorf("value differs after reopen (len %d)", got.Len())
	}
}

func TestKeyFile(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	cfg := testConfig(filepath.Join(root, "data"), nil)
	cfg.Getenv = func(string) string { return "" }
	cfg.KeyFile = filepath.Join(root, "config", "execvault", "master.key")

	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CreatedKeyFile(); got != cfg.KeyFile {
		t.Errorf("CreatedKeyFile = %q, want %q", got, cfg.KeyFile)
	}
	mustCreateVault(t, s, "v")
	s.Close()

	s, err = Open(ctx, cfg)
	if err != nil {
		t.Fatalf("reopen with the key file: %v", err)
	}
	if got := s.CreatedKeyFile(); got != "" {
		t.Errorf("CreatedKeyFile on reopen = %q, want empty", got)
	}
	s.Close()

	if err := os.Remove(cfg.KeyFile); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(ctx, cfg); !errors.Is(err, ErrNoMasterKey) {
		if s != nil {
			s.Close()
		}
		t.Errorf("Open of an existing store without its key file: error %v, want ErrNoMasterKey", err)
	}
	if _, err := os.Stat(cfg.KeyFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing key file of an existing store was recreated: stat error %v", err)
	}
}

func TestFileModesIgnoreUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	ctx := context.Background()
	root := t.TempDir()
	cfg := testConfig(filepath.Join(root, "data"), nil)
	cfg.Getenv = func(string) string { return "" }
	cfg.KeyFile = filepath.Join(root, "config", "master.key")
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustCreateVault(t, s, "v")
	mustCreateSecret(t, s, "v", "k", "value")
	if _, err := s.RotateDataKey(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	check := func(path string, want fs.FileMode) {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %v, want %v", path, got, want)
		}
	}
	check(cfg.Dir, 0o700)
	check(filepath.Dir(cfg.KeyFile), 0o700)
	check(cfg.KeyFile, 0o600)
	err = filepath.WalkDir(cfg.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			check(path, 0o700)
		} else {
			check(path, 0o600)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenRemovesStaleHeaderTemps(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := testConfig(dir, nil)
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	stale := filepath.Join(dir, ".secrets.header.tmp123")
	if err := os.WriteFile(stale, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}

	wrong := cfg
	wrong.Getenv = func(string) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)) }
	if s, err := Open(ctx, wrong); err == nil {
		s.Close()
		t.Fatal("Open with a wrong key succeeded")
	}
	if _, err := os.Stat(stale); err != nil {
		t.Errorf("a wrong key removed the stale header file: %v", err)
	}

	s, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale header file after Open: stat error %v, want not exist", err)
	}
}

// TestCheckMasterKeyWhileOpen checks keys against a store that another
// Store has open, as a running execvault does: only the right key passes,
// and the header stays as it was.
func TestCheckMasterKeyWhileOpen(t *testing.T) {
	s, cfg := openTestStore(t, nil)
	mustCreateVault(t, s, "v")
	before, err := os.ReadFile(headerPath(cfg.Dir))
	if err != nil {
		t.Fatal(err)
	}

	if err := CheckMasterKey(cfg); err != nil {
		t.Errorf("CheckMasterKey with the store's key = %v, want nil", err)
	}

	otherKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	wrong := cfg
	wrong.Getenv = func(k string) string { return map[string]string{EnvMasterKey: otherKey}[k] }
	err = CheckMasterKey(wrong)
	if !errors.Is(err, ErrWrongKey) {
		t.Errorf("CheckMasterKey with another key = %v, want ErrWrongKey", err)
	}
	if err != nil && !strings.Contains(err.Error(), "--key-file") {
		t.Errorf("CheckMasterKey with another key = %v, want advice naming --key-file", err)
	}

	none := cfg
	none.Getenv = func(string) string { return "" }
	none.KeyFile = filepath.Join(t.TempDir(), "missing.key")
	if err := CheckMasterKey(none); !errors.Is(err, ErrNoMasterKey) {
		t.Errorf("CheckMasterKey without a key = %v, want ErrNoMasterKey", err)
	}
	if _, err := os.Stat(none.KeyFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat key file after CheckMasterKey = %v, want it not created", err)
	}

	if after, err := os.ReadFile(headerPath(cfg.Dir)); err != nil || !bytes.Equal(after, before) {
		t.Errorf("header after CheckMasterKey changed (read error %v)", err)
	}
}

// TestCheckMasterKeyNoStore checks a key against a directory without a
// store: it passes and creates nothing.
func TestCheckMasterKeyNoStore(t *testing.T) {
	cfg := testConfig(filepath.Join(t.TempDir(), "data"), nil)
	if err := CheckMasterKey(cfg); err != nil {
		t.Errorf("CheckMasterKey without a store = %v, want nil", err)
	}
	if _, err := os.Stat(cfg.Dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat data directory after CheckMasterKey = %v, want it not created", err)
	}
}
