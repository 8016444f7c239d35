package runtime

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// cappedAllocator backs one instance's linear memory and refuses to grow
// it past a byte limit. wazero applies its own memory limit per runtime,
// but this one is chosen per instance, so executors in one runtime can have
// different caps without compiling their modules twice.
type cappedAllocator struct {
	limit uint64
	// hit is set once a grow was refused, so a failure can be reported as
	// the memory limit rather than as whatever the guest did next.
	hit atomic.Bool
}

func (a *cappedAllocator) Allocate(capacity, max uint64) experimental.LinearMemory {
	if max > a.limit {
		max = a.limit
	}
	if capacity > max {
		capacity = max
	}
	return &cappedMemory{alloc: a, max: max, buf: make([]byte, 0, capacity)}
}

type cappedMemory struct {
	alloc *cappedAllocator
	max   uint64
	buf   []byte
}

func (m *cappedMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		m.alloc.hit.Store(true)
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}

	// Grow geometrically so that a guest growing page by page does not
	// copy its whole memory on every step.
	newCap := uint64(cap(m.buf)) * 2
	if newCap < size {
		newCap = size
	}
	if newCap > m.max {
		newCap = m.max
	}
	grown := make([]byte, size, newCap)
	copy(grown, m.buf)
	m.buf = grown
	return m.buf
}

func (m *cappedMemory) Free() { m.buf = nil }
