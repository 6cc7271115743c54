// Package modules is brine's registry of execution modules: plain remote
// functions such as test.ping, cmd.run, grains.items and state.apply.
// Each module lives in a sub-package and registers its functions from init.
package modules

import (
	"context"
	"fmt"
	"github.com/brinecm/brine/pkg/mine"
	"github.com/brinecm/brine/pkg/registry"
	"log/slog"
	"reflect"
	"strings"

	"github.com/brinecm/brine/states"
)

// Runtime is what an execution function may use of the minion it runs on.
type Runtime struct {
	ID          string
	Grains      map[string]any
	FileRoots   []string       // state tree directories
	PillarRoots []string       // pillar tree directories
	Opts        map[string]any // the minion's configuration, as the `opts` Jinja variable
	Log         *slog.Logger
	// Mine is what the runtime knows of the other minions (mine.get, mesh
	// peers): the master's grains cache when a master compiles; nil means
	// the local minion alone.
	Mine mine.Mine
}

// FleetMine returns the runtime's mine, or the local minion alone.
func (rt *Runtime) FleetMine() mine.Mine {
	if rt.Mine != nil {
		return rt.Mine
	}
	return mine.Local{ID: rt.ID, Grains: rt.Grains}
}

// Func describes an execution function with typed arguments A: a struct
// whose fields carry `arg:"name"` tags (see states.Decode). Params names
// the arguments that may also be given positionally, in order; a final
// parameter ending in "..." takes every remaining positional argument as a list.
type Func[A any] struct {
	Doc    string
	Params []string
	// ReadOnly marks a function that only reads the system: a minion need
	// not keep such a job on disk, since one lost in a crash changed nothing.
	ReadOnly bool
	Call     func(ctx context.Context, rt *Runtime, args *A) (any, error)
}

// Entry is a registered execution function with its argument type erased.
type Entry struct {
	Name     string
	Doc      string
	Params   []string
	ReadOnly bool
	ArgType  reflect.Type
	call     func(ctx context.Context, rt *Runtime, raw map[string]any) (any, error)
}

var entries registry.Map[*Entry]

// Register adds an execution function under its full name ("test.ping").
// It is meant for init functions; registering a name twice panics.
func Register[A any](name string, f Func[A]) {
	e := &Entry{
		Name:     name,
		Doc:      f.Doc,
		Params:   f.Params,
		ReadOnly: f.ReadOnly,
		ArgType:  reflect.TypeFor[A](),
		call: func(ctx context.Context, rt *Runtime, raw map[string]any) (any, error) {
			a := new(A)
			if err := states.Decode(raw, a); err != nil {
				return nil, err
			}
			return f.Call(ctx, rt, a)
		},
	}
	if !entries.Add(name, e) {
		panic("modules: " + name + " registered twice")
	}
}

// Lookup finds a registered function by full name.
func Lookup(name string) (*Entry, bool) { return entries.Get(name) }

// Names lists every registered function, sorted.
func Names() []string { return entries.Names() }

// Call runs the named function with positional args and keyword args.
func Call(ctx context.Context, rt *Runtime, name string, args []any, kwargs map[string]any) (any, error) {
	e, ok := Lookup(name)
	if !ok {
		msg := fmt.Sprintf("'%s' is not available", name)
		if s := states.Suggest(name, Names()); s != "" {
			msg += fmt.Sprintf(" (did you mean '%s'?)", s)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	raw, err := e.Bind(args, kwargs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out, err := e.call(ctx, rt, raw)
	if err != nil {
		return out, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// Bind maps positional arguments onto the function's parameters and
// merges keyword arguments, as a call does before decoding.
func (e *Entry) Bind(args []any, kwargs map[string]any) (map[string]any, error) {
	raw := make(map[string]any, len(args)+len(kwargs))
	for k, v := range kwargs {
		raw[k] = v
	}
	for i, v := range args {
		if i >= len(e.Params) {
			return nil, fmt.Errorf("too many positional arguments: takes %d (%s), got %d",
				len(e.Params), strings.Join(e.Params, ", "), len(args))
		}
		p := e.Params[i]
		if name, rest := strings.CutSuffix(p, "..."); rest {
			raw[name] = append([]any(nil), args[i:]...)
			break
		}
		if _, dup := raw[p]; dup {
			return nil, fmt.Errorf("argument '%s' given twice", p)
		}
		raw[p] = v
	}
	return raw, nil
}

// Caller runs execution functions for Jinja's salt['mod.fun'](...) calls.
type Caller struct{ Runtime *Runtime }

// Call runs the named function on the caller's runtime.
func (c Caller) Call(ctx context.Context, fun string, args []any, kwargs map[string]any) (any, error) {
	return Call(ctx, c.Runtime, fun, args, kwargs)
}
