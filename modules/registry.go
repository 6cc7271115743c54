// Package modules is brine's registry of execution modules: plain remote
// functions such as test.ping, cmd.run, grains.items and state.apply.
// Each module lives in a sub-package and registers its functions from init.
package modules

import (
	"context"
	"fmt"
	"github.com/brinecm/brine/pkg/mine"
	"github.com/brinecm/brine/pkg/registry"
	"github.com/brinecm/brine/pkg/sls"
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
	// Remote runs a function that is not Pure on the minion itself, when
	// this runtime is not that minion: a master compiling the minion's
	// recipe sets it, so that salt['cmd.run'](...) in a template runs on
	// the minion, never on the master. Nil means the runtime is the minion
	// (or masterless), and every function runs here.
	Remote func(ctx context.Context, fun string, args []any, kwargs map[string]any) (any, error)
	// Limits bound what a compile reads and renders (zero fields: the
	// defaults of pkg/sls and pkg/jinja).
	Limits sls.Limits
	// Templates, when set, shares tree reads and parsed templates between
	// the compiles of one run (a master's job); nil: none.
	Templates *sls.TemplateCache
	// Schedule is the running minion's schedule, for the schedule.*
	// functions; nil where there is none (brine call --local, a master
	// compiling).
	Schedule Schedule
	// FileEnvs and PillarEnvs are the tree directories of the
	// environments other than base (FileRoots and PillarRoots are base's).
	FileEnvs   map[string][]string
	PillarEnvs map[string][]string
}

// Schedule is a running minion's schedule, as the schedule.* execution
// functions act on it. Entries are in Salt's schedule format.
type Schedule interface {
	// List returns every entry with its next run, and the errors of the
	// entries that were skipped.
	List() map[string]any
	// Add adds (or replaces) an entry and keeps it across restarts.
	Add(name string, entry map[string]any) error
	// Delete removes an entry and keeps it removed across restarts.
	Delete(name string) error
	// Enable enables or disables one entry, or the whole schedule when
	// name is "".
	Enable(name string, on bool) error
	// RunJob runs an entry now and returns its job id.
	RunJob(ctx context.Context, name string) (string, error)
	// Reload reads the schedule again from the configuration file, the
	// pillar of the cached highstate and the entries added at run time.
	Reload() error
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
	// Pure marks a function that answers from what the runtime carries
	// (grains, the mine, the state tree, its own arguments), changes
	// nothing and reads nothing of the host it runs on: a master may answer
	// it for a minion. Every other function called from a template a master
	// renders runs on the minion through Runtime.Remote. ReadOnly is not
	// enough: pkg.version changes nothing but must read the minion's dpkg.
	Pure bool
	Call func(ctx context.Context, rt *Runtime, args *A) (any, error)
}

// Entry is a registered execution function with its argument type erased.
type Entry struct {
	Name     string
	Doc      string
	Params   []string
	ReadOnly bool
	Pure     bool
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
		Pure:     f.Pure,
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
// merges keyword arguments, as a call does before decoding. Keyword
// arguments named __pub_* (the job metadata Salt passes along) are dropped.
func (e *Entry) Bind(args []any, kwargs map[string]any) (map[string]any, error) {
	raw := make(map[string]any, len(args)+len(kwargs))
	for k, v := range kwargs {
		if strings.HasPrefix(k, "__pub_") {
			continue // Salt's publish metadata (__pub_jid, ...): no function takes it
		}
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

// Call runs the named function for the caller's runtime: a Pure function
// (or any function when the runtime has no Remote) here, any other on the
// minion through Runtime.Remote. An unknown function is an error here, and
// nothing is sent.
func (c Caller) Call(ctx context.Context, fun string, args []any, kwargs map[string]any) (any, error) {
	if c.Runtime.Remote == nil {
		return Call(ctx, c.Runtime, fun, args, kwargs)
	}
	if e, ok := Lookup(fun); !ok || e.Pure {
		return Call(ctx, c.Runtime, fun, args, kwargs)
	}
	return c.Runtime.Remote(ctx, fun, args, kwargs)
}

// Functions lists every registered function, for `'mod.fun' in salt` in
// templates (sls.FunctionLister).
func (c Caller) Functions() []string { return Names() }
