package webhook

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
)

// idFilter is a Bloom filter of job ids, safe for concurrent use. It
// reports whether an id may have been added. False means the id was never
// added. True is also returned for about 1% of the ids never added, per
// layer of the filter.
//
// The filter grows by layers. Once a layer holds as many ids as it was
// sized for, adds go to a new layer of twice the capacity, which costs
// 1.2 bytes per id of capacity. Ids are never removed: the store replaces
// a filter that has grown with one loaded from the database.
type idFilter struct {
	seed   maphash.Seed
	layers atomic.Pointer[[]*filterLayer]
	grow   sync.Mutex // serialises adding a layer
}

// filterLayer is one fixed-size Bloom filter.
type filterLayer struct {
	bits     []atomic.Uint64
	capacity int64
	count    atomic.Int64
}

// Bloom filter parameters for 1% false positives: 9.6 bits per id and 7
// probes, the optimum for that rate (m/n = -ln p / ln² 2, k = m/n · ln 2).
const (
	filterBitsPerID = 9.6
	filterProbes    = 7
	filterMinIDs    = 1 << 16
)

// newIDFilter returns an empty filter sized for n ids, and for at least
// filterMinIDs.
func newIDFilter(n int) *idFilter {
	f := &idFilter{seed: maphash.MakeSeed()}
	layers := []*filterLayer{newFilterLayer(int64(max(n, filterMinIDs)))}
	f.layers.Store(&layers)
	return f
}

func newFilterLayer(capacity int64) *filterLayer {
	words := int64(math.Ceil(float64(capacity)*filterBitsPerID/64)) + 1
	return &filterLayer{bits: make([]atomic.Uint64, words), capacity: capacity}
}

// probes returns the two hashes from which a layer derives its probe
// positions (double hashing).
func (f *idFilter) probes(id string) (uint64, uint64) {
	h := maphash.String(f.seed, id)
	// The second hash is odd, so that the probes of a layer whose size
	// is a power of two still differ. Its bits come from the first hash
	// mixed once more.
	h2 := (h>>32 | h<<32) * 0x9e3779b97f4a7c15
	return h, h2 | 1
}

func (l *filterLayer) has(h1, h2 uint64) bool {
	n := uint64(len(l.bits)) * 64
	for i := range uint64(filterProbes) {
		bit := (h1 + i*h2) % n
		if l.bits[bit/64].Load()&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

func (l *filterLayer) set(h1, h2 uint64) {
	n := uint64(len(l.bits)) * 64
	for i := range uint64(filterProbes) {
		bit := (h1 + i*h2) % n
		l.bits[bit/64].Or(1 << (bit % 64))
	}
}

// mayContain reports whether id may have been added.
func (f *idFilter) mayContain(id string) bool {
	h1, h2 := f.probes(id)
	for _, l := range *f.layers.Load() {
		if l.has(h1, h2) {
			return true
		}
	}
	return false
}

// add adds id to the filter. A concurrent mayContain of id may return
// false until add returns, and every later one returns true.
func (f *idFilter) add(id string) {
	h1, h2 := f.probes(id)
	layers := *f.layers.Load()
	for _, l := range layers {
		if l.has(h1, h2) {
			return
		}
	}
	last := layers[len(layers)-1]
	if last.count.Add(1) > last.capacity {
		last = f.addLayer(last)
	}
	last.set(h1, h2)
}

// addLayer appends a layer of twice full's capacity, unless another call
// has already done so, and returns the last layer.
func (f *idFilter) addLayer(full *filterLayer) *filterLayer {
	f.grow.Lock()
	defer f.grow.Unlock()
	layers := *f.layers.Load()
	if last := layers[len(layers)-1]; last != full {
		last.count.Add(1)
		return last
	}
	next := newFilterLayer(full.capacity * 2)
	next.count.Store(1)
	grown := append(layers[:len(layers):len(layers)], next)
	f.layers.Store(&grown)
	return next
}
