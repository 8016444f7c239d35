package webhook

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/execvault/execvault/runtime/statedb"
)

// Key layout. The database is shared with other packages, so every key
// starts with "job/" or "jobidx/".
//
//	job/<id>                                   the job's latest record
//	jobidx/exec/<executor>\x00<id>             one per job, for listing by executor
//	jobidx/open/<id>                           one per PENDING or RUNNING job
//	jobidx/done/<updatedAt ns, 8 bytes BE>/<id> one per finished job, for retention
const (
	prefixJob      = "job/"
	prefixExecutor = "jobidx/exec/"
	prefixOpen     = "jobidx/open/"
	prefixDone     = "jobidx/done/"
)

func jobKey(id string) []byte { return []byte(prefixJob + id) }

func executorKey(executor, id string) []byte {
	return []byte(prefixExecutor + executor + "\x00" + id)
}

func openKey(id string) []byte { return []byte(prefixOpen + id) }

func doneKey(updated time.Time, id string) []byte {
	k := make([]byte, 0, len(prefixDone)+9+len(id))
	k = append(k, prefixDone...)
	k = binary.BigEndian.AppendUint64(k, uint64(updated.UnixNano()))
	k = append(k, '/')
	return append(k, id...)
}

// journalDir is the journal's directory inside the state database's
// directory.
const journalDir = "webhook-journal"

// Record kinds. A record is the kind, the job's version as a uvarint, and
// for recordJob the job in appendJob's form, for recordDelete its id. The
// journal and the job/<id> keys hold the same records.
const (
	recordJob    = 'J'
	recordDelete = 'D'
)

func appendRecord(dst []byte, kind byte, version uint64) []byte {
	dst = append(dst, kind)
	return binary.AppendUvarint(dst, version)
}

// parseRecord splits a record into its kind, version and payload.
func parseRecord(rec []byte) (kind byte, version uint64, payload []byte, err error) {
	if len(rec) == 0 {
		return 0, 0, nil, fmt.Errorf("%w: empty record", errCorruptJob)
	}
	if rec[0] == '{' {
		// Jobs stored as JSON, before records had versions.
		return recordJob, 0, rec, nil
	}
	kind = rec[0]
	if kind != recordJob && kind != recordDelete {
		return 0, 0, nil, fmt.Errorf("%w: unknown record kind %#x", errCorruptJob, kind)
	}
	version, n := binary.Uvarint(rec[1:])
	if n <= 0 {
		return 0, 0, nil, fmt.Errorf("%w: bad record version", errCorruptJob)
	}
	return kind, version, rec[1+n:], nil
}

// decodeRecordJob decodes a recordJob payload, or a JSON job stored before
// records had versions.
func decodeRecordJob(payload []byte) (Job, error) {
	if len(payload) > 0 && payload[0] == '{' {
		var j Job
		err := json.Unmarshal(payload, &j)
		return j, err
	}
	return decodeJob(payload)
}

// errSkipWrite is returned by a store.update callback to leave the job
// unchanged.
var errSkipWrite = errors.New("skip write")

// store keeps jobs in Badger, fronted by a journal.
//
// A change of a job is appended to the journal and kept in memory as
// pending; nothing is written to Badger at that point. A checkpoint later
// writes every pending change to Badger in a few large transactions,
// flushes Badger and drops the journal segments that it covered. Each
// job's record and index entries are written in one transaction, so the
// database never holds a job without its indexes. After a crash, opening
// the store replays the journal on top of Badger: a record whose version
// is newer than the job in Badger wins.
//
// Compared with a Badger transaction per change, this turns the three or
// four changes of a delivered job into one write of its final state, and
// the flush that Enqueue waits for into an append to one file.
//
// Reads look at the pending changes first, then at an in-memory copy of
// unfinished jobs, then at Badger. The copy is written through on every
// change; jobs beyond its bounds are read from Badger. The most recently
// finished jobs are kept too, for reads only, because a caller that waits
// for a job usually reads it just after it finished.
type store struct {
	db      *badger.DB
	journal *statedb.Journal
	syncer  dbSyncer
	clock   Clock
	log     *slog.Logger

	// ids holds every id that Badger may have a job under, so that a
	// new job's id is checked without a read. An id is added before the
	// transaction that writes its job commits. Replacing the filter takes
	// checkpointMu.
	ids atomic.Pointer[idFilter]

	// locks serialise read-modify-write cycles per job id.
	seed  maphash.Seed
	locks [64]sync.Mutex

	mu            sync.Mutex
	closed        bool
	checkpointErr error              // the last checkpoint's error
	failures      int                // checkpoints failed since the last that succeeded
	failingSince  time.Time          // when the first of those failures ended
	lastSeq       uint64             // sequence number of the last record appended
	pending       map[string]*change // changes not yet in Badger
	pendingBytes  int                // sum of the pending records' sizes
	drained       chan struct{}      // closed and replaced after each checkpoint
	cache         map[string]cachedJob
	cacheBytes    int            // sum of the cached jobs' body sizes
	maxJobs       int            // cacheMaxJobs, lower in tests
	maxBytes      int            // cacheMaxBytes, lower in tests
	done          map[string]Job // recently finished jobs, read-only
	doneOrder     [recentDone]string
	doneNext      int

	// checkpointMu lets one checkpoint run at a time.
	checkpointMu sync.Mutex
	kick         chan struct{} // capacity 1: a checkpoint is due
	stop         chan struct{}
	stopped      chan struct{}
	closeOnce    sync.Once
	closeErr     error

	// checkpointJobs and checkpointBytes start a checkpoint when the
	// pending changes reach them; lower in tests.
	checkpointJobs  int
	checkpointBytes int
}

