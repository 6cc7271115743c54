package sls

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// decl is one ID declaration (or one extend: entry) before it is lowered.
type decl struct {
	id     string
	sls    string
	env    string // the environment of the SLS it is in
	pos    Pos
	states []*stateDecl
}

// stateDecl is one module under an ID declaration with its arguments.
type stateDecl struct {
	module   string
	fun      string
	pos      Pos // the module key
	name     *arg
	names    []nameItem
	hasNames bool
	order    *Order
	failhard *bool
	reqs     []Req
	args     []arg // every other argument, in written order
}

// arg is one plain argument.
type arg struct {
	key string
	val any
	pos Pos
}

// nameItem is one entry of names:, with its per-name overrides.
type nameItem struct {
	name string
	pos  Pos
	over *stateDecl // nil without overrides
}

// state returns the module's declaration, or nil.
func (d *decl) state(module string) *stateDecl {
	for _, s := range d.states {
		if s.module == module {
			return s
		}
	}
	return nil
}

// setArg sets a plain argument, replacing one with the same key.
func (s *stateDecl) setArg(a arg) {
	for i := range s.args {
		if s.args[i].key == a.key {
			s.args[i] = a
			return
		}
	}
	s.args = append(s.args, a)
}

// splitFunction splits "file.managed" into module and function; a key
// without a dot is the legacy form with the function in the argument list.
func splitFunction(key string) (module, fun string, ok bool) {
	module, fun, dotted := strings.Cut(key, ".")
	if module == "" || (dotted && (fun == "" || strings.Contains(fun, "."))) {
		return "", "", false
	}
	return module, fun, true
}

// decl parses the body of the ID declaration id (written at keyNode).
// In an extend (extending true) a module may come without a function.
func (p *parser) decl(id, sls string, keyNode, body *yaml.Node, extending bool) *decl {
	d := &decl{id: id, sls: sls, pos: p.pos(keyNode)}
	body = resolve(body)
	switch {
	case body.Kind == yaml.ScalarNode && !isNull(body):
		// The shorthand `id: module.fun`.
		module, fun, ok := splitFunction(body.Value)
		if !ok || fun == "" {
			p.errorf(body, id, "state declaration must be a mapping, or a string \"module.function\"; got %q", body.Value)
			return d
		}
		d.states = append(d.states, &stateDecl{module: module, fun: fun, pos: p.pos(body)})
		return d
	case body.Kind != yaml.MappingNode:
		p.errorf(keyNode, id, "state declaration must be a mapping of module.function to arguments, not a %s", kindName(body))
		return d
	}
	for _, pr := range p.pairs(body) {
		if strings.HasPrefix(pr.key, "__") {
			continue
		}
		module, fun, ok := splitFunction(pr.key)
		if !ok {
			p.errorf(pr.keyNode, id, "invalid state function %q (want module.function)", pr.key)
			continue
		}
		if prev := d.state(module); prev != nil {
			p.errorf(pr.keyNode, id, "module %q declared twice under one ID (first at line %d); one ID takes one function per module", module, prev.pos.Line)
			continue
		}
		s := &stateDecl{module: module, fun: fun, pos: p.pos(pr.keyNode)}
		if v := resolve(pr.val); v.Kind == yaml.MappingNode || (v.Kind == yaml.ScalarNode && !isNull(v)) {
			p.errorf(pr.keyNode, id, "State '%s' in SLS '%s' is not formed as a list: write the arguments of %s "+
				"as a list, one \"- key: value\" item each (with a space after the dash)%s", id, sls, s.label(), s.listHint(v))
			continue
		}
		p.stateArgs(id, s, pr.val, true)
		if s.fun == "" && !extending {
			p.errorf(pr.keyNode, id, "no function given for module %q (write %s.<function>)", module, module)
			continue
		}
		d.states = append(d.states, s)
	}
	return d
}

// listHint suggests the list form of arguments written as a mapping or a
// string, from the first of them.
func (s *stateDecl) listHint(v *yaml.Node) string {
	switch {
	case v.Kind == yaml.ScalarNode && s.fun == "":
		return fmt.Sprintf(", e.g. \"- %s\" for the function", v.Value)
	case v.Kind == yaml.ScalarNode:
		return fmt.Sprintf(", e.g. \"- name: %s\"", v.Value)
	case len(v.Content) >= 2:
		k := strings.TrimLeft(resolve(v.Content[0]).Value, "-")
		return fmt.Sprintf(", e.g. \"- %s: ...\"", k)
	}
	return ""
}

