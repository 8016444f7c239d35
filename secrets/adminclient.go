package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// AdminClient is a Manager that calls the admin API of a running execvault
// over its unix socket. Errors carry the same sentinels and types as the
// Store's, so errors.Is and errors.As work on both. It is safe for
// concurrent use.
type AdminClient struct {
	socket string
	http   *http.Client
}

// DialAdmin connects to the admin socket at socketPath and returns a client.
// It fails when nothing accepts connections there, which the CLI takes as
// "no runtime is running, so open the store directly". Each call sends the
// actor of its context (WithActor) in the ActorHeader header.
func DialAdmin(socketPath string) (*AdminClient, error) {
	conn, err := net.DialTimeout("unix", socketPath, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial admin socket %s: %w", socketPath, err)
	}
	conn.Close()

	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConns:    4,
		IdleConnTimeout: 30 * time.Second,
	}
	return &AdminClient{socket: socketPath, http: &http.Client{Transport: transport}}, nil
}

// Close releases idle connections. The client must not be used afterwards.
func (c *AdminClient) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// call sends a JSON request and decodes a JSON response into out, or the
// wire error into a typed error.
func (c *AdminClient) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode admin request: %w", err)
		}
		defer clear(data)
		body = bytes.NewReader(data)
	}
	resp, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode admin response from %s: %w", c.socket, err)
	}
	return nil
}

// do sends a request and returns the response of a 2xx status. Other
// statuses become errors.
func (c *AdminClient) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://execvault"+path, body)
	if err != nil {
		return nil, fmt.Errorf("build admin request: %w", err)
	}
	req.Header.Set(ActorHeader, ActorFrom(ctx))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("call admin socket %s: %w", c.socket, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var we wireError
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&we); err != nil {
		return nil, fmt.Errorf("call admin socket %s: status %d", c.socket, resp.StatusCode)
	}
	return nil, we.toError()
}

// remoteError is an error returned by the server. It matches its sentinel
// with errors.Is and prints the server's text.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// toError rebuilds the typed error the server returned.
func (we wireError) toError() error {
	var sentinel error
	for _, c := range errorCodes {
		if c.code == we.Code {
			sentinel = c.err
			break
		}
	}
	inner := func() error {
		if sentinel == nil {
			return errors.New(we.Detail)
		}
		if we.Detail == sentinel.Error() {
			return sentinel
		}
		return &remoteError{msg: we.Detail, sentinel: sentinel}
	}
	switch we.Kind {
	case "secret":
		return &SecretError{Op: we.Op, Vault: we.Vault, Name: we.Name, Version: we.Version, Expected: we.Expected, Err: inner()}
	case "vault":
		return &VaultError{Op: we.Op, Vault: we.Vault, Err: inner()}
	case "data_key":
		return &DataKeyError{Op: we.Op, ID: we.ID, Active: we.Active, Values: we.Values, Err: inner()}
	case "name":
		return &NameError{Kind: we.Op, Name: we.Name, Reason: we.Detail}
	}
	if sentinel == nil {
		return errors.New(we.Message)
	}
	return &remoteError{msg: we.Message, sentinel: sentinel}
}

func vaultPath(vault string) string { return "/v1/vaults/" + url.PathEscape(vault) }

func secretPath(vault, name string) string {
	return vaultPath(vault) + "/secrets/" + url.PathEscape(name)
}

// CreateVault implements Manager.
func (c *AdminClient) CreateVault(ctx context.Context, name string) (VaultInfo, error) {
	var v VaultInfo
	err := c.call(ctx, http.MethodPost, "/v1/vaults", createVaultRequest{Name: name}, &v)
	return v, err
}

// DeleteVault implements Manager.
func (c *AdminClient) DeleteVault(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, vaultPath(name), nil, nil)
}

// ListVaults implements Manager.
func (c *AdminClient) ListVaults(ctx context.Context) ([]VaultInfo, error) {
	var v []VaultInfo
	err := c.call(ctx, http.MethodGet, "/v1/vaults", nil, &v)
	return v, err
}

// CreateSecret implements Manager.
func (c *AdminClient) CreateSecret(ctx context.Context, vault, name string, v Value) (SecretInfo, error) {
	var info SecretInfo
	err := c.call(ctx, http.MethodPost, vaultPath(vault)+"/secrets", writeSecretRequest{Name: name, Value: v.Bytes()}, &info)
	return info, err
}

// UpdateSecret implements Manager.
func (c *AdminClient) UpdateSecret(ctx context.Context, vault, name string, v Value, opts UpdateOptions) (SecretInfo, error) {
	var info SecretInfo
	err := c.call(ctx, http.MethodPut, secretPath(vault, name), writeSecretRequest{Value: v.Bytes(), IfVersion: opts.IfVersion}, &info)
	return info, err
}

