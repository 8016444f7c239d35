package secrets

import (
	"context"
	"fmt"
)

// Resolve returns the current value of a secret for actor, typically
// "executor:NAME", on every webhook send. Values come from a bounded LRU
// cache (Config.CacheSize) that every change to the secret, its vault or
// the keys invalidates.
//
// Reads that succeed or find no secret are counted in memory and written
// to the audit log every Config.AuditFlushInterval as one "read" entry per
// actor, secret, version and outcome, with a Count. A read that
// Config.Authorize denies, or that fails otherwise, is written at once.
//
// Errors are *SecretError wrapping ErrAccessDenied, ErrVaultNotFound,
// ErrSecretNotFound or ErrCorrupt, *NameError, or ErrClosed.
func (s *Store) Resolve(ctx context.Context, vault, name, actor string) (Value, error) {
	if err := s.begin(); err != nil {
		return Value{}, err
	}
	defer s.ops.Done()
	if err := checkNames(vault, name); err != nil {
		return Value{}, err
	}

	if s.cfg.Authorize != nil {
		if err := s.cfg.Authorize(actor, vault, name); err != nil {
			s.audit(AuditEntry{Actor: cleanActor(actor), Action: ActionDenied, Vault: vault, Name: name, Outcome: OutcomeDenied})
			return Value{}, &SecretError{Op: "resolve secret", Vault: vault, Name: name, Err: fmt.Errorf("%w: %v", ErrAccessDenied, err)}
		}
	}

	key := cacheKey{vault, name}
	if e, ok := s.cache.get(key); ok {
		s.reads.add(readKey{actor: actor, vault: vault, name: name, version: e.version, outcome: OutcomeOK})
		return e.value, nil
	}

	if err := ctx.Err(); err != nil {
		return Value{}, err
	}
	generation := s.cache.currentGeneration()
	_, version, value, err := s.readValue(vault, name, 0)
	if err != nil {
		outcome := outcomeOf(err)
		if outcome == OutcomeNotFound {
			s.reads.add(readKey{actor: actor, vault: vault, name: name, outcome: outcome})
		} else {
			s.audit(AuditEntry{Actor: cleanActor(actor), Action: ActionRead, Vault: vault, Name: name, Outcome: outcome})
		}
		return Value{}, &SecretError{Op: "resolve secret", Vault: vault, Name: name, Err: err}
	}
	s.cache.add(cacheEntry{key: key, value: value, version: version}, generation)
	s.reads.add(readKey{actor: actor, vault: vault, name: name, version: version, outcome: OutcomeOK})
	return value, nil
}
