package states

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/brinecm/brine/pkg/fnmatch"
	"github.com/brinecm/brine/pkg/sls"
)

// reqKind is a requisite relation after `_in` forms are turned around.
type reqKind int

const (
	reqRequire reqKind = iota
	reqWatch
	reqOnchanges
	reqOnfail
	reqPrereq
	reqListen
	numReqKinds
)

var reqKindNames = [numReqKinds]string{"require", "watch", "onchanges", "onfail", "prereq", "listen"}

// reqGroup is every target of one requisite keyword on one state, e.g. all
// of its `watch_any` targets; any says whether one met target is enough.
type reqGroup struct {
	kind    reqKind
	any     bool // _any forms, and onfail/onchanges whose plain form is already "any"
	all     bool // onfail_all
	keyword string
	targets []*step
}

// step is one state of a plan: its chunk, decoded arguments, global
// arguments and resolved requisites.
type step struct {
	low     *sls.Low
	entry   *Entry
	args    any
	globals globals
	groups  []*reqGroup
	// prereqBy lists states with a prereq on this one: they run first,
	// those that declare it themselves before those given it by this
	// state's prereq_in (the first directPrereqBy), as in Salt.
	prereqBy       []*step
	directPrereqBy int
	order          float64
	pos            int // position in the sorted plan
	// shareable: the step may join a window of states that run at the
	// same time; reqBefore is the last position its requisites point at.
	shareable bool
	reqBefore int
	// missing are requisites that point at no state (a run plan only):
	// the state fails at run time, as Salt fails it, and nothing else.
	missing []sls.Req
	// warnings are problems a run plan tolerates, e.g. unknown arguments.
	warnings []string
}

// Plan is a compiled, validated state run: every requisite resolved, every
// argument decoded, no cycles. Build one with NewPlan, run it with Run.
type Plan struct {
	steps []*step // sorted by order, then definition order
}

// Len returns the number of states in the plan.
func (p *Plan) Len() int { return len(p.steps) }

// Warnings returns what a run of the plan tolerates but a state of it
// fails or warns on, one message per problem with its file, line and state
// ID: requisites that point at no state and unknown arguments.
func (p *Plan) Warnings() []string {
	var out []string
	for _, s := range p.steps {
		for _, r := range s.missing {
			out = append(out, errAt(s.low, r.Pos, "%s: requisite %s not found: no state has ID or name %q%s",
				s.low.Function(), r.Kind, r.Target, moduleHint(r.Module)).Error())
		}
		for _, w := range s.warnings {
			out = append(out, errAt(s.low, s.low.Pos, "%s: %s", s.low.Function(), w).Error())
		}
	}
	return out
}

// Lows returns the plan's chunks in the order the engine considers them
// (before requisites reorder them), for state.show_lowstate.
func (p *Plan) Lows() []*sls.Low {
	out := make([]*sls.Low, len(p.steps))
	for i, s := range p.steps {
		out[i] = s.low
	}
	return out
}

// PlanOptions say how strict planning is.
type PlanOptions struct {
	// Run plans a run the way Salt runs one: a requisite that points at
	// no state fails only the state that has it ("The following requisites
	// were not found"), and an unknown argument is a warning on the state's
	// result. Without Run both are errors, as `brine test render` and
	// state.show_* report them.
	Run bool
	// StrictArguments keeps unknown arguments errors in a run plan
	// (the strict_arguments configuration key).
	StrictArguments bool
}

// Prepare plans lows that come from a compile which may have failed
// (compileErr from pkg/sls): the errors of both stages are reported
// together, sorted by file and line, so a user fixes them all in one go.
// It is strict: missing requisites and unknown arguments are errors.
func Prepare(lows []sls.Low, compileErr error) (*Plan, error) {
	return PrepareWith(lows, compileErr, PlanOptions{})
}

