package states

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/tmpfile"
)

// RunOptions configure one run of a plan.
type RunOptions struct {
	Test     bool         // change nothing, report what would change
	Env      Env          // state tree and renderer for the states
	Log      *slog.Logger // nil: discard
	Failhard bool         // stop at the first failed state (Salt's global failhard)
	// Only, when set, runs the states it keeps and, first, the states
	// their requisites need (state.sls_id); the others do not run.
	Only func(*sls.Low) bool
	// Mock calls no state function: every state whose requisites and
	// onlyif/unless let it run succeeds with "Not called, mocked", as
	// Salt's mock=True (a run that checks the compiled states only).
	Mock bool
}

// Run applies (or, with Test, tests) every state of the plan in order and
// returns their results in run order. Requisites decide what runs, as
// Salt's requisite system does; a cancelled ctx stops the run and the
// states not reached are not reported. Consecutive states that cannot
// affect one another run at the same time (see markShareable); the
// results are those of a sequential run.
func (p *Plan) Run(ctx context.Context, opts RunOptions) result.Highstate {
	// Each directory the run writes into is searched once for temporary
	// files a killed writer left, not at every write.
	return p.run(tmpfile.WithSweep(ctx), opts, true)
}

// run is Run; without concurrent, every state runs alone.
func (p *Plan) run(ctx context.Context, opts RunOptions, concurrent bool) result.Highstate {
	r := newRunner(p, opts)
	for i := 0; i < len(p.steps) && !r.stopped; {
		if opts.Only != nil {
			if opts.Only(p.steps[i].low) {
				r.runStep(ctx, p.steps[i])
			}
			i++
			continue
		}
		if concurrent {
			if members, calls, end := r.window(p.steps, i); len(members) > 1 {
				for _, s := range members {
					r.land(s.deps()...)
				}
				r.runWindow(ctx, members, calls)
				i = end
				continue
			}
		}
		r.runStep(ctx, p.steps[i])
		i++
	}
	r.landAll(p.steps)
	r.runListeners(ctx, p.steps)
	out := make(result.Highstate, 0, len(r.order))
	for _, res := range r.order {
		out = append(out, *res)
	}
	return out
}

// newRunner prepares a run of p.
func newRunner(p *Plan, opts RunOptions) *runner {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &runner{
		opts:    opts,
		results: make([]*result.State, len(p.steps)),
		state:   make([]runState, len(p.steps)),
		calls:   make([]*Call, len(p.steps)),
		tested:  map[*step]Outcome{},
		flights: map[*step]*flight{},
	}
}

type runState uint8

const (
	notRun runState = iota
	running
	done
)

type runner struct {
	opts    RunOptions
	results []*result.State // by step position
	state   []runState
	calls   []*Call         // by step position, made once
	order   []*result.State // in run order, incl. listeners
	runNum  int             // state function calls so far, Salt's __run_num__
	tested  map[*step]Outcome
	stopped bool
	// flights are the parallel: True states running on their own.
	flights map[*step]*flight
}

// flight is a parallel: True state running on its own goroutine. The
// goroutine puts the state's result in the run's results before done
// closes; the run numbers and lists it when it lands.
type flight struct {
	done  chan struct{}
	calls int
}

// flies reports whether s runs on its own goroutine: it has parallel:
// True and neither a prereq nor a state with a prereq on it, as those run
// test runs of other states.
func (s *step) flies() bool {
	if !s.globals.parallel || len(s.prereqBy) > 0 {
		return false
	}
	for _, g := range s.groups {
		if g.kind == reqPrereq {
			return false
		}
	}
	return true
}

// launch starts s on its own goroutine, which first waits for the states
// in flight that s needs (so a parallel state waiting on another does not
// hold up the run) and then reads only results that no longer change.
func (r *runner) launch(ctx context.Context, s *step) {
	var waits []*flight
	for _, d := range append(s.deps(), s.softDeps()...) {
		if f, ok := r.flights[d]; ok {
			waits = append(waits, f)
		}
	}
	f := &flight{done: make(chan struct{})}
	c := r.callFor(s)
	r.flights[s] = f
	go func() {
		defer close(f.done)
		for _, w := range waits {
			<-w.done
		}
		start := time.Now()
		var o Outcome
		o, f.calls = r.evaluate(ctx, s, c)
		res := newResult(s, o, start, time.Since(start))
		res.Parallel = true
		r.results[s.pos] = res
	}()
}

