// Package statedb opens the Badger database that holds execvault's runtime
// state (webhook jobs, the event log, schedule state) and makes writes to
// it durable with group commit.
//
// Badger's SyncWrites option flushes the write-ahead log once per
// transaction, in Badger's single writer goroutine, so concurrent writers
// wait for one flush each, one after the other. The state database is
// therefore opened with SyncWrites off, and a writer that needs its
// transaction on disk before it responds calls Syncer.Sync after the commit.
// Callers that arrive while a flush is running share the next one, so one
// flush covers many transactions. Writes whose loss a crash can tolerate,
// such as the record of a finished attempt, skip Sync and reach the disk
// with the next flush.
package statedb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// memTableSize is the size of a Badger memtable, a quarter of Badger's
// default. Flushing a write-ahead log costs time in proportion to its
// mapped size, twice the memtable's: 2.2 ms at the default 64 MiB against
// 0.25 ms at 16 MiB, measured on a virtual machine's disk. Values over Badger's 1 MiB
// value threshold go to the value log, so a job with a 4 MiB body still
// fits a transaction.
const memTableSize = 16 << 20

// ErrInUse is returned by Open when another process has the database
// open.
var ErrInUse = errors.New("another execvault process is using the state database")

// Open opens the state database in dir, creating dir with mode 0700 when
// it is missing, or an in-memory database when dir is empty. SyncWrites is
// off: make a write durable with Syncer.Sync. Badger allows one process per
// directory; a second one gets an error wrapping ErrInUse.
func Open(dir string) (*badger.DB, error) {
	opts := badger.DefaultOptions("").WithInMemory(true)
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create state directory: %w", err)
		}
		opts = badger.DefaultOptions(dir)
	}
	opts = opts.WithSyncWrites(false).WithLogger(nil).WithNumVersionsToKeep(1).
		WithMemTableSize(memTableSize)
	db, err := badger.Open(opts)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("open state database in %s: %w: stop it or use another data directory", dir, ErrInUse)
		}
		return nil, fmt.Errorf("open state database: %w", err)
	}
	return db, nil
}

// Syncer flushes the logs of a Badger database to disk for many waiting
// writers at once. It is safe for concurrent use. The zero value is not usable; call
// NewSyncer.
type Syncer struct {
	dir  string
	noop bool

	// flushFn, when set by a test, replaces flush; syncFile, when set,
	// replaces the package's syncFile.
	flushFn  func() error
	syncFile func(name string) error

	mu      sync.Mutex
	running bool          // a flush is in progress
	gen     uint64        // number of flushes started
	done    uint64        // number of flushes finished
	doneErr error         // error of the last finished flush
	changed chan struct{} // closed and replaced when done changes
}

// NewSyncer returns a Syncer for db. For a database with SyncWrites on, or
// an in-memory one, Sync has nothing to do and returns nil at once.
func NewSyncer(db *badger.DB) *Syncer {
	opts := db.Opts()
	return &Syncer{
		dir:     opts.Dir,
		noop:    opts.SyncWrites || opts.InMemory,
		changed: make(chan struct{}),
	}
}

// Sync returns once every transaction committed before the call is on
// disk. A flush already in progress when Sync is called may have missed
// those transactions, so Sync waits for the one after it, which it shares
// with every caller that arrived meanwhile. It returns the flush's error,
// or the context's error when ctx ends first; the flush goes on for the
// other callers.
func (s *Syncer) Sync(ctx context.Context) error {
	if s.noop {
		return nil
	}
	s.mu.Lock()
	// The flush that covers this caller is the first one started after
	// now: number gen+1 when none is running, gen+1 too when one is
	// running (its number is gen, and it may have started too early).
	target := s.gen + 1
	for s.done < target {
		if !s.running {
			s.running = true
			s.gen++
			s.mu.Unlock()
			flush := s.flush
			if s.flushFn != nil {
				flush = s.flushFn
			}
			err := flush()
			s.mu.Lock()
			s.running = false
			s.done = s.gen
			s.doneErr = err
			close(s.changed)
			s.changed = make(chan struct{})
			continue
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sync state database: %w", ctx.Err())
		}
		s.mu.Lock()
	}
	err := s.doneErr
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("sync state database: %w", err)
	}
	return nil
}

// flush writes the database's logs to disk: the write-ahead log of every
// memtable (*.mem), the current one and any waiting to be written out as a
// table, and the value logs (*.vlog) that hold large values. Badger's
// DB.Sync would cover only the current memtable, and it holds a lock that
// stops every read and write for the length of the flush, so flush syncs
// the files through descriptors of its own instead. Badger writes the logs
// through shared memory mappings, whose dirty pages an fsync of the file
// writes out like any other. The files are synced concurrently, so that the
// file system can commit them together.
func (s *Syncer) flush() error {
	dir, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	entries, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return err
	}
	var names []string
	for _, name := range entries {
		if strings.HasSuffix(name, ".mem") || strings.HasSuffix(name, ".vlog") {
			names = append(names, filepath.Join(s.dir, name))
		}
	}
	syncLog := syncFile
	if s.syncFile != nil {
		syncLog = s.syncFile
	}
	if len(names) == 1 {
		return syncLog(names[0])
	}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { errs[i] = syncLog(name) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// syncFile flushes the file name to disk. A file that no longer exists
// needs no flush: Badger removes a memtable's log after writing it out as
// a table, which it syncs.
func syncFile(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
