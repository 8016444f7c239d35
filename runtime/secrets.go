package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/secrets"
)

// Actor prefixes used in the secret store's audit log and access checks.
// An executor's webhook dispatch reads as "executor:NAME"; its guest code,
// through secret_get, reads as "guest:NAME".
const (
	actorExecutor = "executor:"
	actorGuest    = "guest:"
)

// StoreSecrets adapts a secret store to what the runtime and the webhook
// dispatcher need. Its methods are safe for concurrent use.
type StoreSecrets struct {
	Store interface {
		Resolve(ctx context.Context, vault, name, actor string) (secrets.Value, error)
	}
}

// Resolve returns a secret's value for a webhook header or signing key.
// The dispatcher names ref in its own error, so an error about the secret
// reads as its reason alone, and still unwraps to the *secrets.SecretError.
func (s StoreSecrets) Resolve(ctx context.Context, ref plugins.SecretRef, actor string) ([]byte, error) {
	v, err := s.Store.Resolve(ctx, ref.Vault, ref.Key, actor)
	var se *secrets.SecretError
	if errors.As(err, &se) {
		return nil, secretReason{se}
	}
	if err != nil {
		return nil, err
	}
	return v.Bytes(), nil
}

// secretReason is a secret error whose text leaves out the secret's names,
// for a caller that names the secret itself.
type secretReason struct{ err *secrets.SecretError }

func (e secretReason) Error() string { return e.err.Reason() }
func (e secretReason) Unwrap() error { return e.err }

// ReadSecret returns a secret's value for a guest's secret_get.
func (s StoreSecrets) ReadSecret(ctx context.Context, ref plugins.SecretRef, actor string) ([]byte, bool, error) {
	v, err := s.Store.Resolve(ctx, ref.Vault, ref.Key, guestActor(actor))
	switch {
	case errors.Is(err, secrets.ErrSecretNotFound), errors.Is(err, secrets.ErrVaultNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return v.Bytes(), true, nil
}

// RecordDenied requests the secret from the store as the guest. The
// runtime's Authorize denies that read, so the store audits the attempt.
func (s StoreSecrets) RecordDenied(ctx context.Context, ref plugins.SecretRef, actor string) {
	_, _ = s.Store.Resolve(ctx, ref.Vault, ref.Key, guestActor(actor))
}

func guestActor(actor string) string {
	return actorGuest + strings.TrimPrefix(actor, actorExecutor)
}

// Authorize is the access policy for secrets.Config.Authorize. For dispatch,
// an executor may read the secrets that its webhook headers, signing key
// and incoming webhook token reference, plus those it declares. Its guest
// code may read only the declared ones. Any other actor, such as the CLI, is
// allowed.
func (rt *Runtime) Authorize(actor, vault, name string) error {
	ref := plugins.SecretRef{Vault: vault, Key: name}
	var execName string
	var guest bool
	switch {
	case strings.HasPrefix(actor, actorExecutor):
		execName = strings.TrimPrefix(actor, actorExecutor)
	case strings.HasPrefix(actor, actorGuest):
		execName, guest = strings.TrimPrefix(actor, actorGuest), true
	default:
		return nil
	}

	reg := rt.reg.Load()
	if reg == nil {
		return fmt.Errorf("no executors are loaded")
	}
	exec, ok := reg.byName[execName]
	if !ok {
		return fmt.Errorf("executor %q is not loaded; load its plugin again, then deliver its failed jobs with 'execvault executor jobs retry JOB_ID'", execName)
	}
	if exec.declares(ref) || (!guest && exec.references(ref)) {
		return nil
	}
	if guest {
		return fmt.Errorf("executor %q does not declare secret %s in its manifest", execName, ref)
	}
	return fmt.Errorf("executor %q neither references nor declares secret %s", execName, ref)
}

// references reports whether a header, the signing key or the incoming
// webhook token of e names ref.
func (e *Executor) references(ref plugins.SecretRef) bool {
	for _, h := range e.Operation.Headers {
		if h.Secret != nil && *h.Secret == ref {
			return true
		}
	}
	if e.Signing != nil && e.Signing.Secret == ref {
		return true
	}
	return e.Trigger.Token != nil && *e.Trigger.Token == ref
}