// dbSyncer flushes the state database to disk. It is a *statedb.Syncer,
// which tests replace to make checkpoints fail.
type dbSyncer interface {
	Sync(ctx context.Context) error
}

// change is a job's state that Badger does not have yet, or whose
// journal record a checkpoint has not removed yet. A change is never
// modified after it is stored in store.pending.
type change struct {
	job     Job
	version uint64
	rec     []byte // the record written to the journal and to Badger
	seq     uint64 // the record's journal sequence number
	deleted bool
}

// indexed is the part of a stored job that its index entries depend on.
type indexed struct {
	executor  string
	finished  bool
	updatedAt time.Time
}

func indexOf(j Job) *indexed {
	return &indexed{executor: j.Executor, finished: j.Status.Finished(), updatedAt: j.UpdatedAt}
}

// cachedJob is the latest state of an unfinished job, with its version.
type cachedJob struct {
	job     Job
	version uint64
}

// Bounds of the in-memory copy of unfinished jobs. A backlog larger than
// this, for example behind a paused destination, is read from the
// database as it is delivered.
const (
	cacheMaxJobs  = 4096
	cacheMaxBytes = 32 << 20
)

// recentDone is the number of recently finished jobs kept in memory, each
// with a body of at most recentDoneBody bytes.
const (
	recentDone     = 256
	recentDoneBody = 64 << 10
)

// Checkpoint triggers. A checkpoint starts when this many changes, or
// changes of this many bytes, are pending, and otherwise every
// checkpointInterval while any change is pending. Writers wait when
// pending changes reach pendingLimit times the triggers, which happens
// only when Badger cannot keep up; while checkpoints fail, they are
// refused instead.
//
// After a failed checkpoint, the next one runs after checkpointInterval,
// doubled after each further failure up to maxCheckpointBackoff, whatever
// is pending. A full disk or a failing database recovers only when
// someone acts, so retrying more often would only repeat the error.
const (
	checkpointJobs       = 4096
	checkpointBytes      = 16 << 20
	checkpointInterval   = time.Second
	maxCheckpointBackoff = time.Minute
	pendingLimit         = 8
)

// openStore opens the job store on db, replaying the journal left by an
// earlier process. A nil clock is SystemClock{}, which times the
// checkpoints; a nil logger discards logs.
func openStore(db *badger.DB, clock Clock, logger *slog.Logger) (*store, error) {
	if clock == nil {
		clock = SystemClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir := db.Opts().Dir
	if dir != "" {
		dir = filepath.Join(dir, journalDir)
	}
	j, err := statedb.OpenJournal(dir, logger)
	if err != nil {
		return nil, fmt.Errorf("open job journal: %w", err)
	}
	ids, err := loadIDFilter(db)
	if err != nil {
		_ = j.Close()
		return nil, err
	}
	s := &store{
		db: db, journal: j, syncer: statedb.NewSyncer(db), clock: clock, log: logger,
		seed:    maphash.MakeSeed(),
		pending: make(map[string]*change), drained: make(chan struct{}),
		cache: make(map[string]cachedJob), maxJobs: cacheMaxJobs, maxBytes: cacheMaxBytes,
		done: make(map[string]Job),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}),
		checkpointJobs: checkpointJobs, checkpointBytes: checkpointBytes,
	}
	s.ids.Store(ids)
	if err := s.replay(); err != nil {
		_ = j.Close()
		return nil, err
	}
	go s.runCheckpoints()
	return s, nil
}

