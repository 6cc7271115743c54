package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type step struct {
		at   time.Duration // since t0
		key  string
		want bool
	}
	for _, tc := range []struct {
		name        string
		rate, burst int
		steps       []step
	}{
		{"starts full, then empty", 1, 3, []step{{0, "a", true}, {0, "a", true}, {0, "a", true}, {0, "a", false}}},
		{"each key has its own bucket", 1, 1, []step{{0, "a", true}, {0, "a", false}, {0, "b", true}}},
		{"refills at the rate", 2, 1, []step{{0, "a", true}, {250 * time.Millisecond, "a", false}, {500 * time.Millisecond, "a", true}, {500 * time.Millisecond, "a", false}}},
		{"saves no more than the burst", 100, 2, []step{{0, "a", true}, {0, "a", true}, {time.Hour, "a", true}, {time.Hour, "a", true}, {time.Hour, "a", false}}},
		{"a clock going back earns nothing", 1, 1, []step{{time.Second, "a", true}, {0, "a", false}, {time.Second, "a", false}, {2 * time.Second, "a", true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := New(float64(tc.rate), tc.burst)
			for i, s := range tc.steps {
				if got := l.AllowAt(s.key, t0.Add(s.at)); got != s.want {
					t.Fatalf("step %d (%s at %s): %v, want %v", i, s.key, s.at, got, s.want)
				}
			}
		})
	}
}

func TestLimiterForgetsIdleKeys(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(10, 10)
	for i := range 1000 {
		l.AllowAt(fmt.Sprint("k", i), now)
	}
	l.AllowAt("fresh", now.Add(time.Minute))
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets kept after every other key refilled, want 1", n)
	}
}
