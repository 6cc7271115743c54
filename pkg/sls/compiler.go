package sls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brinecm/brine/pkg/dict"
	"github.com/brinecm/brine/pkg/jinja"
	"gopkg.in/yaml.v3"
)

// Caller runs execution module functions for Jinja's salt['mod.fun'](...)
// calls other than the ones the compiler answers itself (grains.get,
// grains.item(s), pillar.get, pillar.item(s), config.get).
type Caller interface {
	// Call runs the execution module function fun ("cmd.run").
	Call(ctx context.Context, fun string, args []any, kwargs map[string]any) (any, error)
}

// Config describes one compile run for one minion.
type Config struct {
	FileRoots   []string       // state tree directories, searched in order (Salt's file_roots for base)
	Files       fs.FS          // the state tree as a file system instead of FileRoots (a minion's view of its master's tree)
	PillarRoots []string       // pillar tree directories; none => empty pillar
	ID          string         // minion id
	Grains      map[string]any // the minion's grains
	Pillar      map[string]any // extra pillar (Salt's pillar= override), deep-merged over the compiled pillar
	Opts        map[string]any // the `opts` Jinja variable
	Saltenv     string         // "" (base, every environment's top file) or the run's saltenv; see Saltenvs below
	Caller      Caller         // may be nil
	// Limits bound what the compile reads and renders.
	Limits Limits
	// TopMerging is how a highstate without a saltenv merges the
	// environments' top files: TopMerge (""), TopSame or TopMergeAll
	// (Salt's top_file_merging_strategy). EnvOrder is the order the
	// environments' top files are read and merged in, and leaves the
	// others out (Salt's env_order; default base, then the others
	// sorted). DefaultTop is the environment whose top file gives its
	// section to an environment without one, with TopSame (Salt's
	// default_top; default base). StateTopSaltenv, when set, is the one
	// environment whose top file is read (Salt's state_top_saltenv).
	TopMerging      string
	EnvOrder        []string
	DefaultTop      string
	StateTopSaltenv string
	// PyDSL allows the #!pydsl renderer: an SLS in Python, run by the
	// rendering host's python3 with brine's rights (the pydsl
	// configuration key; off by default, see docs/security.md).
	PyDSL bool
	// Templates, when set, shares the tree files read and the templates
	// parsed with the other compilers of the same run given the same
	// TemplateCache (one per job, one per test render). Nil: this compiler
	// reads and parses on its own. Not used with Files.
	Templates *TemplateCache

	// Saltenvs. Saltenv, when set, limits a highstate to that
	// environment's top file and its section, and is the environment SLS
	// names and salt:// URLs are read from; "" reads every environment's
	// top file, and SLS names from base.
	//
	// FileEnvs and PillarEnvs are the tree directories of the
	// environments other than base (Salt's file_roots and pillar_roots
	// mappings); FileRoots and PillarRoots are base's.
	FileEnvs   map[string][]string
	PillarEnvs map[string][]string
	// EnvFiles, with Files, gives the state tree of an environment other
	// than base as a file system (a minion's view of its master's tree of
	// that environment); nil: base only. FileEnvs' keys then name the
	// environments whose top files a highstate reads.
	EnvFiles func(saltenv string) fs.FS
	// Pillarenv, when set, compiles the pillar from that environment's
	// pillar top file and tree alone (Salt's pillarenv); otherwise every
	// environment's pillar top file is merged, as Saltenv's are.
	Pillarenv string
}

// Compiler compiles state trees for one minion. It caches the pillar and
// the parsed templates of the run, so one Compiler serves one run.
type Compiler struct {
	cfg     Config
	states  *tree
	pillars *tree
	jinja   *jinja.Env // state tree templates
	pjinja  *jinja.Env // pillar tree templates

	mu         sync.Mutex
	pillarDone bool
	pillar     map[string]any
	pillarErrs Errors
	// pillarOrder is the compiled pillar's key order (nil until the
	// pillar is compiled), read without mu by templates rendering while
	// the pillar compiles.
	pillarOrder atomic.Pointer[dict.Order]
	shared      map[string]any // per-run values of the state functions (Shared)

	envGiven bool                // Config.Saltenv was set
	envMu    sync.Mutex          // guards envTrees and views
	envTrees map[string]*envTree // the environments' trees by kind and name, opened on first use
	views    map[string]*EnvView // InSaltenv's, made once per environment
}

