// Package state provides the state execution module: state.apply,
// state.highstate, state.sls, state.single and the state.show_* functions
// that compile recipes without applying them.
package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/states"
)

// runArgs are the keyword arguments every state run takes.
type runArgs struct {
	Mods     []string       `arg:"mods"`
	Test     bool           `arg:"test"`
	Pillar   map[string]any `arg:"pillar"`
	Saltenv  string         `arg:"saltenv"`
	Failhard bool           `arg:"failhard"`
}

type singleArgs struct {
	Fun    string         `arg:"fun,required"`
	Name   string         `arg:"name,required"`
	Test   bool           `arg:"test"`
	Pillar map[string]any `arg:"pillar"`
	Args   map[string]any `arg:"*"`
}

func init() {
	modules.Register("state.apply", modules.Func[runArgs]{
		Doc:    "Apply the named SLS files, or the highstate when none are named.",
		Params: []string{"mods..."},
		Call: func(ctx context.Context, rt *modules.Runtime, a *runArgs) (any, error) {
			return run(ctx, rt, a)
		},
	})
	modules.Register("state.sls", modules.Func[runArgs]{
		Doc:    "Apply the named SLS files.",
		Params: []string{"mods..."},
		Call: func(ctx context.Context, rt *modules.Runtime, a *runArgs) (any, error) {
			if len(a.Mods) == 0 {
				return nil, errors.New("name at least one SLS file to apply")
			}
			return run(ctx, rt, a)
		},
	})
	modules.Register("state.highstate", modules.Func[runArgs]{
		Doc: "Apply every SLS file the top file assigns to this minion.",
		Call: func(ctx context.Context, rt *modules.Runtime, a *runArgs) (any, error) {
			a.Mods = nil
			return run(ctx, rt, a)
		},
	})
	modules.Register("state.single", modules.Func[singleArgs]{
		Doc:    "Apply one state function directly: state.single file.managed /etc/motd contents=hi.",
		Params: []string{"fun", "name"},
		Call:   single,
	})
	// The state.show_* functions are Pure: they compile the master's state
	// tree with the runtime they are given, so a template's own calls to
	// functions that are not Pure still go through its Remote.
	modules.Register("state.show_sls", modules.Func[runArgs]{
		Pure:   true,
		Doc:    "Show the compiled data of the named SLS files, by ID.",
		Params: []string{"mods..."},
		Call: func(ctx context.Context, rt *modules.Runtime, a *runArgs) (any, error) {
			if len(a.Mods) == 0 {
				return nil, errors.New("name at least one SLS file to show")
			}
			return show(ctx, rt, a, highData)
		},
	})
	modules.Register("state.show_highstate", modules.Func[runArgs]{
		Pure: true,
		Doc:  "Show the compiled data of the highstate, by ID.",
		Call: func(ctx context.Context, rt *modules.Runtime, a *runArgs) (any, error) {
			a.Mods = nil
			return show(ctx, rt, a, highData)
		},
	})
	modules.Register("state.show_lowstate", modules.Func[runArgs]{
		Pure:   true,
		Doc:    "Show the low chunks of the highstate (or of the named SLS files) in run order.",
		Params: []string{"mods..."},
		Call: func(ctx context.Context, rt *modules.Runtime, a *runArgs) (any, error) {
			return show(ctx, rt, a, lowData)
		},
	})
	modules.Register("state.show_low_sls", modules.Func[runArgs]{
		Pure:   true,
		Doc:    "Show the low chunks of the named SLS files (with their includes) in run order, as Salt's state.show_low_sls.",
		Params: []string{"mods..."},
		Call: func(ctx context.Context, rt *modules.Runtime, a *runArgs) (any, error) {
			if len(a.Mods) == 0 {
				return nil, errors.New("state.show_low_sls needs the SLS files to show, e.g. state.show_low_sls web")
			}
			return show(ctx, rt, a, lowData)
		},
	})
	modules.Register("state.show_states", modules.Func[runArgs]{
		Pure:   true,
		Doc:    "List the SLS files whose states the highstate (or the named SLS files, with their includes) would apply, in run order.",
		Params: []string{"mods..."},
		Call: func(ctx context.Context, rt *modules.Runtime, a *runArgs) (any, error) {
			plan, _, err := Compile(ctx, rt, a.Mods, a.Pillar)
			if err != nil {
				return nil, err
			}
			out := []any{}
			seen := map[string]bool{}
			for _, l := range plan.Lows() {
				if !seen[l.SLS] {
					seen[l.SLS] = true
					out = append(out, l.SLS)
				}
			}
			return out, nil
		},
	})
	modules.Register("state.show_top", modules.Func[runArgs]{
		Pure: true,
		Doc:  "Show the SLS files the top file assigns to this minion.",
		Call: func(ctx context.Context, rt *modules.Runtime, a *runArgs) (any, error) {
			c := compiler(rt, a.Pillar)
			names, err := c.Top(ctx)
			if err != nil {
				return nil, err
			}
			list := make([]any, len(names))
			for i, n := range names {
				list[i] = n
			}
			return map[string]any{"base": list}, nil
		},
	})
}

