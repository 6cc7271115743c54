package ratelimit

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(2, 3)
	l.now = func() time.Time { return now }
	steps := []struct {
		advance time.Duration
		key     string
		want    bool
	}{
		{0, "a", true}, {0, "a", true}, {0, "a", true}, // the burst
		{0, "a", false},                      // empty
		{0, "b", true},                       // another key has its own bucket
		{250 * time.Millisecond, "a", false}, // half a token
		{250 * time.Millisecond, "a", true},  // one token after 0.5 s at 2/s
		{0, "a", false},
		{time.Hour, "a", true}, {0, "a", true}, {0, "a", true}, // refilled to the burst, not beyond
		{0, "a", false},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got := l.Allow(s.key); got != s.want {
			t.Fatalf("step %d: Allow(%q) = %v, want %v", i, s.key, got, s.want)
		}
	}
}

func TestLimiterForgetsIdleKeys(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(10, 10)
	l.now = func() time.Time { return now }
	for i := range 1000 {
		l.Allow(string(rune('a'+i%26)) + time.Duration(i).String())
	}
	now = now.Add(time.Minute)
	l.Allow("fresh")
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets kept after every other key refilled, want 1", n)
	}
}
