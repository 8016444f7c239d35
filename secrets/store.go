package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// maxConflictRetries bounds how often a transaction is retried after a
// Badger write conflict with a concurrent operation.
const maxConflictRetries = 32

// Store is the secret store of one data directory. It owns a Badger
// database, so only one process may open a directory at a time. Other
// processes use the admin API (NewAdminHandler, DialAdmin). All methods are
// safe for concurrent use. Close releases the directory.
type Store struct {
	cfg     Config
	log     *slog.Logger
	dbDir   string
	hdrPath string
	db      *badger.DB
	seq     *badger.Sequence

	// ring is the unlocked key material. keyMu is held for reading while a
	// value is sealed and committed, and for writing while the data keys
	// change, so that no value is ever sealed with a key being retired.
	ring  atomic.Pointer[keyring]
	keyMu sync.RWMutex

	auditKey []byte
	cache    *valueCache
	reads    *readCounter
	readTxns *readTxnPool

	createdKeyFile string
	// created is true when Open created the store.
	created bool
	// removeOnFailedImport is set by ImportInto, which removes the store
	// when Import fails, so that Import gives no advice on a partial store.
	removeOnFailedImport bool

	closeOnce sync.Once
	closed    atomic.Bool
	// ops counts operations in flight so that Close waits for them.
	ops       sync.WaitGroup
	opsMu     sync.RWMutex
	stop      chan struct{}
	workers   sync.WaitGroup
	rotateNow chan struct{}
	// rotationDone receives a token, without blocking, each time a
	// re-encryption run finishes, and tests wait on it.
	rotationDone chan struct{}
}

// CheckMasterKey checks the master key that cfg selects against the store
// in cfg.Dir. It reads only the store's header, so it works while another
// process has the database open, and it creates nothing. A store that does
// not exist yet passes. Errors wrap ErrWrongKey, ErrNoMasterKey,
// ErrInvalidConfig or ErrCorrupt.
func CheckMasterKey(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	hdr, exists, err := readHeader(headerPath(cfg.Dir))
	if err != nil || !exists {
		return err
	}
	master, _, err := resolveMasterKey(&cfg, false)
	if err != nil {
		return noKeyError(cfg, hdr, err)
	}
	_, err = unlockKeyring(hdr, master)
	if errors.Is(err, ErrWrongKey) {
		return wrongKeyError(cfg, master, err)
	}
	if err != nil {
		return fmt.Errorf("check master key of secrets store %s: %w", cfg.Dir, err)
	}
	return nil
}

// Open opens the store in cfg.Dir, creating it and, when needed, the key
// file. The master key is checked against the stored check value before
// Badger opens, so a wrong key writes nothing and returns an error wrapping
// ErrWrongKey. Other errors wrap ErrInvalidConfig, ErrNoMasterKey or
// ErrCorrupt, or come from the file system and Badger (a directory locked
// by another process, for one).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "secrets")

	hdrPath := headerPath(cfg.Dir)
	dbDir := filepath.Join(cfg.Dir, "secrets")
	hdr, exists, err := readHeader(hdrPath)
	if err != nil {
		return nil, err
	}
	if !exists {
		if _, err := os.Stat(dbDir); err == nil {
			return nil, fmt.Errorf("open secrets store %s: %w: the database exists without %s; restore that file or move the directory away", cfg.Dir, ErrCorrupt, hdrPath)
		}
		if cfg.MustExist {
			return nil, fmt.Errorf("open secrets store: %w in %s", ErrNoStore, cfg.Dir)
		}
	}

	master, createdKeyFile, err := resolveMasterKey(&cfg, !exists)
	if err != nil && exists {
		return nil, noKeyError(cfg, hdr, err)
	}
	if err != nil {
		return nil, err
	}

	var ring *keyring
	if exists {
		ring, err = unlockKeyring(hdr, master)
		if errors.Is(err, ErrWrongKey) {
			return nil, wrongKeyError(cfg, master, err)
		}
		if err != nil {
			return nil, fmt.Errorf("open secrets store %s: %w", cfg.Dir, err)
		}
		removeStaleHeaderTemps(hdrPath, log)
	} else {
		if err := makePrivateDir(cfg.Dir); err != nil {
			return nil, err
		}
		ring, err = newKeyring(master, cfg.KDF, cfg.Now())
		if err != nil {
			return nil, fmt.Errorf("create secrets store %s: %w", cfg.Dir, err)
		}
		if err := writeHeader(hdrPath, ring.hdr); err != nil {
			return nil, fmt.Errorf("create secrets store %s: %w", cfg.Dir, err)
		}
		log.Info("secrets store created", "dir", cfg.Dir, "passphrase", master.IsPassphrase())
	}

	s := &Store{
		cfg:            cfg,
		log:            log,
		dbDir:          dbDir,
		hdrPath:        hdrPath,
		cache:          newValueCache(cfg.CacheSize),
		reads:          newReadCounter(),
		createdKeyFile: createdKeyFile,
		created:        !exists,
		stop:           make(chan struct{}),
		rotateNow:      make(chan struct{}, 1),
		rotationDone:   make(chan struct{}, 1),
	}
	s.ring.Store(ring)
	if s.auditKey, err = deriveKey(ring.storageKey, infoAudit); err != nil {
		return nil, err
	}
	if err := s.openDB(ring); err != nil {
		return nil, err
	}

	s.workers.Add(2)
	go s.auditFlusher()
	go s.rotationWorker()
	if ring.hdr.Rotating {
		s.kickRotation()
	}
	return s, nil
}