// DeleteSecret implements Manager.
func (c *AdminClient) DeleteSecret(ctx context.Context, vault, name string) error {
	return c.call(ctx, http.MethodDelete, secretPath(vault, name), nil, nil)
}

// ListSecrets implements Manager.
func (c *AdminClient) ListSecrets(ctx context.Context, vault string) ([]SecretInfo, error) {
	var v []SecretInfo
	err := c.call(ctx, http.MethodGet, vaultPath(vault)+"/secrets", nil, &v)
	return v, err
}

// GetSecret implements Manager.
func (c *AdminClient) GetSecret(ctx context.Context, vault, name string) (SecretInfo, error) {
	var info SecretInfo
	err := c.call(ctx, http.MethodGet, secretPath(vault, name), nil, &info)
	return info, err
}

// RevealSecret implements Manager.
func (c *AdminClient) RevealSecret(ctx context.Context, vault, name string, version uint64) (SecretInfo, Value, error) {
	var resp revealResponse
	err := c.call(ctx, http.MethodPost, secretPath(vault, name)+"/reveal", revealRequest{Version: version}, &resp)
	defer clear(resp.Value)
	return resp.Secret, NewValue(resp.Value), err
}

// Resolve implements Manager.
func (c *AdminClient) Resolve(ctx context.Context, vault, name, actor string) (Value, error) {
	var resp revealResponse
	err := c.call(ctx, http.MethodPost, secretPath(vault, name)+"/resolve", resolveRequest{Actor: actor}, &resp)
	defer clear(resp.Value)
	return NewValue(resp.Value), err
}

// ListVersions implements Manager.
func (c *AdminClient) ListVersions(ctx context.Context, vault, name string) ([]VersionInfo, error) {
	var v []VersionInfo
	err := c.call(ctx, http.MethodGet, secretPath(vault, name)+"/versions", nil, &v)
	return v, err
}

// Rollback implements Manager.
func (c *AdminClient) Rollback(ctx context.Context, vault, name string, to uint64) (SecretInfo, error) {
	var info SecretInfo
	err := c.call(ctx, http.MethodPost, secretPath(vault, name)+"/rollback", rollbackRequest{To: to}, &info)
	return info, err
}

// AuditLog implements Manager.
func (c *AdminClient) AuditLog(ctx context.Context, filter AuditFilter) ([]AuditEntry, error) {
	q := url.Values{}
	if filter.Vault != "" {
		q.Set("vault", filter.Vault)
	}
	if filter.Limit > 0 {
		q.Set("limit", strconv.Itoa(filter.Limit))
	}
	path := "/v1/secrets/audit"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var v []AuditEntry
	err := c.call(ctx, http.MethodGet, path, nil, &v)
	return v, err
}

// RotateDataKey implements Manager.
func (c *AdminClient) RotateDataKey(ctx context.Context) (DataKeyInfo, error) {
	var v DataKeyInfo
	err := c.call(ctx, http.MethodPost, "/v1/secrets/keys", nil, &v)
	return v, err
}

// KeyStatus implements Manager.
func (c *AdminClient) KeyStatus(ctx context.Context) (KeyStatus, error) {
	var v KeyStatus
	err := c.call(ctx, http.MethodGet, "/v1/secrets/keys", nil, &v)
	return v, err
}

// RetireDataKey implements Manager.
func (c *AdminClient) RetireDataKey(ctx context.Context, id uint32) error {
	return c.call(ctx, http.MethodDelete, "/v1/secrets/keys/"+strconv.FormatUint(uint64(id), 10), nil, nil)
}

// RewrapKEK implements Manager.
func (c *AdminClient) RewrapKEK(ctx context.Context, next MasterKey) error {
	req := masterKeyRequest{Key: next.Base64(), Passphrase: next.passphrase}
	return c.call(ctx, http.MethodPut, "/v1/secrets/master-key", req, nil)
}

// Export implements Manager.
func (c *AdminClient) Export(ctx context.Context, w io.Writer) error {
	resp, err := c.do(ctx, http.MethodGet, "/v1/secrets/export", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("export over %s: %w", c.socket, err)
	}
	// The trailer is read after the body, and only it tells a complete
	// stream from one the server cut short.
	if status := resp.Trailer.Get(exportStatusTrailer); status != "ok" {
		return fmt.Errorf("export over %s: the server stopped the archive: %q", c.socket, status)
	}
	return nil
}

// Import implements Manager.
func (c *AdminClient) Import(ctx context.Context, r io.Reader) (ImportResult, error) {
	resp, err := c.do(ctx, http.MethodPost, "/v1/secrets/import", r)
	if err != nil {
		return ImportResult{}, err
	}
	defer resp.Body.Close()
	var v ImportResult
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return ImportResult{}, fmt.Errorf("decode admin response from %s: %w", c.socket, err)
	}
	return v, nil
}
