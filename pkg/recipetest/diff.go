package recipetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/brinecm/brine/pkg/sls"
)

// Revision is one side of a diff: a name for the reports (a git revision,
// or "work tree") and the compile of the state tree at that revision.
type Revision struct {
	Name    string
	Compile CompileFunc
}

// StateRef names one compiled state: its ID and module.function, and its
// name when a `names:` list made several states of that ID and function.
type StateRef struct {
	ID       string `json:"id"`
	Function string `json:"function"`
	Name     string `json:"name,omitempty"`
}

// String formats the state as "id (module.fun)", or "id (module.fun) [name]"
// for one of several states a `names:` list made.
func (s StateRef) String() string {
	out := s.ID + " (" + s.Function + ")"
	if s.Name != "" {
		out += " [" + s.Name + "]"
	}
	return out
}

// ArgChange is the old and the new value of one argument; an argument that
// is not set on one side is null there.
type ArgChange struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// StateChange is a state both revisions have, with the arguments that
// differ between them. Arguments are those the state is written with,
// plus `name`, its requisites (one per kind, e.g. `require`), `order`
// and `failhard`.
type StateChange struct {
	StateRef
	Args map[string]ArgChange `json:"args"`
}

// MinionDiff is what a change does to one minion's states.
type MinionDiff struct {
	Added   []StateRef    `json:"added"`
	Removed []StateRef    `json:"removed"`
	Changed []StateChange `json:"changed"`
}

func (d MinionDiff) empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// RevisionError is a compile error of one minion at one revision.
type RevisionError struct {
	Revision string `json:"revision"`
	Minion   string `json:"minion"`
	Problem
}

// DiffReport is the outcome of a Diff: for every minion whose states
// differ, what differs (minions with no change are left out), or, when a
// revision does not compile for some minion, its errors and no diff.
type DiffReport struct {
	From    string                `json:"from"`
	To      string                `json:"to"`
	Minions map[string]MinionDiff `json:"minions"`
	Errors  []RevisionError       `json:"errors,omitempty"`
	Total   int                   `json:"-"` // minions compared
}

// Changed reports whether any minion's states differ.
func (r *DiffReport) Changed() bool { return len(r.Minions) > 0 }

// Failed reports whether a revision did not compile for some minion.
func (r *DiffReport) Failed() bool { return len(r.Errors) > 0 }

// Diff compiles both revisions for every minion and compares, per minion,
// the states each gives: added, removed, and changed (argument by
// argument). A revision that does not compile for a minion gives that
// minion's errors and no diff at all, as a partial compile is no plan.
func Diff(ctx context.Context, minions []Minion, from, to Revision, jobs int) (*DiffReport, error) {
	if from.Compile == nil || to.Compile == nil {
		return nil, errors.New("diff: no compile function")
	}
	if len(minions) == 0 {
		return nil, errors.New("diff: no minions to compare")
	}
	rep := &DiffReport{From: from.Name, To: to.Name, Minions: map[string]MinionDiff{}, Total: len(minions)}
	var sides [2][]Compiled
	for i, rev := range []Revision{from, to} {
		c, err := compileAll(ctx, minions, rev.Compile, jobs)
		if err != nil {
			return nil, fmt.Errorf("diff: compile %s: %w", rev.Name, err)
		}
		sides[i] = c
		for j, m := range minions {
			for _, p := range problems(c[j].Errs) {
				rep.Errors = append(rep.Errors, RevisionError{Revision: rev.Name, Minion: m.ID, Problem: p})
			}
		}
	}
	if rep.Failed() {
		return rep, nil
	}
	for i, m := range minions {
		if d := diffLows(sides[0][i].Lows, sides[1][i].Lows); !d.empty() {
			rep.Minions[m.ID] = d
		}
	}
	return rep, nil
}

// diffLows compares two compiled state lists of one minion.
func diffLows(old, cur []sls.Low) MinionDiff {
	// A state is its ID and function; a names: list makes several of one
	// ID and function, told apart by name, on both sides alike.
	type idFun struct{ id, fun string }
	count := map[idFun]int{}
	for _, lows := range [][]sls.Low{old, cur} {
		seen := map[idFun]int{}
		for i := range lows {
			k := idFun{lows[i].ID, lows[i].Function()}
			seen[k]++
			count[k] = max(count[k], seen[k])
		}
	}
	index := func(lows []sls.Low) (map[StateRef]*sls.Low, []StateRef) {
		byRef := map[StateRef]*sls.Low{}
		var refs []StateRef
		for i := range lows {
			l := &lows[i]
			ref := StateRef{ID: l.ID, Function: l.Function()}
			if count[idFun{l.ID, ref.Function}] > 1 {
				ref.Name = l.Name
			}
			if _, dup := byRef[ref]; !dup {
				byRef[ref] = l
				refs = append(refs, ref)
			}
		}
		return byRef, refs
	}
	oldBy, oldRefs := index(old)
	curBy, curRefs := index(cur)
	d := MinionDiff{Added: []StateRef{}, Removed: []StateRef{}, Changed: []StateChange{}}
	for _, ref := range curRefs {
		o, ok := oldBy[ref]
		if !ok {
			d.Added = append(d.Added, ref)
			continue
		}
		if args := diffArgs(lowArgs(o), lowArgs(curBy[ref])); len(args) > 0 {
			d.Changed = append(d.Changed, StateChange{StateRef: ref, Args: args})
		}
	}
	for _, ref := range oldRefs {
		if _, ok := curBy[ref]; !ok {
			d.Removed = append(d.Removed, ref)
		}
	}
	slices.SortFunc(d.Added, compareRefs)
	slices.SortFunc(d.Removed, compareRefs)
	slices.SortFunc(d.Changed, func(a, b StateChange) int { return compareRefs(a.StateRef, b.StateRef) })
	return d
}

func compareRefs(a, b StateRef) int {
	return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Function, b.Function), cmp.Compare(a.Name, b.Name))
}

// lowArgs returns the arguments of a state as a Salt user writes them:
// name, the other arguments, the requisites by kind, order and failhard.
func lowArgs(l *sls.Low) map[string]any {
	args := make(map[string]any, len(l.Args)+4)
	for k, v := range l.Args {
		args[k] = plain(v)
	}
	args["name"] = l.Name
	for _, r := range l.Reqs {
		var target any = r.Target
		if r.Module != "" {
			target = map[string]any{r.Module: r.Target}
		}
		list, _ := args[r.Kind].([]any)
		args[r.Kind] = append(list, target)
	}
	switch l.Order.Kind {
	case sls.OrderFirst:
		args["order"] = "first"
	case sls.OrderLast:
		args["order"] = "last"
	case sls.OrderNumber:
		args["order"] = l.Order.N
	}
	if l.Failhard {
		args["failhard"] = true
	}
	return args
}

// diffArgs returns the arguments whose values differ, nil when none do.
func diffArgs(old, cur map[string]any) map[string]ArgChange {
	var out map[string]ArgChange
	for _, m := range []map[string]any{old, cur} {
		for k := range m {
			o, cv := old[k], cur[k]
			if reflect.DeepEqual(o, cv) {
				continue
			}
			if out == nil {
				out = map[string]ArgChange{}
			}
			out[k] = ArgChange{Old: o, New: cv}
		}
	}
	return out
}

// plain turns YAML's maps with non-string keys into string-keyed maps,
// recursively, so that every value can be compared and printed as JSON.
func plain(v any) any {
	switch v := v.(type) {
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = plain(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = plain(e)
		}
		return out
	}
	return v
}
