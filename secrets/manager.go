package secrets

import (
	"context"
	"io"
)

// Manager is every management operation on a secret store. *Store
// implements it in process, and *AdminClient implements it over the admin
// socket of a running execvault, with the same errors. The actor recorded
// in the audit log comes from the context (WithActor).
type Manager interface {
	CreateVault(ctx context.Context, name string) (VaultInfo, error)
	DeleteVault(ctx context.Context, name string) error
	ListVaults(ctx context.Context) ([]VaultInfo, error)

	CreateSecret(ctx context.Context, vault, name string, v Value) (SecretInfo, error)
	UpdateSecret(ctx context.Context, vault, name string, v Value, opts UpdateOptions) (SecretInfo, error)
	DeleteSecret(ctx context.Context, vault, name string) error
	ListSecrets(ctx context.Context, vault string) ([]SecretInfo, error)
	GetSecret(ctx context.Context, vault, name string) (SecretInfo, error)
	RevealSecret(ctx context.Context, vault, name string, version uint64) (SecretInfo, Value, error)
	ListVersions(ctx context.Context, vault, name string) ([]VersionInfo, error)
	Rollback(ctx context.Context, vault, name string, to uint64) (SecretInfo, error)
	Resolve(ctx context.Context, vault, name, actor string) (Value, error)

	AuditLog(ctx context.Context, filter AuditFilter) ([]AuditEntry, error)

	RotateDataKey(ctx context.Context) (DataKeyInfo, error)
	KeyStatus(ctx context.Context) (KeyStatus, error)
	RetireDataKey(ctx context.Context, id uint32) error
	RewrapKEK(ctx context.Context, next MasterKey) error

	Export(ctx context.Context, w io.Writer) error
	Import(ctx context.Context, r io.Reader) (ImportResult, error)

	Close() error
}

var (
	_ Manager = (*Store)(nil)
	_ Manager = (*AdminClient)(nil)
)