// New returns a Compiler for cfg.
func New(cfg Config) *Compiler {
	envGiven := cfg.Saltenv != ""
	if !envGiven {
		cfg.Saltenv = Base
	}
	if cfg.Grains == nil {
		cfg.Grains = map[string]any{}
	}
	if cfg.Opts == nil {
		cfg.Opts = map[string]any{}
	}
	if cfg.Limits.FileBytes <= 0 {
		cfg.Limits.FileBytes = DefaultMaxFileBytes
	}
	c := &Compiler{cfg: cfg, states: newTree(cfg.FileRoots, cfg.Limits.FileBytes), pillars: newTree(cfg.PillarRoots, cfg.Limits.FileBytes),
		envGiven: envGiven}
	if cfg.Files != nil {
		c.states = &tree{roots: []fs.FS{cfg.Files}, limit: cfg.Limits.FileBytes}
	}
	var stateTemplates, pillarTemplates *jinja.Cache
	if cfg.Templates != nil && cfg.Files == nil {
		c.states.shared = cfg.Templates.tree("states", cfg.FileRoots)
		c.pillars.shared = cfg.Templates.tree("pillar", cfg.PillarRoots)
		stateTemplates, pillarTemplates = c.states.shared.templates, c.pillars.shared.templates
	}
	lim := cfg.Limits
	c.jinja = jinja.New(jinja.Options{Loader: c.states, Call: c.caller(c.statePillar), Cache: stateTemplates,
		Functions: c.functions, MaxOutputBytes: lim.OutputBytes, MaxSteps: lim.Steps, MaxRenderTime: lim.RenderTime})
	c.pjinja = jinja.New(jinja.Options{Loader: c.pillars, Call: c.caller(c.extraPillar), Cache: pillarTemplates,
		Functions: c.functions, MaxOutputBytes: lim.OutputBytes, MaxSteps: lim.Steps, MaxRenderTime: lim.RenderTime})
	return c
}

// Limits bound what one compile reads and renders; a zero field means its
// default. Files given as salt:// sources to states are not limited.
type Limits struct {
	FileBytes   int64         // largest SLS, pillar, top or template file read (max_sls_bytes; DefaultMaxFileBytes)
	OutputBytes int           // largest output of one render (jinja_max_output_bytes; jinja.DefaultMaxOutputBytes)
	Steps       int           // loop iterations, macro calls and includes of one render (jinja_max_steps; jinja.DefaultMaxSteps)
	RenderTime  time.Duration // one render's wall time (jinja_max_render_time; jinja.DefaultMaxRenderTime)
}

// Highstate compiles every SLS the top file gives this minion.
func (c *Compiler) Highstate(ctx context.Context) ([]Low, error) {
	r := c.newRun(ctx)
	r.pillarNeeded()
	entries := c.topEntries(ctx, stateTrees, r.pillar, true, &r.errs)
	if len(entries) == 0 && len(r.errs) == 0 {
		if c.envGiven {
			r.errs.add(Pos{}, "", "no top file match for minion %q in env %q", c.cfg.ID, c.cfg.Saltenv)
		} else {
			r.errs.add(Pos{}, "", "no top file match for minion %q in the environments %s", c.cfg.ID, strings.Join(c.envNames(stateTrees), ", "))
		}
	}
	for _, e := range entries {
		pos := e.pos
		r.compile(e.env, e.name, &pos)
	}
	return r.finish()
}

