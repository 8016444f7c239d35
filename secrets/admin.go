package secrets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
)

// ActorHeader is the request header that names the actor of an admin API
// call in the audit log. Without it the actor is "admin".
const ActorHeader = "Execvault-Actor"

// maxAdminBody bounds JSON request bodies: a value of the largest
// allowed size in base64 with room for the other fields.
const maxAdminBody = maxValueSizeLimit*2 + 4096

// NewAdminHandler returns an http.Handler that exposes every Manager
// operation of m as JSON under /v1/vaults/... and /v1/secrets/.... Values
// travel base64-encoded in a "value" field. The handler logs method, path
// and status at debug level, never bodies. It does no authentication: serve
// it only on a unix socket with mode 0600 or another channel that only the
// store's owner can reach. It is safe for concurrent use as m is.
func NewAdminHandler(m Manager, log *slog.Logger) http.Handler {
	h := &adminHandler{m: m, log: log.With("component", "secrets-admin")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/vaults", h.listVaults)
	mux.HandleFunc("POST /v1/vaults", h.createVault)
	mux.HandleFunc("DELETE /v1/vaults/{vault}", h.deleteVault)
	mux.HandleFunc("GET /v1/vaults/{vault}/secrets", h.listSecrets)
	mux.HandleFunc("POST /v1/vaults/{vault}/secrets", h.createSecret)
	mux.HandleFunc("GET /v1/vaults/{vault}/secrets/{name}", h.getSecret)
	mux.HandleFunc("PUT /v1/vaults/{vault}/secrets/{name}", h.updateSecret)
	mux.HandleFunc("DELETE /v1/vaults/{vault}/secrets/{name}", h.deleteSecret)
	mux.HandleFunc("POST /v1/vaults/{vault}/secrets/{name}/reveal", h.revealSecret)
	mux.HandleFunc("POST /v1/vaults/{vault}/secrets/{name}/resolve", h.resolve)
	mux.HandleFunc("GET /v1/vaults/{vault}/secrets/{name}/versions", h.listVersions)
	mux.HandleFunc("POST /v1/vaults/{vault}/secrets/{name}/rollback", h.rollback)
	mux.HandleFunc("GET /v1/secrets/audit", h.auditLog)
	mux.HandleFunc("GET /v1/secrets/keys", h.keyStatus)
	mux.HandleFunc("POST /v1/secrets/keys", h.rotateDataKey)
	mux.HandleFunc("DELETE /v1/secrets/keys/{id}", h.retireDataKey)
	mux.HandleFunc("PUT /v1/secrets/master-key", h.rewrapKEK)
	mux.HandleFunc("GET /v1/secrets/export", h.export)
	mux.HandleFunc("POST /v1/secrets/import", h.importArchive)
	h.mux = mux
	return h
}

type adminHandler struct {
	m   Manager
	log *slog.Logger
	mux *http.ServeMux
}

// statusRecorder keeps the status code for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	actor := r.Header.Get(ActorHeader)
	if actor == "" {
		actor = "admin"
	}
	r = r.WithContext(WithActor(r.Context(), actor))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	h.mux.ServeHTTP(rec, r)
	h.log.Debug("admin request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "actor", cleanActor(actor))
}

// Wire types. Values are []byte, so encoding/json carries them as base64.
type (
	createVaultRequest struct {
		Name string `json:"name"`
	}
	writeSecretRequest struct {
		Name      string `json:"name,omitempty"`
		Value     []byte `json:"value"`
		IfVersion uint64 `json:"ifVersion,omitempty"`
	}
	revealRequest struct {
		Version uint64 `json:"version,omitempty"`
	}
	revealResponse struct {
		Secret SecretInfo `json:"secret"`
		Value  []byte     `json:"value"`
	}
	resolveRequest struct {
		Actor string `json:"actor"`
	}
	rollbackRequest struct {
		To uint64 `json:"to"`
	}
	masterKeyRequest struct {
		Key        string `json:"key,omitempty"`
		Passphrase string `json:"passphrase,omitempty"`
	}
	// wireError is the body of every failed request.
	wireError struct {
		Code     string `json:"code"`
		Message  string `json:"message"`
		Kind     string `json:"kind,omitempty"`
		Op       string `json:"op,omitempty"`
		Vault    string `json:"vault,omitempty"`
		Name     string `json:"name,omitempty"`
		Version  uint64 `json:"version,omitempty"`
		Expected uint64 `json:"expected,omitempty"`
		ID       uint32 `json:"id,omitempty"`
		Values   int    `json:"values,omitempty"`
		Active   bool   `json:"active,omitempty"`
		Detail   string `json:"detail,omitempty"`
	}
)

// errorCodes maps sentinels to wire codes and HTTP statuses.
var errorCodes = []struct {
	err    error
	code   string
	status int
}{
	{ErrVaultNotFound, "vault_not_found", http.StatusNotFound},
	{ErrVaultExists, "vault_exists", http.StatusConflict},
	{ErrSecretNotFound, "secret_not_found", http.StatusNotFound},
	{ErrSecretExists, "secret_exists", http.StatusConflict},
	{ErrVersionNotFound, "version_not_found", http.StatusNotFound},
	{ErrVersionMismatch, "version_mismatch", http.StatusPreconditionFailed},
	{ErrWrongKey, "wrong_key", http.StatusForbidden},
	{ErrInvalidKey, "invalid_key", http.StatusBadRequest},
	{ErrNoMasterKey, "no_master_key", http.StatusBadRequest},
	{ErrInvalidName, "invalid_name", http.StatusBadRequest},
	{ErrValueTooLarge, "value_too_large", http.StatusRequestEntityTooLarge},
	{ErrEmptyValue, "empty_value", http.StatusBadRequest},
	{ErrCorrupt, "corrupt", http.StatusInternalServerError},
	{ErrDataKeyNotFound, "data_key_not_found", http.StatusNotFound},
	{ErrDataKeyInUse, "data_key_in_use", http.StatusConflict},
	{ErrStoreNotEmpty, "store_not_empty", http.StatusConflict},
	{ErrInvalidArchive, "invalid_archive", http.StatusBadRequest},
	{ErrAccessDenied, "access_denied", http.StatusForbidden},
	{ErrClosed, "closed", http.StatusServiceUnavailable},
	{ErrInvalidConfig, "invalid_config", http.StatusBadRequest},
}

func (h *adminHandler) fail(w http.ResponseWriter, err error) {
	body := wireError{Code: "internal", Message: err.Error()}
	status := http.StatusInternalServerError
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			body.Code, status = c.code, c.status
			break
		}
	}

	var ve *VaultError
	var se *SecretError
	var de *DataKeyError
	var ne *NameError
	switch {
	case errors.As(err, &se):
		body.Kind, body.Op, body.Vault, body.Name, body.Version, body.Expected, body.Detail = "secret", se.Op, se.Vault, se.Name, se.Version, se.Expected, se.Err.Error()
	case errors.As(err, &ve):
		body.Kind, body.Op, body.Vault, body.Detail = "vault", ve.Op, ve.Vault, ve.Err.Error()
	case errors.As(err, &de):
		body.Kind, body.Op, body.ID, body.Values, body.Active, body.Detail = "data_key", de.Op, de.ID, de.Values, de.Active, de.Err.Error()
	case errors.As(err, &ne):
		body.Kind, body.Op, body.Name, body.Detail = "name", ne.Kind, ne.Name, ne.Reason
	}
	if status == http.StatusInternalServerError {
		h.log.Error("admin request failed", "error", err)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *adminHandler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// The decoder's message can quote the body, which may hold a value.
		writeJSON(w, http.StatusBadRequest, wireError{Code: "bad_request", Message: "decode request body: invalid JSON or unknown field"})
		return false
	}
	return true
}