// land waits for each of steps that is in flight and adds its result to
// the run.
func (r *runner) land(steps ...*step) {
	for _, s := range steps {
		f, ok := r.flights[s]
		if !ok {
			continue
		}
		<-f.done
		delete(r.flights, s)
		r.commit(s, f.calls)
	}
}

// landAll waits for every state in flight, in plan order.
func (r *runner) landAll(steps []*step) {
	for _, s := range steps {
		if len(r.flights) == 0 {
			return
		}
		r.land(s)
	}
}

// requisiteDeps are the states whose results s's requisites look at.
func (s *step) requisiteDeps() []*step {
	var out []*step
	for _, g := range s.groups {
		if g.kind != reqListen && g.kind != reqPrereq {
			out = append(out, g.targets...)
		}
	}
	return out
}

func (r *runner) runStep(ctx context.Context, s *step) {
	if r.state[s.pos] != notRun || r.stopped {
		return
	}
	r.state[s.pos] = running
	defer func() { r.state[s.pos] = done }()
	for _, d := range s.deps() {
		r.runStep(ctx, d)
	}
	for _, d := range s.softDeps() {
		if r.state[d.pos] == notRun && !reaches(d, s) {
			r.runStep(ctx, d)
		}
	}
	if s.flies() && !r.stopped && ctx.Err() == nil {
		r.launch(ctx, s)
		return
	}
	r.land(s.deps()...)
	r.land(s.softDeps()...)
	if r.stopped || ctx.Err() != nil {
		r.stopped = true
		return
	}
	start := time.Now()
	o, calls := r.evaluate(ctx, s, r.callFor(s))
	r.record(s, o, calls, start, time.Since(start))
}

// record adds s's result to the run, and stops the run when s failed with
// failhard. calls is how many state function calls the result took
// (two when a watch fired mod_watch): Salt numbers every call, so the
// state's __run_num__ is that of its last call.
func (r *runner) record(s *step, o Outcome, calls int, start time.Time, took time.Duration) {
	r.results[s.pos] = newResult(s, o, start, took)
	r.commit(s, calls)
}

// newResult is s's result from its outcome, not numbered yet.
func newResult(s *step, o Outcome, start time.Time, took time.Duration) *result.State {
	return &result.State{
		Key:       s.low.Key(),
		ID:        s.low.ID,
		SLS:       s.low.SLS,
		Name:      s.low.Name,
		Changes:   o.Changes,
		Comment:   o.Comment,
		Result:    o.Result,
		StartTime: start.Format("15:04:05.000000"),
		Duration:  float64(took.Microseconds()) / 1000,
		Warnings:  append(slices.Clone(s.warnings), o.Warnings...),
	}
}

// commit numbers s's result and adds it to the run order, and stops the
// run when s failed with failhard.
func (r *runner) commit(s *step, calls int) {
	res := r.results[s.pos]
	r.runNum += calls
	res.RunNum = r.runNum - 1
	r.order = append(r.order, res)
	if res.Result != nil && !*res.Result && (s.low.Failhard || r.opts.Failhard) {
		r.stopped = true
	}
}

// status is what a state's requisites decided.
type status int

const (
	statusRun          status = iota // requisites met
	statusChanged                    // met, and a watched state changed
	statusFailed                     // a requisite failed
	statusSkip                       // not run, successfully (onchanges, onfail, prereq)
	statusPrereqFailed               // a state with a prereq on this one failed
)

// evaluate checks s's requisites and runs it, with call c, as they decide.
// It returns the outcome and the number of state function calls Salt
// counts for it: two when a watch fired mod_watch, else one.
func (r *runner) evaluate(ctx context.Context, s *step, c *Call) (Outcome, int) {
	if len(s.missing) > 0 {
		return Failed(missingComment(s.missing), nil), 1
	}
	st, comment := r.check(ctx, s, s.prereqBy, false)
	switch st {
	case statusPrereqFailed:
		// Salt reports the test run of a state whose prereq-ing state
		// failed, without its changes: it did not run.
		o := r.tested[s]
		o.Changes = nil
		return o, 1
	case statusFailed:
		return Failed(comment, nil), 1
	case statusSkip:
		return Succeeded(comment, nil), 1
	}
	skip, err := s.globals.skip(ctx, r.opts.Env, s.entry.ownRunCheck)
	if err != nil {
		return Failedf("%v", err), 1
	}
	if skip != "" {
		return Succeeded(skip, nil), 1
	}
	if r.opts.Mock {
		return Succeeded("Not called, mocked", nil), 1
	}
	o := r.apply(ctx, s, c, s.entry.apply)
	if st == statusChanged && s.entry.HasModWatch() && !o.Changed() && o.Result != nil && *o.Result {
		wc := *c
		wc.Changed = r.changedTargets(s, reqWatch)
		return r.apply(ctx, s, &wc, s.entry.modWatch), 2
	}
	return o, 1
}