// PrepareWith is Prepare with options; PlanOptions{Run: true} plans a run.
func PrepareWith(lows []sls.Low, compileErr error, opts PlanOptions) (*Plan, error) {
	var errs sls.Errors
	if compileErr != nil && !errors.As(compileErr, &errs) {
		return nil, compileErr
	}
	plan, err := NewPlanWith(lows, opts)
	if err != nil {
		var perrs sls.Errors
		if !errors.As(err, &perrs) {
			return nil, err
		}
		errs = append(errs, perrs...)
	}
	if len(errs) > 0 {
		seen := map[sls.Error]bool{} // the states of one ID with names: share its mistakes: say each once
		errs = slices.DeleteFunc(errs, func(e *sls.Error) bool {
			dup := seen[*e]
			seen[*e] = true
			return dup
		})
		sortErrors(errs)
		return nil, errs
	}
	return plan, nil
}

// NewPlan validates lows against the state registry, resolves requisites
// and orders the run. It returns every problem found as sls.Errors; the
// plan is nil when there is any.
func NewPlan(lows []sls.Low) (*Plan, error) { return NewPlanWith(lows, PlanOptions{}) }

// NewPlanWith is NewPlan with options.
func NewPlanWith(lows []sls.Low, opts PlanOptions) (*Plan, error) {
	var errs sls.Errors
	steps := make([]*step, len(lows))
	for i := range lows {
		steps[i] = &step{low: &lows[i]}
	}
	idx := newTargetIndex(steps)
	idx.lenient = opts.Run
	uses := map[*step][]*step{}
	for _, s := range steps {
		errs = append(errs, idx.resolve(s, uses)...)
	}
	for _, s := range steps {
		applyUse(s, uses[s])
	}
	for _, s := range steps {
		errs = append(errs, s.prepare(opts.Run && !opts.StrictArguments)...)
	}
	assignOrder(steps)
	sort.SliceStable(steps, func(i, j int) bool {
		if steps[i].order != steps[j].order {
			return steps[i].order < steps[j].order
		}
		return steps[i].low.Index < steps[j].low.Index
	})
	for i, s := range steps {
		s.pos = i
	}
	errs = append(errs, findCycles(steps)...)
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	markShareable(steps)
	return &Plan{steps: steps}, nil
}

func errAt(l *sls.Low, pos sls.Pos, format string, a ...any) *sls.Error {
	return &sls.Error{Pos: pos, ID: l.ID, Msg: fmt.Sprintf(format, a...)}
}

// prepare looks up the state function, splits off global arguments and
// decodes the rest: strictly, or, with tolerant, dropping unknown
// arguments with a warning each.
func (s *step) prepare(tolerant bool) sls.Errors {
	l := s.low
	e, ok := Lookup(l.Function())
	if !ok {
		return sls.Errors{errAt(l, l.Pos, "%v", unknownFunction(l.Function()))}
	}
	s.entry = e
	var errs sls.Errors
	args := make(map[string]any, len(l.Args))
	for k, v := range l.Args {
		if isGlobalArg(k) && (k != "check_cmd" || !e.ownCheckCmd) {
			continue
		}
		args[k] = v
	}
	g, gerrs := parseGlobals(l.Args)
	if e.ownCheckCmd {
		g.checkCmd = nil
	}
	s.globals = g
	for _, ge := range gerrs {
		errs = append(errs, errAt(l, argPos(l, ge.Arg), "%s: %s", l.Function(), ge.Msg))
	}
	decoded, err := e.Decode(args)
	if aerrs, ok := err.(ArgErrors); ok && tolerant {
		unknown := 0
		for _, ae := range aerrs {
			if ae.Unknown {
				s.warnings = append(s.warnings, ae.Msg)
				delete(args, ae.Arg)
				unknown++
			}
		}
		if unknown > 0 {
			decoded, err = e.Decode(args)
		}
	}
	if err != nil {
		if aerrs, ok := err.(ArgErrors); ok {
			for _, ae := range aerrs {
				errs = append(errs, errAt(l, argPos(l, ae.Arg), "%s: %s", l.Function(), ae.Msg))
			}
		} else {
			errs = append(errs, errAt(l, l.Pos, "%s: %v", l.Function(), err))
		}
		return errs
	}
	s.args = decoded
	return errs
}