// stateArgs parses a module's arguments: a list of one-key maps (where a
// plain string is the function, when allowed), a map, or nothing. ID
// declarations give their modules' arguments as lists only (decl refuses
// the rest, as Salt does); names: overrides take either.
func (p *parser) stateArgs(id string, s *stateDecl, n *yaml.Node, allowFun bool) {
	n = resolve(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if !isNull(n) {
			p.errorf(n, id, "%s: arguments must be a list of one-key maps or a mapping, not %q", s.label(), n.Value)
		}
	case yaml.MappingNode:
		for _, pr := range p.pairs(n) {
			p.stateArg(id, s, pr)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			item = resolve(item)
			if !p.spend(item) {
				return
			}
			switch {
			case item.Kind == yaml.ScalarNode && allowFun && !isNull(item):
				if s.fun != "" {
					p.errorf(item, id, "%s: function given twice (%q and %q)", s.module, s.fun, item.Value)
					continue
				}
				s.fun = item.Value
			case item.Kind == yaml.MappingNode:
				prs := p.pairs(item)
				if len(prs) > 1 {
					keys := make([]string, len(prs))
					for i, pr := range prs {
						keys[i] = pr.key
					}
					p.errorf(item, id, "%s: argument item has %d keys (%s); write one `- key: value` item per argument", s.label(), len(prs), strings.Join(keys, ", "))
					continue
				}
				for _, pr := range prs {
					p.stateArg(id, s, pr)
				}
			default:
				p.errorf(item, id, "%s: argument must be a one-key map, not a %s", s.label(), kindName(item))
			}
		}
	default:
		p.errorf(n, id, "%s: arguments must be a list of one-key maps or a mapping", s.label())
	}
}

// label names the state for messages: "file.managed" or "file".
func (s *stateDecl) label() string {
	if s.fun == "" {
		return s.module
	}
	return s.module + "." + s.fun
}

// stateArg parses one argument into s.
func (p *parser) stateArg(id string, s *stateDecl, pr pair) {
	v := resolve(pr.val)
	switch key := pr.key; {
	case key == "name":
		if v.Kind != yaml.ScalarNode || isNull(v) {
			p.errorf(pr.keyNode, id, "%s: name must be a string, not a %s", s.label(), kindName(v))
			return
		}
		s.name = &arg{key: key, val: v.Value, pos: p.pos(pr.keyNode)}
	case key == "names":
		p.names(id, s, pr.keyNode, v)
	case key == "order":
		o, ok := parseOrder(v)
		if !ok {
			got := kindName(v)
			if v.Kind == yaml.ScalarNode {
				got = fmt.Sprintf("%q", v.Value)
			}
			p.errorf(pr.keyNode, id, "%s: order must be an integer, \"first\" or \"last\", not %s", s.label(), got)
			return
		}
		s.order = &o
	case key == "failhard":
		b, ok := p.value(v).(bool)
		if !ok {
			p.errorf(pr.keyNode, id, "%s: failhard must be true or false", s.label())
			return
		}
		s.failhard = &b
	case isRequisite(key):
		s.reqs = append(s.reqs, p.requisites(id, key, v)...)
	default:
		s.args = append(s.args, arg{key: key, val: p.value(v), pos: p.pos(pr.keyNode)})
	}
}

// parseOrder reads an order: value.
func parseOrder(n *yaml.Node) (Order, bool) {
	if n.Kind != yaml.ScalarNode {
		return Order{}, false
	}
	switch v := scalar(n).(type) {
	case int:
		return Order{Kind: OrderNumber, N: v}, true
	case string:
		switch v {
		case "first":
			return Order{Kind: OrderFirst}, true
		case "last":
			return Order{Kind: OrderLast}, true
		}
	}
	return Order{}, false
}

// names parses a names: list.
func (p *parser) names(id string, s *stateDecl, keyNode, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(keyNode, id, "%s: names must be a list, not a %s", s.label(), kindName(n))
		return
	}
	s.hasNames = true
	s.names = s.names[:0]
	for _, item := range n.Content {
		item = resolve(item)
		if !p.spend(item) {
			return
		}
		var ni nameItem
		switch {
		case item.Kind == yaml.ScalarNode && !isNull(item):
			ni = nameItem{name: item.Value, pos: p.pos(item)}
		case item.Kind == yaml.MappingNode:
			prs := p.pairs(item)
			if len(prs) != 1 {
				p.errorf(item, id, "%s: a names item with overrides must be a one-key map {name: [args]}", s.label())
				continue
			}
			over := &stateDecl{module: s.module, fun: s.fun}
			p.stateArgs(id, over, prs[0].val, false)
			if over.name != nil || over.hasNames {
				p.errorf(prs[0].keyNode, id, "%s: name and names cannot be overridden per name", s.label())
			}
			ni = nameItem{name: prs[0].key, pos: p.pos(prs[0].keyNode), over: over}
		default:
			p.errorf(item, id, "%s: names item must be a string or a one-key map, not a %s", s.label(), kindName(item))
			continue
		}
		if slices.ContainsFunc(s.names, func(o nameItem) bool { return o.name == ni.name }) {
			continue
		}
		s.names = append(s.names, ni)
	}
}

// isRequisite reports whether an argument key is a requisite.
func isRequisite(key string) bool {
	switch key {
	case "require_any", "watch_any", "onchanges_any", "onfail_any", "onfail_all":
		return true
	}
	switch strings.TrimSuffix(key, "_in") {
	case "require", "watch", "onchanges", "onfail", "prereq", "listen", "use":
		return true
	}
	return false
}

