// Package jinja renders SLS files, pillar files and file templates with
// Jinja, the way Salt does: grains, pillar and salt['mod.fun'] calls in the
// context, {% import %}/{% from %}/{% include %} against the state tree,
// {% import_yaml %}, and Salt's serialisation filters. It is built on gonja v2
// with a private environment per Env.
package jinja

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Loader reads templates from the state tree by path relative to its root ("web/map.jinja").
type Loader interface {
	ReadFile(name string) ([]byte, error)
}

// CallFunc runs `salt['mod.fun'](*args, **kwargs)` from a template.
type CallFunc func(ctx context.Context, fun string, args []any, kwargs map[string]any) (any, error)

// Options configure an Env.
type Options struct {
	// Loader reads templates for {% from/import/include %} and import_yaml;
	// when nil those fail with a clear error.
	Loader Loader
	// Call backs the `salt` variable; when nil salt[...] calls fail with a clear error.
	Call CallFunc
	// Cache, when set, shares parsed templates with the other Envs given
	// the same Cache; nil keeps them to this Env.
	Cache *Cache

	// MaxOutputBytes bounds the text one render produces, counted where it
	// is produced (loop and macro bodies, {{ }} expressions, the final
	// output), and the size of any one string built by +, ~, *, joins and
	// filters, checked before it is built. 0 means DefaultMaxOutputBytes.
	MaxOutputBytes int
	// MaxSteps bounds the loop iterations, macro calls, imports, includes
	// and list items copied by + in one render. 0 means DefaultMaxSteps.
	MaxSteps int
	// MaxRenderTime bounds one render's wall time. 0 means DefaultMaxRenderTime.
	MaxRenderTime time.Duration
}

// maxDepth bounds nested imports, includes and macro calls, so that a
// recursive template fails instead of exhausting the stack.
const maxDepth = 64

// Env is one run's rendering environment. It caches templates by name, so
// a map.jinja imported from many SLS files is read and parsed once per Env,
// or once per Options.Cache when Envs share one. Safe for concurrent use.
type Env struct {
	opts    Options
	lim     limits
	str     map[string]exec.Method[string] // gonja's string methods
	cfg     *config.Config
	env     *exec.Environment // filters, tests, tags and globals; Context holds the globals
	mu      sync.Mutex
	files   map[string]*file // templates read through the Loader, by tree path
	sources map[string]*file // templates given to Render, by name
}

// file is one template's source and, once needed, its parsed form.
type file struct {
	name    string // tree path, no leading slash
	readOne sync.Once
	src     []byte
	readErr error

	parseOne sync.Once
	tmpl     *exec.Template
	parseErr error
}

// New returns an Env with its own gonja configuration, filters and tags.
func New(opts Options) *Env {
	cfg := config.New()
	cfg.KeepTrailingNewline = true

	e := &Env{
		opts:    opts,
		lim:     resolveLimits(opts),
		str:     strMethodMap(builtins.Methods.Str),
		cfg:     cfg,
		files:   map[string]*file{},
		sources: map[string]*file{},
	}
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{}).
		Update(builtins.Filters).
		Update(exec.NewFilterSet(saltFilters()))
	filters = guardFilters(filters, e.lim)
	e.env = &exec.Environment{
		Context:           globals(),
		Filters:           filters,
		Tests:             exec.NewTestSet(map[string]exec.TestFunction{}).Update(builtins.Tests),
		ControlStructures: tagSet(),
		Methods:           methods(),
	}
	return e
}

// NeedsRender reports whether src contains any Jinja syntax ({{, {%, {#);
// callers skip Render when it does not.
func NeedsRender(src []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(src[i:], '{')
		if j < 0 || i+j+1 >= len(src) {
			return false
		}
		switch src[i+j+1] {
		case '{', '%', '#':
			return true
		}
		i += j + 1
	}
}

// Render renders src (the template called name, e.g. "web/init.sls") with
// vars as the context, plus the `salt` variable. ctx is passed to every
// CallFunc invocation; the render stops soon after ctx is done. A render
// stopped by one of the Options limits fails with an *Error wrapping a
// *LimitError.
func (e *Env) Render(ctx context.Context, name string, src []byte, vars map[string]any) (out []byte, err error) {
	name = cleanName(name)
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, &Error{Name: name, Msg: fmt.Sprintf("template engine failure: %v", p)}
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	f := e.source(name, src)
	tmpl, err := e.parse(f)
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeoutCause(ctx, e.lim.maxTime,
		&LimitError{Limit: LimitTime, Max: int64(e.lim.maxTime), What: "render " + name})
	defer cancel()
	st := &renderState{env: e, ctx: ctx, lim: e.lim, methods: e.env.Methods}
	st.methods.Str = strMethods(e.str, st)
	data := make(map[string]any, len(vars)+2)
	for k, v := range vars {
		if m, ok := v.(map[string]any); ok {
			v = saltDict(m)
		}
		data[k] = v
	}
	data["salt"] = &saltFuncs{state: st, call: e.opts.Call}
	data[stateKey] = st
	st.base = e.env.Context.Inherit().Update(exec.NewContext(data))

	var buf bytes.Buffer
	if err := e.execute(st, f, tmpl, st.base.Inherit(), &buf); err != nil {
		return nil, toError(name, err, st.cause)
	}
	if err := e.lim.check("the rendered template", buf.Len()); err != nil {
		return nil, &Error{Name: name, Msg: err.Error(), Err: err}
	}
	return buf.Bytes(), nil
}

// source returns the cached entry for a template given to Render, reusing
// its parsed form while the source is unchanged.
func (e *Env) source(name string, src []byte) *file {
	e.mu.Lock()
	defer e.mu.Unlock()
	if f, ok := e.sources[name]; ok && bytes.Equal(f.src, src) {
		return f
	}
	f := &file{name: name, src: bytes.Clone(src)}
	f.readOne.Do(func() {})
	e.sources[name] = f
	return f
}

