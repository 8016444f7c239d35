//go:build wasip1

package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// The engine collects garbage between firings instead of leaving it to the
// pacer. Under wasip1 the Go runtime has one thread and the host calls in
// only for short firings, so a cycle the pacer starts makes progress only
// through allocation assists. It stays open across hundreds of firings,
// each of which then pays for write barriers and marking. Measured with
// plugins/tsbuild's wazero harness (no deadline checks) on a 2-core AMD EPYC
// VM, collecting after every 4 MiB allocated cut a sync-to-external-crm
// firing from about 54 to 44 µs of CPU time. Linear memory after 24,000
// firings grew from 16.3 to 17.5 MiB.
//
// NOTE: the firing that runs a collection takes about 3 ms longer in that
// harness, once per 4 MiB allocated. A bundle that keeps a large heap alive
// makes that pause longer, and a call timeout below it fails the firing.
const (
	// gcPercent is the GOGC value of the engine. It only matters when
	// firings allocate faster than the collections between them free. For
	// the engine's small live heap the pacer's goal is 8 MiB, the 4 MiB
	// minimum heap scaled by 200%, which is above what the collections
	// between firings let the heap reach.
	gcPercent = 200

	// collectAfterBytes is how many bytes the engine allocates between
	// two collections between firings.
	collectAfterBytes = 4 << 20

	// checkEveryFirings is how often collector.betweenFirings reads the
	// allocation counter. One read cost about 2.5 µs in the harness above.
	checkEveryFirings = 16
)

// allocsMetric is the runtime/metrics name of the total bytes allocated.
const allocsMetric = "/gc/heap/allocs:bytes"

// collector runs a full collection between firings once enough has been
// allocated since the last one. It is not safe for concurrent use, which
// matches the single-threaded guest.
type collector struct {
	firings    int
	sample     [1]metrics.Sample
	lastAllocs uint64
}

func newCollector() *collector {
	debug.SetGCPercent(gcPercent)
	c := &collector{}
	c.sample[0].Name = allocsMetric
	return c
}

// collect runs a full collection now and restarts the count.
func (c *collector) collect() {
	runtime.GC()
	metrics.Read(c.sample[:])
	c.lastAllocs = c.allocs()
	c.firings = 0
}

// betweenFirings counts a firing and collects when collectAfterBytes have
// been allocated since the last collection. execvault_fire calls it before
// the firing starts, when the previous result has been read.
func (c *collector) betweenFirings() {
	c.firings++
	if c.firings < checkEveryFirings {
		return
	}
	c.firings = 0
	metrics.Read(c.sample[:])
	if c.allocs()-c.lastAllocs >= collectAfterBytes {
		c.collect()
	}
}

func (c *collector) allocs() uint64 {
	if c.sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return c.sample[0].Value.Uint64()
}