// replay loads the journal's records that are newer than Badger's copy as
// pending changes and checkpoints them.
func (s *store) replay() error {
	latest := make(map[string]*change)
	err := s.journal.Replay(func(rec []byte) error {
		kind, version, payload, err := parseRecord(rec)
		if err != nil {
			return err
		}
		c := &change{version: version, deleted: kind == recordDelete}
		if c.deleted {
			c.job.ID = string(payload)
		} else if c.job, err = decodeRecordJob(payload); err != nil {
			return err
		}
		if old := latest[c.job.ID]; old == nil || version > old.version {
			c.rec = slices.Clone(rec)
			latest[c.job.ID] = c
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replay job journal: %w", err)
	}
	for id, c := range latest {
		_, version, err := s.read(id)
		switch {
		case errors.Is(err, ErrJobNotFound):
		case err != nil:
			return fmt.Errorf("replay job journal: %w", err)
		case version >= c.version:
			continue
		}
		// A deletion of a job that Badger lacks stays pending too, so
		// that a job inserted again under its id gets a higher version.
		s.pending[id] = c
		s.pendingBytes += len(c.rec)
	}
	if len(latest) > 0 {
		s.log.Info("webhook job journal replayed", "jobs", len(latest), "newer_than_database", len(s.pending))
	}
	return s.checkpoint()
}

// sync returns once every change made before the call is on disk.
func (s *store) sync(ctx context.Context) error {
	return s.journal.Sync(ctx)
}

// close checkpoints the pending changes and closes the journal, whose
// segments are then empty.
func (s *store) close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
		<-s.stopped
		err := s.checkpoint()
		if jerr := s.journal.Close(); jerr != err {
			// A failed journal fails the checkpoint with the same error.
			err = errors.Join(err, jerr)
		}
		s.closeErr = err
	})
	return s.closeErr
}

// runCheckpoints runs a checkpoint when one is kicked or every
// checkpointInterval while changes are pending, and after a failure when
// its backoff has passed. It logs each of its failures once. Kicks wait
// for the backoff, so that writers do not retry a failing checkpoint at
// their pace.
func (s *store) runCheckpoints() {
	defer close(s.stopped)
	for {
		s.mu.Lock()
		failures := s.failures
		s.mu.Unlock()
		kick := s.kick
		if failures > 0 {
			kick = nil
		}
		timer := s.clock.NewTimer(checkpointDelay(failures))
		select {
		case <-s.stop:
			timer.Stop()
			return
		case <-kick:
			timer.Stop()
		case <-timer.C():
		}
		s.mu.Lock()
		idle := len(s.pending) == 0 && s.failures == 0
		s.mu.Unlock()
		if idle {
			// Nothing to write, and rotating would only add flushes.
			continue
		}
		if err := s.checkpoint(); err != nil {
			if s.journal.Err() != nil {
				// No checkpoint can succeed after the journal failed, and
				// the dispatcher reports the failure through Failed.
				return
			}
			f := s.failure()
			s.log.Error("webhook job checkpoint failed; the journal keeps the jobs", "error", err,
				"failures", f.Failures, "failing_since", f.Since, "pending_changes", f.Pending,
				"retry_in", checkpointDelay(f.Failures))
		}
	}
}

// checkpointDelay returns the time from one checkpoint to the next after
// failures failed checkpoints in a row: checkpointInterval, doubled for
// each failure after the first, up to maxCheckpointBackoff.
func checkpointDelay(failures int) time.Duration {
	d := checkpointInterval
	for i := 1; i < failures && d < maxCheckpointBackoff; i++ {
		d *= 2
	}
	return min(d, maxCheckpointBackoff)
}

// checkpoint writes the pending changes to Badger, flushes Badger and
// removes the journal segments they came from. A checkpoint that succeeds
// after failed ones logs the recovery.
func (s *store) checkpoint() error {
	s.checkpointMu.Lock()
	defer s.checkpointMu.Unlock()

	err := s.writeCheckpoint()
	s.mu.Lock()
	s.checkpointErr = err
	recovered, since := 0, s.failingSince
	switch {
	case err == nil:
		recovered, s.failures = s.failures, 0
	case s.failures == 0:
		s.failures, s.failingSince = 1, s.clock.Now()
	default:
		s.failures++
	}
	// Writers waiting for room wake up after every checkpoint, and see
	// the error of a failed one.
	close(s.drained)
	s.drained = make(chan struct{})
	s.mu.Unlock()
	if recovered > 0 {
		s.log.Info("webhook job checkpoint recovered", "failures", recovered, "failing_since", since)
	}
	return err
}

// failure returns the state of the checkpoints, whose Failures is zero
// while the last one succeeded.
func (s *store) failure() CheckpointFailure {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := CheckpointFailure{Pending: len(s.pending), Dir: s.db.Opts().Dir}
	if s.failures > 0 {
		f.Err, f.Since, f.Failures = s.checkpointErr, s.failingSince, s.failures
	}
	return f
}

