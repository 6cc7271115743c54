package states

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// A run applies states in plan order, as Salt does (users rely on
// definition order even without requisites). It runs a window of
// consecutive states at the same time only where no state could tell the
// difference: every state of the window has a function that says the call
// is safe (Func.Concurrent), none has a requisite other than require on a
// state before the window, nothing has a prereq on it, none has failhard or
// a global argument (unless, onlyif, creates, retry, check_cmd), and no
// two names are equal or one a path below the other. The results, their
// order and __run_num__ are those of a sequential run.

// markShareable records which steps may join a concurrent window at all,
// and the last plan position their require requisites point at.
func markShareable(steps []*step) {
	for _, s := range steps {
		s.reqBefore = -1
		s.shareable = s.entry.concurrent != nil && len(s.prereqBy) == 0 && !s.low.Failhard && s.globals.none() && !s.globals.parallel
		for _, g := range s.groups {
			if g.kind != reqRequire {
				s.shareable = false
				break
			}
			for _, t := range g.targets {
				s.reqBefore = max(s.reqBefore, t.pos)
			}
		}
	}
}

// window collects the states from steps[start] on that run together: each
// not run yet (a state some requisite already ran is passed over, as the
// sequential run passes over it), shareable, requiring only states before
// start, safe by its function's word and with a name apart from the
// others. It returns them with their calls, and the position after the
// window. Fewer than two states mean no window.
func (r *runner) window(steps []*step, start int) (members []*step, calls []*Call, end int) {
	if r.opts.Failhard {
		return nil, nil, start + 1
	}
	var names pathSet
	end = start
	for ; end < len(steps); end++ {
		s := steps[end]
		if r.state[s.pos] != notRun {
			continue
		}
		if !s.shareable || s.reqBefore >= start {
			break
		}
		c := r.callFor(s)
		if !s.entry.concurrent(c, s.args) || !names.add(s.low.Name) {
			break
		}
		members = append(members, s)
		calls = append(calls, c)
	}
	return members, calls, end
}

// ran is the outcome of one state of a window, kept until the window ends.
type ran struct {
	o     Outcome
	start time.Time
	took  time.Duration
	calls int  // state function calls, as evaluate counts them
	done  bool // false: the run was cancelled before the state started
}

// runWindow runs the states of a window on up to GOMAXPROCS goroutines,
// then records their results in plan order, as a sequential run would
// have. Once ctx is cancelled no further state starts; the ones that did
// start are reported.
//
// Checking runs faster in parallel, changing does not: file systems
// serialise the creation and renaming of files in their journal, and
// threads contending for it are slower than one alone. So once a state of
// the window made a change, the helpers stop taking states and the rest of
// the window runs on this goroutine alone.
func (r *runner) runWindow(ctx context.Context, members []*step, calls []*Call) {
	out := make([]ran, len(members))
	for _, s := range members {
		r.state[s.pos] = running
	}
	var next atomic.Int64
	var changed atomic.Bool
	work := func(helper bool) {
		for !helper || !changed.Load() {
			k := int(next.Add(1) - 1)
			if k >= len(members) || ctx.Err() != nil {
				return
			}
			start := time.Now()
			o, n := r.evaluate(ctx, members[k], calls[k])
			out[k] = ran{o: o, calls: n, start: start, took: time.Since(start), done: true}
			if len(o.Changes) > 0 && !calls[k].Test {
				changed.Store(true)
			}
		}
	}
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(members)) - 1 {
		wg.Go(func() { work(true) })
	}
	work(false)
	wg.Wait()
	for k, s := range members {
		r.state[s.pos] = done
		if !out[k].done {
			r.stopped = true
			continue
		}
		r.record(s, out[k].o, out[k].calls, out[k].start, out[k].took)
	}
}

// pathSet holds the names of a window's states as cleaned paths and every
// directory above them, to tell whether a new name equals one of them or
// lies above or below one.
type pathSet struct {
	names map[string]bool
	above map[string]bool
}

// add adds name and reports true, or reports false when it equals a name
// of the set, lies below one, or lies above one; the set is not used again
// after it reported false.
func (p *pathSet) add(name string) bool {
	if p.names == nil {
		p.names, p.above = map[string]bool{}, map[string]bool{}
	}
	n := filepath.Clean(name)
	if p.names[n] || p.above[n] {
		return false
	}
	p.names[n] = true
	// Names in the set never lie below one another, so no name lies above
	// a directory already in above: the walk up may stop there.
	for d := filepath.Dir(n); !p.above[d]; d = filepath.Dir(d) {
		if p.names[d] {
			return false
		}
		p.above[d] = true
		if d == filepath.Dir(d) {
			break
		}
	}
	return true
}
