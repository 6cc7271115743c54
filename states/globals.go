package states

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/brinecm/brine/pkg/cmdrun"
	"github.com/brinecm/brine/pkg/saltdata"
)

// globalArgs are the arguments every state accepts, handled by the engine
// (watch_drift by the minion's drift watcher, pkg/drift).
var globalArgs = map[string]bool{"unless": true, "onlyif": true, "creates": true, "retry": true, "check_cmd": true, "watch_drift": true, "parallel": true}

func isGlobalArg(name string) bool { return globalArgs[name] }

// globals are a state's parsed global arguments.
type globals struct {
	unless  []condition
	onlyif  []condition
	creates []string
	// createsOne: creates was one path, not a list (Salt's comment
	// then names it).
	createsOne bool
	checkCmd   []string
	retry      *retry
	// parallel: the state runs on its own goroutine while the run goes
	// on; the states that need its result wait for it (Salt's parallel).
	parallel bool
}

// retry is Salt's retry argument: run again until the result is until.
type retry struct {
	attempts int
	until    bool
	interval time.Duration
}

// none reports whether the state has no global argument at all.
func (g *globals) none() bool {
	return g.unless == nil && g.onlyif == nil && g.creates == nil && g.checkCmd == nil && g.retry == nil
}

func parseGlobals(args map[string]any) (globals, ArgErrors) {
	var g globals
	var errs ArgErrors
	for _, f := range []struct {
		name string
		dst  *[]string
	}{{"creates", &g.creates}, {"check_cmd", &g.checkCmd}} {
		v, ok := args[f.name]
		if !ok {
			continue
		}
		var list struct {
			V []string `arg:"v"`
		}
		if err := Decode(map[string]any{"v": v}, &list); err != nil {
			errs = append(errs, &ArgError{Arg: f.name, Msg: fmt.Sprintf("argument '%s': expected a string or a list of strings", f.name)})
			continue
		}
		*f.dst = list.V
		if _, one := v.(string); one && f.name == "creates" {
			g.createsOne = true
		}
	}
	for _, name := range []string{"watch_drift", "parallel"} {
		if v, ok := args[name]; ok {
			b, isBool := v.(bool)
			if !isBool {
				errs = append(errs, &ArgError{Arg: name, Msg: fmt.Sprintf("argument '%s': expected True or False, not %v", name, v)})
			}
			if name == "parallel" {
				g.parallel = b
			}
		}
	}
	for _, f := range []struct {
		name string
		dst  *[]condition
	}{{"unless", &g.unless}, {"onlyif", &g.onlyif}} {
		v, ok := args[f.name]
		if !ok {
			continue
		}
		conds, err := parseConditions(v)
		if err != nil {
			errs = append(errs, &ArgError{Arg: f.name, Msg: fmt.Sprintf("argument '%s': %v", f.name, err)})
			continue
		}
		*f.dst = conds
	}
	if v, ok := args["retry"]; ok {
		r, err := parseRetry(v)
		if err != nil {
			errs = append(errs, &ArgError{Arg: "retry", Msg: "argument 'retry': " + err.Error()})
		}
		g.retry = r
	}
	return g, errs
}

func parseRetry(v any) (*retry, error) {
	r := &retry{attempts: 2, until: true, interval: 30 * time.Second}
	switch x := v.(type) {
	case bool:
		if !x {
			return nil, nil
		}
		return r, nil
	case map[string]any, []any:
		var a struct {
			Attempts *int           `arg:"attempts"`
			Until    *bool          `arg:"until"`
			Interval *time.Duration `arg:"interval"`
			Splay    *time.Duration `arg:"splay"`
		}
		m, err := toMap(x)
		if err != nil {
			return nil, err
		}
		if err := Decode(m, &a); err != nil {
			return nil, err
		}
		if a.Attempts != nil {
			r.attempts = *a.Attempts
		}
		if a.Until != nil {
			r.until = *a.Until
		}
		if a.Interval != nil {
			r.interval = *a.Interval
		}
		return r, nil
	}
	return nil, fmt.Errorf("expected True or a mapping of attempts, until, interval")
}

// condition is one onlyif or unless check: a shell command (true when it
// exits 0) or, in Salt's `- fun: module.function` form, an execution
// function with its arguments (true when it returns a true value).
type condition struct {
	cmd    string
	fun    string
	args   []any
	kwargs map[string]any
	// badType is an entry neither a command nor a mapping with fun (True,
	// 1, {}): Salt lets the state run on it ("bad type passed", "no `fun`
	// argument"), and so does brine.
	badType bool
}

// ModuleCaller is implemented by an Env that can run execution module
// functions, for onlyif and unless in the `- fun: module.function` form.
type ModuleCaller interface {
	CallFunction(ctx context.Context, fun string, args []any, kwargs map[string]any) (any, error)
}

