package secrets

import (
	"container/list"
	"sync"
)

// cacheKey names one secret in the cache and the read counter.
type cacheKey struct{ vault, name string }

type cacheEntry struct {
	key     cacheKey
	value   Value
	version uint64
}

// valueCache is a bounded LRU cache of decrypted values for Resolve.
//
// Every invalidation bumps generation. A reader that loaded a value from
// the database adds it only if the generation it saw before the load is
// still current, so a value read before a concurrent update is never
// cached after that update's invalidation.
type valueCache struct {
	mu         sync.Mutex
	capacity   int
	entries    map[cacheKey]*list.Element
	order      *list.List // front is most recently used
	generation uint64
}

func newValueCache(capacity int) *valueCache {
	return &valueCache{capacity: capacity, entries: map[cacheKey]*list.Element{}, order: list.New()}
}

func (c *valueCache) get(k cacheKey) (cacheEntry, bool) {
	if c.capacity == 0 {
		return cacheEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[k]
	if !ok {
		return cacheEntry{}, false
	}
	c.order.MoveToFront(el)
	return *el.Value.(*cacheEntry), true
}

// currentGeneration returns the generation to pass to add.
func (c *valueCache) currentGeneration() uint64 {
	if c.capacity == 0 {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.generation
}

func (c *valueCache) add(e cacheEntry, generation uint64) {
	if c.capacity == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if generation != c.generation {
		return
	}
	if el, ok := c.entries[e.key]; ok {
		*el.Value.(*cacheEntry) = e
		c.order.MoveToFront(el)
		return
	}
	// A copy keeps e on the stack for the calls that return early.
	entry := new(cacheEntry)
	*entry = e
	c.entries[e.key] = c.order.PushFront(entry)
	for c.order.Len() > c.capacity {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}

// invalidate drops one secret.
func (c *valueCache) invalidate(vault, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	if el, ok := c.entries[cacheKey{vault, name}]; ok {
		c.order.Remove(el)
		delete(c.entries, cacheKey{vault, name})
	}
}

// invalidateVault drops every secret of a vault.
func (c *valueCache) invalidateVault(vault string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	for k, el := range c.entries {
		if k.vault == vault {
			c.order.Remove(el)
			delete(c.entries, k)
		}
	}
}

// purge drops everything, after a key change.
func (c *valueCache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	clear(c.entries)
	c.order.Init()
}

// len returns the number of cached values.
func (c *valueCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