// requisites parses a requisite's value: a list of {module: target} maps
// or plain targets, or one of those alone.
func (p *parser) requisites(id, kind string, n *yaml.Node) []Req {
	var out []Req
	one := func(item *yaml.Node) {
		item = resolve(item)
		switch {
		case isNull(item):
		case item.Kind == yaml.ScalarNode:
			out = append(out, Req{Kind: kind, Target: item.Value, Pos: p.pos(item)})
		case item.Kind == yaml.MappingNode:
			for _, pr := range p.pairs(item) {
				t := resolve(pr.val)
				if t.Kind != yaml.ScalarNode || isNull(t) {
					p.errorf(pr.keyNode, id, "%s: target of %s must be a string, not a %s", kind, pr.key, kindName(t))
					continue
				}
				out = append(out, Req{Kind: kind, Module: pr.key, Target: t.Value, Pos: p.pos(pr.keyNode)})
			}
		default:
			p.errorf(item, id, "%s: requisite must be a {module: target} map or a target, not a %s", kind, kindName(item))
		}
	}
	if n.Kind == yaml.SequenceNode {
		for _, item := range n.Content {
			if !p.spend(item) {
				break
			}
			one(item)
		}
	} else if n = resolve(n); n.Kind == yaml.MappingNode && listOnly(kind) {
		p.errorf(n, id, "The %s statement in state '%s' needs to be formed as a list: write \"- %s:\" followed by \"  - module: target\" items", kind, id, kind)
	} else {
		one(n)
	}
	return out
}

// listOnly reports whether a requisite must be written as a list, as Salt
// demands of require, watch, prereq and onchanges (their _in forms and
// the others take a single mapping too).
func listOnly(kind string) bool {
	switch kind {
	case "require", "watch", "prereq", "onchanges":
		return true
	}
	return false
}

// merge applies an extend: entry to the declaration it extends, as Salt
// does: a function replaces, requisites are appended, name replaces
// names, names replace, every other argument overwrites.
func (d *decl) merge(ext *decl) {
	for _, es := range ext.states {
		ts := d.state(es.module)
		if ts == nil {
			d.states = append(d.states, es)
			continue
		}
		if es.fun != "" {
			ts.fun = es.fun
		}
		if es.name != nil {
			ts.name, ts.names, ts.hasNames = es.name, nil, false
		}
		if es.hasNames {
			ts.names, ts.hasNames = es.names, true
		}
		if es.order != nil {
			ts.order = es.order
		}
		if es.failhard != nil {
			ts.failhard = es.failhard
		}
		ts.reqs = append(ts.reqs, es.reqs...)
		for _, a := range es.args {
			ts.setArg(a)
		}
	}
}

// lower appends the declaration's low chunks to out, numbering them from
// *index.
func (d *decl) lower(env string, index *int, out []Low) []Low {
	for _, s := range d.states {
		base := Low{
			ID:     d.id,
			Name:   d.id,
			Module: s.module,
			Fun:    s.fun,
			SLS:    d.sls,
			Env:    env,
			Args:   make(map[string]any, len(s.args)),
			ArgPos: make(map[string]Pos, len(s.args)),
			Reqs:   s.reqs,
			Pos:    d.pos,
		}
		if s.name != nil {
			base.Name = s.name.val.(string)
		}
		s.apply(&base)
		if len(s.names) == 0 {
			base.Index = *index
			*index++
			out = append(out, base)
			continue
		}
		for _, ni := range s.names {
			l := base
			l.Name, l.Pos, l.Index, l.FromNames = ni.name, ni.pos, *index, true
			*index++
			l.Args, l.ArgPos, l.Reqs = cloneMap(base.Args), cloneMap(base.ArgPos), slices.Clone(base.Reqs)
			if ni.over != nil {
				ni.over.override(&l)
			}
			out = append(out, l)
		}
	}
	return out
}

// apply writes s's order, failhard and plain arguments into l.
func (s *stateDecl) apply(l *Low) {
	if s.order != nil {
		l.Order = *s.order
	}
	if s.failhard != nil {
		l.Failhard = *s.failhard
	}
	for _, a := range s.args {
		l.Args[a.key] = a.val
		l.ArgPos[a.key] = a.pos
	}
}

// override applies per-name overrides: arguments overwrite, and a
// requisite kind given here replaces that kind's requisites.
func (s *stateDecl) override(l *Low) {
	s.apply(l)
	if len(s.reqs) == 0 {
		return
	}
	kinds := map[string]bool{}
	for _, r := range s.reqs {
		kinds[r.Kind] = true
	}
	l.Reqs = slices.DeleteFunc(l.Reqs, func(r Req) bool { return kinds[r.Kind] })
	l.Reqs = append(l.Reqs, s.reqs...)
}

// cloneMap copies a map, keeping a non-nil empty map non-nil.
func cloneMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