// SLS compiles the named SLS files ("web", "web.nginx") and what they
// include.
func (c *Compiler) SLS(ctx context.Context, names ...string) ([]Low, error) {
	r := c.newRun(ctx)
	for _, name := range names {
		r.compile(c.cfg.Saltenv, name, nil)
	}
	return r.finish()
}

// Template compiles src, one SLS template that is not part of the state
// tree (Salt's state.template and state.template_str), as the SLS name:
// name is its __sls__ and the file its errors point at. Jinja in it reaches
// the state tree as an SLS file's does; include, exclude and extend are
// refused, as Salt refuses them in a single template.
func (c *Compiler) Template(ctx context.Context, name string, src []byte) ([]Low, error) {
	r := c.newRun(ctx)
	r.done[name] = true
	r.source(c.cfg.Saltenv, name, name, src, true)
	return r.finish()
}

// Top evaluates the top files for this minion: the SLS names it gets, in
// top-file order, deduplicated (those of every environment; TopEnvs
// tells them apart).
func (c *Compiler) Top(ctx context.Context) ([]string, error) {
	envs, order, err := c.TopEnvs(ctx)
	var names []string
	for _, env := range order {
		names = append(names, envs[env]...)
	}
	return names, err
}

// TopEnvs evaluates the top files for this minion: the SLS names it gets
// in each environment, and the environments in the order the merged top
// data gives them.
func (c *Compiler) TopEnvs(ctx context.Context) (map[string][]string, []string, error) {
	pillar, err := c.Pillar(ctx)
	var errs Errors
	if pe, ok := errors.AsType[Errors](err); ok {
		errs = append(errs, pe...)
	}
	entries := c.topEntries(ctx, stateTrees, pillar, true, &errs)
	envs := map[string][]string{}
	var order []string
	for _, e := range entries {
		if _, ok := envs[e.env]; !ok {
			order = append(order, e.env)
		}
		envs[e.env] = append(envs[e.env], e.name)
	}
	return envs, order, errs.result()
}

// Source reads "salt://path" or "brine://path" from the file roots of
// the run's saltenv, or of the environment its ?saltenv= names; an
// absolute local path reads that file.
func (c *Compiler) Source(ctx context.Context, url string) ([]byte, error) {
	return c.sourceIn(ctx, c.cfg.Saltenv, url)
}

// sourceIn is Source with salt:// URLs read from environment def unless
// they name theirs.
func (c *Compiler) sourceIn(ctx context.Context, def, url string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("source %s: %w", url, err)
	}
	if rest, env, ok := splitTreeURL(url, def); ok {
		e, err := c.env(stateTrees, env)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", url, err)
		}
		b, err := e.tree.read(rest, 0)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", url, err)
		}
		return b, nil
	}
	if filepath.IsAbs(url) {
		b, err := os.ReadFile(url)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("source %q: want salt://, brine:// or an absolute path", url)
}

// SourceStat describes a salt:// or brine:// file of the state tree (its
// mode is what file.managed's mode: keep gives the file it manages).
func (c *Compiler) SourceStat(ctx context.Context, url string) (fs.FileInfo, error) {
	return c.sourceStatIn(ctx, c.cfg.Saltenv, url)
}

// sourceStatIn is SourceStat in environment def.
func (c *Compiler) sourceStatIn(ctx context.Context, def, url string) (fs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("source %s: %w", url, err)
	}
	rest, env, ok := splitTreeURL(url, def)
	if !ok {
		return nil, fmt.Errorf("source %q: want salt:// or brine://", url)
	}
	e, err := c.env(stateTrees, env)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", url, err)
	}
	name := strings.TrimPrefix(path.Clean("/"+rest), "/")
	for _, root := range e.tree.roots {
		fi, err := fs.Stat(root, name)
		if err == nil {
			return fi, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("source %s: %w", url, err)
		}
	}
	return nil, fmt.Errorf("source %s: %w", url, fs.ErrNotExist)
}

