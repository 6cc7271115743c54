// Package ratelimit keeps one token bucket per key (a minion id, a remote
// address), so that one noisy client is slowed down without slowing the
// others.
package ratelimit

import (
	"sync"
	"time"
)

// Limiter allows each key Burst events at once and Rate events per second
// on average. It is safe for concurrent use; its memory is bounded by the
// keys active within the time a bucket takes to refill.
type Limiter struct {
	rate  float64 // tokens per second
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time // next time full buckets are dropped
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter of rate events per second per key, with bursts of
// up to burst events.
func New(rate float64, burst int) *Limiter {
	return &Limiter{rate: rate, burst: float64(max(burst, 1)), buckets: map[string]*bucket{}}
}

// Allow takes one token from key's bucket and reports whether there was one.
func (l *Limiter) Allow(key string) bool { return l.AllowAt(key, time.Now()) }

// AllowAt is Allow at the time now. A clock going back earns nothing.
func (l *Limiter) AllowAt(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.After(l.sweep) {
		l.dropFull(now)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if now.After(b.last) {
		b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// dropFull forgets the buckets that have refilled: a new bucket starts full.
func (l *Limiter) dropFull(now time.Time) {
	refill := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= refill {
			delete(l.buckets, k)
		}
	}
	l.sweep = now.Add(max(refill, time.Second))
}
