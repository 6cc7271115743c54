package sls

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/brinecm/brine/pkg/dict"
	"github.com/brinecm/brine/pkg/jinja"
	"gopkg.in/yaml.v3"
)

// Pillar compiles (once, then cached) this minion's pillar: the pillar
// top file with the same matchers, pillar SLS files rendered with grains,
// deep-merged in top order, with includes; Config.Pillar is merged last.
// On errors it returns what it could compile and the Errors.
func (c *Compiler) Pillar(ctx context.Context) (map[string]any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.pillarDone {
		c.pillar, c.pillarErrs = c.compilePillar(ctx)
		c.pillarDone = true
	}
	return c.pillar, c.pillarErrs.result()
}

// compilePillar builds the pillar.
func (c *Compiler) compilePillar(ctx context.Context) (map[string]any, Errors) {
	var errs Errors
	out := map[string]any{}
	extra := c.extraPillar(ctx)
	entries := c.topEntries(ctx, c.pillars, c.pjinja, extra, false, &errs)
	pc := &pillarRun{c: c, ctx: ctx, errs: &errs, done: map[string]bool{}}
	for _, e := range entries {
		pos := e.pos
		if data := pc.compile(e.name, &pos, e.ignoreMissing); data != nil {
			dict.Merge(out, data)
		}
	}
	dict.Merge(out, deepCopy(extra))
	errs = dedupe(errs)
	sortErrors(errs)
	return out, errs
}

// extraPillar is Config.Pillar: the pillar seen while the pillar itself is
// compiled.
func (c *Compiler) extraPillar(context.Context) map[string]any {
	if c.cfg.Pillar == nil {
		return map[string]any{}
	}
	return c.cfg.Pillar
}

// statePillar is the compiled pillar, for templates of the state tree.
func (c *Compiler) statePillar(ctx context.Context) map[string]any {
	p, _ := c.Pillar(ctx) // errors are reported by the run that needed the pillar
	return p
}

// pillarRun compiles pillar SLS files.
type pillarRun struct {
	c    *Compiler
	ctx  context.Context
	errs *Errors
	done map[string]bool
}

// compile renders and parses one pillar SLS and its includes: included
// files merge in order, then the including file's own data over them (Salt
// since 2017.7.3).
func (r *pillarRun) compile(name string, from *Pos, ignoreMissing bool) map[string]any {
	if r.done[name] {
		return nil
	}
	r.done[name] = true
	file, src, err := r.c.pillars.findSLS(name)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist) && ignoreMissing:
		case errors.Is(err, fs.ErrNotExist):
			r.errs.add(*from, "", "pillar SLS '%s' is not available in env '%s'", name, r.c.cfg.Saltenv)
		default:
			r.errs.add(*from, "", "read pillar SLS %q: %v", name, err)
		}
		return nil
	}
	vars := func() map[string]any { return r.c.slsVars(r.c.extraPillar(r.ctx), name, file) }
	src, ok := render(r.ctx, r.c.pjinja, file, src, vars, r.errs)
	if !ok {
		return nil
	}
	root, perr := parseYAML(file, src)
	if perr != nil {
		*r.errs = append(*r.errs, perr)
		return nil
	}
	if root == nil {
		return nil
	}
	p := newParser(file, r.errs)
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "", "pillar SLS must be a mapping, not a %s", kindName(root))
		return nil
	}
	data := make(map[string]any, len(root.Content)/2)
	var includes []pillarInclude
	for _, pr := range p.pairs(root) {
		if pr.key == "include" {
			includes = r.includes(p, name, file, pr.val)
			continue
		}
		data[pr.key] = p.value(pr.val)
	}
	merged := map[string]any{}
	for _, inc := range includes {
		pos := inc.pos
		sub := r.compile(inc.name, &pos, false)
		if sub == nil {
			continue
		}
		if inc.key != "" {
			sub = map[string]any{inc.key: sub}
		}
		dict.Merge(merged, sub)
	}
	return dict.Merge(merged, data)
}

