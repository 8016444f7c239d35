package secrets

import (
	"cmp"
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
// A key keeps its counter across flushes, so counting a key seen before
// takes no lock. take empties each counter with a compare-and-swap, so
// every counted read is returned by exactly one take. A counter that take
// finds at zero has been idle for a whole flush interval, so take retires
// it: it sets retiredBit and removes the counter from the map. An add that
// reaches a retired counter retries on a new one. The map thus contains
// only the keys read in the last two flush intervals.
type readCounter struct {
	// counts maps readKey to *readCount.
	counts sync.Map
}

// retiredBit marks a readCount that take has removed from use.
const retiredBit = 1 << 63

// readCount is the number of reads of one key since the last take, with
// retiredBit set once take has retired it.
type readCount struct{ n atomic.Uint64 }

func newReadCounter() *readCounter { return &readCounter{} }

// add counts one read of k.
func (c *readCounter) add(k readKey) {
	for {
		v, ok := c.counts.Load(k)
		if !ok {
			v, _ = c.counts.LoadOrStore(k, new(readCount))
		}
		count := v.(*readCount)
		if count.n.Add(1)&retiredBit == 0 {
			return
		}
		// take retired the counter after the load and may not have
		// removed it yet, so remove it here before retrying.
		c.counts.CompareAndDelete(k, count)
	}
}

// take returns the reads counted since the previous take, by key, or nil
// when there were none.
func (c *readCounter) take() map[readKey]uint64 {
	var counts map[readKey]uint64
	c.counts.Range(func(k, v any) bool {
		count := v.(*readCount)
		for {
			n := count.n.Load()
			switch {
			case n&retiredBit != 0:
				c.counts.CompareAndDelete(k, count)
			case n == 0:
				if !count.n.CompareAndSwap(0, retiredBit) {
					continue
				}
				c.counts.CompareAndDelete(k, count)
			default:
				if !count.n.CompareAndSwap(n, 0) {
					continue
				}
				if counts == nil {
					counts = map[readKey]uint64{}
				}
				counts[k.(readKey)] += n
			}
			return true
		}
	})
	return counts
}

// len returns the number of keys with a counter, retired ones included
// until they are removed.
func (c *readCounter) len() int {
	n := 0
	c.counts.Range(func(any, any) bool {
		n++
		return true
	})
	return n
}
