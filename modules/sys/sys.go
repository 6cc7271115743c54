// Package sys provides the sys execution module: sys.list_functions,
// sys.list_state_functions and sys.doc describe what a minion can do.
package sys

import (
	"context"
	"path"
	"strings"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/states"
)

type filterArgs struct {
	Patterns []string `arg:"patterns"`
}

// matches reports whether name is selected by the patterns: a module name
// ("test"), a full name, or a glob ("test.*"); no patterns select all.
func (a *filterArgs) matches(name string) bool {
	if len(a.Patterns) == 0 {
		return true
	}
	for _, p := range a.Patterns {
		if p == name || strings.HasPrefix(name, p+".") {
			return true
		}
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func (a *filterArgs) filter(names []string) []any {
	out := []any{}
	for _, n := range names {
		if a.matches(n) {
			out = append(out, n)
		}
	}
	return out
}

func init() {
	modules.Register("sys.list_functions", modules.Func[filterArgs]{
		ReadOnly: true,
		Doc:      "List the execution functions, optionally only those of the given modules or globs.",
		Params:   []string{"patterns..."},
		Call: func(_ context.Context, _ *modules.Runtime, a *filterArgs) (any, error) {
			return a.filter(modules.Names()), nil
		},
	})
	modules.Register("sys.list_state_functions", modules.Func[filterArgs]{
		ReadOnly: true,
		Doc:      "List the state functions, optionally only those of the given modules or globs.",
		Params:   []string{"patterns..."},
		Call: func(_ context.Context, _ *modules.Runtime, a *filterArgs) (any, error) {
			return a.filter(states.Names()), nil
		},
	})
	modules.Register("sys.doc", modules.Func[filterArgs]{
		ReadOnly: true,
		Doc:      "Describe execution and state functions with their arguments (required ones marked *).",
		Params:   []string{"patterns..."},
		Call: func(_ context.Context, _ *modules.Runtime, a *filterArgs) (any, error) {
			out := map[string]any{}
			for _, n := range modules.Names() {
				if a.matches(n) {
					e, _ := modules.Lookup(n)
					out[n] = describe(e.Doc, states.ArgNames(e.ArgType))
				}
			}
			for _, n := range states.Names() {
				if a.matches(n) {
					e, _ := states.Lookup(n)
					out["state "+n] = describe(e.Doc, append([]string{"name"}, states.ArgNames(e.ArgType)...))
				}
			}
			return out, nil
		},
	})
}

func describe(doc string, args []string) string {
	if len(args) == 0 {
		return doc
	}
	return doc + "\n\nArguments: " + strings.Join(args, ", ")
}
