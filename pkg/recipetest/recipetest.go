// Package recipetest compiles a state tree for a set of minions at once and
// lints what compiles but is wrong, for `brine test render`: a git hook or
// a CI job learns every error of every minion before any minion sees the
// change. The compile itself is given by the caller (it needs the state
// engine, which sits above this package); reports come out as text, JSON
// or JUnit XML.
package recipetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/brinecm/brine/pkg/sls"
)

// Compiled is what compiling the tree gave for one minion.
type Compiled struct {
	Lows []sls.Low // the states compiled; with errors, what could be compiled
	Top  []string  // the SLS names the top file gives the minion (highstate only)
	Errs sls.Errors
}

// CompileFunc compiles the tree for one minion. Recipe errors go in
// Compiled.Errs; the error return is for what stops the whole run (a
// cancelled context).
type CompileFunc func(ctx context.Context, m Minion) (Compiled, error)

// Options configure a Render.
type Options struct {
	Compile   CompileFunc
	FileRoots []string // the state tree, read by the lints
	// Highstate says the whole highstate was compiled (no SLS named), so
	// an SLS no minion reaches is worth a warning.
	Highstate bool
	// Coverage enables the lints that need the whole set of minions (an
	// SLS or a state no minion gets): on for fixtures, off for one host.
	Coverage bool
	// Jobs bounds the compiles run at once; 0 means GOMAXPROCS.
	Jobs int
}

// Problem is one error or warning, where it is and what is wrong.
type Problem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	ID      string `json:"id,omitempty"`
	Message string `json:"message"`
}

// Location formats "FILE:LINE: ID: " with the unknown parts left out.
func (p Problem) Location() string {
	s := ""
	if p.File != "" {
		s = p.File
		if p.Line > 0 {
			s += fmt.Sprintf(":%d", p.Line)
		}
		s += ": "
	}
	if p.ID != "" {
		s += p.ID + ": "
	}
	return s
}

// String formats the problem as "FILE:LINE: ID: message".
func (p Problem) String() string { return p.Location() + p.Message }

// Warning is a lint finding: the tree compiles, but something is wrong.
type Warning struct {
	Lint string `json:"lint"` // one of the Lint* constants
	Problem
}

// Lint names, as they appear in reports.
const (
	LintMissingSource    = "missing-source"
	LintUnreachedSLS     = "unreached-sls"
	LintUnusedState      = "unused-state"
	LintPartialRequisite = "partial-requisite"
)

// MinionResult is the outcome for one minion.
type MinionResult struct {
	ID     string    `json:"id"`
	States int       `json:"states"`
	Errors []Problem `json:"errors"`
}

// Report is the outcome of a Render: minions sorted by id, warnings by
// file and line.
type Report struct {
	Minions  []MinionResult `json:"minions"`
	Warnings []Warning      `json:"warnings"`
}

// Failed reports whether any minion has an error.
func (r *Report) Failed() bool {
	for _, m := range r.Minions {
		if len(m.Errors) > 0 {
			return true
		}
	}
	return false
}

// ErrorCount returns the number of errors over all minions.
func (r *Report) ErrorCount() int {
	n := 0
	for _, m := range r.Minions {
		n += len(m.Errors)
	}
	return n
}

// Render compiles the tree for every minion, in parallel, then lints the
// results together.
func Render(ctx context.Context, minions []Minion, opts Options) (*Report, error) {
	if opts.Compile == nil {
		return nil, errors.New("render: no compile function")
	}
	if len(minions) == 0 {
		return nil, errors.New("render: no minions to render for")
	}
	compiled, err := compileAll(ctx, minions, opts.Compile, opts.Jobs)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	rep := &Report{Minions: make([]MinionResult, len(minions))}
	for i, m := range minions {
		rep.Minions[i] = MinionResult{ID: m.ID, States: len(compiled[i].Lows), Errors: problems(compiled[i].Errs)}
	}
	slices.SortStableFunc(rep.Minions, func(a, b MinionResult) int { return cmp.Compare(a.ID, b.ID) })
	w, err := lint(minions, compiled, opts)
	if err != nil {
		return nil, err
	}
	rep.Warnings = w
	return rep, nil
}

// compileAll compiles the tree for every minion, at most jobs at once (0:
// GOMAXPROCS), and returns the results in the order of minions.
func compileAll(ctx context.Context, minions []Minion, compile CompileFunc, jobs int) ([]Compiled, error) {
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	compiled := make([]Compiled, len(minions))
	errs := make([]error, len(minions))
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i := range minions {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := ctx.Err(); err != nil {
				errs[i] = err
				return
			}
			compiled[i], errs[i] = compile(ctx, minions[i])
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return compiled, nil
}

// problems turns compile errors into Problems, sorted by file and line,
// each once.
func problems(errs sls.Errors) []Problem {
	out := []Problem{}
	seen := map[Problem]bool{}
	for _, e := range errs {
		p := Problem{File: e.Pos.File, Line: e.Pos.Line, ID: e.ID, Message: e.Msg}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, compareProblems)
	return out
}

func compareProblems(a, b Problem) int {
	return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Message, b.Message))
}
