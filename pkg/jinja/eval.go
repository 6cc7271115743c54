package jinja

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/brinecm/brine/pkg/dict"
)

// scope is one level of variables: a template, a loop body, a macro call.
type scope struct {
	vars   map[string]any
	parent *scope
}

func newScope(parent *scope) *scope { return &scope{vars: map[string]any{}, parent: parent} }

// lookup finds name in s or its parents.
func (s *scope) lookup(name string) (any, bool) {
	for ; s != nil; s = s.parent {
		if v, ok := s.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

// renderer is one Render call: its limits, counters and context.
type renderer struct {
	env     *Env
	ctx     context.Context
	lim     limits
	base    *scope // globals and the caller's vars
	depth   int    // nesting of imports, includes and macro calls
	steps   int
	emitted int
	cause   error
}

// frame is the execution of one template.
type frame struct {
	r       *renderer
	file    *file
	blocks  map[string]*blockNode // block overrides from the extending templates
	extends *file                 // the template {% extends %} named
}

// render runs a whole template into out, following {% extends %}: the
// parent renders with this template's blocks in place of its own.
func (f *frame) render(t *template, sc *scope, out *output) error {
	own := &output{r: f.r}
	if err := f.exec(t.body, sc, own); err != nil {
		return err
	}
	if f.extends == nil {
		out.b.WriteString(own.b.String())
		return nil
	}
	pt, err := f.r.env.parse(f.extends)
	if err != nil {
		return err
	}
	if err := f.r.enter("extends " + f.extends.name); err != nil {
		return err
	}
	defer f.r.leave()
	blocks := map[string]*blockNode{}
	for k, b := range f.blocks {
		blocks[k] = b
	}
	collectBlocks(t.body, blocks)
	parent := &frame{r: f.r, file: f.extends, blocks: blocks}
	if err := parent.render(pt, sc, out); err != nil {
		return parent.topError(err)
	}
	return nil
}

// collectBlocks adds the named blocks in nodes to blocks, keeping those
// already there (from templates further down the chain).
func collectBlocks(nodes []node, blocks map[string]*blockNode) {
	for _, n := range nodes {
		if b, ok := n.(*blockNode); ok && b.name != "" {
			if _, seen := blocks[b.name]; !seen {
				blocks[b.name] = b
			}
			collectBlocks(b.body, blocks)
		}
	}
}

// Errors that unwind loops.
var (
	errBreak    = errors.New("break outside a loop")
	errContinue = errors.New("continue outside a loop")
)

// errorAt wraps err as an *Error at line of the frame's template, keeping
// an *Error from a nested template as it is.
func (f *frame) errorAt(line int, err error) error {
	if err == nil || err == errBreak || err == errContinue {
		return err
	}
	var te *Error
	if errors.As(err, &te) {
		return err
	}
	var le *LimitError
	if errors.As(err, &le) {
		return &Error{Name: f.file.name, Line: line, Msg: le.Error(), Err: le}
	}
	if ce := f.r.ctx.Err(); ce != nil && errors.Is(err, ce) {
		return &Error{Name: f.file.name, Line: line, Msg: err.Error(), Err: err}
	}
	return &Error{Name: f.file.name, Line: line, Msg: err.Error(), Err: err}
}

// output is a text sink counting what a render produces.
type output struct {
	r *renderer
	b strings.Builder
}

func (o *output) write(s string) error {
	o.b.WriteString(s)
	return o.r.charge("the template's output", len(s))
}

// exec runs statements into out.
func (f *frame) exec(nodes []node, sc *scope, out *output) error {
	for _, n := range nodes {
		if err := f.stmt(n, sc, out); err != nil {
			return f.errorAt(n.pos(), err)
		}
	}
	return nil
}

func (f *frame) stmt(n node, sc *scope, out *output) error {
	r := f.r
	switch n := n.(type) {
	case *textNode:
		return out.write(n.s)
	case *outputNode:
		v, err := f.eval(n.x, sc)
		if err != nil {
			return err
		}
		if u, ok := v.(*Undefined); ok {
			return u.err()
		}
		return out.write(str(v))
	case *ifNode:
		for i, c := range n.conds {
			v, err := f.eval(c, sc)
			if err != nil {
				return err
			}
			t, err := truth(v)
			if err != nil {
				return err
			}
			if t {
				return f.exec(n.bodies[i], sc, out)
			}
		}
		return f.exec(n.els, sc, out)
	case *forNode:
		seq, err := f.eval(n.iter, sc)
		if err != nil {
			return err
		}
		return f.loop(n, seq, sc, out, 1)
	case *setNode:
		v, err := f.eval(n.x, sc)
		if err != nil {
			return err
		}
		return f.assign(n.target, v, sc)
	case *setBlockNode:
		body := &output{r: r}
		if err := f.exec(n.body, newScope(sc), body); err != nil {
			return err
		}
		var v any = body.b.String()
		for _, flt := range n.filters {
			var err error
			if v, err = f.applyFilter(flt, v, sc); err != nil {
				return err
			}
		}
		sc.vars[n.name] = v
		return nil
	case *macroNode:
		sc.vars[n.m.name] = &Macro{def: n.m, frame: f, closure: sc}
		return nil
	case *callBlockNode:
		caller := &Macro{def: n.caller, frame: f, closure: sc}
		fn, err := f.eval(n.call.fn, sc)
		if err != nil {
			return err
		}
		args, kw, err := f.args(n.call, sc)
		if err != nil {
			return err
		}
		_ = kw.Set("caller", caller)
		v, err := r.call(fn, args, kw)
		if err != nil {
			return err
		}
		return out.write(str(v))
	case *filterBlockNode:
		body := &output{r: r}
		if err := f.exec(n.body, sc, body); err != nil {
			return err
		}
		var v any = body.b.String()
		for _, flt := range n.filters {
			var err error
			if v, err = f.applyFilter(flt, v, sc); err != nil {
				return err
			}
		}
		return out.write(str(v))
	case *doNode:
		_, err := f.eval(n.x, sc)
		return err
	case *withNode:
		inner := newScope(sc)
		for i, t := range n.targets {
			v, err := f.eval(n.values[i], sc)
			if err != nil {
				return err
			}
			if err := f.assign(t, v, inner); err != nil {
				return err
			}
		}
		return f.exec(n.body, inner, out)
	case *blockNode:
		if f.extends != nil {
			return nil
		}
		if b, ok := f.blocks[n.name]; ok && n.name != "" {
			return f.exec(b.body, sc, out)
		}
		return f.exec(n.body, sc, out)
	case *extendsNode:
		tf, err := f.target(n.name, sc)
		if err != nil {
			return err
		}
		f.extends = tf
		return nil
	case *breakNode:
		return errBreak
	case *continueNode:
		return errContinue
	case *includeNode:
		return f.include(n, sc, out)
	case *importNode:
		return f.importTemplate(n, sc)
	case *dataImportNode:
		return f.dataImport(n, sc)
	case *loadNode:
		body := &output{r: r}
		if err := f.exec(n.body, sc, body); err != nil {
			return err
		}
		v, err := parseData(n.format, body.b.String())
		if err != nil {
			return fmt.Errorf("load_%s: %w", n.format, err)
		}
		sc.vars[n.as] = v
		return nil
	}
	return fmt.Errorf("unknown statement %T", n)
}

// loop runs a for loop over seq.
func (f *frame) loop(n *forNode, seq any, sc *scope, out *output, depth int) error {
	r := f.r
	its, err := items(seq)
	if err != nil {
		return err
	}
	if left := r.lim.maxSteps - r.steps; len(its) > left && n.cond == nil {
		return r.fail(&LimitError{Limit: LimitSteps, Max: int64(r.lim.maxSteps),
			What: fmt.Sprintf("for: loop over %d items with %d steps left", len(its), left)})
	}
	if n.cond != nil {
		var kept []any
		for _, it := range its {
			inner := newScope(sc)
			if err := f.assign(n.target, it, inner); err != nil {
				return err
			}
			v, err := f.eval(n.cond, inner)
			if err != nil {
				return err
			}
			t, err := truth(v)
			if err != nil {
				return err
			}
			if t {
				kept = append(kept, it)
			}
		}
		its = kept
	} else {
		its = append([]any(nil), its...)
	}
	if len(its) == 0 {
		return f.exec(n.els, sc, out)
	}
	lo := &loopObj{items: its, depth: depth}
	if n.recursive {
		lo.recurse = &builtin{name: "loop", fn: func(r *renderer, args []any, _ *Dict) (any, error) {
			if len(args) != 1 {
				return nil, errors.New("loop() takes one sequence")
			}
			body := &output{r: r}
			if err := f.loop(n, args[0], sc, body, depth+1); err != nil {
				return nil, err
			}
			return body.b.String(), nil
		}}
	}
	for i, it := range its {
		if err := r.step("for loop"); err != nil {
			return err
		}
		lo.index = i
		inner := newScope(sc)
		inner.vars["loop"] = lo
		if err := f.assign(n.target, it, inner); err != nil {
			return err
		}
		err := f.exec(n.body, inner, out)
		if err == errBreak {
			break
		}
		if err != nil && err != errContinue {
			return err
		}
	}
	return nil
}

// assign binds v to a target: a name, ns.attr, or a tuple of targets.
func (f *frame) assign(target expr, v any, sc *scope) error {
	switch t := target.(type) {
	case *nameExpr:
		sc.vars[t.name] = v
		return nil
	case *attrExpr:
		obj, err := f.eval(t.x, sc)
		if err != nil {
			return err
		}
		ns, ok := obj.(*namespace)
		if !ok {
			return fmt.Errorf("cannot assign attribute '%s' on a %s: only a namespace() takes attributes", t.name, typeName(obj))
		}
		return ns.d.Set(t.name, v)
	case *tupleExpr:
		vals, err := items(v)
		if err != nil {
			return fmt.Errorf("cannot unpack %s", typeName(v))
		}
		if len(vals) != len(t.items) {
			return fmt.Errorf("cannot unpack %d values into %d names", len(vals), len(t.items))
		}
		for i, x := range t.items {
			if err := f.assign(x, vals[i], sc); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("cannot assign to %T", target)
}

// loopObj is the loop variable of a for loop.
type loopObj struct {
	items   []any
	index   int
	depth   int
	recurse *builtin
}

// attr returns the loop variable's attribute name.
func (l *loopObj) attr(name string) (any, bool) {
	n := len(l.items)
	switch name {
	case "index":
		return l.index + 1, true
	case "index0":
		return l.index, true
	case "revindex":
		return n - l.index, true
	case "revindex0":
		return n - l.index - 1, true
	case "first":
		return l.index == 0, true
	case "last":
		return l.index == n-1, true
	case "length":
		return n, true
	case "depth":
		return l.depth, true
	case "depth0":
		return l.depth - 1, true
	case "previtem":
		if l.index > 0 {
			return l.items[l.index-1], true
		}
		return &Undefined{name: "previtem"}, true
	case "nextitem":
		if l.index < n-1 {
			return l.items[l.index+1], true
		}
		return &Undefined{name: "nextitem"}, true
	case "cycle":
		return &builtin{name: "cycle", fn: func(_ *renderer, args []any, _ *Dict) (any, error) {
			if len(args) == 0 {
				return nil, errors.New("no items for cycling given")
			}
			return args[l.index%len(args)], nil
		}}, true
	case "changed":
		return &builtin{name: "changed", fn: func(_ *renderer, args []any, _ *Dict) (any, error) {
			return true, nil
		}}, true
	}
	return nil, false
}

// namespace is the object namespace() returns, whose attributes can be set
// from inside loops.
type namespace struct {
	d     *Dict
	tuple Tuple // what unpacking gives, for groupby's (grouper, list) pairs
}

// Macro is a template macro, callable like a function.
type Macro struct {
	def     *macroDef
	frame   *frame
	closure *scope
}

// builtin is a function implemented in Go.
type builtin struct {
	name string
	fn   func(r *renderer, args []any, kw *Dict) (any, error)
}

// call calls fn with args and keyword arguments kw.
func (r *renderer) call(fn any, args []any, kw *Dict) (any, error) {
	switch x := fn.(type) {
	case *builtin:
		return x.fn(r, args, kw)
	case *Macro:
		return x.call(r, args, kw)
	case *loopObj:
		if x.recurse != nil {
			return x.recurse.fn(r, args, kw)
		}
	case *Undefined:
		return nil, x.err()
	}
	return nil, fmt.Errorf("'%s' object is not callable", typeName(fn))
}

// call runs the macro and returns its output.
func (m *Macro) call(r *renderer, args []any, kw *Dict) (any, error) {
	d := m.def
	if err := r.enter("macro " + d.name); err != nil {
		return nil, err
	}
	defer r.leave()
	sc := newScope(m.closure)
	nDefault := len(d.params) - len(d.defaults)
	var varargs Tuple
	for i, a := range args {
		if i < len(d.params) {
			sc.vars[d.params[i]] = a
		} else {
			varargs = append(varargs, a)
		}
	}
	kwargs := newDict(0)
	for i, k := range kw.keys {
		name := k.(string)
		if p := indexOf(d.params, name); p >= 0 {
			if p < len(args) {
				return nil, fmt.Errorf("macro '%s' got multiple values for argument '%s'", d.name, name)
			}
			sc.vars[name] = kw.vals[i]
			continue
		}
		if name == "caller" {
			sc.vars["caller"] = kw.vals[i]
			continue
		}
		_ = kwargs.Set(name, kw.vals[i])
	}
	for i, p := range d.params {
		if _, ok := sc.vars[p]; ok {
			continue
		}
		if i < nDefault {
			sc.vars[p] = &Undefined{name: p}
			continue
		}
		v, err := m.frame.eval(d.defaults[i-nDefault], sc)
		if err != nil {
			return nil, err
		}
		sc.vars[p] = v
	}
	if varargs == nil {
		varargs = Tuple{}
	}
	sc.vars["varargs"] = varargs
	sc.vars["kwargs"] = kwargs
	if _, ok := sc.vars["caller"]; !ok {
		sc.vars["caller"] = &Undefined{name: "caller"}
	}
	out := &output{r: r}
	if err := m.frame.exec(d.body, sc, out); err != nil {
		return nil, err
	}
	return out.b.String(), nil
}

func indexOf(list []string, s string) int {
	for i, e := range list {
		if e == s {
			return i
		}
	}
	return -1
}

// saltFuncs is the `salt` variable: salt['mod.fun'](...) and
// salt.mod.fun(...) run Options.Call with the render's context; `in`,
// iteration and length answer from Options.Functions.
type saltFuncs struct {
	call  CallFunc
	names func() []string
}

// list returns the names of the functions salt can call, sorted.
func (s *saltFuncs) list() []any {
	if s.names == nil {
		return []any{}
	}
	names := slices.Clone(s.names())
	slices.Sort(names)
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out
}

// has reports whether salt can call the function name.
func (s *saltFuncs) has(name any) bool {
	n, ok := name.(string)
	return ok && s.names != nil && slices.Contains(s.names(), n)
}

// fn returns the template-callable salt function name.
func (s *saltFuncs) fn(name string) *builtin {
	return &builtin{name: name, fn: func(r *renderer, args []any, kw *Dict) (any, error) {
		if !strings.Contains(name, ".") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
			return nil, r.fail(fmt.Errorf("salt[%q]: function names have the form 'module.function'", name))
		}
		if s.call == nil {
			return nil, r.fail(fmt.Errorf("salt['%s']: salt functions are not available here", name))
		}
		if err := r.ctx.Err(); err != nil {
			return nil, r.fail(fmt.Errorf("salt['%s']: %w", name, err))
		}
		pargs := make([]any, len(args))
		for i, a := range args {
			pargs[i] = plain(a)
		}
		kwargs := make(map[string]any, kw.Len())
		for i, k := range kw.keys {
			kwargs[k.(string)] = plain(kw.vals[i])
		}
		out, err := s.call(r.ctx, name, pargs, kwargs)
		if err != nil {
			return nil, r.fail(fmt.Errorf("salt['%s']: %w", name, err))
		}
		return fromGo(out), nil
	}}
}

// saltModule is `salt.mod`, whose attributes are the module's functions.
type saltModule struct {
	funcs *saltFuncs
	name  string
}

// traverse walks a "a:b:0" path through dicts and lists, trying the whole
// key first, as Salt's traverse_dict_and_list does.
func traverse(v any, key, delim string) (any, bool) {
	if d, ok := v.(*Dict); ok {
		if x, ok := d.Get(key); ok {
			return x, true
		}
	}
	if delim == "" {
		delim = dict.DefaultDelimiter
	}
	cur := v
	for _, part := range strings.Split(key, delim) {
		switch x := cur.(type) {
		case *Dict:
			next, ok := x.Get(part)
			if !ok {
				return nil, false
			}
			cur = next
		case *List:
			i, err := parseInt(part)
			if err != nil {
				return nil, false
			}
			j, ok := index(i, len(x.items))
			if !ok {
				return nil, false
			}
			cur = x.items[j]
		default:
			return nil, false
		}
	}
	return cur, true
}
