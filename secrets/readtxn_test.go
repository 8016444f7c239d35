package secrets

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// newTestReadTxnPool returns a pool of at most max transactions on a
// fresh database, and closes both at the end of the test.
func newTestReadTxnPool(t *testing.T, max int) (*readTxnPool, *badger.DB) {
	t.Helper()
	db := openPoolTestDB(t)
	p := newReadTxnPool(db, max)
	t.Cleanup(p.close)
	return p, db
}

func openPoolTestDB(t *testing.T) *badger.DB {
	t.Helper()
	key := bytes.Repeat([]byte{1}, keySize)
	db, err := badger.Open(badgerOptions(filepath.Join(t.TempDir(), "db"), key, testConfig("x", nil).Logger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestReadTxnPoolReuse(t *testing.T) {
	ringA, ringB := &keyring{}, &keyring{}
	tests := []struct {
		name string
		// between runs after the first transaction went back to the pool.
		between func(p *readTxnPool)
		ring    *keyring
		reused  bool
	}{
		{"nothing changed", func(*readTxnPool) {}, ringA, true},
		{"commit", func(p *readTxnPool) { p.committed() }, ringA, false},
		{"other keyring", func(*readTxnPool) {}, ringB, false},
		{"closed", func(p *readTxnPool) { p.close() }, ringA, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newTestReadTxnPool(t, 2)
			first := p.get(ringA)
			p.put(first)

			tt.between(p)
			second := p.get(tt.ring)
			defer p.put(second)
			if got := second.txn == first.txn; got != tt.reused {
				t.Errorf("second get reused the first transaction = %v, want %v", got, tt.reused)
			}
		})
	}
}

func TestReadTxnPoolStalePutDiscarded(t *testing.T) {
	p, _ := newTestReadTxnPool(t, 2)
	stale := p.get(nil)
	p.committed()
	p.put(stale)

	if n := len(p.idle); n != 0 {
		t.Errorf("pool keeps %d transactions after a stale put, want 0", n)
	}
	// A discarded transaction rejects reads.
	if _, err := stale.txn.Get([]byte("k")); !errors.Is(err, badger.ErrDiscardedTxn) {
		t.Errorf("Get on the stale transaction: error %v, want %v", err, badger.ErrDiscardedTxn)
	}
}

func TestReadTxnPoolBounded(t *testing.T) {
	p, _ := newTestReadTxnPool(t, 2)
	var txns []pooledTxn
	for range 5 {
		txns = append(txns, p.get(nil))
	}
	for _, tx := range txns {
		p.put(tx)
	}
	if n := len(p.idle); n != 2 {
		t.Errorf("pool keeps %d transactions, want its maximum of 2", n)
	}
}

func TestReadTxnPoolSeesCommits(t *testing.T) {
	p, db := newTestReadTxnPool(t, 2)
	key := []byte("k")
	set := func(v string) {
		t.Helper()
		err := db.Update(func(txn *badger.Txn) error { return txn.Set(key, []byte(v)) })
		p.committed()
		if err != nil {
			t.Fatal(err)
		}
	}
	read := func() string {
		t.Helper()
		tx := p.get(nil)
		defer p.put(tx)
		item, err := tx.txn.Get(key)
		if err != nil {
			t.Fatal(err)
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}

	for _, want := range []string{"one", "two", "three"} {
		set(want)
		for range 2 {
			if got := read(); got != want {
				t.Fatalf("read after committing %q = %q, want %q", want, got, want)
			}
		}
	}
}