func argPos(l *sls.Low, arg string) sls.Pos {
	if p, ok := l.ArgPos[arg]; ok {
		return p
	}
	return l.Pos
}

// parseReqKind splits a requisite keyword into its relation and form.
func parseReqKind(keyword string) (kind reqKind, in, anyForm, all, use, ok bool) {
	base := keyword
	if b, found := strings.CutSuffix(base, "_in"); found {
		base, in = b, true
	}
	if b, found := strings.CutSuffix(base, "_any"); found {
		base, anyForm = b, true
	}
	if base == "onfail_all" {
		base, all = "onfail", true
	}
	if base == "use" {
		return 0, in, false, false, true, !anyForm && !all
	}
	for k, name := range reqKindNames {
		if name == base {
			kind = reqKind(k)
			if anyForm && (kind == reqPrereq || kind == reqListen) {
				return 0, false, false, false, false, false
			}
			return kind, in, anyForm, all, false, true
		}
	}
	return 0, false, false, false, false, false
}

// targetIndex finds states by ID, name or SLS for requisite resolution.
type targetIndex struct {
	steps  []*step
	byID   map[string][]*step
	byName map[string][]*step
	bySLS  map[string][]*step
	// lenient: a requisite without a target fails its state at run time.
	lenient bool
}

func newTargetIndex(steps []*step) *targetIndex {
	t := &targetIndex{steps: steps, byID: map[string][]*step{}, byName: map[string][]*step{}, bySLS: map[string][]*step{}}
	for _, s := range steps {
		t.byID[s.low.ID] = append(t.byID[s.low.ID], s)
		if s.low.Name != s.low.ID {
			t.byName[s.low.Name] = append(t.byName[s.low.Name], s)
		}
		t.bySLS[s.low.SLS] = append(t.bySLS[s.low.SLS], s)
	}
	return t
}

