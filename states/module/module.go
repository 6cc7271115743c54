// Package module provides module.run: execution module functions called
// from a state, in both of Salt's syntaxes.
package module

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("module.run", states.Func[RunArgs]{
		Doc: "Runs execution functions. Each argument named mod.fun runs that function with its value: a list " +
			"of positional arguments and one-key maps of keyword arguments (- test.arg: [a, {b: c}]). The " +
			"older form names the function as name, positional arguments as args, keyword arguments as " +
			"kwargs or as the state's other arguments (m_name for the function's own name argument).",
		Apply: run,
	})
}

// RunArgs are module.run's arguments: function calls, or the older
// form's args, kwargs and keyword arguments.
type RunArgs struct {
	Args   []any          `arg:"args"`
	Kwargs map[string]any `arg:"kwargs"`
	MName  *string        `arg:"m_name"`
	Rest   map[string]any `arg:"*"`
}

// Caller is what module.run needs of the run's environment: a way to
// call execution functions (pkg/sls's compiler is one).
type Caller interface {
	CallFunction(ctx context.Context, fun string, args []any, kwargs map[string]any) (any, error)
}

// call is one function call with its arguments.
type call struct {
	Fun    string
	Args   []any
	Kwargs map[string]any
}

// calls reads the state's calls: every argument that names a function
// (new syntax), else the state's name with args, kwargs and the rest.
func calls(name string, a *RunArgs) ([]call, error) {
	var out []call
	for _, k := range slices.Sorted(maps.Keys(a.Rest)) {
		if !strings.Contains(k, ".") {
			continue
		}
		c := call{Fun: k, Kwargs: map[string]any{}}
		switch v := a.Rest[k].(type) {
		case nil:
		case []any:
			for _, item := range v {
				if m, ok := item.(map[string]any); ok && len(m) == 1 {
					maps.Copy(c.Kwargs, m)
				} else {
					c.Args = append(c.Args, item)
				}
			}
		case map[string]any:
			maps.Copy(c.Kwargs, v)
		default:
			c.Args = []any{v}
		}
		out = append(out, c)
	}
	if len(out) > 0 {
		var stray []string
		for k := range a.Rest {
			if !strings.Contains(k, ".") {
				stray = append(stray, k)
			}
		}
		if len(stray) > 0 || a.Args != nil || a.Kwargs != nil || a.MName != nil {
			slices.Sort(stray)
			return nil, fmt.Errorf("mixes function calls (%s) with the older syntax's arguments %v; "+
				"give each function's arguments in its own list", out[0].Fun, append(stray, oldKeys(a)...))
		}
		return out, nil
	}
	if !strings.Contains(name, ".") {
		return nil, fmt.Errorf("no function to run: name %q is not mod.fun and no argument names one "+
			"(write - test.ping: [] under module.run, or name: test.ping)", name)
	}
	c := call{Fun: name, Args: a.Args, Kwargs: map[string]any{}}
	maps.Copy(c.Kwargs, a.Rest)
	maps.Copy(c.Kwargs, a.Kwargs)
	if a.MName != nil {
		c.Kwargs["name"] = *a.MName
	}
	return []call{c}, nil
}

func oldKeys(a *RunArgs) []string {
	var k []string
	if a.Args != nil {
		k = append(k, "args")
	}
	if a.Kwargs != nil {
		k = append(k, "kwargs")
	}
	if a.MName != nil {
		k = append(k, "m_name")
	}
	return k
}

// failed reports whether a function's return says it failed, as Salt
// reads one: false, or a mapping whose result is false.
func failed(ret any) bool {
	switch v := ret.(type) {
	case bool:
		return !v
	case map[string]any:
		if r, ok := v["result"].(bool); ok {
			return !r
		}
	}
	return false
}

func run(ctx context.Context, c *states.Call, a *RunArgs) states.Outcome {
	list, err := calls(c.Name, a)
	if err != nil {
		return states.Failedf("module.run: %v", err)
	}
	names := make([]string, len(list))
	for i, cl := range list {
		names[i] = cl.Fun
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Function %s to be executed.", strings.Join(names, ", ")), nil)
	}
	caller, ok := c.Env.(Caller)
	if !ok {
		return states.Failedf("module.run: this run cannot call execution functions")
	}
	changes := map[string]any{}
	var comments []string
	okAll := true
	for _, cl := range list {
		ret, err := caller.CallFunction(ctx, cl.Fun, cl.Args, cl.Kwargs)
		switch {
		case err != nil:
			okAll = false
			comments = append(comments, fmt.Sprintf("Module function %s threw an exception. Exception: %v", cl.Fun, err))
			continue
		case failed(ret):
			okAll = false
			comments = append(comments, fmt.Sprintf("%s: Failed", cl.Fun))
		default:
			comments = append(comments, fmt.Sprintf("%s: Success", cl.Fun))
		}
		if ret != nil {
			changes[cl.Fun] = ret
		}
	}
	if len(changes) == 0 {
		changes = nil
	}
	if !okAll {
		return states.Failed(strings.Join(comments, ", "), changes)
	}
	return states.Succeeded(strings.Join(comments, ", "), changes)
}
