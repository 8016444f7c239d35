package webhook

import (
	"container/heap"
	"time"
)

// entry is a job waiting in the scheduler: in the due-time heap until its
// attempt is due, then in its destination's ready queue.
type entry struct {
	id          string
	destination string
	due         time.Time
}

// dueHeap orders entries by due time, earliest first.
type dueHeap []entry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func (h *dueHeap) push(e entry) { heap.Push(h, e) }
func (h *dueHeap) pop() entry   { return heap.Pop(h).(entry) }

// destination is the scheduler's state for one scheme, host and port.
type destination struct {
	key     string
	ready   []entry
	active  int
	breaker breaker
}
