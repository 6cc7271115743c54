package states

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/brinecm/brine/pkg/cmdrun"
)

// globalArgs are the arguments every state accepts, handled by the engine
// (watch_drift by the minion's drift watcher, pkg/drift).
var globalArgs = map[string]bool{"unless": true, "onlyif": true, "creates": true, "retry": true, "check_cmd": true, "watch_drift": true}

func isGlobalArg(name string) bool { return globalArgs[name] }

// globals are a state's parsed global arguments.
type globals struct {
	unless   []string
	onlyif   []string
	creates  []string
	checkCmd []string
	retry    *retry
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
	}{{"unless", &g.unless}, {"onlyif", &g.onlyif}, {"creates", &g.creates}, {"check_cmd", &g.checkCmd}} {
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
	}
	if v, ok := args["watch_drift"]; ok {
		if _, isBool := v.(bool); !isBool {
			errs = append(errs, &ArgError{Arg: "watch_drift", Msg: fmt.Sprintf("argument 'watch_drift': expected True or False, not %v", v)})
		}
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

// skip runs the unless, onlyif and creates checks. It returns a comment
// when the state must not run.
func (g *globals) skip(ctx context.Context) (string, error) {
	for _, cmd := range g.onlyif {
		res, err := cmdrun.Run(ctx, cmdrun.Spec{Cmd: cmd})
		if err != nil {
			return "", fmt.Errorf("onlyif %q: %w", cmd, err)
		}
		if res.Retcode != 0 {
			return "onlyif condition is false", nil
		}
	}
	if len(g.unless) > 0 {
		allTrue := true
		for _, cmd := range g.unless {
			res, err := cmdrun.Run(ctx, cmdrun.Spec{Cmd: cmd})
			if err != nil {
				return "", fmt.Errorf("unless %q: %w", cmd, err)
			}
			if res.Retcode != 0 {
				allTrue = false
				break
			}
		}
		if allTrue {
			return "unless condition is true", nil
		}
	}
	if len(g.creates) > 0 {
		for _, p := range g.creates {
			if _, err := os.Stat(p); err != nil {
				return "", nil
			}
		}
		return "All files in creates exist", nil
	}
	return "", nil
}

// check runs check_cmd after a state made changes; a failing command turns
// the outcome into a failure.
func (g *globals) check(ctx context.Context, o Outcome) Outcome {
	if len(g.checkCmd) == 0 || !o.Changed() || o.Result == nil || !*o.Result {
		return o
	}
	for _, cmd := range g.checkCmd {
		res, err := cmdrun.Run(ctx, cmdrun.Spec{Cmd: cmd})
		if err != nil || res.Retcode != 0 {
			o.Result = boolPtr(false)
			o.Comment = strings.TrimSpace(o.Comment + "\ncheck_cmd determined the state failed")
			return o
		}
	}
	o.Comment = strings.TrimSpace(o.Comment + "\ncheck_cmd determined the state succeeded")
	return o
}