// changedTargets names the targets of s's requisites of kind that made
// changes, as Salt's mod_watch sees them ("file: conf").
func (r *runner) changedTargets(s *step, kind reqKind) []string {
	var out []string
	for _, g := range s.groups {
		if g.kind != kind {
			continue
		}
		for _, t := range g.targets {
			if res := r.results[t.pos]; res != nil && len(res.Changes) > 0 {
				out = append(out, t.low.Module+": "+t.low.ID)
			}
		}
	}
	return out
}

// missingComment is Salt's comment on a state whose requisites point at
// no state: each missing one under its requisite keyword.
func missingComment(missing []sls.Req) string {
	var b strings.Builder
	b.WriteString("The following requisites were not found:\n")
	var kinds []string
	byKind := map[string][]sls.Req{}
	for _, r := range missing {
		if _, ok := byKind[r.Kind]; !ok {
			kinds = append(kinds, r.Kind)
		}
		byKind[r.Kind] = append(byKind[r.Kind], r)
	}
	for _, k := range kinds {
		fmt.Fprintf(&b, "%19s%s:\n", "", k)
		for _, r := range byKind[k] {
			mod := r.Module
			if mod == "" {
				mod = "id"
			}
			fmt.Fprintf(&b, "%23s%s: %s\n", "", mod, r.Target)
		}
	}
	return b.String()
}

// callFor returns the call of s, made on first use.
func (r *runner) callFor(s *step) *Call {
	if c := r.calls[s.pos]; c != nil {
		return c
	}
	c := &Call{ID: s.low.ID, Name: s.low.Name, SLS: s.low.SLS, Test: r.opts.Test, Env: InSaltenv(r.opts.Env, s.low.Env),
		Log: withAttrs(r.opts.Log, slog.String("state", s.low.ID), slog.String("fun", s.low.Function()))}
	for _, g := range s.groups {
		switch g.kind {
		case reqRequire:
			for _, t := range g.targets {
				c.Required = append(c.Required, t.low.Name)
			}
		case reqWatch:
			for _, t := range g.targets {
				c.Watched = append(c.Watched, t.low.Name)
			}
		}
	}
	r.calls[s.pos] = c
	return c
}

// apply calls fn with retry and check_cmd, turning a panic in a state
// module into a failed state.
func (r *runner) apply(ctx context.Context, s *step, c *Call, fn func(context.Context, *Call, any) Outcome) Outcome {
	attempts := 1
	if s.globals.retry != nil && s.globals.retry.attempts > 1 {
		attempts = s.globals.retry.attempts
	}
	var o Outcome
	var history []string
	for i := 1; i <= attempts; i++ {
		o = safeCall(ctx, c, s.args, fn)
		if s.globals.retry == nil || (o.Result != nil && *o.Result == s.globals.retry.until) || i == attempts {
			break
		}
		history = append(history, fmt.Sprintf("Attempt %d: Returned a result of %q, with the following comment: %q",
			i, ResultString(o.Result), o.Comment))
		select {
		case <-ctx.Done():
			return Failedf("retry interrupted: %v", ctx.Err())
		case <-time.After(s.globals.retry.interval):
		}
	}
	if len(history) > 0 {
		o.Comment = strings.Join(append(history, o.Comment), "\n")
	}
	return s.globals.check(ctx, o)
}

func safeCall(ctx context.Context, c *Call, args any, fn func(context.Context, *Call, any) Outcome) (o Outcome) {
	defer func() {
		if p := recover(); p != nil {
			c.Log.Error("state module panicked", "panic", p, "stack", string(debug.Stack()))
			o = Failedf("An exception occurred in this state: %v", p)
		}
	}()
	return fn(ctx, c, args)
}

// ResultString prints a result as Salt does: True, False or None.
func ResultString(b *bool) string {
	switch {
	case b == nil:
		return "None"
	case *b:
		return "True"
	}
	return "False"
}

