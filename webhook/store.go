package webhook

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Key layout. The database is shared with other packages, so every key
// starts with "job/" or "jobidx/".
//
//	job/<id>                                   the job as JSON
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

// errSkipWrite is returned by a store.update callback to leave the job
// unchanged.
var errSkipWrite = errors.New("skip write")

// conflictRetries bounds how often a transaction that lost a write conflict
// is run again. Writers of one job are serialised by a lock, so conflicts
// come only from retention sweeps and are rare.
const conflictRetries = 20

// store keeps jobs in Badger. Each change of a job, with its index entries,
// is one transaction, so a crash never leaves a job without its indexes.
//
// The store also keeps a copy of unfinished jobs in memory, so that the
// changes of a delivery (the attempt's start, its record, the waiters'
// reads) do not decode the job from the database each time. The copy is
// written through: it changes only after the database did, under the
// job's lock. Every write of a job goes through the store, and Badger lets
// one process open the database, so the copy cannot go stale. Jobs beyond
// the cache's bounds are read from the database. The most recently
// finished jobs are kept too, for reads only, because a caller that waits
// for a job usually reads it just after it finished.
type store struct {
	db *badger.DB

	// locks serialise read-modify-write cycles per job id.
	seed  maphash.Seed
	locks [64]sync.Mutex

	cacheMu    sync.Mutex
	cache      map[string]Job // unfinished jobs
	cacheBytes int            // sum of the unfinished jobs' body sizes
	maxJobs    int            // cacheMaxJobs, lower in tests
	maxBytes   int            // cacheMaxBytes, lower in tests
	done       map[string]Job // recently finished jobs, read-only
	doneOrder  [recentDone]string
	doneNext   int
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

func newStore(db *badger.DB) *store {
	return &store{db: db, seed: maphash.MakeSeed(), cache: make(map[string]Job),
		maxJobs: cacheMaxJobs, maxBytes: cacheMaxBytes, done: make(map[string]Job)}
}

// cached returns the in-memory copy of an unfinished job, or with
// finished set, of any job. The caller must not modify its slices.
func (s *store) cached(id string, finished bool) (Job, bool) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	j, ok := s.cache[id]
	if !ok && finished {
		j, ok = s.done[id]
	}
	return j, ok
}

// remember records j as last written to the database: kept while it is
// unfinished and the cache has room, dropped once it is finished. j must
// not be modified afterwards.
func (s *store) remember(j Job) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if old, ok := s.cache[j.ID]; ok {
		s.cacheBytes -= len(old.Body)
		delete(s.cache, j.ID)
	}
	delete(s.done, j.ID)
	if j.Status.Finished() {
		if len(j.Body) <= recentDoneBody {
			if evict := s.doneOrder[s.doneNext]; evict != "" {
				delete(s.done, evict)
			}
			s.doneOrder[s.doneNext] = j.ID
			s.doneNext = (s.doneNext + 1) % recentDone
			s.done[j.ID] = j
		}
		return
	}
	if len(s.cache) >= s.maxJobs || s.cacheBytes+len(j.Body) > s.maxBytes {
		return
	}
	s.cache[j.ID] = j
	s.cacheBytes += len(j.Body)
}

// forget drops the in-memory copy of deleted jobs.
func (s *store) forget(ids []string) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	for _, id := range ids {
		delete(s.done, id)
	}
}