// writeCheckpoint does the work of checkpoint, whose lock it needs.
func (s *store) writeCheckpoint() error {
	// Records up to mark were appended before Rotate was called, so they
	// are in segment seg or earlier, which this checkpoint removes. A
	// change with a later record stays pending even once Badger has it:
	// its record may outlive the checkpoint, and a replay must still find
	// its version below the job's next one.
	s.mu.Lock()
	mark := s.lastSeq
	s.mu.Unlock()
	seg, err := s.journal.Rotate()
	if err != nil {
		return err
	}
	s.mu.Lock()
	batch := make([]*change, 0, len(s.pending))
	for _, c := range s.pending {
		batch = append(batch, c)
	}
	s.mu.Unlock()

	if err := s.writeChanges(batch); err != nil {
		return err
	}
	if err := s.syncer.Sync(context.Background()); err != nil {
		return err
	}
	if err := s.journal.Remove(seg); err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range batch {
		if s.pending[c.job.ID] == c && c.seq <= mark {
			delete(s.pending, c.job.ID)
			s.pendingBytes -= len(c.rec)
		}
	}
	return nil
}

// maxTxnEntries and maxTxnBytes bound a checkpoint transaction, well below
// Badger's limits for the state database's memtable size. A change writes
// up to entriesPerChange entries.
const (
	maxTxnEntries    = 2000
	maxTxnBytes      = 1 << 20
	entriesPerChange = 5
)

// writeChanges writes the changes to Badger, each with its index entries
// in one transaction, batching many changes per transaction.
func (s *store) writeChanges(batch []*change) error {
	if s.db.IsClosed() {
		// A transaction on a closed database can wait forever for the
		// commits that the closed database dropped.
		return fmt.Errorf("write jobs: %w: close the dispatcher before the state database", badger.ErrDBClosed)
	}
	// shrinkIDFilter replaces the filter only under checkpointMu, which
	// the caller holds.
	ids := s.ids.Load()
	group := make([]storedChange, 0, min(len(batch), maxTxnEntries/entriesPerChange))
	size := 0
	for _, c := range batch {
		full := entriesPerChange*(len(group)+1) > maxTxnEntries || size+len(c.rec) > maxTxnBytes
		if len(group) > 0 && full {
			if err := s.writeGroup(group); err != nil {
				return err
			}
			group, size = group[:0], 0
		}
		stored := ids.mayContain(c.job.ID)
		if !c.deleted {
			ids.add(c.job.ID)
		}
		group = append(group, storedChange{change: c, stored: stored})
		size += len(c.rec)
	}
	return s.writeGroup(group)
}

// storedChange is a change to write, with whether Badger may hold its job.
type storedChange struct {
	change *change
	stored bool
}