func compiler(rt *modules.Runtime, pillar map[string]any) *sls.Compiler {
	return sls.New(sls.Config{
		FileRoots:   rt.FileRoots,
		PillarRoots: rt.PillarRoots,
		ID:          rt.ID,
		Grains:      rt.Grains,
		Pillar:      pillar,
		Opts:        rt.Opts,
		Caller:      modules.Caller{Runtime: rt},
		Limits:      rt.Limits,
		Templates:   rt.Templates,
	})
}

// Compile compiles the named SLS files (the highstate when none) for the
// runtime's minion and plans them as a run would, for state.show_*: as
// Salt shows them, a state whose requisite is missing or that has an
// unknown argument is listed, and each such problem is logged as a warning
// (`brine test render` refuses them). Every compile error of both stages
// comes back together as sls.Errors.
func Compile(ctx context.Context, rt *modules.Runtime, mods []string, pillar map[string]any) (*states.Plan, *sls.Compiler, error) {
	plan, c, err := compile(ctx, rt, mods, pillar, runOptions(rt))
	if err != nil {
		return nil, nil, err
	}
	if rt.Log != nil {
		for _, w := range plan.Warnings() {
			rt.Log.Warn(w)
		}
	}
	return plan, c, nil
}

// runOptions plan a run as Salt runs one: a missing requisite fails its
// state only, an unknown argument warns unless the configuration sets
// strict_arguments.
func runOptions(rt *modules.Runtime) states.PlanOptions {
	strict, _ := rt.Opts["strict_arguments"].(bool)
	return states.PlanOptions{Run: true, StrictArguments: strict}
}

func compile(ctx context.Context, rt *modules.Runtime, mods []string, pillar map[string]any, opts states.PlanOptions) (*states.Plan, *sls.Compiler, error) {
	c := compiler(rt, pillar)
	mods = splitMods(mods)
	var lows []sls.Low
	var err error
	if len(mods) == 0 {
		lows, err = c.Highstate(ctx)
	} else {
		lows, err = c.SLS(ctx, mods...)
	}
	plan, err := states.PrepareWith(lows, resolve(ctx, rt, lows, err), opts)
	if err != nil {
		return nil, nil, err
	}
	return plan, c, nil
}