func (s *store) lock(id string) func() {
	m := &s.locks[maphash.String(s.seed, id)%uint64(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// runTxn runs fn in an update transaction and runs it again after a write
// conflict.
func (s *store) runTxn(fn func(txn *badger.Txn) error) error {
	var err error
	for range conflictRetries {
		err = s.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return err
}

func getJob(txn *badger.Txn, id string) (Job, error) {
	item, err := txn.Get(jobKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Job{}, fmt.Errorf("job %q: %w", id, ErrJobNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("read job %q: %w", id, err)
	}
	var j Job
	err = item.Value(func(v []byte) error { return json.Unmarshal(v, &j) })
	if err != nil {
		return Job{}, fmt.Errorf("decode job %q: %w", id, err)
	}
	return j, nil
}

// putJob writes j and moves its index entries from the state of old, which
// is nil for a new job.
func putJob(txn *badger.Txn, old *Job, j Job) error {
	data, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("encode job %q: %w", j.ID, err)
	}
	if err := txn.Set(jobKey(j.ID), data); err != nil {
		return fmt.Errorf("write job %q: %w", j.ID, err)
	}

	if old != nil && old.Status.Finished() {
		if err := txn.Delete(doneKey(old.UpdatedAt, j.ID)); err != nil {
			return fmt.Errorf("write job %q index: %w", j.ID, err)
		}
	}
	var idx error
	if j.Status.Finished() {
		idx = errors.Join(txn.Delete(openKey(j.ID)), txn.Set(doneKey(j.UpdatedAt, j.ID), nil))
	} else {
		idx = txn.Set(openKey(j.ID), nil)
	}
	if old == nil {
		idx = errors.Join(idx, txn.Set(executorKey(j.Executor, j.ID), nil))
	}
	if idx != nil {
		return fmt.Errorf("write job %q index: %w", j.ID, idx)
	}
	return nil
}

func deleteJob(txn *badger.Txn, j Job) error {
	err := errors.Join(
		txn.Delete(jobKey(j.ID)),
		txn.Delete(executorKey(j.Executor, j.ID)),
		txn.Delete(openKey(j.ID)),
		txn.Delete(doneKey(j.UpdatedAt, j.ID)),
	)
	if err != nil {
		return fmt.Errorf("delete job %q: %w", j.ID, err)
	}
	return nil
}

// insert stores j unless a job with its id exists, and returns the stored
// job and whether it was created.
func (s *store) insert(j Job) (Job, bool, error) {
	defer s.lock(j.ID)()

	var stored Job
	created := false
	err := s.runTxn(func(txn *badger.Txn) error {
		existing, err := getJob(txn, j.ID)
		if err == nil {
			stored, created = existing, false
			return nil
		}
		if !errors.Is(err, ErrJobNotFound) {
			return err
		}
		stored, created = j, true
		return putJob(txn, nil, j)
	})
	if err == nil && created {
		s.remember(j.clone())
	}
	return stored, created, err
}

// update applies fn to the stored job in one transaction. fn returns
// errSkipWrite to leave the job as it is; update then returns the unchanged
// job and no error.
func (s *store) update(id string, fn func(*Job) error) (Job, error) {
	defer s.lock(id)()

	var out Job
	written := false
	cachedOld, isCached := s.cached(id, false)
	err := s.runTxn(func(txn *badger.Txn) error {
		written = false
		old := cachedOld
		if !isCached {
			var err error
			if old, err = getJob(txn, id); err != nil {
				return err
			}
		}
		j := old.clone()
		if err := fn(&j); err != nil {
			if errors.Is(err, errSkipWrite) {
				out = old
				if isCached {
					out = old.clone()
				}
				return nil
			}
			return err
		}
		out, written = j, true
		return putJob(txn, &old, j)
	})
	if err == nil && written {
		s.remember(out.clone())
	}
	return out, err
}

func (s *store) get(id string) (Job, error) {
	if j, ok := s.cached(id, true); ok {
		return j.clone(), nil
	}
	var j Job
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		j, err = getJob(txn, id)
		return err
	})
	return j, err
}

// idsWithPrefix returns the part after prefix of every key under it.
func idsWithPrefix(txn *badger.Txn, prefix string) []string {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = []byte(prefix)
	it := txn.NewIterator(opts)
	defer it.Close()

	var ids []string
	for it.Rewind(); it.Valid(); it.Next() {
		ids = append(ids, string(it.Item().Key()[len(prefix):]))
	}
	return ids
}

// list returns the jobs of executor, or of every executor when it is
// empty, with the given status, or any status when it is empty. Jobs are
// ordered by creation time, then id.
func (s *store) list(executor string, status Status) ([]Job, error) {
	var jobs []Job
	err := s.db.View(func(txn *badger.Txn) error {
		var ids []string
		if executor == "" {
			ids = idsWithPrefix(txn, prefixJob)
		} else {
			ids = idsWithPrefix(txn, prefixExecutor+executor+"\x00")
		}
		for _, id := range ids {
			j, err := getJob(txn, id)
			if err != nil {
				return err
			}
			if status == "" || j.Status == status {
				jobs = append(jobs, j)
			}
		}
		return nil
	})
	slices.SortFunc(jobs, func(a, b Job) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return jobs, err
}

// openJobs returns every PENDING or RUNNING job.
func (s *store) openJobs() ([]Job, error) {
	var jobs []Job
	err := s.db.View(func(txn *badger.Txn) error {
		for _, id := range idsWithPrefix(txn, prefixOpen) {
			j, err := getJob(txn, id)
			if err != nil {
				return err
			}
			jobs = append(jobs, j)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		s.remember(j.clone())
	}
	return jobs, nil
}

// deleteBatch bounds the jobs deleted in one transaction, which keeps a
// sweep of many jobs under Badger's transaction size limit.
const deleteBatch = 256

// deleteFinished deletes finished jobs last updated before cutoff and
// returns how many it deleted.
func (s *store) deleteFinished(cutoff time.Time) (int, error) {
	total := 0
	for {
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
		if err != nil || len(keys) == 0 {
			return total, err
		}

		var deleted []string
		err = s.runTxn(func(txn *badger.Txn) error {
			deleted = deleted[:0]
			for _, key := range keys {
				j, err := getJob(txn, string(key[len(prefixDone)+9:]))
				if errors.Is(err, ErrJobNotFound) {
					// An index entry without its job is dropped, so the
					// next scan does not find it again.
					if err := txn.Delete(key); err != nil {
						return fmt.Errorf("delete job index: %w", err)
					}
					continue
				}
				if err != nil {
					return err
				}
				// A retry since the scan makes the job unfinished again.
				if !j.Status.Finished() || !j.UpdatedAt.Before(cutoff) {
					continue
				}
				if err := deleteJob(txn, j); err != nil {
					return err
				}
				deleted = append(deleted, j.ID)
			}
			return nil
		})
		if err == nil {
			s.forget(deleted)
			total += len(deleted)
		}
		if err != nil {
			return total, err
		}
		if len(keys) < deleteBatch {
			return total, nil
		}
	}
}
