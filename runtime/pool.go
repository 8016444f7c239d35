package runtime

import (
	"context"
	"sync"
)

// pool holds the instances of one plugin module. An instance is not safe
// for concurrent calls, so each call takes one out and puts it back.
// Instances are created lazily up to max; one that failed is closed and
// replaced by a fresh one on a later call.
type pool struct {
	newInstance func(ctx context.Context) (*instance, error)
	slots       chan struct{}

	mu     sync.Mutex
	idle   []*instance
	closed bool
}

func newPool(max int, newInstance func(ctx context.Context) (*instance, error)) *pool {
	return &pool{newInstance: newInstance, slots: make(chan struct{}, max)}
}

// get returns an idle instance or creates one, waiting while max instances
// are in use.
func (p *pool) get(ctx context.Context) (*instance, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, ErrClosed
	}
	if n := len(p.idle); n > 0 {
		in := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return in, nil
	}
	p.mu.Unlock()

	in, err := p.newInstance(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return in, nil
}

// put returns a healthy instance to the pool.
func (p *pool) put(in *instance) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = in.mod.Close(context.Background())
		<-p.slots
		return
	}
	p.idle = append(p.idle, in)
	p.mu.Unlock()
	<-p.slots
}

// seed adds an instance created outside get, such as the one used to read
// the manifest, without taking a slot.
func (p *pool) seed(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) < cap(p.slots) {
		p.idle = append(p.idle, in)
		return
	}
	_ = in.mod.Close(context.Background())
}

// discard closes an instance that trapped, timed out or hit a limit.
func (p *pool) discard(in *instance) {
	_ = in.mod.Close(context.Background())
	<-p.slots
}

// close closes every idle instance; instances in use are closed when they
// come back.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	p.mu.Unlock()
	for _, in := range idle {
		_ = in.mod.Close(context.Background())
	}
}