// load returns the cached entry for a tree path, reading it through the
// Loader the first time it is asked for.
func (e *Env) load(name string) (*file, error) {
	e.mu.Lock()
	f, ok := e.files[name]
	if !ok {
		f = &file{name: name}
		e.files[name] = f
	}
	e.mu.Unlock()
	f.readOne.Do(func() {
		if e.opts.Loader == nil {
			f.readErr = fmt.Errorf("cannot load %q: no template loader configured", name)
			return
		}
		src, err := e.opts.Loader.ReadFile(name)
		if err != nil {
			f.readErr = fmt.Errorf("load %s: %w", name, err)
			return
		}
		f.src = src
	})
	return f, f.readErr
}

// lexBounded runs the engine's lexer over src and refuses the template when
// the lexer emits more tokens than the input can hold: on some malformed
// input (e.g. "{%!1.曣") the engine's lexer loops forever, and a recipe must
// never hang a run. The stuck lexer stays blocked on its channel, idle.
func lexBounded(src string, cfg *config.Config) error {
	l := tokens.NewLexer(src, cfg)
	crashed := make(chan any, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				crashed <- p
				close(l.Tokens) // Run died before closing it
			}
		}()
		l.Run()
	}()
	limit := 2*len(src) + 64
	n := 0
	for range l.Tokens {
		if n++; n > limit {
			return errors.New("syntax error: the template cannot be tokenized (malformed tag or expression)")
		}
	}
	select {
	case p := <-crashed:
		return fmt.Errorf("syntax error: the template cannot be tokenized (%v)", p)
	default:
		return nil
	}
}

// Cache holds parsed templates shared by the Envs of one run, such as the
// compilers of every minion of one job, so that each template is parsed
// once per run instead of once per minion. A template is found by its tree
// path and its source text: a file that changed is parsed again, never
// served stale. A shared template holds nothing of the Env that parsed it:
// the loader, the salt functions, the limits and the context of a render
// all come from the Env rendering it. Every Env given one Cache must read
// the same state tree; use a new Cache for each run. Safe for concurrent use.
type Cache struct {
	mu    sync.Mutex
	files map[string][]*file // by tree path: one entry per source seen
}

// NewCache returns an empty Cache.
func NewCache() *Cache {
	return &Cache{files: map[string][]*file{}}
}

// entry returns the shared entry for the template called name with source
// src, adding it the first time.
func (c *Cache) entry(name string, src []byte) *file {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.files[name] {
		if bytes.Equal(f.src, src) {
			return f
		}
	}
	f := &file{name: name, src: src}
	f.readOne.Do(func() {})
	c.files[name] = append(c.files[name], f)
	return f
}

// parse returns f's parsed template: the one shared through the Cache when
// the Env has one, else f's own, parsed once.
func (e *Env) parse(f *file) (*exec.Template, error) {
	if e.opts.Cache == nil {
		return e.parseOnce(f)
	}
	t, err := e.parseOnce(e.opts.Cache.entry(f.name, f.src))
	if err == nil && t.Root().Parent != nil {
		// {% extends %} embeds the parent as the parsing Env read it;
		// such a template is not shared.
		return e.parseOnce(f)
	}
	return t, err
}

// parseOnce returns f's parsed template, parsing it once.
func (e *Env) parseOnce(f *file) (*exec.Template, error) {
	f.parseOne.Do(func() {
		defer func() {
			if p := recover(); p != nil {
				f.parseErr = &Error{Name: f.name, Msg: fmt.Sprintf("template engine failure: %v", p)}
			}
		}()
		if err := lexBounded(string(f.src), e.cfg); err != nil {
			f.parseErr = &Error{Name: f.name, Msg: err.Error()}
			return
		}
		t, err := exec.NewTemplate(gonjaName(f.name), e.cfg, &treeLoader{env: e, file: f}, e.env)
		if err != nil {
			f.parseErr = parseError(f.name, err)
			return
		}
		instrument(t)
		f.tmpl = t
	})
	return f.tmpl, f.parseErr
}

// execute renders a parsed template with ctx as its variables into w, as
// part of the render st.
func (e *Env) execute(st *renderState, f *file, t *exec.Template, ctx *exec.Context, w *bytes.Buffer) error {
	env := &exec.Environment{
		Context:           ctx,
		Filters:           e.env.Filters,
		Tests:             e.env.Tests,
		ControlStructures: e.env.ControlStructures,
		Methods:           st.methods,
	}
	return exec.NewRenderer(env, w, e.cfg, &treeLoader{env: e, file: f}, t).Execute()
}

// parseError turns a gonja parse failure into an *Error without the
// template source gonja puts in its message.
func parseError(name string, err error) *Error {
	var se *parser.SyntaxError
	if errors.As(err, &se) {
		return &Error{Name: name, Line: se.Line, Msg: syntaxMessage(se)}
	}
	return toError(name, err, nil)
}

// syntaxMessage is a syntax error's message with the offending token.
func syntaxMessage(se *parser.SyntaxError) string {
	if se.Raw == "" {
		return "syntax error: " + se.Message
	}
	return fmt.Sprintf("syntax error: %s (near %q)", se.Message, se.Raw)
}

// cleanName maps a template name to its tree path: no leading slash or
// salt:// prefix, no dot segments.
func cleanName(name string) string {
	name = strings.TrimPrefix(name, "salt://")
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// gonjaName is the identifier gonja knows a tree path by: gonja requires
// in-memory names to start with a slash.
func gonjaName(name string) string { return "/" + name }