// SourceList lists the files below a salt:// or brine:// directory of the
// state tree, as paths relative to it with '/' separators, sorted; empty
// directories end with '/'. A path found in several file roots is taken
// from the first, as Salt merges its roots. It needs a state tree that can
// list directories (a local tree; a minion's view of its master's tree
// reads files only).
func (c *Compiler) SourceList(ctx context.Context, url string) ([]string, error) {
	return c.sourceListIn(ctx, c.cfg.Saltenv, url)
}

// treeDir resolves a salt:// or brine:// directory URL in environment
// def (or the one its ?saltenv= names): that environment's state tree
// and the directory's path in it ("." for its top).
func (c *Compiler) treeDir(def, url string) (*envTree, string, error) {
	rest, env, ok := splitTreeURL(url, def)
	if !ok {
		return nil, "", fmt.Errorf("source %q: want salt:// or brine://", url)
	}
	e, err := c.env(stateTrees, env)
	if err != nil {
		return nil, "", fmt.Errorf("source directory %s: %w", url, err)
	}
	dir := strings.TrimPrefix(path.Clean("/"+rest), "/")
	if dir == "" {
		dir = "."
	}
	return e, dir, nil
}

// sourceListIn is SourceList in environment def.
func (c *Compiler) sourceListIn(ctx context.Context, def, url string) ([]string, error) {
	e, dir, err := c.treeDir(def, url)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	found := false
	for _, root := range e.tree.roots {
		if _, ok := root.(fs.ReadDirFS); !ok {
			return nil, fmt.Errorf("source directory %s: this state tree cannot list directories (apply it with brine call --local)", url)
		}
		err := fs.WalkDir(root, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if p == dir {
				if !d.IsDir() {
					return fs.ErrNotExist
				}
				found = true
				return nil
			}
			rel := strings.TrimPrefix(p, dir+"/")
			if dir == "." {
				rel = p
			}
			if d.IsDir() {
				if empty, _ := fs.ReadDir(root, p); len(empty) == 0 {
					seen[rel+"/"] = true
				}
				return nil
			}
			seen[rel] = true
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("source directory %s: %w", url, err)
		}
	}
	if !found {
		return nil, fmt.Errorf("source directory %s: %w", url, fs.ErrNotExist)
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

// treeURL cuts the salt:// or brine:// scheme off url.
func treeURL(url string) (string, bool) {
	for _, scheme := range []string{"salt://", "brine://"} {
		if rest, ok := strings.CutPrefix(url, scheme); ok {
			return rest, true
		}
	}
	return "", false
}

// Opts is the run's configuration, the `opts` Jinja variable.
func (c *Compiler) Opts() map[string]any { return c.cfg.Opts }

// Shared returns the value the state functions of this run keep under
// key, made by mk the first time (file.accumulated's text, which
// file.managed and file.blockreplace read later in the run). The value
// must be safe for concurrent use.
func (c *Compiler) Shared(key string, mk func() any) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shared == nil {
		c.shared = map[string]any{}
	}
	v, ok := c.shared[key]
	if !ok {
		v = mk()
		c.shared[key] = v
	}
	return v
}

// SourceDir resolves a salt:// or brine:// directory of the state tree to
// a local path, for states that need a whole directory (a Docker build
// context). Only a tree on local disk can serve directories.
func (c *Compiler) SourceDir(ctx context.Context, url string) (string, error) {
	return c.sourceDirIn(ctx, c.cfg.Saltenv, url)
}

// sourceDirIn is SourceDir in environment def.
func (c *Compiler) sourceDirIn(ctx context.Context, def, url string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("source %s: %w", url, err)
	}
	r, env, _ := splitTreeURL(url, def)
	rest := strings.TrimPrefix(path.Clean("/"+r), "/")
	if rest == "" {
		return "", fmt.Errorf("source directory %q: want salt:// or brine:// and a directory of the state tree", url)
	}
	if c.cfg.Files != nil {
		return "", fmt.Errorf("source directory %s: directories are served from a local state tree only (apply it with brine call --local, or give an absolute path)", url)
	}
	roots, err := c.envDirs(env)
	if err != nil {
		return "", fmt.Errorf("source directory %s: %w", url, err)
	}
	for _, root := range roots {
		dir := filepath.Join(root, filepath.FromSlash(rest))
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir, nil
		}
	}
	return "", fmt.Errorf("source directory %s: %w", url, fs.ErrNotExist)
}

