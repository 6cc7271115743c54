package schedule

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	armed   chan struct{} // receives each time the runner starts waiting
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC), armed: make(chan struct{}, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	// The runner waits on one timer at a time: a new wait replaces the
	// one it gave up.
	c.waiters = nil
	if d <= 0 {
		ch <- c.now
	} else {
		c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	}
	c.armed <- struct{}{}
	return ch
}

// advance moves the clock and fires the wait if it is over; it reports
// whether it fired (and the runner will wait again).
func (c *fakeClock) advance(d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	fired := false
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			fired = true
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
	return fired
}

// step advances the clock by d and, when that woke the runner, waits
// until it waits on the clock again.
func (c *fakeClock) step(t *testing.T, d time.Duration) {
	t.Helper()
	if c.advance(d) {
		c.settle(t)
	}
}

// settle waits until the runner waits on the clock again.
func (c *fakeClock) settle(t *testing.T) {
	t.Helper()
	select {
	case <-c.armed:
	case <-time.After(10 * time.Second):
		t.Fatal("the runner never waited on the clock")
	}
	for len(c.armed) > 0 {
		<-c.armed
	}
}

type firing struct {
	name string
	at   time.Time
}

// harness is a runner on a fake clock whose runs are reported on fired
// and last until released.
type harness struct {
	clk     *fakeClock
	r       *Runner
	fired   chan firing
	release chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
}

func newHarness(t *testing.T, hold bool, entries ...*Entry) *harness {
	h := &harness{clk: newFakeClock(), fired: make(chan firing, 100), release: make(chan struct{}), done: make(chan struct{})}
	h.r = NewRunner(h.clk, func(ctx context.Context, e *Entry) {
		h.fired <- firing{e.Name, h.clk.Now()}
		if hold {
			select {
			case <-h.release:
			case <-ctx.Done():
			}
		}
	}, nil)
	h.r.rand = func(n int64) int64 { return n - 1 } // the longest splay
	h.r.Set(entries)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.r.Run(ctx); close(h.done) }()
	t.Cleanup(func() { cancel(); <-h.done })
	h.clk.settle(t)
	return h
}

// expect reads the next firing, failing if there is none.
func (h *harness) expect(t *testing.T, name string, at time.Time) {
	t.Helper()
	select {
	case f := <-h.fired:
		if f.name != name || !f.at.Equal(at) {
			t.Fatalf("fired %s at %s, want %s at %s", f.name, f.at.Format(time.TimeOnly), name, at.Format(time.TimeOnly))
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never fired", name)
	}
}

// none checks that nothing fired.
func (h *harness) none(t *testing.T) {
	t.Helper()
	select {
	case f := <-h.fired:
		t.Fatalf("unexpected run of %s at %s", f.name, f.at.Format(time.TimeOnly))
	default:
	}
}

func entry(t *testing.T, name string, raw map[string]any) *Entry {
	t.Helper()
	e, err := ParseEntry("test", name, raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRunnerInterval(t *testing.T) {
	h := newHarness(t, false, entry(t, "a", map[string]any{"function": "test.ping", "seconds": 10}))
	t0 := h.clk.Now()
	h.clk.step(t, 9*time.Second)
	h.none(t)
	for i := 1; i <= 3; i++ {
		h.clk.step(t, time.Second)
		h.expect(t, "a", t0.Add(time.Duration(i)*10*time.Second))
		h.clk.step(t, 9*time.Second)
		h.none(t)
	}
}

func TestRunnerRunOnStartAndSplay(t *testing.T) {
	h := newHarness(t, false, entry(t, "s", map[string]any{"function": "test.ping", "seconds": 60, "splay": 30, "run_on_start": true}))
	t0 := h.clk.Now()
	h.expect(t, "s", t0) // run_on_start: at once, no splay
	// Due at 60s, plus the longest splay this test's random source draws.
	h.clk.step(t, 60*time.Second+30*time.Second-time.Nanosecond)
	h.none(t)
	h.clk.step(t, time.Nanosecond)
	h.expect(t, "s", t0.Add(90*time.Second))
	// The next run counts from when the last was due (60s), not from
	// when it ran with its splay: 120s + 30s.
	h.clk.step(t, 60*time.Second)
	h.expect(t, "s", t0.Add(150*time.Second))
}

func TestRunnerMaxRunning(t *testing.T) {
	h := newHarness(t, true, entry(t, "m", map[string]any{"function": "test.ping", "seconds": 5, "maxrunning": 1}))
	t0 := h.clk.Now()
	h.clk.step(t, 5*time.Second)
	h.expect(t, "m", t0.Add(5*time.Second))
	h.clk.step(t, 5*time.Second) // the first run still holds: skipped
	h.none(t)
	if st := h.r.List(); len(st) != 1 || st[0].Skipped != 1 || st[0].Running != 1 {
		t.Fatalf("status %+v, want one running and one skipped", st)
	}
	if err := h.r.RunNow(context.Background(), "m"); err == nil {
		t.Fatal("run_job ran past maxrunning")
	}
	h.release <- struct{}{}
	for h.r.List()[0].Running > 0 { // until the run has returned
		runtime.Gosched()
	}
	h.clk.step(t, 5*time.Second)
	h.expect(t, "m", t0.Add(15*time.Second))
	h.release <- struct{}{}
}

func TestRunnerCron(t *testing.T) {
	h := newHarness(t, false, entry(t, "c", map[string]any{"function": "test.ping", "cron": "*/15 * * * *"}))
	t0 := h.clk.Now() // 03:00:00
	h.clk.step(t, 14*time.Minute)
	h.none(t)
	h.clk.step(t, time.Minute)
	h.expect(t, "c", t0.Add(15*time.Minute))
}

func TestRunnerEditWhileRunning(t *testing.T) {
	// z keeps the runner waiting on the clock while the others are off.
	h := newHarness(t, false, entry(t, "a", map[string]any{"function": "test.ping", "seconds": 10}),
		entry(t, "z", map[string]any{"function": "test.ping", "days": 1}))
	t0 := h.clk.Now()
	if h.r.Enable("nope", false) {
		t.Fatal("enabled an unknown entry")
	}
	if !h.r.Enable("a", false) {
		t.Fatal("enable: no entry a")
	}
	h.clk.settle(t)
	h.clk.step(t, 30*time.Second)
	h.none(t) // disabled
	h.r.Add(entry(t, "b", map[string]any{"function": "test.ping", "seconds": 5}))
	h.clk.settle(t)
	h.clk.step(t, 5*time.Second)
	h.expect(t, "b", t0.Add(35*time.Second))
	if !h.r.Delete("b") {
		t.Fatal("delete b: no entry b")
	}
	h.clk.settle(t)
	if h.r.Delete("b") {
		t.Fatal("deleted b twice")
	}
	h.r.Enable("a", true) // timed from now: due in 10s
	h.clk.settle(t)
	h.clk.step(t, 10*time.Second)
	h.expect(t, "a", t0.Add(45*time.Second))
	if err := h.r.RunNow(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	h.expect(t, "a", t0.Add(45*time.Second))
	if err := h.r.RunNow(context.Background(), "nope"); err == nil {
		t.Fatal("run_job of an unknown entry did not fail")
	}
	// A reload that keeps a's definition keeps its timing.
	h.r.Set([]*Entry{entry(t, "a", map[string]any{"function": "test.ping", "seconds": 10}),
		entry(t, "z", map[string]any{"function": "test.ping", "days": 1})})
	h.clk.settle(t)
	h.clk.step(t, 10*time.Second)
	h.expect(t, "a", t0.Add(55*time.Second))
}
