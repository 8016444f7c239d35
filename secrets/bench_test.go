package secrets

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// benchValueSize is the size of the benchmark value, in bytes: a typical
// API token.
const benchValueSize = 64

func benchStore(b *testing.B, cacheSize int) *Store {
	b.Helper()
	cfg := testConfig(filepath.Join(b.TempDir(), "data"), nil)
	cfg.CacheSize = cacheSize
	s, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	if _, err := s.CreateVault(ctx, "api-keys"); err != nil {
		b.Fatal(err)
	}
	if _, err := s.CreateSecret(ctx, "api-keys", "token", NewValue(bytes.Repeat([]byte("t"), benchValueSize))); err != nil {
		b.Fatal(err)
	}
	return s
}

func benchResolve(b *testing.B, s *Store) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		v, err := s.Resolve(ctx, "api-keys", "token", "executor:bench")
		if err != nil || v.Len() != benchValueSize {
			b.Fatalf("Resolve = len %d, %v", v.Len(), err)
		}
	}
}

// BenchmarkSecretResolveCached measures Resolve served from the cache.
func BenchmarkSecretResolveCached(b *testing.B) {
	benchResolve(b, benchStore(b, DefaultCacheSize))
}

// BenchmarkSecretResolveStore measures Resolve with the cache off: a Badger
// read transaction, the record decode and the decryption.
func BenchmarkSecretResolveStore(b *testing.B) {
	benchResolve(b, benchStore(b, 0))
}

// BenchmarkParallelSecretResolveStore measures the uncached Resolve from
// GOMAXPROCS goroutines at once, which share the read counter and the pool
// of read transactions.
func BenchmarkParallelSecretResolveStore(b *testing.B) {
	s := benchStore(b, 0)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			v, err := s.Resolve(ctx, "api-keys", "token", "executor:bench")
			if err != nil || v.Len() != benchValueSize {
				b.Errorf("Resolve = len %d, %v", v.Len(), err)
				return
			}
		}
	})
}

// BenchmarkBadgerGetRaw measures one Badger Get of a value of the same size
// with the store's Badger options, as the floor for the uncached Resolve.
// Each read runs in its own transaction, as a plain Badger reader does.
func BenchmarkBadgerGetRaw(b *testing.B) {
	db, k := openRawBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		err := db.View(func(txn *badger.Txn) error { return benchGet(txn, k) })
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBadgerGetRawInTxn is BenchmarkBadgerGetRaw with every Get in one
// read transaction. The uncached Resolve reuses read transactions between
// commits, so this is the tighter floor for it.
func BenchmarkBadgerGetRawInTxn(b *testing.B) {
	db, k := openRawBench(b)
	txn := db.NewTransaction(false)
	defer txn.Discard()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := benchGet(txn, k); err != nil {
			b.Fatal(err)
		}
	}
}

// openRawBench opens a Badger database with the store's options and one
// value of benchValueSize bytes, and returns it with the value's key.
func openRawBench(b *testing.B) (*badger.DB, []byte) {
	key := bytes.Repeat([]byte{1}, keySize)
	db, err := badger.Open(badgerOptions(filepath.Join(b.TempDir(), "raw"), key, testConfig("x", nil).Logger))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	k := versionKey("api-keys", "token", 1)
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set(k, bytes.Repeat([]byte("t"), benchValueSize)) }); err != nil {
		b.Fatal(err)
	}
	return db, k
}

func benchGet(txn *badger.Txn, k []byte) error {
	item, err := txn.Get(k)
	if err != nil {
		return err
	}
	_, err = item.ValueCopy(nil)
	return err
}

// BenchmarkValueOpen measures the decryption alone (XChaCha20-Poly1305 of
// a benchValueSize value), the part of the uncached Resolve that a raw Get
// does not pay.
func BenchmarkValueOpen(b *testing.B) {
	ring, err := newKeyring(MasterKey{key: bytes.Repeat([]byte{1}, MasterKeySize)}, DefaultKDFParams(), time.Unix(0, 0))
	if err != nil {
		b.Fatal(err)
	}
	created := time.Unix(1700000000, 0)
	rec, err := sealVersion(ring, "api-keys", "token", 1, NewValue(bytes.Repeat([]byte("t"), benchValueSize)), created)
	if err != nil {
		b.Fatal(err)
	}

	b.ReportAllocs()
	for b.Loop() {
		if _, err := openVersion(ring, "api-keys", "token", 1, rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeSecretRecord measures the decode of the record that the
// uncached Resolve reads, with a benchValueSize value in its head.
func BenchmarkDecodeSecretRecord(b *testing.B) {
	created := time.Unix(1700000000, 0)
	head := versionRecord{Created: created, DataKey: 1, Sealed: make([]byte, nonceSize+benchValueSize+tagSize)}
	raw := secretRecord{Created: created, Updated: created, Current: 1, Oldest: 1, Head: head}.encode()

	b.ReportAllocs()
	for b.Loop() {
		rec, err := decodeSecretRecord(raw)
		if err != nil || rec.Current != 1 {
			b.Fatalf("decodeSecretRecord = version %d, %v", rec.Current, err)
		}
	}
}

// BenchmarkCheckNames measures the name check that every Resolve runs on
// its vault and secret names.
func BenchmarkCheckNames(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := checkNames("api-keys", "STRIPE_API_TOKEN"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadCounterAdd measures counting a read of a key already
// counted, as every Resolve does, from one goroutine and from GOMAXPROCS
// goroutines at once.
func BenchmarkReadCounterAdd(b *testing.B) {
	key := readKey{actor: "executor:bench", vault: "api-keys", name: "token", version: 1, outcome: OutcomeOK}
	b.Run("serial", func(b *testing.B) {
		c := newReadCounter()
		b.ReportAllocs()
		for b.Loop() {
			c.add(key)
		}
		if got := c.take()[key]; got != uint64(b.N) {
			b.Fatalf("counted %d reads, want %d", got, b.N)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		c := newReadCounter()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.add(key)
			}
		})
		if got := c.take()[key]; got != uint64(b.N) {
			b.Fatalf("counted %d reads, want %d", got, b.N)
		}
	})
}
