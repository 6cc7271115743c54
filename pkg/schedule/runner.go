package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"sync"
	"time"
)

// Clock is the runner's time: the real one in production, a fake one in
// unit tests.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the system clock.
type RealClock struct{}

// Now returns the current time.
func (RealClock) Now() time.Time { return time.Now() }

// After waits for d on the system clock.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Func runs one due entry; it is called on a goroutine of its own and
// should return when the run is over (maxrunning counts it until then).
type Func func(ctx context.Context, e *Entry)

// Runner runs a schedule's entries when they are due, until its context
// is done. Entries may be added, removed, enabled and disabled while it runs.
type Runner struct {
	clock Clock
	fire  Func
	log   *slog.Logger
	rand  func(n int64) int64

	mu      sync.Mutex
	jobs    map[string]*slot
	wake    chan struct{}
	running sync.WaitGroup
	started bool
	paused  bool
}

// slot is an entry and its timing.
type slot struct {
	e       *Entry
	base    time.Time // when it is due before splay
	due     time.Time // when it runs: base plus this run's splay
	active  int       // runs not yet returned
	skipped int       // runs skipped for maxrunning
}

// NewRunner returns a runner that calls fire for each due entry. A nil
// clock is the system clock; a nil log discards.
func NewRunner(clock Clock, fire Func, log *slog.Logger) *Runner {
	if clock == nil {
		clock = RealClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{clock: clock, fire: fire, log: log, rand: rand.Int64N,
		jobs: map[string]*slot{}, wake: make(chan struct{}, 1)}
}

// Set replaces the whole schedule (a reload). Entries whose definition did
// not change keep their timing; new ones are timed from now, and run at
// once when they say run_on_start and the runner has started.
func (r *Runner) Set(entries []*Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	old := r.jobs
	r.jobs = make(map[string]*slot, len(entries))
	for _, e := range entries {
		if s, ok := old[e.Name]; ok && same(s.e, e) {
			s.e = e
			r.jobs[e.Name] = s
			continue
		}
		r.jobs[e.Name] = r.newSlot(e, now)
	}
	r.poke()
}

// Add adds or replaces one entry.
func (r *Runner) Add(e *Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs[e.Name] = r.newSlot(e, r.clock.Now())
	r.poke()
}

// Delete removes an entry; false when there is none by that name.
func (r *Runner) Delete(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.jobs[name]; !ok {
		return false
	}
	delete(r.jobs, name)
	r.poke()
	return true
}

// Enable enables or disables an entry; false when there is none by that
// name. An entry enabled again is timed from now.
func (r *Runner) Enable(name string, on bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.jobs[name]
	if !ok {
		return false
	}
	if on && !s.e.Enabled {
		s.base = s.e.Next(r.clock.Now())
		s.due = s.base.Add(r.splay(s.e))
	}
	e := *s.e
	e.Enabled = on
	s.e = &e
	r.poke()
	return true
}

// Pause stops (true) or resumes (false) the whole schedule, as Salt's
// schedule.disable and schedule.enable: while paused, due runs are
// skipped and the entries keep their timing.
func (r *Runner) Pause(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.paused = on
	r.poke()
}

// Paused reports whether the whole schedule is paused.
func (r *Runner) Paused() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.paused
}

// Get returns an entry by name.
func (r *Runner) Get(name string) (*Entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.jobs[name]
	if !ok {
		return nil, false
	}
	return s.e, true
}

// Status is an entry with its timing, as schedule.list reports it.
type Status struct {
	Entry   *Entry
	Next    time.Time // when it runs next (zero while disabled)
	Running int       // runs going on now
	Skipped int       // runs skipped because maxrunning were running
}

// List returns every entry with its timing, sorted by name.
func (r *Runner) List() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Status, 0, len(r.jobs))
	for _, s := range r.jobs {
		st := Status{Entry: s.e, Running: s.active, Skipped: s.skipped}
		if s.e.Enabled {
			st.Next = s.due
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Entry.Name < out[j].Entry.Name })
	return out
}

// RunNow runs an entry at once, enabled or not, keeping its timing (Salt's
// schedule.run_job). It fails when the entry is unknown or already runs
// maxrunning times.
func (r *Runner) RunNow(ctx context.Context, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.jobs[name]
	if !ok {
		return fmt.Errorf("no schedule entry %q", name)
	}
	if s.active >= s.e.MaxRunning {
		return fmt.Errorf("schedule entry %q: already running %d time(s), its maxrunning", name, s.active)
	}
	r.start(ctx, s)
	return nil
}

// Run runs due entries until ctx is done, then waits for the runs it
// started to return. Entries with run_on_start run at once.
func (r *Runner) Run(ctx context.Context) {
	r.mu.Lock()
	r.started = true
	now := r.clock.Now()
	for _, s := range r.jobs {
		if s.e.RunOnStart {
			s.base, s.due = now, now
		}
	}
	r.mu.Unlock()
	select { // changes made before now are read below anyway
	case <-r.wake:
	default:
	}
	defer r.running.Wait()
	for {
		r.mu.Lock()
		now := r.clock.Now()
		var next time.Time
		for _, name := range slices.Sorted(maps.Keys(r.jobs)) {
			s := r.jobs[name]
			if !s.e.Enabled {
				continue
			}
			if !s.due.After(now) {
				if r.paused {
					r.log.Debug("schedule: paused, skipping a run", "entry", s.e.Name)
				} else if s.active >= s.e.MaxRunning {
					s.skipped++
					r.log.Warn("schedule: skipping a run: the entry's previous runs are still going on",
						"entry", s.e.Name, "running", s.active, "maxrunning", s.e.MaxRunning)
				} else {
					r.start(ctx, s)
				}
				// The next run is counted from when this one was due, not
				// from now, so that the schedule does not drift; runs
				// missed while the clock jumped are not made up.
				s.base = s.e.Next(s.base)
				if !s.base.After(now) {
					s.base = s.e.Next(now)
				}
				s.due = s.base.Add(r.splay(s.e))
			}
			if next.IsZero() || s.due.Before(next) {
				next = s.due
			}
		}
		r.mu.Unlock()
		var timer <-chan time.Time
		if !next.IsZero() {
			timer = r.clock.After(next.Sub(now))
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-timer:
		}
	}
}

// start runs s now; r.mu is held.
func (r *Runner) start(ctx context.Context, s *slot) {
	s.active++
	e := s.e
	r.running.Go(func() {
		defer func() {
			r.mu.Lock()
			s.active--
			r.mu.Unlock()
		}()
		r.fire(ctx, e)
	})
}

// newSlot times a new entry from now: at once with run_on_start once the
// runner runs, else at its first due time plus splay.
func (r *Runner) newSlot(e *Entry, now time.Time) *slot {
	s := &slot{e: e, base: e.Next(now)}
	s.due = s.base.Add(r.splay(e))
	if e.RunOnStart && r.started {
		s.base, s.due = now, now
	}
	return s
}

// splay draws this run's random delay.
func (r *Runner) splay(e *Entry) time.Duration {
	if e.SplayMax <= e.SplayMin {
		return e.SplayMin
	}
	return e.SplayMin + time.Duration(r.rand(int64(e.SplayMax-e.SplayMin)+1))
}

// poke wakes Run to look at the schedule again.
func (r *Runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// same reports whether two definitions of an entry time and run alike.
func same(a, b *Entry) bool {
	return reflect.DeepEqual(a.Map(), b.Map())
}
