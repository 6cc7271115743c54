package master

import (
	"context"
	"hash/maphash"
	"sync"
)

// keyedPool runs work on a fixed set of goroutines; work given for one key
// runs in the order it was given, work for different keys concurrently. It
// lets the master handle thousands of minions' key changes and grains at
// once while each minion's updates still apply in order.
type keyedPool struct {
	seed   maphash.Seed
	queues []chan func()
	wg     sync.WaitGroup
}

// keyedQueue is how much work each goroutine of a keyedPool buffers.
const keyedQueue = 1024

// newKeyedPool starts n goroutines that run until ctx is done.
func newKeyedPool(ctx context.Context, n int) *keyedPool {
	p := &keyedPool{seed: maphash.MakeSeed(), queues: make([]chan func(), n)}
	for i := range p.queues {
		q := make(chan func(), keyedQueue)
		p.queues[i] = q
		p.wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case fn := <-q:
					fn()
				}
			}
		})
	}
	return p
}

// do queues fn behind the earlier work for key, to run unless ctx is done
// before its turn; false when ctx is done already.
func (p *keyedPool) do(ctx context.Context, key string, fn func()) bool {
	if ctx.Err() != nil {
		return false
	}
	q := p.queues[p.index(key)]
	select {
	case q <- fn:
		return true
	case <-ctx.Done():
		return false
	}
}

// index is the goroutine that runs key's work.
func (p *keyedPool) index(key string) uint64 {
	return maphash.String(p.seed, key) % uint64(len(p.queues))
}

// wait waits for the goroutines, once ctx is done.
func (p *keyedPool) wait() { p.wg.Wait() }
