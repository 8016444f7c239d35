package secrets

import (
	"cmp"
	"maps"
	"sync"
	"sync/atomic"
)

// readKey identifies one aggregated audit line.
type readKey struct {
	actor   string
	vault   string
	name    string
	version uint64
	outcome string
}

func compareReadKeys(a, b readKey) int {
	return cmp.Or(cmp.Compare(a.actor, b.actor), cmp.Compare(a.vault, b.vault), cmp.Compare(a.name, b.name),
		cmp.Compare(a.version, b.version), cmp.Compare(a.outcome, b.outcome))
}

// readCounter counts the Resolve reads that succeeded or found no secret
// between flushes. The hot path pays for a map lookup and an atomic add
// instead of a disk write, and a loop over a missing secret cannot flood
// the log. It is safe for concurrent use.
//
// A key keeps its counter across flushes. Counting a key seen before looks
// it up in an immutable snapshot map without a lock. New keys go to a
// map under mu, which is copied to a new snapshot once its misses add up
// to its size, so the copies cost O(1) per new key over time.
//
// take empties each counter with a compare-and-swap, so every counted read
// is returned by exactly one take. A counter that take finds at zero has
// been idle for a whole flush interval, so take retires it: it sets
// retiredBit and removes the counter from both maps. An add that reaches a
// retired counter through an older snapshot counts again under mu. The
// maps thus contain only the keys read in the last two flush intervals.
type readCounter struct {
	// snapshot is an immutable copy of counts, read without a lock.
	snapshot atomic.Pointer[map[readKey]*readCount]

	mu sync.Mutex
	// counts contains every counter in use, and never a retired one.
	counts map[readKey]*readCount
	// misses is the number of adds that found no live counter in the
	// snapshot since it was last copied.
	misses int
}

// retiredBit marks a readCount that take has removed from use.
const retiredBit = 1 << 63

// readCount is the number of reads of one key since the last take, with
// retiredBit set once take has retired it.
type readCount struct{ n atomic.Uint64 }

func newReadCounter() *readCounter {
	return &readCounter{counts: map[readKey]*readCount{}}
}

// add counts one read of k.
func (c *readCounter) add(k readKey) {
	if snapshot := c.snapshot.Load(); snapshot != nil {
		if count := (*snapshot)[k]; count != nil && count.n.Add(1)&retiredBit == 0 {
			return
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	count := c.counts[k]
	if count == nil {
		count = new(readCount)
		c.counts[k] = count
	}
	// Retiring takes mu, so a counter in counts is live here.
	count.n.Add(1)
	c.misses++
	if c.misses >= len(c.counts) {
		c.copySnapshot()
	}
}

// take returns the reads counted since the previous take, by key, or nil
// when there were none.
func (c *readCounter) take() map[readKey]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()

	var counts map[readKey]uint64
	retired := false
	for k, count := range c.counts {
		for {
			n := count.n.Load()
			if n == 0 {
				if !count.n.CompareAndSwap(0, retiredBit) {
					continue
				}
				delete(c.counts, k)
				retired = true
				break
			}
			if !count.n.CompareAndSwap(n, 0) {
				continue
			}
			if counts == nil {
				counts = map[readKey]uint64{}
			}
			counts[k] = n
			break
		}
	}
	if retired {
		c.copySnapshot()
	}
	return counts
}

// copySnapshot replaces the snapshot with a copy of counts. The caller
// holds mu.
func (c *readCounter) copySnapshot() {
	snapshot := maps.Clone(c.counts)
	c.snapshot.Store(&snapshot)
	c.misses = 0
}

// len returns the number of live counters.
func (c *readCounter) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.counts)
}
