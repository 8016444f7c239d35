// Package secrets owns execvault's secret store: vaults of named secrets,
// encrypted at rest, versioned, audited and resolved for webhook headers.
//
// # Storage
//
// A Store keeps its data in a Badger database at <data dir>/secrets with
// Badger's own encryption at rest turned on, and its key material in
// <data dir>/secrets.header. Every value is additionally sealed with
// XChaCha20-Poly1305 under a data key (DEK), and the associated data binds the
// vault, the name, the version and the data key id, so a ciphertext copied
// to another place fails to open. The data keys are wrapped by the master
// key (the key-encryption key, KEK). docs/secrets-format.md describes the
// layout byte by byte.
//
// # Master key
//
// Open takes the master key from, in order: EXECVAULT_MASTER_KEY (base64 of
// 32 bytes), a passphrase stretched with Argon2id (Config.Passphrase or
// EXECVAULT_PASSPHRASE), or Config.KeyFile, which Open creates with a new
// store unless Config.MustExist is set.
// The key is checked against a stored check value before Badger opens, so
// a wrong key returns ErrWrongKey and writes nothing.
//
// # Operations
//
// Vaults and secrets are created, updated, listed and deleted through the
// Manager interface, which both *Store and *AdminClient implement. Updates
// keep Config.MaxVersions versions, and Rollback writes an old value as a new
// version. RotateDataKey switches new writes to a new data key and
// re-encrypts the old values in the background. RewrapKEK changes the
// master key. Export and Import move a store as an encrypted archive.
//
// Resolve serves webhook sends from an LRU cache of decrypted values. On a
// cache miss it reads Badger through a read-only transaction that the
// store reuses until the next commit, so a read never misses a write that
// has returned.
// Every change and read is recorded in an append-only audit log, vault and
// secret changes in the same transaction as the change. Values never are,
// only a keyed hash of them.
//
// # Redaction
//
// Value and MasterKey print "[REDACTED]" through fmt, log/slog and
// encoding/json. Errors and logs name vaults and secrets, never values.
package secrets