func (h *adminHandler) listVaults(w http.ResponseWriter, r *http.Request) {
	v, err := h.m.ListVaults(r.Context())
	h.reply(w, v, err)
}

func (h *adminHandler) reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		h.fail(w, err)
		return
	}
	if v == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *adminHandler) createVault(w http.ResponseWriter, r *http.Request) {
	var req createVaultRequest
	if !h.decode(w, r, &req) {
		return
	}
	v, err := h.m.CreateVault(r.Context(), req.Name)
	h.reply(w, v, err)
}

func (h *adminHandler) deleteVault(w http.ResponseWriter, r *http.Request) {
	h.reply(w, nil, h.m.DeleteVault(r.Context(), r.PathValue("vault")))
}

func (h *adminHandler) listSecrets(w http.ResponseWriter, r *http.Request) {
	v, err := h.m.ListSecrets(r.Context(), r.PathValue("vault"))
	h.reply(w, v, err)
}

func (h *adminHandler) createSecret(w http.ResponseWriter, r *http.Request) {
	var req writeSecretRequest
	if !h.decode(w, r, &req) {
		return
	}
	defer clear(req.Value)
	v, err := h.m.CreateSecret(r.Context(), r.PathValue("vault"), req.Name, NewValue(req.Value))
	h.reply(w, v, err)
}

func (h *adminHandler) getSecret(w http.ResponseWriter, r *http.Request) {
	v, err := h.m.GetSecret(r.Context(), r.PathValue("vault"), r.PathValue("name"))
	h.reply(w, v, err)
}

