// Package jinja renders SLS files, pillar files and file templates with
// Jinja, the way Salt does: grains, pillar and salt['mod.fun'] calls in the
// context, {% import %}/{% from %}/{% include %} against the state tree,
// Salt's {% import_yaml %} and {% load_yaml %} tags and its filters. It is
// its own Jinja2 engine (lexer, parser, evaluator) with Python's value
// semantics and Jinja's StrictUndefined, as Salt configures it.
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
	// Functions lists the functions Call runs ("test.ping"), as Salt's
	// loader lists them: `'mod.fun' in salt`, `salt | list` and
	// `salt | length` answer from it. Nil means none.
	Functions func() []string
	// Cache, when set, shares parsed templates with the other Envs given
	// the same Cache; nil keeps them to this Env.
	Cache *Cache
	// HostFiles lets the file filters (is_text_file, is_bin_file, is_empty,
	// file_hashsum, list_files, which) read the rendering host's file
	// system; when false they fail with a clear error.
	HostFiles bool

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
	globals *scope
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
	tmpl     *template
	parseErr error
}

// template is a parsed template.
type template struct{ body []node }

// New returns an Env.
func New(opts Options) *Env {
	return &Env{
		opts:    opts,
		lim:     resolveLimits(opts),
		globals: globals(),
		files:   map[string]*file{},
		sources: map[string]*file{},
	}
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
	base := newScope(e.globals)
	for k, v := range vars {
		v = fromGo(v)
		if d, ok := v.(*Dict); ok {
			d.salt = true
		}
		base.vars[k] = v
	}
	base.vars["salt"] = &saltFuncs{call: e.opts.Call, names: e.opts.Functions}
	r := &renderer{env: e, ctx: ctx, lim: e.lim, base: base}
	fr := &frame{r: r, file: f}
	o := &output{r: r}
	if err := fr.render(tmpl, newScope(base), o); err != nil {
		return nil, fr.topError(err)
	}
	return []byte(o.b.String()), nil
}

// topError turns what a render failed with into an *Error.
func (f *frame) topError(err error) error {
	switch err {
	case errBreak, errContinue:
		return &Error{Name: f.file.name, Msg: err.Error()}
	}
	var te *Error
	if errors.As(err, &te) {
		return te
	}
	return &Error{Name: f.file.name, Msg: err.Error(), Err: err}
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

// Cache holds parsed templates shared by the Envs of one run, such as the
// compilers of every minion of one job, so that each template is parsed
// once per run instead of once per minion. A template is found by its tree
// path and its source text: a file that changed is parsed again, never
// served stale. A shared template holds nothing of the Env that parsed it:
// the loader, the salt functions, the limits and the context of a render
// all come from the Env rendering it. Safe for concurrent use.
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
func (e *Env) parse(f *file) (*template, error) {
	if e.opts.Cache != nil {
		f = e.opts.Cache.entry(f.name, f.src)
	}
	f.parseOne.Do(func() {
		t, err := parseTemplate(string(f.src))
		if err != nil {
			var se *syntaxError
			if errors.As(err, &se) {
				f.parseErr = &Error{Name: f.name, Line: se.line, Msg: se.Error()}
				return
			}
			f.parseErr = &Error{Name: f.name, Msg: err.Error()}
			return
		}
		f.tmpl = &template{body: t}
	})
	return f.tmpl, f.parseErr
}

// target evaluates a tag's template name and loads that file. The
// returned file is non-nil when the name resolved, even if reading failed.
func (f *frame) target(x expr, sc *scope) (*file, error) {
	v, err := f.eval(x, sc)
	if err != nil {
		return nil, err
	}
	s, ok := v.(string)
	if !ok {
		if u, isU := v.(*Undefined); isU {
			return nil, u.err()
		}
		return nil, fmt.Errorf("template name must be a string, not %s", repr(v))
	}
	name, err := resolveName(f.file.name, s)
	if err != nil {
		return nil, err
	}
	return f.r.env.load(name)
}

// run renders the template tf with parent as its enclosing scope,
// returning its output and its own top-level variables.
func (f *frame) run(what string, tf *file, parent *scope) (string, *scope, error) {
	r := f.r
	tmpl, err := r.env.parse(tf)
	if err != nil {
		return "", nil, err
	}
	if err := r.enter(what + " " + tf.name); err != nil {
		return "", nil, err
	}
	defer r.leave()
	sc := newScope(parent)
	o := &output{r: r}
	inner := &frame{r: r, file: tf}
	if err := inner.render(tmpl, sc, o); err != nil {
		return "", nil, inner.topError(err)
	}
	return o.b.String(), sc, nil
}

func (f *frame) include(n *includeNode, sc *scope, out *output) error {
	tf, err := f.target(n.name, sc)
	if err != nil {
		if n.ignoreMissing && tf != nil && tf.readErr != nil {
			return nil
		}
		return err
	}
	parent := f.r.base
	if n.withContext {
		parent = sc
	}
	s, _, err := f.run("include", tf, parent)
	if err != nil {
		return err
	}
	out.b.WriteString(s)
	return nil
}

func (f *frame) importTemplate(n *importNode, sc *scope) error {
	tf, err := f.target(n.name, sc)
	if err != nil {
		return err
	}
	parent := f.r.base
	if n.withContext {
		parent = sc
	}
	_, tsc, err := f.run("import", tf, parent)
	if err != nil {
		return err
	}
	if n.as != "" {
		mod := newDict(len(tsc.vars))
		for _, k := range sortedKeys(tsc.vars) {
			_ = mod.Set(k, tsc.vars[k])
		}
		sc.vars[n.as] = &namespace{d: mod}
		return nil
	}
	for _, nm := range n.names {
		v, ok := tsc.vars[nm[0]]
		if !ok {
			return fmt.Errorf("%s does not define %q", tf.name, nm[0])
		}
		sc.vars[nm[1]] = v
	}
	return nil
}

func (f *frame) dataImport(n *dataImportNode, sc *scope) error {
	tf, err := f.target(n.name, sc)
	if err != nil {
		return err
	}
	src := string(tf.src)
	if n.format != "text" && NeedsRender(tf.src) {
		if src, _, err = f.run("import_"+n.format, tf, sc); err != nil {
			return err
		}
	}
	v, err := parseData(n.format, src)
	if err != nil {
		line := 0
		fmt.Sscanf(strings.TrimPrefix(strings.TrimPrefix(err.Error(), "invalid YAML: "), "yaml: "), "line %d:", &line)
		return &Error{Name: tf.name, Line: line, Msg: err.Error()}
	}
	sc.vars[n.as] = v
	return nil
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}

// cleanName maps a template name to its tree path: no leading slash or
// salt:// prefix, no dot segments.
func cleanName(name string) string {
	name = strings.TrimPrefix(name, "salt://")
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// resolveName maps a template name used inside the template cur to a tree
// path. Names are relative to the tree root, as in Salt, except those
// starting with ./ or ../, which are relative to cur's directory.
func resolveName(cur, name string) (string, error) {
	name = strings.TrimPrefix(name, "salt://")
	if name == "" {
		return "", fmt.Errorf("empty template name")
	}
	var p string
	if strings.HasPrefix(name, "./") || strings.HasPrefix(name, "../") {
		p = path.Join(path.Dir(cur), name)
	} else {
		p = path.Clean(strings.TrimPrefix(name, "/"))
	}
	if p == "." || p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("template name %q is outside the state tree", name)
	}
	return p, nil
}
