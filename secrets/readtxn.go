package secrets

import (
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// readTxnPool reuses Badger read-only transactions between value reads
// while nothing has been committed since they started. Such a transaction
// reads the same data as a new one would. Reusing it saves the handoffs
// to Badger's oracle goroutine that start and end every transaction, which
// took more CPU time than the Get itself in a CPU profile of
// BenchmarkSecretResolveStore (Badger v4.9).
//
// A pooled transaction is used by one goroutine at a time, as Badger
// requires. It carries the commit generation and the keyring that were
// current before it started, and get hands it out only while both are
// still current:
//   - Store.update calls committed after every commit attempt, before the
//     write operation returns, so a read that starts after a write returns
//     always gets a transaction that reads the write.
//   - The keyring is loaded before the transaction starts, as in a
//     one-off read, so every data key its snapshot can name is in the
//     keyring. A transaction is reused only with that same keyring.
//
// committed also discards the idle transactions at once, so a pooled
// transaction never holds back Badger's cleanup of older versions and
// conflict records past the next commit. It is safe for concurrent use.
type readTxnPool struct {
	db         *badger.DB
	generation atomic.Uint64

	mu     sync.Mutex
	idle   []pooledTxn
	max    int
	closed bool
}

// pooledTxn is a read-only transaction with the commit generation and
// keyring that were current before it started.
type pooledTxn struct {
	txn        *badger.Txn
	generation uint64
	ring       *keyring
}

func newReadTxnPool(db *badger.DB, max int) *readTxnPool {
	return &readTxnPool{db: db, max: max}
}

// get returns a read-only transaction that reads every commit made before
// the call and whose data keys are all in ring, which the caller loaded
// first. Return it with put.
func (p *readTxnPool) get(ring *keyring) pooledTxn {
	generation := p.generation.Load()

	p.mu.Lock()
	for len(p.idle) > 0 {
		t := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if t.generation == generation && t.ring == ring {
			p.mu.Unlock()
			return t
		}
		// Only a keyring change leaves an idle transaction of the current
		// generation behind. It is discarded under the lock, which is
		// cheap and rare.
		t.txn.Discard()
	}
	p.mu.Unlock()

	return pooledTxn{txn: p.db.NewTransaction(false), generation: generation, ring: ring}
}

// put keeps t for reuse, or discards it when it is stale, the pool is
// full or the pool is closed.
func (p *readTxnPool) put(t pooledTxn) {
	p.mu.Lock()
	if !p.closed && len(p.idle) < p.max && t.generation == p.generation.Load() {
		p.idle = append(p.idle, t)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	t.txn.Discard()
}

// committed makes every transaction started so far stale. Store.update
// calls it after each commit attempt, successful or not.
func (p *readTxnPool) committed() {
	p.generation.Add(1)
	p.discardIdle()
}

// close discards the idle transactions and makes put discard the rest.
// Call it before closing the database.
func (p *readTxnPool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.discardIdle()
}

func (p *readTxnPool) discardIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, t := range idle {
		t.txn.Discard()
	}
}
