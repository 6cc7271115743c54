package sls

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/pkg/dict"
	"github.com/brinecm/brine/pkg/jinja"
	"github.com/brinecm/brine/pkg/saltdata"
)

// Pillar compiles (once, then cached) this minion's pillar: the pillar
// top file with the same matchers, pillar SLS files rendered with grains,
// deep-merged in top order, with includes; Config.Pillar is merged last.
// On errors it returns what it could compile and the Errors.
func (c *Compiler) Pillar(ctx context.Context) (map[string]any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.pillarDone {
		var order *dict.Order
		c.pillar, order, c.pillarErrs = c.compilePillar(ctx)
		c.pillarOrder.Store(order)
		c.pillarDone = true
	}
	return c.pillar, c.pillarErrs.result()
}

// compilePillar builds the pillar and the key order of its mappings.
func (c *Compiler) compilePillar(ctx context.Context) (map[string]any, *dict.Order, Errors) {
	var errs Errors
	out := map[string]any{}
	var order *dict.Order
	extra := c.extraPillar(ctx)
	entries := c.topEntries(ctx, pillarTrees, extra, false, &errs)
	pc := &pillarRun{c: c, ctx: ctx, errs: &errs, done: map[string]bool{}}
	for _, e := range entries {
		pos := e.pos
		if data, o := pc.compile(e.env, e.name, &pos, e.ignoreMissing); data != nil {
			dict.Merge(out, data)
			order = order.Merge(o)
		}
	}
	dict.Merge(out, deepCopy(extra))
	errs = dedupe(errs)
	sortErrors(errs)
	return out, order, errs
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
// since 2017.7.3). The order is that of the data's mappings.
func (r *pillarRun) compile(env, name string, from *Pos, ignoreMissing bool) (map[string]any, *dict.Order) {
	if r.done[env+":"+name] {
		return nil, nil
	}
	r.done[env+":"+name] = true
	e, err := r.c.env(pillarTrees, env)
	if err != nil {
		r.errs.add(*from, "", "pillar SLS %s: %v", name, err)
		return nil, nil
	}
	file, src, err := e.tree.findSLS(name)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist) && ignoreMissing:
		case errors.Is(err, fs.ErrNotExist):
			r.errs.add(*from, "", "pillar SLS '%s' is not available in env '%s'", name, env)
		default:
			r.errs.add(*from, "", "read pillar SLS %q: %v", name, err)
		}
		return nil, nil
	}
	vars := func() map[string]any { return r.c.slsVars(r.c.extraPillar(r.ctx), env, name, file) }
	src, ok := render(r.ctx, e.jinja, file, src, vars, r.errs)
	if !ok {
		return nil, nil
	}
	root, perr := parseYAML(file, src)
	if perr != nil {
		*r.errs = append(*r.errs, perr)
		return nil, nil
	}
	if root == nil {
		return nil, nil
	}
	p := newParser(file, r.errs)
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "", "pillar SLS must be a mapping, not a %s", kindName(root))
		return nil, nil
	}
	data := make(map[string]any, len(root.Content)/2)
	own := &dict.Order{Sub: map[string]*dict.Order{}}
	var includes []pillarInclude
	for _, pr := range p.pairs(root) {
		if pr.key == "include" {
			includes = r.includes(p, name, file, pr.val)
			continue
		}
		v, o := p.orderedValue(pr.val)
		data[pr.key] = v
		own.Keys = append(own.Keys, pr.key)
		if o != nil {
			own.Sub[pr.key] = o
		}
	}
	merged := map[string]any{}
	var order *dict.Order
	for _, inc := range includes {
		pos := inc.pos
		sub, o := r.compile(env, inc.name, &pos, false)
		if sub == nil {
			continue
		}
		if inc.key != "" {
			sub, o = map[string]any{inc.key: sub}, o.Nest(inc.key)
		}
		dict.Merge(merged, sub)
		order = order.Merge(o)
	}
	return dict.Merge(merged, data), order.Merge(own)
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
		case "grains.get", "pillar.get", "config.get":
			return c.get(ctx, fun, args, kwargs, pillar)
		case "grains.items":
			return c.cfg.Grains, nil
		case "pillar.items", "pillar.raw":
			return dict.WithOrder(pillar(ctx), c.pillarOrder.Load()), nil
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

