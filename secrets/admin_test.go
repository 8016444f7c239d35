package secrets

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serveAdmin serves s on a unix socket and returns a client for it.
func serveAdmin(t *testing.T, s *Store, logs *syncBuffer) *AdminClient {
	t.Helper()
	dir, err := os.MkdirTemp("", "evadm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "admin.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := httptest.NewUnstartedServer(NewAdminHandler(s, logger))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	c, err := DialAdmin(socket)
	if err != nil {
		t.Fatalf("DialAdmin: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestAdminClientMatchesStore(t *testing.T) {
	ctx := WithActor(context.Background(), "cli")
	direct, _ := openTestStore(t, nil)
	served, _ := openTestStore(t, nil)
	client := serveAdmin(t, served, nil)

	for _, m := range []Manager{direct, client} {
		if _, err := m.CreateVault(ctx, "v"); err != nil {
			t.Fatal(err)
		}
		if _, err := m.CreateSecret(ctx, "v", "k", NewValueString("one")); err != nil {
			t.Fatal(err)
		}
	}

	calls := []struct {
		name string
		call func(m Manager) (string, error)
	}{
		{"vault exists", func(m Manager) (string, error) { _, err := m.CreateVault(ctx, "v"); return "", err }},
		{"vault not found", func(m Manager) (string, error) { return "", m.DeleteVault(ctx, "nope") }},
		{"secret exists", func(m Manager) (string, error) {
			_, err := m.CreateSecret(ctx, "v", "k", NewValueString("x"))
			return "", err
		}},
		{"secret not found", func(m Manager) (string, error) { _, err := m.GetSecret(ctx, "v", "nope"); return "", err }},
		{"version mismatch", func(m Manager) (string, error) {
			_, err := m.UpdateSecret(ctx, "v", "k", NewValueString("x"), UpdateOptions{IfVersion: 7})
			return "", err
		}},
		{"invalid name", func(m Manager) (string, error) { _, err := m.CreateVault(ctx, "a..b"); return "", err }},
		{"empty value", func(m Manager) (string, error) { _, err := m.CreateSecret(ctx, "v", "e", Value{}); return "", err }},
		{"retire active key", func(m Manager) (string, error) { return "", m.RetireDataKey(ctx, 1) }},
		{"update", func(m Manager) (string, error) {
			info, err := m.UpdateSecret(ctx, "v", "k", NewValueString("two"), UpdateOptions{IfVersion: 1})
			return info.Name + " " + string(rune('0'+info.Version)), err
		}},
		{"reveal", func(m Manager) (string, error) {
			_, v, err := m.RevealSecret(ctx, "v", "k", 1)
			return v.Reveal(), err
		}},
		{"resolve", func(m Manager) (string, error) {
			v, err := m.Resolve(ctx, "v", "k", "executor:x")
			return v.Reveal(), err
		}},
		{"rollback", func(m Manager) (string, error) {
			info, err := m.Rollback(ctx, "v", "k", 1)
			return string(rune('0' + info.Version)), err
		}},
		{"versions", func(m Manager) (string, error) {
			v, err := m.ListVersions(ctx, "v", "k")
			return string(rune('0' + len(v))), err
		}},
		{"list", func(m Manager) (string, error) {
			v, err := m.ListSecrets(ctx, "v")
			return string(rune('0' + len(v))), err
		}},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			wantOut, wantErr := tt.call(direct)
			gotOut, gotErr := tt.call(client)
			if gotOut != wantOut {
				t.Errorf("client result differs from the store's (len %d, want len %d)", len(gotOut), len(wantOut))
			}
			if (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("client error = %v, store error = %v", gotErr, wantErr)
			}
			if wantErr == nil {
				return
			}
			if gotErr.Error() != wantErr.Error() {
				t.Errorf("client error text = %q, want %q", gotErr, wantErr)
			}
			for _, sentinel := range []error{ErrVaultExists, ErrVaultNotFound, ErrSecretExists, ErrSecretNotFound, ErrVersionMismatch, ErrInvalidName, ErrEmptyValue, ErrDataKeyInUse} {
				if errors.Is(gotErr, sentinel) != errors.Is(wantErr, sentinel) {
					t.Errorf("errors.Is(%v) = %v on the client, %v on the store", sentinel, errors.Is(gotErr, sentinel), errors.Is(wantErr, sentinel))
				}
			}
			var gotSE, wantSE *SecretError
			if errors.As(wantErr, &wantSE) && (!errors.As(gotErr, &gotSE) || gotSE.Vault != wantSE.Vault || gotSE.Name != wantSE.Name) {
				t.Errorf("client error %#v lacks the store's SecretError fields %+v", gotErr, wantSE)
			}
		})
	}

	entries, err := served.AuditLog(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Actor != "cli" && e.Actor != "executor:x" {
			t.Errorf("audit actor through the admin API = %q, want cli", e.Actor)
		}
	}
}

func TestAdminClientKeysAndArchive(t *testing.T) {
	ctx := context.Background()
	served, _ := openTestStore(t, nil)
	client := serveAdmin(t, served, nil)
	mustCreateVault(t, served, "v")
	mustCreateSecret(t, served, "v", "k", "value")

	if _, err := client.RotateDataKey(ctx); err != nil {
		t.Fatalf("RotateDataKey: %v", err)
	}
	waitRotation(t, served)
	if err := client.RetireDataKey(ctx, 1); err != nil {
		t.Fatalf("RetireDataKey: %v", err)
	}
	status, err := client.KeyStatus(ctx)
	if err != nil || len(status.DataKeys) != 1 || status.DataKeys[0].ID != 2 || status.DataKeys[0].Values != 1 {
		t.Errorf("KeyStatus = %+v, %v; want only key 2 with 1 value", status, err)
	}

	var archive bytes.Buffer
	if err := client.Export(ctx, &archive); err != nil {
		t.Fatalf("Export: %v", err)
	}
	target, _ := openTestStore(t, nil)
	targetClient := serveAdmin(t, target, nil)
	if _, err := targetClient.Import(ctx, &archive); err != nil {
		t.Fatalf("Import: %v", err)
	}
	if got := mustReveal(t, target, "v", "k", 0); !got.Equal(NewValueString("value")) {
		t.Errorf("value imported over the admin API differs (len %d)", got.Len())
	}

	next, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := client.RewrapKEK(ctx, next); err != nil {
		t.Fatalf("RewrapKEK: %v", err)
	}
	audit, err := client.AuditLog(ctx, AuditFilter{Limit: 1})
	if err != nil || len(audit) != 1 || audit[0].Action != ActionRewrap {
		t.Errorf("last audit entry = %+v, %v; want the rewrap", audit, err)
	}
}

func TestDialAdminWithoutServer(t *testing.T) {
	_, err := DialAdmin(filepath.Join(t.TempDir(), "admin.sock"))
	if err == nil || !strings.Contains(err.Error(), "dial admin socket") {
		t.Errorf("DialAdmin without a server = %v, want a dial error", err)
	}
}

func TestAdminHandlerRejectsBadRequests(t *testing.T) {
	s, _ := openTestStore(t, nil)
	h := NewAdminHandler(s, slog.New(slog.DiscardHandler))
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
	}{
		{"unknown field", http.MethodPost, "/v1/vaults", `{"name":"v","extra":1}`, http.StatusBadRequest},
		{"not json", http.MethodPost, "/v1/vaults", `nope`, http.StatusBadRequest},
		{"bad key id", http.MethodDelete, "/v1/secrets/keys/x", ``, http.StatusBadRequest},
		{"bad limit", http.MethodGet, "/v1/secrets/audit?limit=-1", ``, http.StatusBadRequest},
		{"unknown path", http.MethodGet, "/v1/nothing", ``, http.StatusNotFound},
		{"missing vault", http.MethodGet, "/v1/vaults/nope/secrets", ``, http.StatusNotFound},
		{"key and passphrase", http.MethodPut, "/v1/secrets/master-key", `{"key":"a","passphrase":"b"}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body)))
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d (body %s)", rec.Code, tt.status, rec.Body)
			}
		})
	}
}

// failingExport is a Manager whose Export stops after writing a prefix.
type failingExport struct{ *Store }

func (f failingExport) Export(_ context.Context, w io.Writer) error {
	if _, err := io.WriteString(w, archiveMagic); err != nil {
		return err
	}
	return errors.New("disk read failed")
}

func TestAdminClientExportCutShort(t *testing.T) {
	s, _ := openTestStore(t, nil)
	dir, err := os.MkdirTemp("", "evadm")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("unix", filepath.Join(dir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(NewAdminHandler(failingExport{s}, slog.New(slog.DiscardHandler)))
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	client, err := DialAdmin(filepath.Join(dir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	var buf bytes.Buffer
	err = client.Export(context.Background(), &buf)
	if err == nil || !strings.Contains(err.Error(), "disk read failed") {
		t.Errorf("Export of a stream cut short = %v, want the server's error", err)
	}
}