// writeGroup writes the changes of group in one transaction. When Badger
// finds the transaction too big, it writes each half of group in a
// transaction of its own instead.
func (s *store) writeGroup(group []storedChange) error {
	if len(group) == 0 {
		return nil
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	for _, w := range group {
		err := writeChange(txn, w.change, w.stored)
		if errors.Is(err, badger.ErrTxnTooBig) && len(group) > 1 {
			// txn may hold part of this change, so none of it commits.
			txn.Discard()
			half := len(group) / 2
			if err := s.writeGroup(group[:half]); err != nil {
				return err
			}
			return s.writeGroup(group[half:])
		}
		if err != nil {
			return err
		}
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("write jobs: %w", err)
	}
	return nil
}

// writeChange writes c to Badger in txn with its index entries. stored
// is false when Badger has no job under c's id.
func writeChange(txn *badger.Txn, c *change, stored bool) error {
	if c.deleted {
		return deleteJob(txn, c.job.ID, stored)
	}
	return putJob(txn, c.job, c.rec, stored)
}

// storedIndex returns the index state of job id as txn reads it, nil when
// txn has no such job or stored is false. Reading it in the transaction
// that replaces the entries keeps them right whatever happened before,
// such as a checkpoint that failed halfway.
func storedIndex(txn *badger.Txn, id string, stored bool) (*indexed, error) {
	if !stored {
		return nil, nil
	}
	j, _, err := getJob(txn, id)
	if errors.Is(err, ErrJobNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return indexOf(j), nil
}

// putJob writes j's record and moves its index entries from the state
// that txn holds.
func putJob(txn *badger.Txn, j Job, rec []byte, stored bool) error {
	base, err := storedIndex(txn, j.ID, stored)
	if err != nil {
		return err
	}
	if err := txn.Set(jobKey(j.ID), rec); err != nil {
		return fmt.Errorf("write job %q: %w", j.ID, err)
	}
	var idx error
	if base != nil && base.finished {
		idx = txn.Delete(doneKey(base.updatedAt, j.ID))
	}
	switch {
	case j.Status.Finished() && base == nil:
		// A job without a record has no index entries, because both
		// are written in one transaction.
		idx = txn.Set(doneKey(j.UpdatedAt, j.ID), nil)
	case j.Status.Finished():
		idx = errors.Join(idx, txn.Delete(openKey(j.ID)), txn.Set(doneKey(j.UpdatedAt, j.ID), nil))
	default:
		idx = errors.Join(idx, txn.Set(openKey(j.ID), nil))
	}
	if base != nil && base.executor != j.Executor {
		// A job inserted again under the id of a deleted one may belong
		// to another executor.
		idx = errors.Join(idx, txn.Delete(executorKey(base.executor, j.ID)))
	}
	if base == nil || base.executor != j.Executor {
		idx = errors.Join(idx, txn.Set(executorKey(j.Executor, j.ID), nil))
	}
	if idx != nil {
		return fmt.Errorf("write job %q index: %w", j.ID, idx)
	}
	return nil
}

// deleteJob deletes job id and its index entries, if txn has the job.
func deleteJob(txn *badger.Txn, id string, stored bool) error {
	base, err := storedIndex(txn, id, stored)
	if err != nil || base == nil {
		return err
	}
	err = errors.Join(
		txn.Delete(jobKey(id)),
		txn.Delete(executorKey(base.executor, id)),
		txn.Delete(openKey(id)),
		txn.Delete(doneKey(base.updatedAt, id)),
	)
	if err != nil {
		return fmt.Errorf("delete job %q: %w", id, err)
	}
	return nil
}

// jobNotFound is the error for a missing job id, which wraps
// ErrJobNotFound. It formats its message only when asked, because an
// insert expects it for every new job.
type jobNotFound string

func (e jobNotFound) Error() string { return fmt.Sprintf("job %q: %v", string(e), ErrJobNotFound) }

func (e jobNotFound) Unwrap() error { return ErrJobNotFound }

// read returns the job and its version from Badger.
func (s *store) read(id string) (Job, uint64, error) {
	if !s.ids.Load().mayContain(id) {
		return Job{}, 0, jobNotFound(id)
	}
	var j Job
	var version uint64
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		j, version, err = getJob(txn, id)
		return err
	})
	return j, version, err
}

func getJob(txn *badger.Txn, id string) (Job, uint64, error) {
	item, err := txn.Get(jobKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Job{}, 0, jobNotFound(id)
	}
	if err != nil {
		return Job{}, 0, fmt.Errorf("read job %q: %w", id, err)
	}
	var j Job
	var version uint64
	err = item.Value(func(v []byte) error {
		kind, ver, payload, err := parseRecord(v)
		if err != nil {
			return err
		}
		if kind != recordJob {
			return fmt.Errorf("%w: record kind %#x under a job key", errCorruptJob, kind)
		}
		version = ver
		j, err = decodeRecordJob(payload)
		return err
	})
	if err != nil {
		return Job{}, 0, fmt.Errorf("decode job %q: %w", id, err)
	}
	return j, version, nil
}

