package sls

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/brinecm/brine/pkg/jinja"
)

// Base is the environment a run uses when no saltenv is given.
const Base = "base"

// envTree is one environment's tree (state or pillar) and the Jinja
// environment its templates render in.
type envTree struct {
	tree  *tree
	jinja *jinja.Env
}

// treeKind tells state trees from pillar trees.
type treeKind int

const (
	stateTrees treeKind = iota
	pillarTrees
)

// String names the kind as the configuration does.
func (k treeKind) String() string {
	if k == pillarTrees {
		return "pillar_roots"
	}
	return "file_roots"
}

// envNames are the environments of the kind of tree, base first, the
// others sorted. A minion reading its master's tree (Config.Files) knows
// base only: its master tells the others apart.
func (c *Compiler) envNames(kind treeKind) []string {
	others := c.cfg.FileEnvs
	if kind == pillarTrees {
		others = c.cfg.PillarEnvs
	}
	names := []string{Base}
	for _, n := range slices.Sorted(maps.Keys(others)) {
		if n != Base {
			names = append(names, n)
		}
	}
	return names
}

// UnknownEnvError is the error for a saltenv or pillarenv that is not
// configured.
type UnknownEnvError struct {
	Env   string
	Kind  string   // file_roots or pillar_roots
	Known []string // the environments that exist
}

func (e *UnknownEnvError) Error() string {
	word := "saltenv"
	if e.Kind == pillarTrees.String() {
		word = "pillarenv"
	}
	return fmt.Sprintf("%s '%s' does not exist: the environments of %s are %s (add %s to %s in the configuration, or use one of them)",
		word, e.Env, e.Kind, strings.Join(e.Known, ", "), e.Env, e.Kind)
}

// env returns the tree of environment name ("" is base) of the kind,
// opened on first use.
func (c *Compiler) env(kind treeKind, name string) (*envTree, error) {
	if name == "" {
		name = Base
	}
	c.envMu.Lock()
	defer c.envMu.Unlock()
	key := kind.String() + "\x00" + name
	if e, ok := c.envTrees[key]; ok {
		return e, nil
	}
	if c.envTrees == nil {
		c.envTrees = map[string]*envTree{}
	}
	if name == Base {
		e := &envTree{tree: c.states, jinja: c.jinja}
		if kind == pillarTrees {
			e = &envTree{tree: c.pillars, jinja: c.pjinja}
		}
		c.envTrees[key] = e
		return e, nil
	}
	var t *tree
	var dirs []string
	switch {
	case kind == stateTrees && c.cfg.Files != nil:
		if c.cfg.EnvFiles == nil {
			return nil, &UnknownEnvError{Env: name, Kind: kind.String(), Known: []string{Base}}
		}
		t = &tree{roots: []fs.FS{c.cfg.EnvFiles(name)}, limit: c.cfg.Limits.FileBytes}
	default:
		envs := c.cfg.FileEnvs
		if kind == pillarTrees {
			envs = c.cfg.PillarEnvs
		}
		var ok bool
		if dirs, ok = envs[name]; !ok {
			return nil, &UnknownEnvError{Env: name, Kind: kind.String(), Known: c.envNames(kind)}
		}
		t = newTree(dirs, c.cfg.Limits.FileBytes)
	}
	var cache *jinja.Cache
	if c.cfg.Templates != nil && c.cfg.Files == nil {
		t.shared = c.cfg.Templates.tree(kind.String(), dirs)
		cache = t.shared.templates
	}
	lim := c.cfg.Limits
	call := c.caller(c.statePillar)
	if kind == pillarTrees {
		call = c.caller(c.extraPillar)
	}
	e := &envTree{tree: t, jinja: jinja.New(jinja.Options{Loader: t, Call: call, Cache: cache,
		MaxOutputBytes: lim.OutputBytes, MaxSteps: lim.Steps, MaxRenderTime: lim.RenderTime})}
	c.envTrees[key] = e
	return e, nil
}

// envDirs are the directories of the state tree of environment name, for
// states that need a local directory.
func (c *Compiler) envDirs(name string) ([]string, error) {
	if name == "" || name == Base {
		return c.cfg.FileRoots, nil
	}
	dirs, ok := c.cfg.FileEnvs[name]
	if !ok {
		return nil, &UnknownEnvError{Env: name, Kind: stateTrees.String(), Known: c.envNames(stateTrees)}
	}
	return dirs, nil
}

// splitTreeURL cuts the salt:// or brine:// scheme off u and returns the
// state tree path and the environment its query names (?saltenv=dev, or
// Salt's older ?env=dev), def when none. A path starting with '|' is
// Salt's escape: it is taken whole, query and all.
func splitTreeURL(u, def string) (rest, env string, ok bool) {
	rest, ok = treeURL(u)
	if !ok {
		return "", "", false
	}
	if escaped, isEsc := strings.CutPrefix(rest, "|"); isEsc {
		return escaped, def, true
	}
	rest, query, _ := strings.Cut(rest, "?")
	env = def
	if q, err := url.ParseQuery(query); err == nil {
		if v := q.Get("saltenv"); v != "" {
			env = v
		} else if v := q.Get("env"); v != "" {
			env = v
		}
	}
	return rest, env, true
}

// Saltenv is the environment this compiler's salt:// reads default to:
// the run's saltenv, or base.
func (c *Compiler) Saltenv() string { return c.cfg.Saltenv }

// InSaltenv returns the compiler as a state of environment env uses it:
// salt:// URLs without ?saltenv= read env's state tree and templates
// render with saltenv set to env (Salt's __env__). An unknown environment
// fails each read with an UnknownEnvError.
func (c *Compiler) InSaltenv(env string) *EnvView {
	if env == "" {
		env = c.cfg.Saltenv
	}
	c.envMu.Lock()
	defer c.envMu.Unlock()
	v, ok := c.views[env]
	if !ok {
		v = &EnvView{Compiler: c, saltenv: env}
		if c.views == nil {
			c.views = map[string]*EnvView{}
		}
		c.views[env] = v
	}
	return v
}

// EnvView is a Compiler serving one environment (see InSaltenv); every
// method it does not override is the Compiler's.
type EnvView struct {
	*Compiler
	saltenv string
}

// Saltenv is the view's environment.
func (v *EnvView) Saltenv() string { return v.saltenv }

// Source reads a salt:// file from the view's environment (or the one its
// ?saltenv= names); an absolute path reads the local file.
func (v *EnvView) Source(ctx context.Context, url string) ([]byte, error) {
	return v.sourceIn(ctx, v.saltenv, url)
}

// SourceStat describes a salt:// file of the view's environment.
func (v *EnvView) SourceStat(ctx context.Context, url string) (fs.FileInfo, error) {
	return v.sourceStatIn(ctx, v.saltenv, url)
}

// SourceList lists a salt:// directory of the view's environment.
func (v *EnvView) SourceList(ctx context.Context, url string) ([]string, error) {
	return v.sourceListIn(ctx, v.saltenv, url)
}

// SourceDir resolves a salt:// directory of the view's environment to a
// local path.
func (v *EnvView) SourceDir(ctx context.Context, url string) (string, error) {
	return v.sourceDirIn(ctx, v.saltenv, url)
}

// Render renders a file template as the Compiler does, in the view's
// environment.
func (v *EnvView) Render(ctx context.Context, engine, name string, src []byte, extra map[string]any) ([]byte, error) {
	return v.renderIn(ctx, v.saltenv, engine, name, src, extra)
}