// CallFunction runs an execution module function with the run's Caller,
// for states that call one (module.run) and for onlyif and unless in the
// `- fun:` form; without a Caller it is an error.
func (c *Compiler) CallFunction(ctx context.Context, fun string, args []any, kwargs map[string]any) (any, error) {
	if c.cfg.Caller == nil {
		return nil, fmt.Errorf("call %s: this run has no execution modules", fun)
	}
	return c.cfg.Caller.Call(ctx, fun, args, kwargs)
}

// Render renders a file template. Engine "jinja" renders src through the
// run's Jinja environment with grains, pillar, opts and saltenv plus
// extra; "" or "none" returns src unchanged.
func (c *Compiler) Render(ctx context.Context, engine, name string, src []byte, extra map[string]any) ([]byte, error) {
	return c.renderIn(ctx, c.cfg.Saltenv, engine, name, src, extra)
}

// renderIn is Render in environment env: its state tree serves the
// template's includes and imports, and saltenv is env.
func (c *Compiler) renderIn(ctx context.Context, env, engine, name string, src []byte, extra map[string]any) ([]byte, error) {
	switch engine {
	case "", "none":
		return src, nil
	case "jinja":
	default:
		return nil, fmt.Errorf("render %s: unsupported template engine %q (want jinja or none)", name, engine)
	}
	pillar, err := c.Pillar(ctx)
	if err != nil {
		return nil, fmt.Errorf("render %s: pillar: %w", name, err)
	}
	e, err := c.env(stateTrees, env)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	vars := c.baseVars(pillar, env)
	for k, v := range extra {
		vars[k] = v
	}
	out, err := e.jinja.Render(ctx, name, src, vars)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return out, nil
}

// baseVars are the Jinja variables every template of environment env
// gets.
func (c *Compiler) baseVars(pillar map[string]any, env string) map[string]any {
	return map[string]any{
		"grains":  c.cfg.Grains,
		"pillar":  dict.WithOrder(pillar, c.pillarOrder.Load()),
		"opts":    c.cfg.Opts,
		"saltenv": env,
		"env":     env,
	}
}

// slsVars are the Jinja variables of the SLS name in file of environment
// env.
func (c *Compiler) slsVars(pillar map[string]any, env, name, file string) map[string]any {
	vars := c.baseVars(pillar, env)
	dir := slsDir(file)
	tpldir := dir
	if tpldir == "" {
		tpldir = "."
	}
	vars["sls"] = name
	vars["slspath"] = dir
	vars["sls_path"] = strings.ReplaceAll(dir, "/", "_")
	vars["slsdotpath"] = strings.ReplaceAll(dir, "/", ".")
	vars["slscolonpath"] = strings.ReplaceAll(dir, "/", ":")
	vars["tpldir"] = tpldir
	vars["tpldot"] = strings.ReplaceAll(dir, "/", ".")
	vars["tplfile"] = file
	vars["tplpath"] = file
	return vars
}

// render renders an SLS or top file through env when it holds Jinja,
// turning a template error into an Error at its line. A first line such as
// `#!jinja|yaml` or `#!yaml` chooses the renderers, as in Salt.
func render(ctx context.Context, env *jinja.Env, file string, src []byte, vars func() map[string]any, errs *Errors) ([]byte, bool) {
	useJinja, bad := renderers(src)
	if bad != "" {
		errs.add(Pos{File: file, Line: 1}, "", "unsupported renderer %q (brine renders jinja, yaml, json and pydsl)", bad)
		return nil, false
	}
	if !useJinja || !jinja.NeedsRender(src) {
		return src, true
	}
	out, err := env.Render(ctx, file, src, vars())
	if err == nil {
		return out, true
	}
	if je, ok := errors.AsType[*jinja.Error](err); ok {
		name := je.Name
		if name == "" {
			name = file
		}
		errs.add(Pos{File: name, Line: je.Line}, "", "render: %s", je.Msg)
		if name != file {
			errs.add(Pos{File: file}, "", "render: error in %s", name)
		}
		return nil, false
	}
	errs.add(Pos{File: file}, "", "render: %v", err)
	return nil, false
}