// find returns the states a requisite points at, in definition order.
func (t *targetIndex) find(r sls.Req) []*step {
	var out []*step
	seen := map[*step]bool{}
	add := func(ss []*step) {
		for _, s := range ss {
			if !seen[s] && (r.Module == "" || r.Module == "sls" || s.low.Module == r.Module) {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	switch r.Module {
	case "id":
		// Salt's generic "- id: X": any state with that ID.
		r.Module = ""
		if isGlob(r.Target) {
			for _, s := range t.steps {
				if fnmatch.Match(r.Target, s.low.ID) {
					add([]*step{s})
				}
			}
		} else {
			add(t.byID[r.Target])
		}
		return out
	case "name":
		// "- name: X": any state with that name.
		r.Module = ""
		for _, s := range t.steps {
			if (isGlob(r.Target) && fnmatch.Match(r.Target, s.low.Name)) || s.low.Name == r.Target {
				add([]*step{s})
			}
		}
		return out
	}
	if r.Module == "sls" {
		if isGlob(r.Target) {
			for _, s := range t.steps {
				if fnmatch.Match(r.Target, s.low.SLS) {
					add([]*step{s})
				}
			}
		} else {
			add(t.bySLS[r.Target])
		}
		return out
	}
	if isGlob(r.Target) {
		for _, s := range t.steps {
			if fnmatch.Match(r.Target, s.low.ID) || fnmatch.Match(r.Target, s.low.Name) {
				add([]*step{s})
			}
		}
	} else {
		add(t.byID[r.Target])
		add(t.byName[r.Target])
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].low.Index < out[j].low.Index })
	return out
}

// resolve turns s's requisites into groups on s (or, for _in forms, on the
// targets) and records `use` sources.
func (t *targetIndex) resolve(s *step, uses map[*step][]*step) sls.Errors {
	var errs sls.Errors
	for _, r := range s.low.Reqs {
		kind, in, anyForm, all, use, ok := parseReqKind(r.Kind)
		if !ok {
			errs = append(errs, errAt(s.low, r.Pos, "unknown requisite %q", r.Kind))
			continue
		}
		targets := t.find(r)
		if len(targets) == 0 && in && r.Module == "sls" {
			continue // as in Salt: an _in on an SLS without states adds nothing
		}
		if len(targets) == 0 && in && t.lenient && isGlob(r.Target) {
			continue // as in Salt's runs: an _in glob that matches no state adds nothing (brine test render reports it)
		}
		if len(targets) == 0 && t.lenient && !in && !use {
			s.missing = append(s.missing, r)
			continue
		}
		if len(targets) == 0 {
			errs = append(errs, errAt(s.low, r.Pos, "%s: requisite %s not found: no state has ID or name %q%s%s",
				s.low.Function(), r.Kind, r.Target, moduleHint(r.Module), t.hint(r)))
			continue
		}
		if use {
			if in {
				for _, tg := range targets {
					uses[tg] = append(uses[tg], s)
				}
			} else {
				uses[s] = append(uses[s], targets...)
			}
			continue
		}
		if in {
			for _, tg := range targets {
				if tg == s {
					errs = append(errs, errAt(s.low, r.Pos, "%s: requisite %s points at the state itself", s.low.Function(), r.Kind))
					continue
				}
				tg.addGroup(kind, anyForm, all, true, strings.TrimSuffix(r.Kind, "_in"), []*step{s})
			}
			continue
		}
		var others []*step
		for _, tg := range targets {
			if tg == s {
				if r.Module == "sls" || isGlob(r.Target) {
					continue // a group that happens to contain the state itself
				}
				errs = append(errs, errAt(s.low, r.Pos, "%s: requisite %s points at the state itself", s.low.Function(), r.Kind))
				continue
			}
			others = append(others, tg)
		}
		if len(others) > 0 {
			s.addGroup(kind, anyForm, all, false, r.Kind, others)
		}
	}
	return errs
}

// hint tells how to fix requisite r that points at nothing: the module
// to write when the target exists under another one (a requisite names
// the module, "- ovs: overlay", not the function, "- ovs.mesh: overlay"),
// else the closest ID or name.
func (t *targetIndex) hint(r sls.Req) string {
	if r.Module != "" && r.Module != "sls" && r.Module != "id" && r.Module != "name" {
		loose := r
		loose.Module = ""
		if found := t.find(loose); len(found) > 0 {
			mod := found[0].low.Module
			if m, _, ok := strings.Cut(r.Module, "."); ok && m == mod {
				return fmt.Sprintf(": a requisite names the module, not the function: write \"- %s: %s\"", mod, r.Target)
			}
			return fmt.Sprintf(": %q is a %s state: write \"- %s: %s\"", r.Target, found[0].low.Function(), mod, r.Target)
		}
	}
	return t.suggest(r.Target)
}

// suggest names the closest ID or name to a requisite target not found.
func (t *targetIndex) suggest(target string) string {
	cands := make([]string, 0, len(t.byID)+len(t.byName))
	for id := range t.byID {
		cands = append(cands, id)
	}
	for name := range t.byName {
		cands = append(cands, name)
	}
	sort.Strings(cands)
	if s := Suggest(target, cands); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

func moduleHint(module string) string {
	if module == "" {
		return ""
	}
	return fmt.Sprintf(" with module %q", module)
}

// addGroup adds targets to s's group for keyword, creating it as needed;
// fromIn tells that a target's _in requisite put it there. Plain
// onchanges and onfail are "any" groups as Salt defines them.
func (s *step) addGroup(kind reqKind, anyForm, all, fromIn bool, keyword string, targets []*step) {
	if kind == reqOnchanges || (kind == reqOnfail && !all) {
		anyForm = true
	}
	if kind == reqPrereq {
		for _, tg := range targets {
			if fromIn {
				tg.prereqBy = append(tg.prereqBy, s)
				continue
			}
			tg.prereqBy = slices.Insert(tg.prereqBy, tg.directPrereqBy, s)
			tg.directPrereqBy++
		}
	}
	for _, g := range s.groups {
		if g.kind == kind && g.any == anyForm && g.all == all {
			g.targets = append(g.targets, targets...)
			return
		}
	}
	s.groups = append(s.groups, &reqGroup{kind: kind, any: anyForm, all: all, keyword: keyword, targets: targets})
}

// applyUse copies arguments from the used states of the same module that
// s does not set itself (never requisites or names).
func applyUse(s *step, from []*step) {
	for _, src := range from {
		if src.low.Module != s.low.Module {
			continue
		}
		if s.low.Args == nil {
			s.low.Args = map[string]any{}
		}
		for k, v := range src.low.Args {
			if _, set := s.low.Args[k]; !set {
				s.low.Args[k] = v
			}
		}
	}
}

// assignOrder computes Salt's numeric order: first is 0, numbers as given,
// unordered states after every numbered one, last after everything, and
// negative numbers counted back from last.
func assignOrder(steps []*step) {
	capOrder := 1.0
	for _, s := range steps {
		if o := s.low.Order; o.Kind == sls.OrderNumber && float64(o.N) > capOrder-1 && o.N > 0 {
			capOrder = float64(o.N) + 100
		}
	}
	for _, s := range steps {
		switch o := s.low.Order; o.Kind {
		case sls.OrderFirst:
			s.order = 0
		case sls.OrderLast:
			s.order = capOrder + 1e6
		case sls.OrderNumber:
			s.order = float64(o.N)
			if o.N < 0 {
				s.order = capOrder + 1e6 + float64(o.N)
			}
		default:
			s.order = capOrder
		}
	}
}

// deps returns the states that must have run before s, in the order a run
// runs them: the states with a prereq on it and its requisite targets
// (listen does not order).
func (s *step) deps() []*step {
	return append(slices.Clip(s.prereqBy), s.requisiteDeps()...)
}

// softDeps are the states a run runs before s when it can: what the
// targets of s's prereqs require, so that their test runs see those
// results. A soft dependency that itself waits for s is left for later,
// and the test run counts it as met (Salt runs prereq_in, require_in and
// prereq together this way).
func (s *step) softDeps() []*step {
	var out []*step
	for _, g := range s.groups {
		if g.kind == reqPrereq {
			for _, t := range g.targets {
				out = append(out, t.requisiteDeps()...)
			}
		}
	}
	return out
}

// reaches reports whether s is among the (transitive) deps of from.
func reaches(from, s *step) bool {
	seen := map[*step]bool{}
	var walk func(x *step) bool
	walk = func(x *step) bool {
		if x == s {
			return true
		}
		if seen[x] {
			return false
		}
		seen[x] = true
		return slices.ContainsFunc(x.deps(), walk)
	}
	return walk(from)
}

// findCycles reports every requisite cycle, naming each state on it.
func findCycles(steps []*step) sls.Errors {
	const (
		white = iota
		grey
		black
	)
	color := make(map[*step]int, len(steps))
	var errs sls.Errors
	var stack []*step
	var visit func(s *step)
	visit = func(s *step) {
		color[s] = grey
		stack = append(stack, s)
		for _, d := range s.deps() {
			switch color[d] {
			case white:
				visit(d)
			case grey:
				errs = append(errs, cycleError(stack, d))
			}
		}
		stack = stack[:len(stack)-1]
		color[s] = black
	}
	for _, s := range steps {
		if color[s] == white {
			visit(s)
		}
	}
	return errs
}

func cycleError(stack []*step, back *step) *sls.Error {
	start := len(stack) - 1
	for start > 0 && stack[start] != back {
		start--
	}
	var parts []string
	for _, s := range stack[start:] {
		parts = append(parts, fmt.Sprintf("%s (%s)", s.low.ID, s.low.Pos))
	}
	parts = append(parts, fmt.Sprintf("%s (%s)", back.low.ID, back.low.Pos))
	first := stack[start]
	return errAt(first.low, first.low.Pos, "requisite cycle: %s", strings.Join(parts, " -> "))
}

func isGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

// sortErrors orders compile errors by file, then line.
func sortErrors(errs sls.Errors) {
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Pos.File != errs[j].Pos.File {
			return errs[i].Pos.File < errs[j].Pos.File
		}
		return errs[i].Pos.Line < errs[j].Pos.Line
	})
}