// noKeyError returns err, from resolving the master key of the existing
// store described by hdr. When no key is configured for a store created
// with a passphrase, the error asks for the passphrase instead of pointing
// at a key file that the store never had.
func noKeyError(cfg Config, hdr header, err error) error {
	if hdr.KDF == nil || !errors.Is(err, ErrNoMasterKey) {
		return err
	}
	return fmt.Errorf("open secrets store %s: %w: the store was created with a passphrase; set %s to it", cfg.Dir, ErrNoMasterKey, EnvPassphrase)
}

func wrongKeyError(cfg Config, master MasterKey, err error) error {
	detail := strings.TrimPrefix(err.Error(), ErrWrongKey.Error()+": ")
	const current = "the store's current key (the one it was created with, or the last one that 'secret key change-master' set)"
	advice := "set " + EnvMasterKey + " or --key-file to " + current
	switch {
	case errors.Is(err, errCreatedWithKey):
		advice = "unset " + EnvPassphrase + " and set " + EnvMasterKey + " or --key-file to " + current
	case master.IsPassphrase():
		advice = "set " + EnvPassphrase + " to the store's current passphrase, or unset it to use " + EnvMasterKey + " or --key-file"
	}
	return fmt.Errorf("%w for %s: %s (tried %s); %s", ErrWrongKey, cfg.Dir, detail, keySource(cfg), advice)
}

// keySource names where resolveMasterKey takes cfg's master key from.
func keySource(cfg Config) string {
	switch {
	case cfg.Getenv(EnvMasterKey) != "":
		return "the key in " + EnvMasterKey
	case !cfg.Passphrase.IsZero():
		return "the configured passphrase"
	case cfg.Getenv(EnvPassphrase) != "":
		return "the passphrase in " + EnvPassphrase
	default:
		return "the key file " + cfg.KeyFile
	}
}

// removeStaleHeaderTemps deletes temporary header files that a crash
// during writeHeader left behind. It runs only after the key is verified,
// so a wrong key still changes nothing.
func removeStaleHeaderTemps(hdrPath string, log *slog.Logger) {
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(hdrPath), "."+filepath.Base(hdrPath)+".tmp*"))
	for _, path := range stale {
		if err := os.Remove(path); err != nil {
			log.Warn("remove stale header file failed", "path", path, "error", err)
		}
	}
}

// makePrivateDir creates dir with mode 0700 whatever the umask. An existing
// directory keeps its mode.
func makePrivateDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory %s: %w", dir, err)
	}
	return nil
}

// badgerOptions returns the Badger options of a store in dir.
func badgerOptions(dir string, encryptionKey []byte, log *slog.Logger) badger.Options {
	return badger.DefaultOptions(dir).
		WithEncryptionKey(encryptionKey).
		// Encrypted Badger panics without an index cache and needs a
		// block cache. 16 MiB each is plenty for a secrets store.
		WithIndexCacheSize(16 << 20).
		WithBlockCacheSize(16 << 20).
		WithSyncWrites(true).
		WithNumVersionsToKeep(1).
		WithMemTableSize(16 << 20).
		WithValueLogFileSize(64 << 20).
		WithLogger(badgerLogger{log.With("component", "badger")})
}

