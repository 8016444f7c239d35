package triggers

import (
	"bytes"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// openBadger opens a Badger database in dir with SyncWrites off, as
// statedb.Open does, and small tables, so tests start fast.
func openBadger(t testing.TB, dir string) *badger.DB {
	t.Helper()
	opts := badger.DefaultOptions(dir).
		WithSyncWrites(false).
		WithLogger(nil).
		WithMemTableSize(16 << 20).
		WithValueLogFileSize(16 << 20).
		WithNumCompactors(2)
	db, err := badger.Open(opts)
	if err != nil {
		t.Fatalf("open badger in %s: %v", dir, err)
	}
	return db
}

// allKeys returns every key in db.
func allKeys(t *testing.T, db *badger.DB) []string {
	t.Helper()
	var keys []string
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, string(it.Item().KeyCopy(nil)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func assertKeyPrefixes(t *testing.T, db *badger.DB, prefixes ...string) {
	t.Helper()
	for _, key := range allKeys(t, db) {
		ok := false
		for _, p := range prefixes {
			if bytes.HasPrefix([]byte(key), []byte(p)) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("key %q is outside prefixes %q", key, prefixes)
		}
	}
}
