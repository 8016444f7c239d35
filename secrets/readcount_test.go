package secrets

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

func TestReadCounterTake(t *testing.T) {
	a := readKey{actor: "executor:a", vault: "v", name: "k", version: 1, outcome: OutcomeOK}
	b := readKey{actor: "executor:b", vault: "v", name: "missing", outcome: OutcomeNotFound}

	tests := []struct {
		name     string
		adds     []readKey
		want     map[readKey]uint64
		wantKeys int // keys with a counter after the take
	}{
		{"first reads", []readKey{a, a, b}, map[readKey]uint64{a: 2, b: 1}, 2},
		{"one key idle", []readKey{a}, map[readKey]uint64{a: 1}, 1},
		{"both idle", nil, nil, 0},
		{"read after retirement", []readKey{b, b, b}, map[readKey]uint64{b: 3}, 1},
	}
	c := newReadCounter()
	for _, tt := range tests {
		for _, k := range tt.adds {
			c.add(k)
		}
		got := c.take()
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: take = %v, want %v", tt.name, got, tt.want)
		}
		if n := c.len(); n != tt.wantKeys {
			t.Errorf("%s: %d keys after take, want %d", tt.name, n, tt.wantKeys)
		}
	}
}

func TestReadCounterAddToRetiredCounter(t *testing.T) {
	k := readKey{actor: "executor:a", vault: "v", name: "k", version: 1, outcome: OutcomeOK}
	c := newReadCounter()
	c.add(k)
	c.take()

	// An add that finds a retired counter in an older snapshot counts on
	// a new one.
	old := c.snapshot.Load()
	c.take()
	if c.len() != 0 {
		t.Fatalf("%d live counters after an idle take, want 0", c.len())
	}
	c.snapshot.Store(old)
	c.add(k)

	if got := c.take(); got[k] != 1 {
		t.Errorf("take after an add to a retired counter = %v, want 1 read of %v", got, k)
	}
}

func TestReadCounterExactUnderConcurrentTakes(t *testing.T) {
	const (
		readers = 4
		reads   = 5000
	)
	keys := []readKey{
		{actor: "executor:a", vault: "v", name: "k", version: 1, outcome: OutcomeOK},
		{actor: "executor:a", vault: "v", name: "k", version: 2, outcome: OutcomeOK},
		{actor: "executor:b", vault: "v", name: "missing", outcome: OutcomeNotFound},
	}
	c := newReadCounter()
	totals := map[readKey]uint64{}
	collect := func() {
		for k, n := range c.take() {
			totals[k] += n
		}
	}

	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() {
			for i := range reads {
				c.add(keys[(r+i)%len(keys)])
			}
		})
	}
	// Takes run while the readers count, and so retire counters that go
	// idle between two takes, with a second taker racing the first.
	var takers sync.WaitGroup
	done := make(chan struct{})
	var mu sync.Mutex
	for range 2 {
		takers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				mu.Lock()
				collect()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(done)
	takers.Wait()
	collect()

	want := map[readKey]uint64{}
	for r := range readers {
		for i := range reads {
			want[keys[(r+i)%len(keys)]]++
		}
	}
	for i, k := range keys {
		if totals[k] != want[k] {
			t.Errorf("key %d counted %d reads, want %d", i, totals[k], want[k])
		}
	}
}

func TestResolveCountsExactUnderConcurrentFlushes(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, func(c *Config) { c.CacheSize = 0 })
	mustCreateVault(t, s, "v")
	mustCreateSecret(t, s, "v", "k", "value")

	const (
		readers = 3
		reads   = 200
	)
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			for range reads {
				if _, err := s.Resolve(ctx, "v", "k", "executor:a"); err != nil {
					t.Errorf("Resolve: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if err := s.FlushAudit(); err != nil {
				t.Errorf("FlushAudit: %v", err)
				return
			}
		}
	})
	wg.Wait()

	entries, err := s.AuditLog(ctx, AuditFilter{Vault: "v"})
	if err != nil {
		t.Fatal(err)
	}
	var got uint64
	for _, e := range entries {
		if e.Action == ActionRead {
			got += e.Count
		}
	}
	if want := uint64(readers * reads); got != want {
		t.Errorf("audit log counts %d reads, want %d", got, want)
	}
}