// renderers reads a renderer shebang line ("#!jinja|yaml"): whether Jinja
// runs (it does without a shebang), or the first renderer brine lacks.
func renderers(src []byte) (useJinja bool, unsupported string) {
	if !bytes.HasPrefix(src, []byte("#!")) {
		return true, ""
	}
	line, _, _ := bytes.Cut(src[2:], []byte("\n"))
	for part := range strings.SplitSeq(string(line), "|") {
		switch r := strings.TrimSpace(part); r {
		case "jinja":
			useJinja = true
		case "yaml", "json":
		default:
			return false, r
		}
	}
	return useJinja, ""
}

// run is one compile run: the SLS files compiled so far and what they
// declared.
type run struct {
	c        *Compiler
	ctx      context.Context
	errs     Errors
	done     map[string]bool  // SLS names compiled (or being compiled)
	ids      map[string]*decl // ID declarations by ID
	decls    []*decl          // in definition order
	extends  []*decl
	exclSLS  map[string]bool
	exclID   map[string]bool
	pillar   map[string]any
	havePill bool
}

// newRun starts a compile run.
func (c *Compiler) newRun(ctx context.Context) *run {
	return &run{
		c:       c,
		ctx:     ctx,
		done:    map[string]bool{},
		ids:     map[string]*decl{},
		exclSLS: map[string]bool{},
		exclID:  map[string]bool{},
	}
}

// pillarNeeded compiles the pillar for this run, once, recording its errors.
func (r *run) pillarNeeded() {
	if r.havePill {
		return
	}
	r.havePill = true
	p, err := r.c.Pillar(r.ctx)
	r.pillar = p
	if pe, ok := errors.AsType[Errors](err); ok {
		r.errs = append(r.errs, pe...)
	}
}

// compile compiles the SLS name of environment env and what it includes,
// once per run. from is where it was named (an include or top.sls), nil
// for a name given by the caller.
func (r *run) compile(env, name string, from *Pos) {
	if r.done[env+":"+name] {
		return
	}
	r.done[env+":"+name] = true
	at := Pos{}
	if from != nil {
		at = *from
	}
	if err := r.ctx.Err(); err != nil {
		r.errs.add(Pos{}, "", "compile %s: %v", name, err)
		return
	}
	e, err := r.c.env(stateTrees, env)
	if err != nil {
		r.errs.add(at, "", "SLS %s: %v", name, err)
		return
	}
	file, src, err := e.tree.findSLS(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			r.errs.add(at, "", "No matching sls found for '%s' in env '%s'", name, env)
		} else {
			r.errs.add(at, "", "read SLS %q: %v", name, err)
		}
		return
	}
	r.source(env, name, file, src, false)
}