// resolve runs the compile-time hooks of the compiled states (mesh peers
// from the runtime's mine) and returns compileErr with their errors added.
func resolve(ctx context.Context, rt *modules.Runtime, lows []sls.Low, compileErr error) error {
	var errs sls.Errors
	if compileErr != nil && !errors.As(compileErr, &errs) {
		return compileErr
	}
	err := states.Resolve(ctx, lows, &states.Compiling{ID: rt.ID, Grains: rt.Grains, Mine: rt.FleetMine()})
	var rerrs sls.Errors
	if errors.As(err, &rerrs) {
		errs = append(errs, rerrs...)
	} else if err != nil {
		return err
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// splitMods accepts Salt's comma-separated form: state.apply web,db.
func splitMods(mods []string) []string {
	var out []string
	for _, m := range mods {
		for _, part := range strings.Split(m, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// CompiledOnMaster reports whether fun is a state run a master compiles for
// its minion (the minion then applies the compiled states it receives).
func CompiledOnMaster(fun string) bool {
	switch fun {
	case "state.apply", "state.highstate", "state.sls":
		return true
	}
	return false
}

// IsHighstate reports whether a call of fun with args and kwargs applies
// the whole highstate rather than some SLS files.
func IsHighstate(fun string, args []any, kwargs map[string]any) bool {
	switch fun {
	case "state.highstate":
		return true
	case "state.apply":
		return len(args) == 0 && kwargs["mods"] == nil
	}
	return false
}

// CompileFor compiles, on the master, the states a call of fun (one of
// CompiledOnMaster) gives the minion rt describes, with that minion's
// grains and its own pillar. It returns the low chunks and the pillar the
// minion needs to apply them, or every compile error as sls.Errors.
func CompileFor(ctx context.Context, rt *modules.Runtime, fun string, args []any, kwargs map[string]any) ([]sls.Low, map[string]any, error) {
	e, ok := modules.Lookup(fun)
	if !ok || !CompiledOnMaster(fun) {
		return nil, nil, fmt.Errorf("%s is not a state run", fun)
	}
	raw, err := e.Bind(args, kwargs)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", fun, err)
	}
	var a runArgs
	if err := states.Decode(raw, &a); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", fun, err)
	}
	if fun == "state.highstate" {
		a.Mods = nil
	}
	c := compiler(rt, a.Pillar)
	mods := splitMods(a.Mods)
	var lows []sls.Low
	if len(mods) == 0 {
		lows, err = c.Highstate(ctx)
	} else {
		lows, err = c.SLS(ctx, mods...)
	}
	if _, err := states.PrepareWith(lows, resolve(ctx, rt, lows, err), runOptions(rt)); err != nil {
		return nil, nil, err
	}
	pillar, err := c.Pillar(ctx)
	if err != nil {
		return nil, nil, err
	}
	return lows, pillar, nil
}

// RunCompiled applies, on a minion, states its master compiled: files is
// the master's state tree as the minion reaches it, pillar the minion's
// own pillar; kwargs carry test and failhard.
func RunCompiled(ctx context.Context, rt *modules.Runtime, files fs.FS, lows []sls.Low, pillar, kwargs map[string]any) (result.Highstate, error) {
	var a struct {
		Test     bool           `arg:"test"`
		Failhard bool           `arg:"failhard"`
		Rest     map[string]any `arg:"*"`
	}
	if err := states.Decode(kwargs, &a); err != nil {
		return nil, err
	}
	plan, err := states.PrepareWith(lows, nil, runOptions(rt))
	if err != nil {
		return nil, err
	}
	c := sls.New(sls.Config{Files: files, ID: rt.ID, Grains: rt.Grains, Pillar: pillar, Opts: rt.Opts,
		Caller: modules.Caller{Runtime: rt}})
	return plan.Run(ctx, states.RunOptions{Test: a.Test, Env: c, Log: rt.Log, Failhard: a.Failhard}), nil
}

func run(ctx context.Context, rt *modules.Runtime, a *runArgs) (result.Highstate, error) {
	if a.Saltenv != "" && a.Saltenv != "base" {
		return nil, fmt.Errorf("saltenv %q: only the base environment exists", a.Saltenv)
	}
	plan, c, err := compile(ctx, rt, a.Mods, a.Pillar, runOptions(rt))
	if err != nil {
		return nil, err
	}
	return plan.Run(ctx, states.RunOptions{Test: a.Test, Env: c, Log: rt.Log, Failhard: a.Failhard}), nil
}

func single(ctx context.Context, rt *modules.Runtime, a *singleArgs) (any, error) {
	module, fun, ok := strings.Cut(a.Fun, ".")
	if !ok {
		return nil, fmt.Errorf("state function %q: expected module.function", a.Fun)
	}
	low := sls.Low{ID: a.Name, Name: a.Name, Module: module, Fun: fun, SLS: "", Env: "base",
		Args: a.Args, Pos: sls.Pos{File: "<command line>"}}
	lows := []sls.Low{low}
	plan, err := states.PrepareWith(lows, resolve(ctx, rt, lows, nil), runOptions(rt))
	if err != nil {
		return nil, err
	}
	c := compiler(rt, a.Pillar)
	return plan.Run(ctx, states.RunOptions{Test: a.Test, Env: c, Log: rt.Log}), nil
}

type view int

const (
	highData view = iota
	lowData
)

func show(ctx context.Context, rt *modules.Runtime, a *runArgs, v view) (any, error) {
	plan, _, err := Compile(ctx, rt, a.Mods, a.Pillar)
	if err != nil {
		return nil, err
	}
	lows := plan.Lows()
	if v == lowData {
		out := make([]any, len(lows))
		for i, l := range lows {
			m := map[string]any{"__id__": l.ID, "__sls__": l.SLS, "__env__": l.Env, "name": l.Name,
				"state": l.Module, "fun": l.Fun, "order": i + 1}
			for k, val := range l.Args {
				m[k] = val
			}
			out[i] = m
		}
		return out, nil
	}
	out := map[string]any{}
	for _, l := range lows {
		id, _ := out[l.ID].(map[string]any)
		if id == nil {
			id = map[string]any{"__sls__": l.SLS, "__env__": l.Env}
			out[l.ID] = id
		}
		keys := make([]string, 0, len(l.Args))
		for k := range l.Args {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		args := []any{map[string]any{"name": l.Name}}
		for _, k := range keys {
			args = append(args, map[string]any{k: l.Args[k]})
		}
		id[l.Module] = append(args, l.Fun)
	}
	return out, nil
}
