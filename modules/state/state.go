// Package state provides the state execution module: state.apply,
// state.highstate, state.sls, state.single and the state.show_* functions
// that compile recipes without applying them.
package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/fnmatch"
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
	Exclude  exclusions     `arg:"exclude"`
	Mock     bool           `arg:"mock"`
	// Pillarenv compiles the pillar from that pillar environment alone.
	Pillarenv string `arg:"pillarenv"`
}

// RunArgs are the keyword arguments every state run takes (exported so
// that state.sls_id's arguments can embed them).
type RunArgs = runArgs

// slsIDArgs are state.sls_id's: the ID to run and the SLS files it is in.
type slsIDArgs struct {
	ID string `arg:"id,required"`
	RunArgs
}

// templateArgs are state.template's and state.template_str's: the
// template (a path on this host, or the text itself) and the run's options.
type templateArgs struct {
	Tem      string         `arg:"tem,required"`
	Test     bool           `arg:"test"`
	Pillar   map[string]any `arg:"pillar"`
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
	modules.Register("state.sls_id", modules.Func[slsIDArgs]{
		Doc:    "Apply the states of one ID of the named SLS files, and what their requisites need: state.sls_id vhost web.",
		Params: []string{"id", "mods..."},
		Call:   slsID,
	})
	modules.Register("state.template", modules.Func[templateArgs]{
		Doc:    "Apply the states of one SLS template read from a path on this host (no include, exclude or extend).",
		Params: []string{"tem"},
		Call: func(ctx context.Context, rt *modules.Runtime, a *templateArgs) (any, error) {
			src, err := readTemplate(a.Tem, rt.Limits.FileBytes)
			if err != nil {
				return nil, err
			}
			return runTemplate(ctx, rt, a, a.Tem, src)
		},
	})
	modules.Register("state.template_str", modules.Func[templateArgs]{
		Doc:    "Apply the states of SLS text given on the command line (no include, exclude or extend).",
		Params: []string{"tem"},
		Call: func(ctx context.Context, rt *modules.Runtime, a *templateArgs) (any, error) {
			return runTemplate(ctx, rt, a, "<template-str>", []byte(a.Tem))
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
			plan, _, err := compileShownIn(ctx, rt, a)
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
		Doc:  "Show the SLS files the top files assign to this minion, by environment.",
		Call: func(ctx context.Context, rt *modules.Runtime, a *runArgs) (any, error) {
			c := compilerIn(rt, a.Pillar, a.Saltenv, a.Pillarenv)
			envs, _, err := c.TopEnvs(ctx)
			if err != nil {
				return nil, err
			}
			out := map[string]any{}
			for env, names := range envs {
				list := make([]any, len(names))
				for i, n := range names {
					list[i] = n
				}
				out[env] = list
			}
			return out, nil
		},
	})
}

func compiler(rt *modules.Runtime, pillar map[string]any) *sls.Compiler {
	return compilerIn(rt, pillar, "", "")
}

// compilerIn is compiler for a run given saltenv and pillarenv ("": none).
func compilerIn(rt *modules.Runtime, pillar map[string]any, saltenv, pillarenv string) *sls.Compiler {
	return sls.New(sls.Config{
		Saltenv:     saltenv,
		Pillarenv:   pillarenv,
		FileEnvs:    rt.FileEnvs,
		PillarEnvs:  rt.PillarEnvs,
		FileRoots:   rt.FileRoots,
		PillarRoots: rt.PillarRoots,
		ID:          rt.ID,
		Grains:      rt.Grains,
		Pillar:      pillar,
		Opts:        rt.Opts,
		Caller:      modules.Caller{Runtime: rt},
		Limits:      rt.Limits,
		Templates:   rt.Templates,
		PyDSL:       rt.Opts["pydsl"] == true,
		// Salt's top file keys, as the configuration put them in opts.
		TopMerging:      optString(rt.Opts, "top_file_merging_strategy"),
		EnvOrder:        optStrings(rt.Opts, "env_order"),
		DefaultTop:      optString(rt.Opts, "default_top"),
		StateTopSaltenv: optString(rt.Opts, "state_top_saltenv"),
	})
}

// optString is opts[key] when it is a string.
func optString(opts map[string]any, key string) string {
	s, _ := opts[key].(string)
	return s
}

// optStrings is opts[key] as a list of strings ([]string or []any).
func optStrings(opts map[string]any, key string) []string {
	switch v := opts[key].(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Compile compiles the named SLS files (the highstate when none) for the
// runtime's minion and plans them as a run would, for state.show_*: as
// Salt shows them, a state whose requisite is missing or that has an
// unknown argument is listed, and each such problem is logged as a warning
// (`brine test render` refuses them). Every compile error of both stages
// comes back together as sls.Errors.
func Compile(ctx context.Context, rt *modules.Runtime, mods []string, pillar map[string]any) (*states.Plan, *sls.Compiler, error) {
	return compileShownIn(ctx, rt, &runArgs{Mods: mods, Pillar: pillar})
}

// compileShownIn is Compile for the run a describes: its saltenv,
// pillarenv and exclusions too.
func compileShownIn(ctx context.Context, rt *modules.Runtime, a *runArgs) (*states.Plan, *sls.Compiler, error) {
	plan, c, err := compileIn(ctx, rt, a, runOptions(rt))
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

// compileIn compiles the run a describes: its SLS files (the highstate
// when none) in its saltenv, with its pillar, pillarenv and exclusions.
func compileIn(ctx context.Context, rt *modules.Runtime, a *runArgs, opts states.PlanOptions) (*states.Plan, *sls.Compiler, error) {
	c := compilerIn(rt, a.Pillar, a.Saltenv, a.Pillarenv)
	mods, excl := splitMods(a.Mods), a.Exclude
	var lows []sls.Low
	var err error
	if len(mods) == 0 {
		lows, err = c.Highstate(ctx)
	} else {
		lows, err = c.SLS(ctx, mods...)
	}
	lows = excl.apply(lows)
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
	case "state.apply", "state.highstate", "state.sls", "state.sls_id":
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
	var id slsIDArgs
	target := any(&id.RunArgs)
	if fun == "state.sls_id" {
		target = &id
	}
	if err := states.Decode(raw, target); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", fun, err)
	}
	a := id.RunArgs
	if fun == "state.highstate" {
		a.Mods = nil
	}
	c := compilerIn(rt, a.Pillar, a.Saltenv, a.Pillarenv)
	mods := splitMods(a.Mods)
	if fun == "state.sls_id" && len(mods) == 0 {
		return nil, nil, errNoMods(id.ID)
	}
	var lows []sls.Low
	if len(mods) == 0 {
		lows, err = c.Highstate(ctx)
	} else {
		lows, err = c.SLS(ctx, mods...)
	}
	lows = a.Exclude.apply(lows)
	if fun == "state.sls_id" && err == nil && !slices.ContainsFunc(lows, func(l sls.Low) bool { return l.ID == id.ID }) {
		return nil, nil, errNoID(id.ID, mods, c.Saltenv())
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

// RunCompiled applies, on a minion, states its master compiled for a
// call of fun with args and kwargs (test, failhard; state.sls_id's ID,
// whose states alone run, with what their requisites need): files is the
// master's state tree as the minion reaches it, pillar the minion's own
// pillar.
func RunCompiled(ctx context.Context, rt *modules.Runtime, files fs.FS, fun string, lows []sls.Low, pillar map[string]any, args []any, kwargs map[string]any) (result.Highstate, error) {
	var a struct {
		Test     bool           `arg:"test"`
		Failhard bool           `arg:"failhard"`
		Rest     map[string]any `arg:"*"`
	}
	if err := states.Decode(kwargs, &a); err != nil {
		return nil, err
	}
	var only func(*sls.Low) bool
	if fun == "state.sls_id" {
		e, _ := modules.Lookup(fun)
		raw, err := e.Bind(args, kwargs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fun, err)
		}
		var id slsIDArgs
		if err := states.Decode(raw, &id); err != nil {
			return nil, fmt.Errorf("%s: %w", fun, err)
		}
		only = func(l *sls.Low) bool { return l.ID == id.ID }
	}
	plan, err := states.PrepareWith(lows, nil, runOptions(rt))
	if err != nil {
		return nil, err
	}
	cfg := sls.Config{Files: files, ID: rt.ID, Grains: rt.Grains, Pillar: pillar, Opts: rt.Opts,
		Caller: modules.Caller{Runtime: rt}}
	if envs, ok := files.(interface{ Saltenv(string) fs.FS }); ok {
		cfg.EnvFiles = envs.Saltenv
	}
	c := sls.New(cfg)
	return plan.Run(ctx, states.RunOptions{Test: a.Test, Env: c, Log: rt.Log, Failhard: a.Failhard, Only: only}), nil
}

func run(ctx context.Context, rt *modules.Runtime, a *runArgs) (result.Highstate, error) {
	plan, c, err := compileIn(ctx, rt, a, runOptions(rt))
	if err != nil {
		return nil, err
	}
	return plan.Run(ctx, states.RunOptions{Test: a.Test, Env: c, Log: rt.Log, Failhard: a.Failhard, Mock: a.Mock}), nil
}

// slsID runs the states of one ID of the named SLS files and, before them,
// the states their requisites need, as Salt's state.sls_id.
func slsID(ctx context.Context, rt *modules.Runtime, a *slsIDArgs) (any, error) {
	if len(splitMods(a.Mods)) == 0 {
		return nil, errNoMods(a.ID)
	}
	plan, c, err := compileIn(ctx, rt, &a.RunArgs, runOptions(rt))
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(plan.Lows(), func(l *sls.Low) bool { return l.ID == a.ID }) {
		return nil, errNoID(a.ID, splitMods(a.Mods), c.Saltenv())
	}
	only := func(l *sls.Low) bool { return l.ID == a.ID }
	return plan.Run(ctx, states.RunOptions{Test: a.Test, Env: c, Log: rt.Log, Failhard: a.Failhard, Only: only, Mock: a.Mock}), nil
}

// errNoMods is state.sls_id's error when no SLS file is named.
func errNoMods(id string) error {
	return fmt.Errorf("state.sls_id %s: name the SLS files the ID is in, e.g. state.sls_id %s web", id, id)
}

// errNoID is state.sls_id's error when the named SLS files have no
// state of that ID, as Salt words it.
func errNoID(id string, mods []string, saltenv string) error {
	return fmt.Errorf("no matches for ID '%s' found in SLS '%s' within saltenv '%s': "+
		"state.show_sls %[2]s lists its IDs", id, strings.Join(mods, ","), saltenv)
}

// readTemplate reads state.template's file, at most limit bytes (the
// default SLS limit when 0).
func readTemplate(path string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = sls.DefaultMaxFileBytes
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("state.template: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("state.template: reading %s: %w", path, err)
	}
	if int64(len(src)) > limit {
		return nil, fmt.Errorf("state.template: %s is larger than %d bytes (max_sls_bytes)", path, limit)
	}
	return src, nil
}

// runTemplate compiles src, one SLS template named name, and runs it.
func runTemplate(ctx context.Context, rt *modules.Runtime, a *templateArgs, name string, src []byte) (result.Highstate, error) {
	c := compiler(rt, a.Pillar)
	lows, err := c.Template(ctx, name, src)
	plan, err := states.PrepareWith(lows, resolve(ctx, rt, lows, err), runOptions(rt))
	if err != nil {
		return nil, err
	}
	return plan.Run(ctx, states.RunOptions{Test: a.Test, Env: c, Log: rt.Log, Failhard: a.Failhard}), nil
}

// exclusions are the exclude argument of a state run: SLS files (globs,
// as Salt matches them) and IDs whose states are left out, as an
// exclude: declaration in an SLS leaves them out.
type exclusions []exclusion

type exclusion struct {
	sls, id string
}

// DecodeArg reads Salt's forms: "web,db" (SLS names), a list of SLS names,
// and a list of {sls: name} and {id: name} mappings.
func (e *exclusions) DecodeArg(v any) error {
	var items []any
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				items = append(items, n)
			}
		}
	case []any:
		items = v
	default:
		return fmt.Errorf("exclude must be SLS names (\"web,db\") or a list of {sls: name} and {id: name}, not %T", v)
	}
	for _, it := range items {
		switch it := it.(type) {
		case string:
			*e = append(*e, exclusion{sls: it})
		case map[string]any:
			if len(it) != 1 {
				return fmt.Errorf("exclude item %v: want one key, sls or id", it)
			}
			for k, val := range it {
				name, ok := val.(string)
				if !ok || name == "" {
					return fmt.Errorf("exclude %s: want a name, not %v", k, val)
				}
				switch k {
				case "sls":
					*e = append(*e, exclusion{sls: name})
				case "id":
					*e = append(*e, exclusion{id: name})
				default:
					return fmt.Errorf("exclude: unknown key %q (want sls or id)", k)
				}
			}
		default:
			return fmt.Errorf("exclude item %v: want an SLS name or {sls: name} or {id: name}", it)
		}
	}
	return nil
}

// apply leaves out the excluded states.
func (e exclusions) apply(lows []sls.Low) []sls.Low {
	if len(e) == 0 {
		return lows
	}
	return slices.DeleteFunc(lows, func(l sls.Low) bool {
		return slices.ContainsFunc(e, func(x exclusion) bool {
			return (x.id != "" && x.id == l.ID) || (x.sls != "" && fnmatch.Match(x.sls, l.SLS))
		})
	})
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
	plan, _, err := compileShownIn(ctx, rt, a)
	if err != nil {
		return nil, err
	}
	lows := plan.Lows()
	if v == lowData {
		out := make([]any, len(lows))
		for i, l := range lows {
			m := map[string]any{"__id__": l.ID, "__sls__": l.SLS, "__env__": l.Env, "name": l.Name,
				"state": l.Module, "fun": l.Fun, "order": saltOrder(l)}
			for k, val := range l.Args {
				m[k] = val
			}
			for kind, reqs := range requisites(l) {
				m[kind] = reqs
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
		if l.FromNames {
			// As Salt's high data: one declaration with its names: list.
			if prev, ok := id[l.Module].([]any); ok {
				if names, ok := prev[0].(map[string]any)["names"].([]any); ok {
					prev[0] = map[string]any{"names": append(names, l.Name)}
					continue
				}
			}
		}
		first := map[string]any{"name": l.Name}
		if l.FromNames {
			first = map[string]any{"names": []any{l.Name}}
		}
		args := []any{first}
		for _, k := range keys {
			args = append(args, map[string]any{k: l.Args[k]})
		}
		reqs := requisites(l)
		kinds := make([]string, 0, len(reqs))
		for k := range reqs {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			args = append(args, map[string]any{k: reqs[k]})
		}
		args = append(args, map[string]any{"order": saltOrder(l)})
		id[l.Module] = append(args, l.Fun)
	}
	return out, nil
}

// saltOrder is the order Salt shows for a state: its own order: number, 0
// for first, "last" for last, or 10000 plus its place in definition order
// (Salt's state_auto_order).
func saltOrder(l *sls.Low) any {
	switch l.Order.Kind {
	case sls.OrderNumber:
		return l.Order.N
	case sls.OrderFirst:
		return 0
	case sls.OrderLast:
		return "last"
	}
	return 10000 + l.Index
}

// requisites are a state's requisites as Salt's high data shows them: by
// keyword, each a list of {module: target} (or the bare target when no
// module was named).
func requisites(l *sls.Low) map[string][]any {
	out := map[string][]any{}
	for _, r := range l.Reqs {
		var item any = r.Target
		if r.Module != "" {
			item = map[string]any{r.Module: r.Target}
		}
		out[r.Kind] = append(out[r.Kind], item)
	}
	return out
}