func (s *store) lock(id string) func() {
	m := &s.locks[maphash.String(s.seed, id)%uint64(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// current returns the latest state of job id and its version. For a
// job whose deletion is pending it returns the deletion's version with
// ErrJobNotFound, so that a job inserted again under the id gets a higher
// one. The caller holds the job's lock.
func (s *store) current(id string) (Job, uint64, error) {
	s.mu.Lock()
	if c := s.pending[id]; c != nil {
		s.mu.Unlock()
		if c.deleted {
			return Job{}, c.version, jobNotFound(id)
		}
		return c.job, c.version, nil
	}
	if c, ok := s.cache[id]; ok {
		s.mu.Unlock()
		return c.job, c.version, nil
	}
	s.mu.Unlock()
	return s.read(id)
}

// commit makes next the job's pending state, one version above version,
// the one that current returned, and appends its record to the journal.
// With deleted set it records the job's deletion. It returns the record's
// journal sequence number. While too many changes wait for a checkpoint,
// it waits too, until ctx ends. The caller holds the job's lock.
func (s *store) commit(ctx context.Context, next Job, version uint64, deleted bool) (uint64, error) {
	kind := byte(recordJob)
	if deleted {
		kind = recordDelete
	}
	rec := appendRecord(make([]byte, 0, 256+len(next.Body)), kind, version+1)
	if deleted {
		rec = append(rec, next.ID...)
	} else {
		rec = appendJob(rec, next)
	}
	if limit := valueLimit(s.db.Opts()); int64(len(rec)) > limit {
		// Badger would reject the record at every checkpoint.
		return 0, fmt.Errorf("job %q: %w: a record of %d bytes is over the state database's limit of %d; use a state directory on disk or a smaller body",
			next.ID, ErrInvalidJob, len(rec), limit)
	}
	c := &change{job: next, version: version + 1, rec: rec, deleted: deleted}

	s.mu.Lock()
	for !s.closed && (len(s.pending) >= pendingLimit*s.checkpointJobs || s.pendingBytes >= pendingLimit*s.checkpointBytes) {
		if s.checkpointErr != nil {
			// The journal keeps taking changes only while checkpoints
			// drain them.
			err := backlogError(next.ID, len(s.pending), s.checkpointErr, s.db.Opts().Dir)
			s.mu.Unlock()
			return 0, err
		}
		// Badger is behind: wait for a checkpoint to drain the changes.
		ch := s.drained
		s.kickCheckpoint()
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, fmt.Errorf("job %q: stopped waiting for the state database to store earlier changes: %w", next.ID, ctx.Err())
		}
		s.mu.Lock()
	}
	if s.closed {
		s.mu.Unlock()
		return 0, fmt.Errorf("job %q: %w", next.ID, ErrClosed)
	}
	// Appending under mu gives the journal the order of the changes, and
	// c its sequence number before anyone can read it.
	seq, err := s.journal.Append(rec)
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	c.seq = seq
	s.lastSeq = max(s.lastSeq, seq)
	if old := s.pending[next.ID]; old != nil {
		s.pendingBytes -= len(old.rec)
	}
	s.pending[next.ID] = c
	s.pendingBytes += len(rec)
	if len(s.pending) >= s.checkpointJobs || s.pendingBytes >= s.checkpointBytes {
		s.kickCheckpoint()
	}
	s.rememberLocked(next, c.version, deleted)
	s.mu.Unlock()
	return seq, nil
}

// backlogError returns the error of a change to job id rejected because
// too many changes wait for checkpoints that fail. dir is the state
// database's directory, empty when it is in memory.
func backlogError(id string, pending int, cause error, dir string) error {
	return fmt.Errorf("job %q: %d changes wait for the state database, and the last checkpoint failed: %w; %s",
		id, pending, cause, checkpointRemedy(dir))
}

// checkpointRemedy returns what to do about failing checkpoints into the
// state database in dir, empty when it is in memory.
func checkpointRemedy(dir string) string {
	remedy := "check the log for the checkpoint's error"
	if dir != "" {
		remedy = "free space in the state directory " + dir + " or " + remedy
	}
	return remedy + "; the checkpoint is retried at least once a minute"
}

// written returns once the latest change of job id is written to the
// journal's file, where it survives the process being killed. A change
// already in Badger needs no wait.
func (s *store) written(ctx context.Context, id string) error {
	s.mu.Lock()
	var seq uint64
	if c := s.pending[id]; c != nil {
		seq = c.seq
	}
	s.mu.Unlock()
	if seq == 0 {
		return nil
	}
	return s.journal.Written(ctx, seq)
}

// valueLimit returns the largest value that Badger stores with opts: the
// size of a value log file, and in memory the value threshold, which Badger
// caps at 1 MiB and statedb.Open leaves at that default.
func valueLimit(opts badger.Options) int64 {
	if opts.InMemory {
		return min(opts.ValueLogFileSize, 1<<20)
	}
	return opts.ValueLogFileSize
}

// kickCheckpoint requests a checkpoint without blocking.
func (s *store) kickCheckpoint() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// rememberLocked updates the in-memory copies after a change of j: an
// unfinished job is kept while the cache has room, a finished one joins
// the recently finished, a deleted one leaves both. The caller holds mu,
// and j must not be modified afterwards.
func (s *store) rememberLocked(j Job, version uint64, deleted bool) {
	if old, ok := s.cache[j.ID]; ok {
		s.cacheBytes -= len(old.job.Body)
		delete(s.cache, j.ID)
	}
	delete(s.done, j.ID)
	switch {
	case deleted:
		return
	case j.Status.Finished():
		if len(j.Body) <= recentDoneBody {
			if evict := s.doneOrder[s.doneNext]; evict != "" {
				delete(s.done, evict)
			}
			s.doneOrder[s.doneNext] = j.ID
			s.doneNext = (s.doneNext + 1) % recentDone
			s.done[j.ID] = j
		}
	case len(s.cache) < s.maxJobs && s.cacheBytes+len(j.Body) <= s.maxBytes:
		s.cache[j.ID] = cachedJob{job: j, version: version}
		s.cacheBytes += len(j.Body)
	}
}

// insert stores j unless a job with its id exists, and returns the stored
// job and whether it was created. A created job is j itself, which the
// store keeps: neither the caller nor anyone it passes j to may modify it.
func (s *store) insert(ctx context.Context, j Job) (Job, bool, error) {
	defer s.lock(j.ID)()

	existing, version, err := s.current(j.ID)
	if err == nil {
		return existing.clone(), false, nil
	}
	if !errors.Is(err, ErrJobNotFound) {
		return Job{}, false, err
	}
	if _, err := s.commit(ctx, j, version, false); err != nil {
		return Job{}, false, err
	}
	return j, true, nil
}

// update applies fn to a copy of the job and stores the result. fn returns
// errSkipWrite to leave the job as it is; update then returns the unchanged
// job and no error. ctx bounds only a wait for the database to catch up.
//
// The copy shares its slices and pointers with the stored job, which
// readers may hold. fn may set fields and append to Attempts, but must not
// modify what the copy's slices and pointers refer to.
func (s *store) update(ctx context.Context, id string, fn func(*Job) error) (Job, error) {
	defer s.lock(id)()

	old, version, err := s.current(id)
	if err != nil {
		return Job{}, err
	}
	j := old
	// An append to Attempts then writes to a new array.
	j.Attempts = slices.Clip(j.Attempts)
	if err := fn(&j); err != nil {
		if errors.Is(err, errSkipWrite) {
			return old.clone(), nil
		}
		return Job{}, err
	}
	if _, err := s.commit(ctx, j, version, false); err != nil {
		return Job{}, err
	}
	return j.clone(), nil
}

// get returns a copy of job id that the caller may modify.
func (s *store) get(id string) (Job, error) {
	j, shared, err := s.peek(id)
	if shared {
		j = j.clone()
	}
	return j, err
}

// peek returns job id, and whether it is the store's own value, which the
// caller must not modify.
func (s *store) peek(id string) (j Job, shared bool, err error) {
	s.mu.Lock()
	if c := s.pending[id]; c != nil {
		s.mu.Unlock()
		if c.deleted {
			return Job{}, false, jobNotFound(id)
		}
		return c.job, true, nil
	}
	if c, ok := s.cache[id]; ok {
		s.mu.Unlock()
		return c.job, true, nil
	}
	if j, ok := s.done[id]; ok {
		s.mu.Unlock()
		return j, true, nil
	}
	s.mu.Unlock()
	j, _, err = s.read(id)
	return j, false, err
}

// loadIDFilter returns a filter of the ids of the jobs in db. It reads
// the job keys twice, without values: for a million jobs, that took 0.9 s
// in a one-off run on the machine of BENCHMARKS.md.
func loadIDFilter(db *badger.DB) (*idFilter, error) {
	var f *idFilter
	err := db.View(func(txn *badger.Txn) error {
		n := 0
		forEachKey(txn, prefixJob, func([]byte) { n++ })
		// Room for as many jobs again before the filter adds a layer.
		f = newIDFilter(2 * n)
		forEachKey(txn, prefixJob, func(id []byte) { f.add(string(id)) })
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load job ids: %w", err)
	}
	return f, nil
}

// shrinkIDFilter loads the id filter again from Badger once it has grown
// past one layer, so that the ids of deleted jobs no longer take room or
// cost reads. It holds checkpointMu, under which no job key changes, so
// the new filter has every id that Badger holds.
func (s *store) shrinkIDFilter() error {
	if len(*s.ids.Load().layers.Load()) == 1 {
		return nil
	}
	s.checkpointMu.Lock()
	defer s.checkpointMu.Unlock()
	f, err := loadIDFilter(s.db)
	if err != nil {
		return err
	}
	s.ids.Store(f)
	return nil
}

// forEachKey calls fn with the part after prefix of every key under it.
// The bytes are valid during the call only.
func forEachKey(txn *badger.Txn, prefix string, fn func([]byte)) {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = []byte(prefix)
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		fn(it.Item().Key()[len(prefix):])
	}
}

// idsWithPrefix returns the part after prefix of every key under it.
func idsWithPrefix(txn *badger.Txn, prefix string) []string {
	var ids []string
	forEachKey(txn, prefix, func(id []byte) { ids = append(ids, string(id)) })
	return ids
}

// scan returns the jobs that match keep, from the ids under prefix in
// Badger and from the pending changes, which take precedence. The pending
// changes are taken first: one checkpointed after that is in Badger by
// the time the scan reads it.
func (s *store) scan(prefix string, keep func(Job) bool) ([]Job, error) {
	s.mu.Lock()
	overlay := make(map[string]*change, len(s.pending))
	for id, c := range s.pending {
		overlay[id] = c
	}
	s.mu.Unlock()

	var jobs []Job
	err := s.db.View(func(txn *badger.Txn) error {
		for _, id := range idsWithPrefix(txn, prefix) {
			if _, ok := overlay[id]; ok {
				continue
			}
			j, _, err := getJob(txn, id)
			if errors.Is(err, ErrJobNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if keep(j) {
				jobs = append(jobs, j)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, c := range overlay {
		if !c.deleted && keep(c.job) {
			jobs = append(jobs, c.job.clone())
		}
	}
	slices.SortFunc(jobs, func(a, b Job) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return jobs, nil
}

// list returns the jobs of executor, or of every executor when it is
// empty, with the given status, or any status when it is empty. Jobs are
// ordered by creation time, then id.
func (s *store) list(executor string, status Status) ([]Job, error) {
	prefix := prefixJob
	if executor != "" {
		prefix = prefixExecutor + executor + "\x00"
	}
	return s.scan(prefix, func(j Job) bool {
		return (executor == "" || j.Executor == executor) && (status == "" || j.Status == status)
	})
}

// executors returns the sorted names of the executors that have jobs, from
// the pending changes and the executor index. The index is read by keys
// only, with one seek per executor, so the cost does not grow with the
// number of jobs per executor. A job deleted since the last checkpoint
// may still count.
func (s *store) executors() ([]string, error) {
	names := make(map[string]bool)
	s.mu.Lock()
	for _, c := range s.pending {
		if !c.deleted {
			names[c.job.Executor] = true
		}
	}
	s.mu.Unlock()

	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte(prefixExecutor)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); {
			rest := it.Item().Key()[len(prefixExecutor):]
			name, _, _ := strings.Cut(string(rest), "\x00")
			names[name] = true
			// Executor names hold no NUL, so "\x01" after the name sorts
			// after every job of this executor and before the next name.
			it.Seek([]byte(prefixExecutor + name + "\x01"))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(names)), nil
}

// openJobs returns every PENDING or RUNNING job, ordered by creation
// time.
func (s *store) openJobs() ([]Job, error) {
	return s.scan(prefixOpen, func(j Job) bool { return !j.Status.Finished() })
}

// deleteBatch bounds the jobs deleted in one round of deleteFinished.
const deleteBatch = 256

// deleteFinished deletes finished jobs last updated before cutoff and
// returns how many it deleted. It then shrinks the id filter if it grew.
func (s *store) deleteFinished(cutoff time.Time) (int, error) {
	total := 0
	for {
		// Badger's done index lists every finished job once the pending
		// changes are checkpointed, and the deletions of the last round
		// with them.
		if err := s.checkpoint(); err != nil {
			return total, err
		}
		var keys [][]byte
		err := s.db.View(func(txn *badger.Txn) error {
			opts := badger.DefaultIteratorOptions
			opts.PrefetchValues = false
			opts.Prefix = []byte(prefixDone)
			it := txn.NewIterator(opts)
			defer it.Close()

			end := doneKey(cutoff, "")
			for it.Rewind(); it.Valid() && len(keys) < deleteBatch; it.Next() {
				key := it.Item().KeyCopy(nil)
				if string(key) >= string(end) {
					break
				}
				keys = append(keys, key)
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		if len(keys) == 0 {
			return total, s.shrinkIDFilter()
		}

		for _, key := range keys {
			deleted, err := s.deleteIfFinished(key, cutoff)
			if err != nil {
				return total, err
			}
			if deleted {
				total++
			}
		}
		if len(keys) < deleteBatch {
			if err := s.checkpoint(); err != nil {
				return total, err
			}
			return total, s.shrinkIDFilter()
		}
	}
}

// deleteIfFinished deletes the job of a done index key when it is still
// finished and last updated before cutoff.
func (s *store) deleteIfFinished(key []byte, cutoff time.Time) (bool, error) {
	id := string(key[len(prefixDone)+9:])
	defer s.lock(id)()
	j, version, err := s.current(id)
	if errors.Is(err, ErrJobNotFound) {
		// An index entry without its job is dropped, so the next scan
		// does not find it again.
		err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(key) })
		if err != nil {
			return false, fmt.Errorf("delete job index: %w", err)
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// A retry since the scan makes the job unfinished again.
	if !j.Status.Finished() || !j.UpdatedAt.Before(cutoff) {
		return false, nil
	}
	_, err = s.commit(context.Background(), j, version, true)
	return err == nil, err
}
