package minion

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"time"
)

// signal wakes every goroutine waiting for "something changed": wait
// returns a channel that the next fire closes.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed by the next fire.
func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// fire wakes every current waiter.
func (s *signal) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// fifo is an unbounded first-in first-out queue of jobs.
type fifo struct {
	mu    sync.Mutex
	items []*queued
	wake  chan struct{}
}

// push appends q.
func (f *fifo) push(q *queued) {
	f.mu.Lock()
	f.items = append(f.items, q)
	if f.wake == nil {
		f.wake = make(chan struct{}, 1)
	}
	wake := f.wake
	f.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default:
	}
}

// pop takes the first job, waiting for one; nil when ctx is done.
func (f *fifo) pop(ctx context.Context) *queued {
	for {
		f.mu.Lock()
		if len(f.items) > 0 {
			q := f.items[0]
			f.items[0] = nil
			f.items = f.items[1:]
			f.mu.Unlock()
			return q
		}
		if f.wake == nil {
			f.wake = make(chan struct{}, 1)
		}
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		}
	}
}

// backoff is a doubling wait with jitter, between lo and hi.
type backoff struct {
	lo, hi, cur time.Duration
}

// next returns the next wait: lo, 2·lo, 4·lo… up to hi, each with up to a
// quarter more of random jitter so that a fleet does not retry in step.
func (b *backoff) next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.lo
	case b.cur < b.hi:
		b.cur = min(2*b.cur, b.hi)
	}
	return b.cur + rand.N(b.cur/4+1)
}

// reset starts the doubling again from lo.
func (b *backoff) reset() { b.cur = 0 }

// sleep waits d, or until wake is closed (true), or ctx is done (false).
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
		return true
	case <-t.C:
		return true
	}
}

// sameJSON reports whether a and b encode to the same JSON (maps encode
// with sorted keys, so equal maps give equal bytes).
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