// check evaluates s's requisite groups against the results so far, and
// the states in prereqBy that must not have failed. For a test run
// (testing), a requisite that has not run yet counts as met.
func (r *runner) check(ctx context.Context, s *step, prereqBy []*step, testing bool) (status, string) {
	var failed []*step
	changed := false
	skip := ""
	for _, g := range s.groups {
		switch g.kind {
		case reqRequire, reqWatch:
			var bad []*step
			for _, t := range g.targets {
				res := r.results[t.pos]
				if res == nil && testing {
					continue
				}
				if res == nil || !res.Succeeded() {
					bad = append(bad, t)
				} else if g.kind == reqWatch && len(res.Changes) > 0 {
					changed = true
				}
			}
			if len(bad) > 0 && (!g.any || len(bad) == len(g.targets)) {
				failed = append(failed, bad...)
			}
		case reqOnchanges:
			var bad []*step
			anyChanged := false
			for _, t := range g.targets {
				res := r.results[t.pos]
				if res == nil || !res.Succeeded() {
					bad = append(bad, t)
				} else if len(res.Changes) > 0 {
					anyChanged = true
				}
			}
			if len(bad) == len(g.targets) || (len(bad) > 0 && !anyChanged) {
				failed = append(failed, bad...)
			} else if !anyChanged && skip == "" {
				skip = "State was not run because none of the onchanges reqs changed"
			}
		case reqOnfail:
			nFailed := 0
			for _, t := range g.targets {
				if res := r.results[t.pos]; res != nil && !res.Succeeded() {
					nFailed++
				}
			}
			if (g.all && nFailed < len(g.targets)) || nFailed == 0 {
				if skip == "" {
					skip = "State was not run because onfail req did not change"
				}
			}
		case reqPrereq:
			wouldChange := false
			for _, t := range g.targets {
				o := r.testRun(ctx, t)
				if !o.OK() {
					failed = append(failed, t)
				} else if o.Changed() {
					wouldChange = true
				}
			}
			if !wouldChange && skip == "" {
				skip = "No changes detected"
			}
		}
	}
	if len(failed) == 0 {
		for _, p := range prereqBy {
			if res := r.results[p.pos]; res != nil && !res.Succeeded() {
				if _, tested := r.tested[s]; tested {
					return statusPrereqFailed, ""
				}
				failed = append(failed, p)
			}
		}
	}
	if len(failed) > 0 {
		names := make([]string, len(failed))
		for i, t := range failed {
			names[i] = t.low.SLS + "." + t.low.ID
		}
		return statusFailed, "One or more requisite failed: " + strings.Join(names, ", ")
	}
	if skip != "" {
		return statusSkip, skip
	}
	if changed {
		return statusChanged, ""
	}
	return statusRun, ""
}

// testRun runs t in test mode once, for the states that prereq it.
func (r *runner) testRun(ctx context.Context, t *step) Outcome {
	if o, ok := r.tested[t]; ok {
		return o
	}
	c := *r.callFor(t)
	c.Test = true
	var o Outcome
	if len(t.missing) > 0 {
		o = Failed(missingComment(t.missing), nil)
	} else if st, comment := r.check(ctx, t, nil, true); st == statusFailed {
		o = Failed(comment, nil)
	} else if skip, err := t.globals.skip(ctx, r.opts.Env, t.entry.ownRunCheck); err != nil {
		o = Failedf("%v", err)
	} else if skip != "" || st == statusSkip {
		o = Succeeded(skip, nil)
	} else {
		o = safeCall(ctx, &c, t.args, t.entry.apply)
	}
	r.tested[t] = o
	return o
}

// runListeners calls mod_watch, at the end of the run, for every state
// listening to a state that changed.
func (r *runner) runListeners(ctx context.Context, steps []*step) {
	if r.stopped {
		return
	}
	for _, s := range steps {
		res := r.results[s.pos]
		if res == nil || !res.Succeeded() || !s.entry.HasModWatch() {
			continue
		}
		fire := false
		for _, g := range s.groups {
			if g.kind != reqListen {
				continue
			}
			for _, t := range g.targets {
				if tr := r.results[t.pos]; tr != nil && len(tr.Changes) > 0 {
					fire = true
				}
			}
		}
		if !fire {
			continue
		}
		start := time.Now()
		c := *r.callFor(s)
		c.Changed = r.changedTargets(s, reqListen)
		o := r.apply(ctx, s, &c, s.entry.modWatch)
		id := "listener_" + s.low.ID
		r.order = append(r.order, &result.State{
			Key:       s.low.Module + "_|-" + id + "_|-" + s.low.Name + "_|-mod_watch",
			ID:        id,
			SLS:       s.low.SLS,
			Name:      s.low.Name,
			Changes:   o.Changes,
			Comment:   o.Comment,
			Result:    o.Result,
			StartTime: start.Format("15:04:05.000000"),
			Duration:  float64(time.Since(start).Microseconds()) / 1000,
			RunNum:    r.runNum,
		})
		r.runNum++
	}
}