func (s *Store) openDB(ring *keyring) error {
	if err := makePrivateDir(s.dbDir); err != nil {
		return err
	}
	if err := os.Chmod(s.dbDir, 0o700); err != nil {
		return fmt.Errorf("secure %s: %w", s.dbDir, err)
	}
	key, err := deriveKey(ring.storageKey, infoBadger)
	if err != nil {
		return err
	}
	db, err := badger.Open(badgerOptions(s.dbDir, key, s.log))
	if err != nil {
		return fmt.Errorf("open secrets database %s: %w", s.dbDir, err)
	}
	s.db = db
	// Twice GOMAXPROCS is an estimate of the reads that run at once. Reads
	// beyond it start and discard their own transactions.
	s.readTxns = newReadTxnPool(db, 2*goruntime.GOMAXPROCS(0))
	s.securePermissions()

	seq, err := db.GetSequence(auditSequenceKey, 256)
	if err != nil {
		db.Close()
		return fmt.Errorf("open audit sequence: %w", err)
	}
	s.seq = seq
	return nil
}

// securePermissions sets mode 0600 on every file Badger created. Badger
// creates some files with 0666 less the umask, and the 0700 directory keeps
// them private until this runs at open, at every audit flush and at close.
func (s *Store) securePermissions() {
	_ = filepath.WalkDir(s.dbDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err == nil && info.Mode().Perm() != 0o600 {
			if err := os.Chmod(path, 0o600); err != nil {
				s.log.Warn("set file mode failed", "path", path, "error", err)
			}
		}
		return nil
	})
}

// CreatedKeyFile returns the path of the key file that Open created, or ""
// when it used an existing key. The CLI prints it once.
func (s *Store) CreatedKeyFile() string { return s.createdKeyFile }

// Close stops the background work, flushes pending audit counts, waits for
// operations in flight and closes the database. It is safe to call twice.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.opsMu.Lock()
		s.closed.Store(true)
		s.opsMu.Unlock()
		close(s.stop)
		s.workers.Wait()
		s.ops.Wait()

		s.flushReads()
		s.readTxns.close()
		errs := []error{s.seq.Release(), s.db.Close()}
		s.securePermissions()
		s.cache.purge()
		err = errors.Join(errs...)
		if err != nil {
			err = fmt.Errorf("close secrets store %s: %w", s.cfg.Dir, err)
		}
	})
	return err
}

// remove deletes a closed store that Open created: its database, its
// header and a key file created with it.
func (s *Store) remove() error {
	errs := []error{os.RemoveAll(s.dbDir), os.Remove(s.hdrPath)}
	if s.createdKeyFile != "" {
		errs = append(errs, os.Remove(s.createdKeyFile))
	}
	return errors.Join(errs...)
}

// begin registers an operation, which must call s.ops.Done when it ends.
// It fails once Close has started.
func (s *Store) begin() error {
	s.opsMu.RLock()
	defer s.opsMu.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	s.ops.Add(1)
	return nil
}

// update runs fn in one read-write transaction, retrying on write conflicts.
func (s *Store) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.db.Update(fn)
		s.readTxns.committed()
		if !errors.Is(err, badger.ErrConflict) || attempt == maxConflictRetries {
			return err
		}
	}
}

// now returns the configured clock's time in UTC.
func (s *Store) now() time.Time { return s.cfg.Now().UTC() }

// badgerLogger routes Badger's logs to slog: errors and warnings at warn
// level, the rest dropped, because Badger logs routine compaction at info.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(format string, args ...any) {
	l.log.Warn("badger error", "message", strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (l badgerLogger) Warningf(format string, args ...any) {
	l.log.Warn("badger warning", "message", strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}

// actorKey is the context key of the actor recorded in the audit log.
type actorKey struct{}

// WithActor returns a context whose operations are audited as done by
// actor, such as "cli" or "executor:NAME". Without it the actor is
// "unknown".
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor set by WithActor, or "unknown".
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return cleanActor(a)
	}
	return "unknown"
}

// cleanActor keeps actors printable and short, since they come from callers.
func cleanActor(a string) string {
	a = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(a, "?"))
	if len(a) > MaxNameLength+16 {
		a = a[:MaxNameLength+16]
	}
	return a
}
