package secrets

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config configures a Store. Build one with DefaultConfig and change the
// fields you need. Open calls Validate.
type Config struct {
	// Dir is the data directory. The store lives in Dir/secrets (Badger)
	// and Dir/secrets.header (key material wrapped by the master key).
	// Dir is created with mode 0700 when missing. Required.
	Dir string

	// MustExist makes Open fail with ErrNoStore when Dir holds no store,
	// instead of creating one with a new key file. Commands that only
	// read or change what exists set it, so that a mistyped directory is
	// not silently a new, empty store bound to a new key.
	MustExist bool

	// KeyFile is the master key file, used when neither
	// EXECVAULT_MASTER_KEY nor a passphrase is set. When the file is
	// missing and the store is new, Open creates it (mode 0600, 32 random
	// bytes in base64, its directory mode 0700) and reports the path in
	// Store.CreatedKeyFile. Keep it outside Dir, so that a copy of the data
	// directory alone does not open the store. Validate rejects a key file
	// inside Dir.
	KeyFile string

	// Passphrase, when not empty, derives the master key with Argon2id
	// unless EXECVAULT_MASTER_KEY is set. EXECVAULT_PASSPHRASE is used when
	// this field is empty.
	Passphrase Value

	// KDF is the set of Argon2id parameters for a new passphrase store. An
	// existing store keeps the parameters stored in its header.
	KDF KDFParams

	// Getenv reads EXECVAULT_MASTER_KEY and EXECVAULT_PASSPHRASE.
	// Default os.Getenv.
	Getenv func(string) string

	// MaxVersions is how many versions of a secret are kept, the current
	// one included. Default 10, minimum 1.
	MaxVersions int

	// MaxValueSize is the largest value accepted, in bytes. Default 64 KiB;
	// at most 1 MiB.
	MaxValueSize int

	// CacheSize is the number of decrypted values Resolve keeps in memory.
	// Default 1024. Zero turns the cache off.
	CacheSize int

	// AuditFlushInterval is how often the counts of successful Resolve
	// reads are written to the audit log. Default 10 s. Close flushes too.
	AuditFlushInterval time.Duration

	// RotationBatchSize is how many values one re-encryption transaction
	// rewrites after RotateDataKey. Default 64.
	RotationBatchSize int

	// Authorize, when not nil, is called before every Resolve. An error
	// denies the read, which is audited as "denied". Default nil: every
	// actor may read every secret.
	Authorize func(actor, vault, name string) error

	// Logger receives the store's logs. Default slog.Default().
	Logger *slog.Logger

	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Default values of Config.
const (
	DefaultMaxVersions        = 10
	DefaultMaxValueSize       = 64 << 10
	DefaultCacheSize          = 1024
	DefaultAuditFlushInterval = 10 * time.Second
	DefaultRotationBatchSize  = 64

	// maxValueSizeLimit bounds MaxValueSize so that a value always fits one
	// Badger transaction with room for its metadata.
	maxValueSizeLimit = 1 << 20
)

// DefaultConfig returns a Config for the data directory dir with every
// default filled in.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:                dir,
		KDF:                DefaultKDFParams(),
		Getenv:             os.Getenv,
		MaxVersions:        DefaultMaxVersions,
		MaxValueSize:       DefaultMaxValueSize,
		CacheSize:          DefaultCacheSize,
		AuditFlushInterval: DefaultAuditFlushInterval,
		RotationBatchSize:  DefaultRotationBatchSize,
		Logger:             slog.Default(),
		Now:                time.Now,
	}
}

// Validate reports the first invalid field, wrapped in ErrInvalidConfig.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Dir == "":
		return bad("Dir is empty; set it to the data directory")
	case c.MaxVersions < 1:
		return bad("MaxVersions is %d; set it to 1 or more", c.MaxVersions)
	case c.MaxValueSize < 1 || c.MaxValueSize > maxValueSizeLimit:
		return bad("MaxValueSize is %d; set it between 1 and %d bytes", c.MaxValueSize, maxValueSizeLimit)
	case c.CacheSize < 0:
		return bad("CacheSize is %d; set it to 0 (off) or more", c.CacheSize)
	case c.AuditFlushInterval <= 0:
		return bad("AuditFlushInterval is %v; set it above zero", c.AuditFlushInterval)
	case c.RotationBatchSize < 1:
		return bad("RotationBatchSize is %d; set it to 1 or more", c.RotationBatchSize)
	case c.Getenv == nil:
		return bad("Getenv is nil; use os.Getenv")
	case c.Logger == nil:
		return bad("Logger is nil; use slog.Default()")
	case c.Now == nil:
		return bad("Now is nil; use time.Now")
	case c.KeyFile != "" && isWithin(c.Dir, c.KeyFile):
		return bad("key file %s is inside the data directory %s, so a copy of the data directory would carry its key; keep the key file elsewhere", c.KeyFile, c.Dir)
	}
	return c.KDF.validate()
}

// isWithin reports whether path lies inside dir, comparing cleaned
// absolute paths without resolving symbolic links.
func isWithin(dir, path string) bool {
	absDir, err1 := filepath.Abs(dir)
	absPath, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(absDir, absPath)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