// getArgs are the arguments of grains.get, pillar.get and config.get.
type getArgs struct {
	key, delim string
	def        any
	merge      any // pillar.get: a bool; config.get: a strategy name
	mergeLists bool
	omit       [4]bool // config.get: omit_opts, omit_grains, omit_pillar, omit_master
}

// getParams are the positional parameters of get, in order.
var getParams = map[string][]string{
	"grains.get": {"key", "default", "delimiter", "ordered"},
	"pillar.get": {"key", "default", "merge", "merge_nested_lists", "delimiter", "pillarenv", "saltenv"},
	"config.get": {"key", "default", "delimiter", "merge", "omit_opts", "omit_pillar", "omit_master", "omit_grains"},
}

// get is grains.get, pillar.get and config.get with Salt's arguments:
// pillar.get merges the pillar's value over its default with merge=True,
// config.get looks in opts, grains, pillar and the pillar's master mapping.
func (c *Compiler) get(ctx context.Context, fun string, args []any, kwargs map[string]any, pillar func(context.Context) map[string]any) (any, error) {
	params := getParams[fun]
	if len(args) > len(params) {
		return nil, fmt.Errorf("%s: takes at most %d positional arguments (%s), got %d", fun, len(params), strings.Join(params, ", "), len(args))
	}
	raw := make(map[string]any, len(args)+len(kwargs))
	for i, a := range args {
		raw[params[i]] = a
	}
	for k, v := range kwargs {
		if !slices.Contains(params, k) {
			return nil, fmt.Errorf("%s: unexpected keyword argument %q (takes %s)", fun, k, strings.Join(params, ", "))
		}
		if _, dup := raw[k]; dup {
			return nil, fmt.Errorf("%s: argument %q given twice", fun, k)
		}
		raw[k] = v
	}
	a := getArgs{def: ""}
	key, ok := raw["key"].(string)
	if !ok {
		return nil, fmt.Errorf("%s: key must be a string, got %T", fun, raw["key"])
	}
	a.key = key
	if v, ok := raw["default"]; ok {
		a.def = v
	}
	if v, ok := raw["delimiter"]; ok && v != nil {
		if a.delim, ok = v.(string); !ok {
			return nil, fmt.Errorf("%s: delimiter must be a string, got %T", fun, v)
		}
	}
	a.merge = raw["merge"]
	a.mergeLists = saltdata.Truthy(raw["merge_nested_lists"])
	for i, n := range []string{"omit_opts", "omit_grains", "omit_pillar", "omit_master"} {
		a.omit[i] = saltdata.Truthy(raw[n])
	}
	switch fun {
	case "grains.get":
		return saltdata.PillarGet(c.cfg.Grains, a.key, a.def, a.delim, false, false, nil), nil
	case "pillar.get":
		v := saltdata.PillarGet(pillar(ctx), a.key, a.def, a.delim, saltdata.Truthy(a.merge), a.mergeLists, slog.Default())
		if saltdata.Truthy(a.merge) { // the default's keys come first, in an order Go's map lost
			return v, nil
		}
		delim := a.delim
		if delim == "" {
			delim = dict.DefaultDelimiter
		}
		return dict.WithOrder(v, c.pillarOrder.Load().At(strings.Split(a.key, delim)...)), nil
	}
	var strategy string
	if a.merge != nil {
		if strategy, ok = a.merge.(string); !ok {
			return nil, fmt.Errorf("config.get: merge must be a strategy name (recurse or overwrite), got %T", a.merge)
		}
	}
	src := saltdata.ConfigSources{Opts: c.cfg.Opts, Grains: c.cfg.Grains,
		OmitOpts: a.omit[0], OmitGrains: a.omit[1], OmitPillar: a.omit[2], OmitMaster: a.omit[3]}
	if !src.OmitPillar || !src.OmitMaster {
		src.Pillar = pillar(ctx)
	}
	return saltdata.ConfigGet(src, a.key, a.def, a.delim, strategy)
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
