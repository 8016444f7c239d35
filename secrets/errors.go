package secrets

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Every error the package returns wraps one of these, so
// callers test them with errors.Is. VaultError, SecretError and
// DataKeyError add the names involved.
var (
	// ErrVaultNotFound reports a vault that does not exist.
	ErrVaultNotFound = errors.New("vault not found")
	// ErrVaultExists reports a vault name that is already taken.
	ErrVaultExists = errors.New("vault already exists")
	// ErrSecretNotFound reports a secret that does not exist in its vault.
	ErrSecretNotFound = errors.New("secret not found")
	// ErrSecretExists reports a secret name that is already taken in its vault.
	ErrSecretExists = errors.New("secret already exists")
	// ErrVersionNotFound reports a version that was never written or has
	// been pruned.
	ErrVersionNotFound = errors.New("version not found")
	// ErrVersionMismatch reports a check-and-set update whose expected
	// version is not the current one.
	ErrVersionMismatch = errors.New("version mismatch")
	// ErrWrongKey reports a master key or passphrase that does not open the
	// store or archive.
	ErrWrongKey = errors.New("wrong master key")
	// ErrInvalidKey reports master key text that is not base64 of
	// MasterKeySize bytes.
	ErrInvalidKey = errors.New("invalid master key")
	// ErrNoStore reports a data directory without a store, opened with
	// Config.MustExist.
	ErrNoStore = errors.New("no secrets store")
	// ErrNoMasterKey reports that no master key source is configured.
	ErrNoMasterKey = errors.New("no master key configured")
	// ErrInvalidName reports a vault or secret name outside the name rule.
	ErrInvalidName = errors.New("invalid name")
	// ErrValueTooLarge reports a value above Config.MaxValueSize.
	ErrValueTooLarge = errors.New("value too large")
	// ErrEmptyValue reports a value of zero bytes.
	ErrEmptyValue = errors.New("empty value")
	// ErrCorrupt reports a stored record that fails to decode or to
	// authenticate: it was damaged or moved.
	ErrCorrupt = errors.New("corrupt record")
	// ErrDataKeyNotFound reports a data key id that the store does not hold.
	ErrDataKeyNotFound = errors.New("data key not found")
	// ErrDataKeyInUse reports a data key that still protects values or is
	// the active key.
	ErrDataKeyInUse = errors.New("data key in use")
	// ErrStoreNotEmpty reports an import into a store that already
	// contains vaults.
	ErrStoreNotEmpty = errors.New("store not empty")
	// ErrInvalidArchive reports an export archive that fails to decode.
	ErrInvalidArchive = errors.New("invalid archive")
	// ErrAccessDenied reports a read that Config.Authorize rejected.
	ErrAccessDenied = errors.New("access denied")
	// ErrClosed reports a call on a closed Store or AdminClient.
	ErrClosed = errors.New("store closed")
	// ErrInvalidConfig reports a Config that fails Validate.
	ErrInvalidConfig = errors.New("invalid config")
)

// VaultError is an error about one vault. Op is the operation, such as
// "create vault".
type VaultError struct {
	Op    string
	Vault string
	Err   error
}

// Error returns the operation, the vault, the cause and what to do next.
func (e *VaultError) Error() string {
	return fmt.Sprintf("%s %q: %v%s", e.Op, e.Vault, e.Err, hint(e.Err))
}

// Unwrap returns the underlying error.
func (e *VaultError) Unwrap() error { return e.Err }

// SecretError is an error about one secret. Version is zero when no
// particular version is involved. For ErrVersionMismatch it is the current
// version and Expected the one the caller expected.
type SecretError struct {
	Op       string
	Vault    string
	Name     string
	Version  uint64
	Expected uint64
	Err      error
}

// Error returns the operation, the secret and vault, the cause and what to
// do next.
func (e *SecretError) Error() string {
	subject := fmt.Sprintf("%s %q in vault %q", e.Op, e.Name, e.Vault)
	if e.Version != 0 && !errors.Is(e.Err, ErrVersionMismatch) {
		return subject + " " + e.Reason()
	}
	return subject + ": " + e.Reason()
}

// Reason returns the part of Error after the operation and names: the
// cause and what to do next, for a caller that names the secret itself.
func (e *SecretError) Reason() string {
	switch {
	case errors.Is(e.Err, ErrVersionMismatch):
		return fmt.Sprintf("%v: current version is %d, expected %d; read the current version and retry", e.Err, e.Version, e.Expected)
	case e.Version != 0:
		return fmt.Sprintf("version %d: %v%s", e.Version, e.Err, hint(e.Err))
	}
	return fmt.Sprintf("%v%s", e.Err, hint(e.Err))
}

// Unwrap returns the underlying error.
func (e *SecretError) Unwrap() error { return e.Err }

// DataKeyError is an error about one data key.
type DataKeyError struct {
	Op string
	ID uint32
	// Active is true when the key is the active data key, for
	// ErrDataKeyInUse.
	Active bool
	// Values is the number of stored values the key still protects, for
	// ErrDataKeyInUse.
	Values int
	Err    error
}

// Error returns the operation, the data key id, the cause and what to do
// next.
func (e *DataKeyError) Error() string {
	switch {
	case errors.Is(e.Err, ErrDataKeyInUse) && e.Active:
		return fmt.Sprintf("%s %d: %v: it is the active key; rotate to a new data key first", e.Op, e.ID, e.Err)
	case errors.Is(e.Err, ErrDataKeyInUse):
		return fmt.Sprintf("%s %d: %v: it encrypts %d values; wait for re-encryption to finish, or rotate to start it", e.Op, e.ID, e.Err, e.Values)
	}
	return fmt.Sprintf("%s %d: %v%s", e.Op, e.ID, e.Err, hint(e.Err))
}

// Unwrap returns the underlying error.
func (e *DataKeyError) Unwrap() error { return e.Err }

// NameError reports a name that fails the name rule. Reason names the
// failing part.
type NameError struct {
	Kind   string // "vault" or "secret"
	Name   string
	Reason string
}

// Error returns the rejected name, the reason and the rule.
func (e *NameError) Error() string {
	return fmt.Sprintf("invalid %s name %s: %s; use 1 to %d letters, digits, '_', '-' or '.', starting with a letter, digit or '_'",
		e.Kind, strconv.Quote(truncateName(e.Name)), e.Reason, MaxNameLength)
}

// Unwrap returns ErrInvalidName.
func (e *NameError) Unwrap() error { return ErrInvalidName }

// truncateName keeps error texts short for absurdly long names.
func truncateName(name string) string {
	if len(name) > 2*MaxNameLength {
		return name[:2*MaxNameLength] + "..."
	}
	return name
}

// hint returns the advice appended to an error text for a sentinel.
// errCreatedWithKey is the detail of ErrWrongKey when a passphrase is given
// for a store created with a key.
var errCreatedWithKey = errors.New("it was created with a key, not a passphrase")

func hint(err error) string {
	switch {
	case errors.Is(err, ErrVaultNotFound):
		return "; create it first or check the name"
	case errors.Is(err, ErrVaultExists):
		return "; choose another name or delete the vault first"
	case errors.Is(err, ErrSecretNotFound):
		return "; create it first or check the vault and name"
	case errors.Is(err, ErrSecretExists):
		return "; use update to change its value"
	case errors.Is(err, ErrVersionNotFound):
		return "; list the versions to see which are kept"
	case errors.Is(err, ErrCorrupt):
		return "; restore the store from an export"
	case errors.Is(err, ErrDataKeyNotFound):
		return "; list the data keys with 'execvault secret key status'"
	}
	return ""
}