// pillarInclude is one include of a pillar SLS; key, when set, nests the
// included data under that key (`- name: {key: k}`).
type pillarInclude struct {
	named
	key string
}

// includes parses a pillar include: list.
func (r *pillarRun) includes(p *parser, name, file string, n *yaml.Node) []pillarInclude {
	var out []pillarInclude
	for _, it := range listItems(p, n, "include") {
		inc := pillarInclude{named: named{name: it.key, pos: p.pos(it.at)}}
		if it.val != nil {
			if v := resolve(it.val); v.Kind == yaml.MappingNode {
				for _, opt := range p.pairs(v) {
					if opt.key == "key" {
						inc.key = resolve(opt.val).Value
					}
				}
			}
		}
		if strings.HasPrefix(inc.name, ".") {
			abs, ok := relativeSLS(name, file, inc.name)
			if !ok {
				p.errorf(it.at, "", "relative include %q of %s goes beyond the top of the tree", inc.name, name)
				continue
			}
			inc.name = abs
		}
		out = append(out, inc)
	}
	return out
}

// deepCopy copies nested maps and lists so that merging into the copy
// leaves the original alone.
func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopyValue(v)
	}
	return out
}

// deepCopyValue copies v when it is a map or a list.
func deepCopyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return deepCopy(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = deepCopyValue(x)
		}
		return out
	}
	return v
}

// caller answers the salt[...] calls the compiler knows from grains,
// pillar (as pillar returns it) and opts, and passes the rest to
// Config.Caller.
func (c *Compiler) caller(pillar func(context.Context) map[string]any) jinja.CallFunc {
	return func(ctx context.Context, fun string, args []any, kwargs map[string]any) (any, error) {
		switch fun {
		case "grains.get":
			return get(fun, args, kwargs, c.cfg.Grains)
		case "pillar.get":
			return get(fun, args, kwargs, pillar(ctx))
		case "config.get":
			return get(fun, args, kwargs, c.cfg.Opts, c.cfg.Grains, pillar(ctx))
		case "grains.items":
			return c.cfg.Grains, nil
		case "pillar.items", "pillar.raw":
			return pillar(ctx), nil
		case "grains.item":
			return items(fun, args, c.cfg.Grains)
		case "pillar.item":
			return items(fun, args, pillar(ctx))
		}
		if c.cfg.Caller == nil {
			return nil, fmt.Errorf("salt['%s']: no execution modules available to templates here", fun)
		}
		return c.cfg.Caller.Call(ctx, fun, args, kwargs)
	}
}

// get is grains.get, pillar.get and config.get: get(key, default="",
// delimiter=":"), looking in each source in turn.
func get(fun string, args []any, kwargs map[string]any, sources ...map[string]any) (any, error) {
	var key, delim any
	var def any = ""
	for i, a := range args {
		switch i {
		case 0:
			key = a
		case 1:
			def = a
		case 2:
			delim = a
		default:
			return nil, fmt.Errorf("%s: too many arguments", fun)
		}
	}
	for k, v := range kwargs {
		switch k {
		case "key":
			key = v
		case "default":
			def = v
		case "delimiter":
			delim = v
		case "merge", "ordered", "omit_opts", "omit_grains", "omit_pillar", "omit_master":
		default:
			return nil, fmt.Errorf("%s: unexpected keyword argument %q", fun, k)
		}
	}
	ks, ok := key.(string)
	if !ok {
		return nil, fmt.Errorf("%s: key must be a string, got %T", fun, key)
	}
	ds, _ := delim.(string)
	for _, src := range sources {
		if v, ok := dict.Traverse(src, ks, ds); ok {
			return v, nil
		}
	}
	return def, nil
}

// items is grains.item and pillar.item: a mapping of each named key to its
// value ("" when missing).
func items(fun string, args []any, src map[string]any) (any, error) {
	out := make(map[string]any, len(args))
	for _, a := range args {
		k, ok := a.(string)
		if !ok {
			return nil, fmt.Errorf("%s: key must be a string, got %T", fun, a)
		}
		out[k] = dict.Get(src, k, "")
	}
	return out, nil
}
