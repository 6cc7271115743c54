// Package states is brine's state engine: the registry of state functions,
// strict argument decoding, requisite resolution and ordering, and the run
// itself (apply or test). State modules live in sub-packages and register
// themselves from init.
package states

import (
	"context"
	"fmt"
	"github.com/brinecm/brine/pkg/registry"
	"log/slog"
	"reflect"
)

// Env is what a running state may use of its surroundings: the state tree
// and the template renderer of the run.
type Env interface {
	// Source reads a file from the state tree by URL ("salt://web/nginx.conf",
	// "brine://web/nginx.conf"); a plain absolute path reads the local file.
	Source(ctx context.Context, url string) ([]byte, error)
	// Render renders src with the named template engine ("jinja"), the
	// run's grains, pillar and opts, plus extra context variables.
	Render(ctx context.Context, engine, name string, src []byte, extra map[string]any) ([]byte, error)
}

// Call is the context of one state function call.
type Call struct {
	ID   string // __id__
	Name string // name argument
	SLS  string // __sls__
	Test bool   // test mode: change nothing, report what would change
	Env  Env
	Log  *slog.Logger
	// Required lists the names of the states this one requires (require
	// requisites, resolved), e.g. the files a file.directory with clean keeps.
	Required []string
	// Watched lists the names of the states this one watches (watch
	// requisites, resolved), e.g. the accumulators a file.blockreplace
	// takes text from.
	Watched []string
	// Changed names the watched (or, for a listener, listened-to) states
	// that made changes, as "module: id", when ModWatch runs.
	Changed []string
}

// Func describes a state function with typed arguments A. A must be a
// struct whose fields carry `arg:"name"` tags; see Decode.
type Func[A any] struct {
	// Doc is a one-paragraph description for sys.doc.
	Doc string
	// Apply checks the system and changes what differs (or, in test mode,
	// reports what it would change).
	Apply func(ctx context.Context, c *Call, args *A) Outcome
	// ModWatch, when set, runs instead of Apply's usual work when a watched
	// state changed (watch and listen requisites), e.g. restart a service.
	ModWatch func(ctx context.Context, c *Call, args *A) Outcome
	// Resolve, when set, runs when a recipe is compiled (on the master, for
	// a fleet), before the arguments are checked: it rewrites raw
	// arguments with what only the compiler knows, e.g. a mesh's peers
	// resolved from a target expression.
	Resolve func(ctx context.Context, c *Compiling, raw map[string]any) error
	// Concurrent, when set, reports whether this call may run at the same
	// time as its neighbours in the run, that is other states whose names
	// neither equal its name nor contain it or lie below it as paths do.
	// It must say true only when the call reads and writes nothing but its
	// name (and what lies below it), so that the outcome cannot depend on
	// which of the neighbours ran first. It is asked just before the call
	// would start, after every state before it has run; nil means never.
	Concurrent func(c *Call, args *A) bool
	// OwnRunCheck says the function's onlyif, unless and creates are
	// checked as Salt's cmd states check them (Salt's mod_run_check): the
	// first check that stops the state gives the comment alone, e.g.
	// "onlyif condition is false". Other states get every check's verdict
	// ("onlyif condition is true\nunless condition is true").
	OwnRunCheck bool
	// OwnCheckCmd says the function takes check_cmd among its own
	// arguments (a check_cmd field in A) and runs it itself, as Salt's
	// file states do (mod_run_check_cmd: on the new contents before they
	// replace the file); the engine then does not run it after the state.
	OwnCheckCmd bool
}

// Entry is a registered state function with its argument type erased.
type Entry struct {
	Name     string
	Doc      string
	ArgType  reflect.Type
	decode   func(map[string]any) (any, error)
	apply    func(context.Context, *Call, any) Outcome
	modWatch func(context.Context, *Call, any) Outcome
	resolve  func(context.Context, *Compiling, map[string]any) error
	// concurrent is Func.Concurrent with the argument type erased; nil
	// when the function never runs concurrently.
	concurrent func(*Call, any) bool
	// ownRunCheck is Func.OwnRunCheck.
	ownRunCheck bool
	// ownCheckCmd is Func.OwnCheckCmd.
	ownCheckCmd bool
}

// HasModWatch reports whether the function reacts to watch requisites.
func (e *Entry) HasModWatch() bool { return e.modWatch != nil }

// Decode checks and decodes raw arguments into the function's typed struct.
func (e *Entry) Decode(raw map[string]any) (any, error) { return e.decode(raw) }

// Apply runs the function with arguments returned by Decode.
func (e *Entry) Apply(ctx context.Context, c *Call, args any) Outcome { return e.apply(ctx, c, args) }

// ModWatch runs the function's watch reaction with arguments returned by Decode.
func (e *Entry) ModWatch(ctx context.Context, c *Call, args any) Outcome {
	return e.modWatch(ctx, c, args)
}

var entries registry.Map[*Entry]

// Register adds a state function under its full name ("file.managed").
// It is meant to be called from a module package's init; registering the
// same name twice is a programming error and panics.
func Register[A any](name string, f Func[A]) {
	if f.Apply == nil {
		panic("states: Register " + name + " without Apply")
	}
	t := reflect.TypeFor[A]()
	if err := checkArgType(t); err != nil {
		panic("states: Register " + name + ": " + err.Error())
	}
	spec := newArgSpec(t)
	e := &Entry{
		Name:    name,
		Doc:     f.Doc,
		ArgType: t,
		decode: func(raw map[string]any) (any, error) {
			a := new(A)
			if err := spec.decode(raw, reflect.ValueOf(a).Elem()); err != nil {
				return nil, err
			}
			return a, nil
		},
		apply:       func(ctx context.Context, c *Call, a any) Outcome { return f.Apply(ctx, c, a.(*A)) },
		resolve:     f.Resolve,
		ownRunCheck: f.OwnRunCheck,
		ownCheckCmd: f.OwnCheckCmd,
	}
	if f.Concurrent != nil {
		e.concurrent = func(c *Call, a any) bool { return f.Concurrent(c, a.(*A)) }
	}
	if f.ModWatch != nil {
		e.modWatch = func(ctx context.Context, c *Call, a any) Outcome { return f.ModWatch(ctx, c, a.(*A)) }
	}
	if !entries.Add(name, e) {
		panic("states: " + name + " registered twice")
	}
}

// Lookup finds a registered state function by full name.
func Lookup(name string) (*Entry, bool) { return entries.Get(name) }

// Names lists every registered state function, sorted.
func Names() []string { return entries.Names() }

// unknownFunction builds the error for a function name nobody registered.
func unknownFunction(name string) error {
	msg := fmt.Sprintf("unknown state function %q", name)
	if s := Suggest(name, Names()); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return fmt.Errorf("%s", msg)
}