// source renders and compiles src, the SLS name read from file. single
// refuses include, exclude and extend, as Salt refuses them in a template
// rendered on its own (state.template, state.template_str).
func (r *run) source(env, name, file string, src []byte, single bool) {
	e, err := r.c.env(stateTrees, env)
	if err != nil {
		r.errs.add(Pos{File: file}, "", "SLS %s: %v", name, err)
		return
	}
	vars := func() map[string]any {
		r.pillarNeeded()
		return r.c.slsVars(r.pillar, env, name, file)
	}
	var ok bool
	if isPyDSL(src) {
		src, ok = r.pydsl(name, file, src)
	} else {
		src, ok = render(r.ctx, e.jinja, file, src, vars, &r.errs)
	}
	if !ok {
		return
	}
	root, perr := parseYAML(file, src)
	if perr != nil {
		r.errs = append(r.errs, perr)
		return
	}
	if root == nil {
		return
	}
	p := newParser(file, &r.errs)
	if single && root.Kind == yaml.MappingNode {
		refused := false
		for i := 0; i < len(root.Content); i += 2 {
			switch k := root.Content[i]; k.Value {
			case "include", "exclude", "extend", "extends":
				refused = true
				p.errorf(k, "", "The '%s' declaration found on '%s' is invalid when rendering single templates: "+
					"apply the states with state.sls to use it, or remove it", k.Value, name)
			}
		}
		if refused {
			return
		}
	}
	r.body(p, env, name, file, root)
}

// body compiles the top level of one SLS file: its includes first, then
// its ID declarations, excludes and extends.
func (r *run) body(p *parser, env, name, file string, root *yaml.Node) {
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "", "SLS must be a mapping of IDs to state declarations, not a %s", kindName(root))
		return
	}
	prs := p.pairs(root)
	for _, pr := range prs {
		if pr.key == "include" {
			for _, inc := range r.includes(p, env, name, file, pr.val) {
				pos := inc.pos
				r.compile(inc.env, inc.name, &pos)
			}
		}
	}
	for _, pr := range prs {
		switch pr.key {
		case "include":
		case "exclude":
			r.exclude(p, pr.val)
		case "extend":
			r.extend(p, name, pr)
		case "":
			p.errorf(pr.keyNode, "", "empty ID declaration")
		default:
			d := p.decl(pr.key, name, pr.keyNode, pr.val, false)
			d.env = env
			if prev, dup := r.ids[d.id]; dup {
				r.errs.add(d.pos, d.id, "conflicting ID: already declared at %s", prev.pos)
				continue
			}
			r.ids[d.id] = d
			r.decls = append(r.decls, d)
		}
	}
}

// named is an SLS name, where it was written and its environment ("" for
// the run's).
type named struct {
	name string
	pos  Pos
	env  string
}

// includes parses a state include: list of an SLS of environment env.
// Items are SLS names, relative names (".nginx"), "env:name", {env: name}
// (Salt's form) or {sls: name}; an include without an environment is of
// env.
func (r *run) includes(p *parser, env, name, file string, n *yaml.Node) []named {
	var out []named
	for _, it := range listItems(p, n, "include") {
		inc := it.key
		if it.val != nil {
			v := resolve(it.val)
			if v.Kind != yaml.ScalarNode || isNull(v) {
				p.errorf(it.at, "", "include %s: want an SLS name, not a %s", it.key, kindName(v))
				continue
			}
			inc = v.Value
			if it.key != "sls" {
				inc = it.key + ":" + v.Value
			}
		}
		incEnv := env
		if e, rest, ok := strings.Cut(inc, ":"); ok {
			if _, err := r.c.env(stateTrees, e); err != nil {
				p.errorf(it.at, "", "include %q of %s: %v", inc, name, err)
				continue
			}
			incEnv, inc = e, rest
		}
		if strings.HasPrefix(inc, ".") {
			abs, ok := relativeSLS(name, file, inc)
			if !ok {
				p.errorf(it.at, "", "relative include %q of %s goes beyond the top of the tree", inc, name)
				continue
			}
			inc = abs
		}
		out = append(out, named{name: inc, pos: p.pos(it.at), env: incEnv})
	}
	return out
}

// listItem is one item of an include: list: a plain string (val nil) or
// the key and value of a one-key map.
type listItem struct {
	key string
	at  *yaml.Node
	val *yaml.Node
}