// parseConditions reads a command, a list of commands, or Salt's list of
// {fun: module.function, args: [...], other: kwarg} mappings.
func parseConditions(v any) ([]condition, error) {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	var out []condition
	for _, it := range items {
		switch x := it.(type) {
		case string:
			out = append(out, condition{cmd: x})
		case map[string]any:
			fun, _ := x["fun"].(string)
			if fun == "" {
				out = append(out, condition{badType: true}) // Salt: "no `fun` argument", and the state runs
				continue
			}
			c := condition{fun: fun, kwargs: map[string]any{}}
			for k, val := range x {
				switch k {
				case "fun":
				case "args":
					list, ok := val.([]any)
					if !ok {
						list = []any{val}
					}
					c.args = list
				default:
					c.kwargs[k] = val
				}
			}
			out = append(out, c)
		case bool, int, int64, float64, nil:
			out = append(out, condition{badType: true})
		default:
			return nil, fmt.Errorf("expected a command, a list of commands or of {fun: module.function} mappings, got %s", describe(it))
		}
	}
	return out, nil
}

// holds evaluates the condition with env's execution modules.
func (c condition) holds(ctx context.Context, env Env) (bool, error) {
	if c.fun == "" {
		res, err := cmdrun.Run(ctx, cmdrun.Spec{Cmd: c.cmd})
		if err != nil {
			return false, fmt.Errorf("%q: %w", c.cmd, err)
		}
		return res.Retcode == 0, nil
	}
	mc, ok := env.(ModuleCaller)
	if !ok {
		return false, fmt.Errorf("%s: execution functions are not available to this run", c.fun)
	}
	v, err := mc.CallFunction(ctx, c.fun, c.args, c.kwargs)
	if err != nil {
		return false, fmt.Errorf("%s: %w", c.fun, err)
	}
	return saltdata.Truthy(v), nil
}

// skip runs the onlyif, unless and creates checks. It returns a comment
// when the state must not run.
//
// Without own, it checks as Salt's state system does for most states:
// every check given runs, each adds its verdict to the comment ("onlyif
// condition is true", "unless condition is false", ...), and the state is
// skipped when any of them says so. With own, it checks as Salt's cmd
// states do: the first check that stops the state gives the comment alone.
func (g *globals) skip(ctx context.Context, env Env, own bool) (string, error) {
	var comments []string
	stop := false
	if g.onlyif != nil {
		ok, err := allHold(ctx, env, g.onlyif, true)
		if err != nil {
			return "", fmt.Errorf("onlyif %w", err)
		}
		if !ok {
			if own {
				return "onlyif condition is false", nil
			}
			stop = true
			comments = append(comments, "onlyif condition is false")
		} else {
			comments = append(comments, "onlyif condition is true")
		}
	}
	if g.unless != nil {
		ok, err := allHold(ctx, env, g.unless, false)
		if err != nil {
			return "", fmt.Errorf("unless %w", err)
		}
		if ok {
			if own {
				return "unless condition is true", nil
			}
			stop = true
			comments = append(comments, "unless condition is true")
		} else {
			comments = append(comments, "unless condition is false")
		}
	}
	if g.creates != nil {
		exist := true
		for _, p := range g.creates {
			if _, err := os.Stat(p); err != nil {
				exist = false
				break
			}
		}
		var comment string
		switch {
		case !exist:
			comment = "Creates files not found"
		case g.createsOne:
			comment = g.creates[0] + " exists"
		default:
			comment = "All files in creates exist"
		}
		if exist && own {
			return comment, nil
		}
		stop = stop || exist
		comments = append(comments, comment)
	}
	if !stop {
		return "", nil
	}
	return strings.Join(comments, "\n"), nil
}

// allHold reports whether every condition holds, checking them in order
// and stopping at the first that does not.
//
// An entry of a bad type (onlyif: True) lets the state run, as in Salt:
// onlyif then holds without checking further, unless does not hold.
func allHold(ctx context.Context, env Env, conds []condition, onlyif bool) (bool, error) {
	for _, c := range conds {
		if c.badType {
			return onlyif, nil
		}
		ok, err := c.holds(ctx, env)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// check runs check_cmd after a state made changes; a failing command turns
// the outcome into a failure. As in Salt, the verdict replaces the
// state's comment.
func (g *globals) check(ctx context.Context, o Outcome) Outcome {
	if len(g.checkCmd) == 0 || !o.Changed() || o.Result == nil || !*o.Result {
		return o
	}
	for _, cmd := range g.checkCmd {
		res, err := cmdrun.Run(ctx, cmdrun.Spec{Cmd: cmd})
		if err != nil || res.Retcode != 0 {
			o.Result = boolPtr(false)
			o.Comment = "check_cmd determined the state failed"
			return o
		}
	}
	o.Comment = "check_cmd determined the state succeeded"
	return o
}