func (h *adminHandler) updateSecret(w http.ResponseWriter, r *http.Request) {
	var req writeSecretRequest
	if !h.decode(w, r, &req) {
		return
	}
	defer clear(req.Value)
	v, err := h.m.UpdateSecret(r.Context(), r.PathValue("vault"), r.PathValue("name"), NewValue(req.Value), UpdateOptions{IfVersion: req.IfVersion})
	h.reply(w, v, err)
}

func (h *adminHandler) deleteSecret(w http.ResponseWriter, r *http.Request) {
	h.reply(w, nil, h.m.DeleteSecret(r.Context(), r.PathValue("vault"), r.PathValue("name")))
}

func (h *adminHandler) revealSecret(w http.ResponseWriter, r *http.Request) {
	var req revealRequest
	if !h.decode(w, r, &req) {
		return
	}
	info, value, err := h.m.RevealSecret(r.Context(), r.PathValue("vault"), r.PathValue("name"), req.Version)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, revealResponse{Secret: info, Value: value.Bytes()})
}

func (h *adminHandler) resolve(w http.ResponseWriter, r *http.Request) {
	var req resolveRequest
	if !h.decode(w, r, &req) {
		return
	}
	value, err := h.m.Resolve(r.Context(), r.PathValue("vault"), r.PathValue("name"), req.Actor)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, revealResponse{Value: value.Bytes()})
}

func (h *adminHandler) listVersions(w http.ResponseWriter, r *http.Request) {
	v, err := h.m.ListVersions(r.Context(), r.PathValue("vault"), r.PathValue("name"))
	h.reply(w, v, err)
}

func (h *adminHandler) rollback(w http.ResponseWriter, r *http.Request) {
	var req rollbackRequest
	if !h.decode(w, r, &req) {
		return
	}
	v, err := h.m.Rollback(r.Context(), r.PathValue("vault"), r.PathValue("name"), req.To)
	h.reply(w, v, err)
}

func (h *adminHandler) auditLog(w http.ResponseWriter, r *http.Request) {
	filter := AuditFilter{Vault: r.URL.Query().Get("vault")}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, wireError{Code: "bad_request", Message: fmt.Sprintf("invalid limit %q: use a whole number", l)})
			return
		}
		filter.Limit = n
	}
	v, err := h.m.AuditLog(r.Context(), filter)
	if v == nil {
		v = []AuditEntry{}
	}
	h.reply(w, v, err)
}

func (h *adminHandler) keyStatus(w http.ResponseWriter, r *http.Request) {
	v, err := h.m.KeyStatus(r.Context())
	h.reply(w, v, err)
}

func (h *adminHandler) rotateDataKey(w http.ResponseWriter, r *http.Request) {
	v, err := h.m.RotateDataKey(r.Context())
	h.reply(w, v, err)
}

func (h *adminHandler) retireDataKey(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 32)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, wireError{Code: "bad_request", Message: fmt.Sprintf("invalid data key id %q: use the id from key status", r.PathValue("id"))})
		return
	}
	h.reply(w, nil, h.m.RetireDataKey(r.Context(), uint32(id)))
}

func (h *adminHandler) rewrapKEK(w http.ResponseWriter, r *http.Request) {
	var req masterKeyRequest
	if !h.decode(w, r, &req) {
		return
	}
	var next MasterKey
	switch {
	case req.Key != "" && req.Passphrase != "":
		writeJSON(w, http.StatusBadRequest, wireError{Code: "bad_request", Message: "set either key or passphrase, not both"})
		return
	case req.Passphrase != "":
		next = PassphraseKey(NewValueString(req.Passphrase))
	default:
		var err error
		if next, err = ParseMasterKey([]byte(req.Key)); err != nil {
			h.fail(w, err)
			return
		}
	}
	h.reply(w, nil, h.m.RewrapKEK(r.Context(), next))
}

func (h *adminHandler) export(w http.ResponseWriter, r *http.Request) {
	// Once the archive starts streaming, the status is sent. A later failure
	// is reported in the trailer, and the missing final chunk would make
	// Import reject the archive anyway.
	w.Header().Set("Trailer", exportStatusTrailer)
	cw := &countingWriter{w: w}
	err := h.m.Export(r.Context(), cw)
	if err != nil && cw.n == 0 {
		h.fail(w, err)
		return
	}
	if err != nil {
		h.log.Warn("export failed", "error", err)
		w.Header().Set(exportStatusTrailer, err.Error())
		return
	}
	w.Header().Set(exportStatusTrailer, "ok")
}

// exportStatusTrailer is the HTTP trailer that tells the client whether an
// export stream is complete: "ok", or the error that cut it.
const exportStatusTrailer = "Execvault-Export-Status"

// countingWriter counts the bytes written, to tell whether a response has
// started.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (h *adminHandler) importArchive(w http.ResponseWriter, r *http.Request) {
	v, err := h.m.Import(r.Context(), io.LimitReader(r.Body, 1<<30))
	h.reply(w, v, err)
}