// listItems reads an include: list (a lone string is a list of one).
func listItems(p *parser, n *yaml.Node, what string) []listItem {
	n = resolve(n)
	items := []*yaml.Node{n}
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.SequenceNode:
		items = n.Content
	case n.Kind != yaml.ScalarNode:
		p.errorf(n, "", "%s must be a list of SLS names, not a %s", what, kindName(n))
		return nil
	}
	var out []listItem
	for _, item := range items {
		item = resolve(item)
		switch {
		case item.Kind == yaml.ScalarNode && !isNull(item):
			out = append(out, listItem{key: item.Value, at: item})
		case item.Kind == yaml.MappingNode:
			prs := p.pairs(item)
			if len(prs) != 1 {
				p.errorf(item, "", "%s item must be an SLS name or a one-key map", what)
				continue
			}
			out = append(out, listItem{key: prs[0].key, at: prs[0].keyNode, val: prs[0].val})
		default:
			p.errorf(item, "", "%s item must be an SLS name, not a %s", what, kindName(item))
		}
	}
	return out
}

// exclude records an exclude: list of {sls: name} and {id: name} items (a
// plain string is an SLS name).
func (r *run) exclude(p *parser, n *yaml.Node) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "", "exclude must be a list of {sls: name} or {id: name}, not a %s", kindName(n))
		return
	}
	for _, item := range n.Content {
		item = resolve(item)
		switch {
		case item.Kind == yaml.ScalarNode && !isNull(item):
			r.exclSLS[item.Value] = true
		case item.Kind == yaml.MappingNode:
			for _, pr := range p.pairs(item) {
				v := resolve(pr.val)
				if v.Kind != yaml.ScalarNode || isNull(v) {
					p.errorf(pr.keyNode, "", "exclude %s: want a name, not a %s", pr.key, kindName(v))
					continue
				}
				switch pr.key {
				case "sls":
					r.exclSLS[v.Value] = true
				case "id":
					r.exclID[v.Value] = true
				default:
					p.errorf(pr.keyNode, "", "exclude: unknown key %q (want sls or id)", pr.key)
				}
			}
		default:
			p.errorf(item, "", "exclude item must be {sls: name} or {id: name}, not a %s", kindName(item))
		}
	}
}

// extend records the entries of an extend: mapping.
func (r *run) extend(p *parser, name string, pr pair) {
	n := resolve(pr.val)
	if n.Kind != yaml.MappingNode {
		if !isNull(n) {
			p.errorf(pr.keyNode, "", "extend must be a mapping of IDs, not a %s", kindName(n))
		}
		return
	}
	for _, e := range p.pairs(n) {
		r.extends = append(r.extends, p.decl(e.key, name, e.keyNode, e.val, true))
	}
}

// finish applies extends and excludes, lowers every declaration and
// returns the lows with all errors of the run.
func (r *run) finish() ([]Low, error) {
	for _, ext := range r.extends {
		target, ok := r.ids[ext.id]
		if !ok {
			r.errs.add(ext.pos, ext.id, "cannot extend ID %q: it is not declared in this run", ext.id)
			continue
		}
		ext.states = slices.DeleteFunc(ext.states, func(s *stateDecl) bool {
			if target.state(s.module) == nil && s.fun == "" {
				r.errs.add(s.pos, ext.id, "cannot extend: module %q is not declared under this ID and no function is given", s.module)
				return true
			}
			return false
		})
		target.merge(ext)
	}
	n := 0
	for _, d := range r.decls {
		n += len(d.states)
	}
	lows := make([]Low, 0, n)
	index := 0
	for _, d := range r.decls {
		if r.exclSLS[d.sls] || r.exclID[d.id] {
			continue
		}
		lows = d.lower(d.env, &index, lows)
	}
	r.errs = dedupe(r.errs)
	return lows, r.errs.result()
}

// dedupe drops repeated errors (a merged YAML anchor is checked once per
// use).
func dedupe(es Errors) Errors {
	if len(es) < 2 {
		return es
	}
	seen := make(map[Error]bool, len(es))
	out := es[:0]
	for _, e := range es {
		if !seen[*e] {
			seen[*e] = true
			out = append(out, e)
		}
	}
	return out
}
