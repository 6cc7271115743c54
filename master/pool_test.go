package master

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestKeyedPoolOrder: work for one key runs in the order given, work for
// different keys runs at the same time, and nothing runs once ctx is done.
func TestKeyedPoolOrder(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	p := newKeyedPool(ctx, 4)
	var mu sync.Mutex
	got := map[string][]int{}
	var wg sync.WaitGroup
	for i := range 200 {
		for _, key := range []string{"web1", "web2", "db1"} {
			wg.Add(1)
			if !p.do(ctx, key, func() {
				defer wg.Done()
				mu.Lock()
				got[key] = append(got[key], i)
				mu.Unlock()
			}) {
				t.Fatal("do refused work before ctx was done")
			}
		}
	}
	wg.Wait()
	for key, seq := range got {
		if len(seq) != 200 || !slices.IsSorted(seq) {
			t.Errorf("%s ran %d items, in order %v", key, len(seq), slices.IsSorted(seq))
		}
	}

	// Two keys on different goroutines: one blocked does not hold up the other.
	a, b := "", ""
	for i := 0; b == ""; i++ {
		k := fmt.Sprintf("m%d", i)
		switch {
		case a == "":
			a = k
		case p.queues[p.index(k)] != p.queues[p.index(a)]:
			b = k
		}
	}
	release := make(chan struct{})
	p.do(ctx, a, func() { <-release })
	done := make(chan struct{})
	p.do(ctx, b, func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("work for one key waited for another key's")
	}
	close(release)

	cancel()
	p.wait()
	if p.do(ctx, a, func() { t.Error("ran after ctx was done") }) {
		t.Error("do accepted work after ctx was done")
	}
}
