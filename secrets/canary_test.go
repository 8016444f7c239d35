package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// canaryValue contains characters that base64, URL and JSON escaping all
// change, so each encoded form differs from the raw one.
const canaryValue = `cnry-4b1d/9e+Qz="<&>" 7f3a9e1c-€-end`

// canaryCore is a run of the canary that no quoting or escaping changes,
// so a leak through a logger that quotes values is still found.
const canaryCore = "7f3a9e1c"

// canaryForms returns the canary and its encodings.
func canaryForms(value string) map[string][]byte {
	js, _ := json.Marshal(value)
	var plainJSON bytes.Buffer
	enc := json.NewEncoder(&plainJSON)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(value)
	return map[string][]byte{
		"core":             []byte(canaryCore),
		"go quoted":        []byte(strings.Trim(strconv.Quote(value), `"`)),
		"json unescaped":   bytes.Trim(bytes.TrimSpace(plainJSON.Bytes()), `"`),
		"raw":              []byte(value),
		"base64":           []byte(base64.StdEncoding.EncodeToString([]byte(value))),
		"base64 raw":       []byte(base64.RawStdEncoding.EncodeToString([]byte(value))),
		"base64 url":       []byte(base64.URLEncoding.EncodeToString([]byte(value))),
		"url query escape": []byte(url.QueryEscape(value)),
		"url path escape":  []byte(url.PathEscape(value)),
		"json escaped":     bytes.Trim(js, `"`),
		"hex":              []byte(hex.EncodeToString([]byte(value))),
	}
}

// assertNoCanary fails the test when data contains any form of the canary.
func assertNoCanary(t *testing.T, where string, data []byte) {
	t.Helper()
	for form, needle := range canaryForms(canaryValue) {
		if bytes.Contains(data, needle) {
			t.Errorf("%s contains the canary (%s form)", where, form)
		}
	}
}

func scanTree(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSocket != 0 {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		assertNoCanary(t, path, data)
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", root, err)
	}
}

func TestCanaryNeverLeaks(t *testing.T) {
	ctx := WithActor(context.Background(), "cli")
	root := t.TempDir()
	t.Setenv("TMPDIR", filepath.Join(root, "tmp"))
	if err := os.MkdirAll(os.Getenv("TMPDIR"), 0o700); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	cfg := testConfig(filepath.Join(root, "data"), logs)
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	canary := NewValueString(canaryValue)
	mustCreateVault(t, s, "v")
	_, err = s.CreateSecret(ctx, "v", "k", canary)
	keep(err)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateSecret(ctx, "v", "k", canary)
	keep(err)
	_, err = s.CreateSecret(ctx, "missing", "k", canary)
	keep(err)
	_, err = s.UpdateSecret(ctx, "v", "k", canary, UpdateOptions{IfVersion: 9})
	keep(err)
	_, err = s.CreateSecret(ctx, "v", "big", NewValueString(strings.Repeat(canaryValue, 3000)))
	keep(err)
	_, err = s.UpdateSecret(ctx, "v", "k", NewValueString("other"), UpdateOptions{})
	keep(err)
	_, err = s.Rollback(ctx, "v", "k", 1)
	keep(err)
	_, got, err := s.RevealSecret(ctx, "v", "k", 0)
	keep(err)
	if !got.Equal(canary) {
		t.Fatal("rolled back value differs from the canary")
	}
	s.cfg.Logger.Debug("resolved value", "value", got)
	_, err = s.Resolve(ctx, "v", "k", "executor:canary")
	keep(err)
	_, err = s.RotateDataKey(ctx)
	keep(err)
	waitRotation(t, s)

	client := serveAdmin(t, s, logs)
	_, err = client.CreateSecret(ctx, "v", "k2", canary)
	keep(err)
	_, err = client.CreateSecret(ctx, "v", "k2", canary)
	keep(err)
	_, _, err = client.RevealSecret(ctx, "v", "k2", 0)
	keep(err)
	_, err = client.UpdateSecret(ctx, "v", "k2", NewValueString(strings.Repeat(canaryValue, 3000)), UpdateOptions{})
	keep(err)

	archivePath := filepath.Join(os.Getenv("TMPDIR"), "export.archive")
	f, err := os.Create(archivePath)
	if err != nil {
		t.Fatal(err)
	}
	keep(s.Export(ctx, f))
	f.Close()

	entries, err := s.AuditLog(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	auditJSON, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	wrong := cfg
	wrong.Getenv = func(string) string { return "" }
	wrong.Passphrase = canary
	if s, err := Open(ctx, wrong); err == nil {
		s.Close()
		t.Fatal("Open with the canary as a passphrase succeeded")
	} else {
		keep(err)
	}
	if _, err := ParseMasterKey([]byte(canaryValue)); err != nil {
		keep(err)
	}

	importDir := filepath.Join(root, "imported")
	icfg := testConfig(importDir, logs)
	is, err := Open(ctx, icfg)
	if err != nil {
		t.Fatal(err)
	}
	af, err := os.Open(archivePath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = is.Import(ctx, af)
	af.Close()
	keep(err)
	if err := is.Close(); err != nil {
		t.Fatal(err)
	}

	if len(errs) < 8 {
		t.Errorf("collected %d errors, want at least 8 failing calls", len(errs))
	}
	for _, err := range errs {
		assertNoCanary(t, "error "+strings.ReplaceAll(err.Error(), canaryCore, "<CANARY>"), []byte(err.Error()))
		var se *SecretError
		if errors.As(err, &se) {
			assertNoCanary(t, "error fields", []byte(se.Vault+se.Name+se.Op))
		}
	}
	if !bytes.Contains(logs.Bytes(), []byte("level=DEBUG")) {
		t.Error("debug logs are empty, so the log scan proves nothing")
	}
	assertNoCanary(t, "debug logs", logs.Bytes())
	assertNoCanary(t, "audit log", auditJSON)
	scanTree(t, root)
}
