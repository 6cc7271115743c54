package jinja

import (
	"fmt"
	"slices"
	"strings"
)

// node is a template statement.
type node interface{ pos() int }

// expr is a template expression.
type expr interface{ pos() int }

type at struct{ line int }

func (a at) pos() int { return a.line }

// Statements.
type (
	textNode struct {
		at
		s string
	}
	outputNode struct {
		at
		x expr
	}
	ifNode struct {
		at
		conds  []expr
		bodies [][]node
		els    []node
	}
	forNode struct {
		at
		target    expr
		iter      expr
		cond      expr
		body, els []node
		recursive bool
	}
	setNode struct {
		at
		target expr
		x      expr
	}
	setBlockNode struct {
		at
		name    string
		filters []*filterExpr
		body    []node
	}
	macroNode struct {
		at
		m *macroDef
	}
	callBlockNode struct {
		at
		call   *callExpr
		caller *macroDef
	}
	filterBlockNode struct {
		at
		filters []*filterExpr
		body    []node
	}
	doNode struct {
		at
		x expr
	}
	withNode struct {
		at
		targets []expr
		values  []expr
		body    []node
	}
	includeNode struct {
		at
		name          expr
		ignoreMissing bool
		withContext   bool
	}
	importNode struct {
		at
		name        expr
		as          string
		names       [][2]string
		withContext bool
	}
	dataImportNode struct {
		at
		format string
		name   expr
		as     string
	}
	loadNode struct {
		at
		format string
		as     string
		body   []node
	}
	breakNode    struct{ at }
	continueNode struct{ at }
	blockNode    struct {
		at
		name string // "" for an autoescape block
		body []node
	}
	extendsNode struct {
		at
		name expr
	}
)

// macroDef is a macro's signature and body.
type macroDef struct {
	name     string
	params   []string
	defaults []expr // aligned with the tail of params
	body     []node
	line     int
}

// Expressions.
type (
	constExpr struct {
		at
		v any
	}
	nameExpr struct {
		at
		name string
	}
	listExpr struct {
		at
		items []expr
	}
	tupleExpr struct {
		at
		items []expr
	}
	dictExpr struct {
		at
		keys, vals []expr
	}
	attrExpr struct {
		at
		x    expr
		name string
	}
	itemExpr struct {
		at
		x, key expr
	}
	sliceExpr struct {
		at
		x, lo, hi, step expr
	}
	callExpr struct {
		at
		fn             expr
		args           []expr
		kwnames        []string
		kwvals         []expr
		star, starstar expr
	}
	filterExpr struct {
		at
		x    expr // nil in filter blocks
		name string
		call *callExpr
	}
	testExpr struct {
		at
		x    expr
		name string
		call *callExpr
		not  bool
	}
	binExpr struct {
		at
		op   string
		l, r expr
	}
	unaryExpr struct {
		at
		op string
		x  expr
	}
	condExpr struct {
		at
		test, yes, no expr
	}
	compareExpr struct {
		at
		first expr
		ops   []string
		rest  []expr
	}
)

// parser builds statements from chunks and expressions from tokens.
type parser struct {
	chunks []chunk
	ci     int
	toks   []token
	ti     int
	line   int
	depth  int // nesting of expressions being parsed
}

// maxExprDepth bounds the nesting of one expression, so that "((((..."
// fails with a syntax error instead of exhausting the stack.
const maxExprDepth = 200

// parseTemplate parses a whole template.
func parseTemplate(src string) ([]node, error) {
	chunks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{chunks: chunks, line: 1}
	body, end, err := p.body()
	if err != nil {
		return nil, err
	}
	if end != "" {
		return nil, &syntaxError{p.line, fmt.Sprintf("unexpected '%s'", end)}
	}
	return body, nil
}

func (p *parser) errf(format string, args ...any) error {
	return &syntaxError{p.line, fmt.Sprintf(format, args...)}
}

// body parses statements until an end tag, returning that tag's name (its
// tokens are then the current ones) or "" at the end of the template.
func (p *parser) body(ends ...string) ([]node, string, error) {
	var out []node
	for p.ci < len(p.chunks) {
		c := p.chunks[p.ci]
		p.ci++
		p.line = c.line
		switch c.kind {
		case chunkText:
			out = append(out, &textNode{at{c.line}, c.text})
		case chunkVar:
			p.toks, p.ti = c.toks, 0
			x, err := p.expr()
			if err != nil {
				return nil, "", err
			}
			if err := p.end(); err != nil {
				return nil, "", err
			}
			out = append(out, &outputNode{at{c.line}, x})
		case chunkBlock:
			p.toks, p.ti = c.toks, 0
			if len(c.toks) == 0 || c.toks[0].kind != tokName {
				return nil, "", p.errf("tag name expected")
			}
			name := c.toks[0].val
			p.ti = 1
			if slices.Contains(ends, name) {
				return out, name, nil
			}
			n, err := p.stmt(name)
			if err != nil {
				if se, ok := err.(*syntaxError); ok && se.msg == fmt.Sprintf("unknown tag '%s'", name) && len(ends) > 0 {
					se.msg += fmt.Sprintf(" (expected '%s')", strings.Join(ends, "', '"))
				}
				return nil, "", err
			}
			if n != nil {
				out = append(out, n)
			}
		}
	}
	if len(ends) > 0 {
		return nil, "", p.errf("unexpected end of template: missing {%% %s %%}", ends[len(ends)-1])
	}
	return out, "", nil
}

// block parses a body that must end with one of ends.
func (p *parser) block(ends ...string) ([]node, string, error) { return p.body(ends...) }

func (p *parser) stmt(name string) (node, error) {
	a := at{p.line}
	switch name {
	case "if":
		n := &ifNode{at: a}
		cond, err := p.exprEnd()
		if err != nil {
			return nil, err
		}
		for {
			body, end, err := p.block("elif", "else", "endif")
			if err != nil {
				return nil, err
			}
			n.conds = append(n.conds, cond)
			n.bodies = append(n.bodies, body)
			switch end {
			case "elif":
				if cond, err = p.exprEnd(); err != nil {
					return nil, err
				}
				continue
			case "else":
				if err := p.end(); err != nil {
					return nil, err
				}
				if n.els, _, err = p.block("endif"); err != nil {
					return nil, err
				}
			}
			return n, p.end()
		}
	case "for":
		n := &forNode{at: a}
		target, err := p.targets()
		if err != nil {
			return nil, err
		}
		n.target = target
		if !p.name("in") {
			return nil, p.errf("expected 'in' in for loop")
		}
		if n.iter, err = p.tuple(true); err != nil {
			return nil, err
		}
		if p.name("if") {
			if n.cond, err = p.expr(); err != nil {
				return nil, err
			}
		}
		n.recursive = p.name("recursive")
		if err := p.end(); err != nil {
			return nil, err
		}
		body, end, err := p.block("else", "endfor")
		if err != nil {
			return nil, err
		}
		n.body = body
		if end == "else" {
			if err := p.end(); err != nil {
				return nil, err
			}
			if n.els, _, err = p.block("endfor"); err != nil {
				return nil, err
			}
		}
		return n, p.end()
	case "set":
		target, err := p.targets()
		if err != nil {
			return nil, err
		}
		if p.op("=") {
			x, err := p.tuple(false)
			if err != nil {
				return nil, err
			}
			return &setNode{a, target, x}, p.end()
		}
		ne, ok := target.(*nameExpr)
		if !ok {
			return nil, p.errf("a set block assigns one name")
		}
		n := &setBlockNode{at: a, name: ne.name}
		for p.op("|") {
			f, err := p.filterCall(nil)
			if err != nil {
				return nil, err
			}
			n.filters = append(n.filters, f)
		}
		if err := p.end(); err != nil {
			return nil, err
		}
		if n.body, _, err = p.block("endset"); err != nil {
			return nil, err
		}
		return n, p.end()
	case "macro":
		nt := p.next()
		if nt.kind != tokName {
			return nil, p.errf("expected a macro name")
		}
		m, err := p.signature(nt.val)
		if err != nil {
			return nil, err
		}
		if err := p.end(); err != nil {
			return nil, err
		}
		if m.body, _, err = p.block("endmacro"); err != nil {
			return nil, err
		}
		p.name(m.name)
		return &macroNode{a, m}, p.end()
	case "call":
		caller := &macroDef{name: "caller", line: a.line}
		if p.peek().kind == tokOp && p.peek().val == "(" {
			var err error
			if caller, err = p.signature("caller"); err != nil {
				return nil, err
			}
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		call, ok := x.(*callExpr)
		if !ok {
			return nil, p.errf("call block needs a macro call")
		}
		if err := p.end(); err != nil {
			return nil, err
		}
		if caller.body, _, err = p.block("endcall"); err != nil {
			return nil, err
		}
		return &callBlockNode{a, call, caller}, p.end()
	case "filter":
		n := &filterBlockNode{at: a}
		for {
			f, err := p.filterCall(nil)
			if err != nil {
				return nil, err
			}
			n.filters = append(n.filters, f)
			if !p.op("|") {
				break
			}
		}
		if err := p.end(); err != nil {
			return nil, err
		}
		var err error
		if n.body, _, err = p.block("endfilter"); err != nil {
			return nil, err
		}
		return n, p.end()
	case "do":
		x, err := p.tuple(false)
		if err != nil {
			return nil, err
		}
		return &doNode{a, x}, p.end()
	case "with":
		n := &withNode{at: a}
		for !p.atEnd() {
			if len(n.targets) > 0 && !p.op(",") {
				return nil, p.errf("expected ','")
			}
			t, err := p.targets()
			if err != nil {
				return nil, err
			}
			if !p.op("=") {
				return nil, p.errf("expected '='")
			}
			v, err := p.expr()
			if err != nil {
				return nil, err
			}
			n.targets, n.values = append(n.targets, t), append(n.values, v)
		}
		var err error
		if n.body, _, err = p.block("endwith"); err != nil {
			return nil, err
		}
		return n, p.end()
	case "include":
		n := &includeNode{at: a, withContext: true}
		var err error
		if n.name, err = p.expr(); err != nil {
			return nil, err
		}
		if p.name("ignore") {
			if !p.name("missing") {
				return nil, p.errf("expected 'missing' after 'ignore'")
			}
			n.ignoreMissing = true
		}
		n.withContext = p.context(true)
		return n, p.end()
	case "import":
		n := &importNode{at: a}
		var err error
		if n.name, err = p.expr(); err != nil {
			return nil, err
		}
		if !p.name("as") {
			return nil, p.errf("expected 'as'")
		}
		t := p.next()
		if t.kind != tokName {
			return nil, p.errf("expected a variable name after 'as'")
		}
		n.as = t.val
		n.withContext = p.context(false)
		return n, p.end()
	case "from":
		n := &importNode{at: a}
		var err error
		if n.name, err = p.expr(); err != nil {
			return nil, err
		}
		if !p.name("import") {
			return nil, p.errf("expected 'import'")
		}
		for !p.atEnd() {
			if pk := p.peek(); pk.kind == tokName && (pk.val == "with" || pk.val == "without") {
				n.withContext = p.context(false)
				break
			}
			t := p.next()
			if t.kind != tokName {
				return nil, p.errf("expected a name to import")
			}
			local := t.val
			if p.name("as") {
				al := p.next()
				if al.kind != tokName {
					return nil, p.errf("expected a variable name after 'as'")
				}
				local = al.val
			}
			n.names = append(n.names, [2]string{t.val, local})
			if !p.op(",") {
				n.withContext = p.context(false)
				break
			}
		}
		if len(n.names) == 0 {
			return nil, p.errf("from ... import needs at least one name")
		}
		return n, p.end()
	case "import_yaml", "import_json", "import_text":
		n := &dataImportNode{at: a, format: name[len("import_"):]}
		var err error
		if n.name, err = p.expr(); err != nil {
			return nil, err
		}
		if !p.name("as") {
			return nil, p.errf("expected 'as'")
		}
		t := p.next()
		if t.kind != tokName {
			return nil, p.errf("expected a variable name after 'as'")
		}
		n.as = t.val
		return n, p.end()
	case "load_yaml", "load_json", "load_text":
		n := &loadNode{at: a, format: name[len("load_"):]}
		if !p.name("as") {
			return nil, p.errf("expected 'as'")
		}
		t := p.next()
		if t.kind != tokName {
			return nil, p.errf("expected a variable name after 'as'")
		}
		n.as = t.val
		if err := p.end(); err != nil {
			return nil, err
		}
		var err error
		if n.body, _, err = p.block("endload"); err != nil {
			return nil, err
		}
		return n, p.end()
	case "break":
		return &breakNode{a}, p.end()
	case "continue":
		return &continueNode{a}, p.end()
	case "block":
		t := p.next()
		if t.kind != tokName {
			return nil, p.errf("expected a block name")
		}
		p.name("scoped")
		if err := p.end(); err != nil {
			return nil, err
		}
		body, _, err := p.block("endblock")
		if err != nil {
			return nil, err
		}
		p.name(t.val)
		return &blockNode{a, t.val, body}, p.end()
	case "extends":
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		return &extendsNode{a, x}, p.end()
	case "autoescape":
		if _, err := p.expr(); err != nil {
			return nil, err
		}
		if err := p.end(); err != nil {
			return nil, err
		}
		body, _, err := p.block("endautoescape")
		if err != nil {
			return nil, err
		}
		return &blockNode{a, "", body}, p.end()
	}
	return nil, p.errf("unknown tag '%s'", name)
}

// context parses an optional "with context" / "without context".
func (p *parser) context(def bool) bool {
	t := p.peek()
	if t.kind == tokName && (t.val == "with" || t.val == "without") && p.ti+1 < len(p.toks) &&
		p.toks[p.ti+1].kind == tokName && p.toks[p.ti+1].val == "context" {
		p.ti += 2
		return t.val == "with"
	}
	return def
}

// signature parses "(a, b=1, ...)" of a macro or call block.
func (p *parser) signature(name string) (*macroDef, error) {
	m := &macroDef{name: name, line: p.line}
	if !p.op("(") {
		return nil, p.errf("expected '(' after %s", name)
	}
	for !p.op(")") {
		if len(m.params) > 0 && !p.op(",") {
			return nil, p.errf("expected ',' or ')' in the parameters of %s", name)
		}
		if p.op(")") {
			break
		}
		t := p.next()
		if t.kind != tokName {
			return nil, p.errf("expected a parameter name in %s", name)
		}
		m.params = append(m.params, t.val)
		if p.op("=") {
			d, err := p.expr()
			if err != nil {
				return nil, err
			}
			m.defaults = append(m.defaults, d)
		} else if len(m.defaults) > 0 {
			return nil, p.errf("parameter %s of %s without a default follows one with a default", t.val, name)
		}
	}
	return m, nil
}

// targets parses assignment targets: a name, ns.attr, or names separated by commas.
func (p *parser) targets() (expr, error) {
	var items []expr
	for {
		t := p.next()
		if t.kind != tokName {
			return nil, p.errf("expected a variable name, got %s", t)
		}
		var x expr = &nameExpr{at{t.line}, t.val}
		if p.op(".") {
			a := p.next()
			if a.kind != tokName {
				return nil, p.errf("expected an attribute name")
			}
			x = &attrExpr{at{t.line}, x, a.val}
		}
		items = append(items, x)
		if pk := p.peek(); !(pk.kind == tokOp && pk.val == ",") {
			break
		}
		p.ti++
		if pk := p.peek(); pk.kind != tokName || pk.val == "in" {
			break
		}
	}
	if len(items) == 1 {
		return items[0], nil
	}
	return &tupleExpr{at{p.line}, items}, nil
}

func (p *parser) peek() token {
	if p.ti < len(p.toks) {
		return p.toks[p.ti]
	}
	return token{kind: tokEOF, line: p.line}
}

func (p *parser) next() token {
	t := p.peek()
	if p.ti < len(p.toks) {
		p.ti++
		p.line = t.line
	}
	return t
}

func (p *parser) atEnd() bool { return p.ti >= len(p.toks) }

// op consumes the operator o if it is next.
func (p *parser) op(o string) bool {
	if t := p.peek(); t.kind == tokOp && t.val == o {
		p.next()
		return true
	}
	return false
}

// name consumes the name n if it is next.
func (p *parser) name(n string) bool {
	if t := p.peek(); t.kind == tokName && t.val == n {
		p.next()
		return true
	}
	return false
}

// end requires the end of the tag.
func (p *parser) end() error {
	if !p.atEnd() {
		return p.errf("unexpected %s", p.peek())
	}
	return nil
}

func (p *parser) exprEnd() (expr, error) {
	x, err := p.tuple(false)
	if err != nil {
		return nil, err
	}
	return x, p.end()
}

// tuple parses an expression, or several separated by commas as a tuple.
func (p *parser) tuple(stopAtIf bool) (expr, error) {
	line := p.peek().line
	var items []expr
	comma := false
	for {
		if len(items) > 0 {
			if !p.op(",") {
				break
			}
			comma = true
		}
		if pk := p.peek(); pk.kind == tokEOF || pk.kind == tokOp && pk.val == ")" ||
			stopAtIf && pk.kind == tokName && (pk.val == "if" || pk.val == "recursive") {
			break
		}
		var x expr
		var err error
		if stopAtIf {
			x, err = p.or()
		} else {
			x, err = p.expr()
		}
		if err != nil {
			return nil, err
		}
		items = append(items, x)
	}
	if len(items) == 0 {
		return nil, p.errf("expected an expression, got %s", p.peek())
	}
	if len(items) == 1 && !comma {
		return items[0], nil
	}
	return &tupleExpr{at{line}, items}, nil
}

// expr parses a conditional expression.
func (p *parser) expr() (expr, error) {
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	for p.name("if") {
		test, err := p.or()
		if err != nil {
			return nil, err
		}
		var no expr
		if p.name("else") {
			if no, err = p.expr(); err != nil {
				return nil, err
			}
		}
		x = &condExpr{at{x.pos()}, test, x, no}
	}
	return x, nil
}

func (p *parser) or() (expr, error) {
	x, err := p.and()
	for err == nil && p.name("or") {
		var r expr
		if r, err = p.and(); err == nil {
			x = &binExpr{at{x.pos()}, "or", x, r}
		}
	}
	return x, err
}

func (p *parser) and() (expr, error) {
	x, err := p.not()
	for err == nil && p.name("and") {
		var r expr
		if r, err = p.not(); err == nil {
			x = &binExpr{at{x.pos()}, "and", x, r}
		}
	}
	return x, err
}

func (p *parser) not() (expr, error) {
	if t := p.peek(); t.kind == tokName && t.val == "not" {
		p.next()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{at{t.line}, "not", x}, nil
	}
	return p.compare()
}

func (p *parser) compare() (expr, error) {
	x, err := p.math1()
	if err != nil {
		return nil, err
	}
	c := &compareExpr{at: at{x.pos()}, first: x}
	for {
		t := p.peek()
		var op string
		switch {
		case t.kind == tokOp && slices.Contains([]string{"==", "!=", "<", ">", "<=", ">="}, t.val):
			op = t.val
			p.next()
		case t.kind == tokName && t.val == "in":
			op = "in"
			p.next()
		case t.kind == tokName && t.val == "not" && p.ti+1 < len(p.toks) && p.toks[p.ti+1].kind == tokName && p.toks[p.ti+1].val == "in":
			op = "not in"
			p.ti += 2
		}
		if op == "" {
			break
		}
		r, err := p.math1()
		if err != nil {
			return nil, err
		}
		c.ops, c.rest = append(c.ops, op), append(c.rest, r)
	}
	if len(c.ops) == 0 {
		return x, nil
	}
	return c, nil
}

// binary parses a left-associative chain of the operators ops over sub.
func (p *parser) binary(sub func() (expr, error), ops ...string) (expr, error) {
	x, err := sub()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tokOp || !slices.Contains(ops, t.val) {
			return x, nil
		}
		p.next()
		r, err := sub()
		if err != nil {
			return nil, err
		}
		x = &binExpr{at{x.pos()}, t.val, x, r}
	}
}

func (p *parser) math1() (expr, error)  { return p.binary(p.concat, "+", "-") }
func (p *parser) concat() (expr, error) { return p.binary(p.math2, "~") }
func (p *parser) math2() (expr, error)  { return p.binary(p.pow, "*", "/", "//", "%") }
func (p *parser) pow() (expr, error) {
	return p.binary(func() (expr, error) { return p.unary(true) }, "**")
}

func (p *parser) unary(withFilter bool) (expr, error) {
	if p.depth++; p.depth > maxExprDepth {
		return nil, p.errf("expression nested more than %d levels deep", maxExprDepth)
	}
	defer func() { p.depth-- }()
	t := p.peek()
	var x expr
	if t.kind == tokOp && (t.val == "-" || t.val == "+") {
		p.next()
		inner, err := p.unary(false)
		if err != nil {
			return nil, err
		}
		x = &unaryExpr{at{t.line}, t.val, inner}
	} else {
		var err error
		if x, err = p.primary(); err != nil {
			return nil, err
		}
	}
	x, err := p.postfix(x)
	if err != nil || !withFilter {
		return x, err
	}
	return p.filters(x)
}

// filters parses "| filter(...)", "is test ..." and calls after a value.
func (p *parser) filters(x expr) (expr, error) {
	for {
		t := p.peek()
		switch {
		case t.kind == tokOp && t.val == "|":
			p.next()
			f, err := p.filterCall(x)
			if err != nil {
				return nil, err
			}
			x = f
		case t.kind == tokName && t.val == "is":
			p.next()
			te := &testExpr{at: at{t.line}, x: x, not: p.name("not")}
			n := p.next()
			if n.kind != tokName {
				return nil, p.errf("expected a test name after 'is'")
			}
			te.name = n.val
			for p.peek().kind == tokOp && p.peek().val == "." {
				p.next()
				te.name += "." + p.next().val
			}
			nt := p.peek()
			switch {
			case nt.kind == tokOp && nt.val == "(":
				call, err := p.call(nil)
				if err != nil {
					return nil, err
				}
				te.call = call
			case (nt.kind == tokName && !slices.Contains([]string{"else", "or", "and", "if", "is", "in", "not", "recursive"}, nt.val)) ||
				nt.kind == tokString || nt.kind == tokInt || nt.kind == tokFloat || nt.kind == tokOp && (nt.val == "[" || nt.val == "{"):
				arg, err := p.primary()
				if err != nil {
					return nil, err
				}
				if arg, err = p.postfix(arg); err != nil {
					return nil, err
				}
				te.call = &callExpr{at: at{nt.line}, args: []expr{arg}}
			}
			x = te
		case t.kind == tokOp && t.val == "(":
			call, err := p.call(x)
			if err != nil {
				return nil, err
			}
			x = call
		default:
			return x, nil
		}
	}
}

// filterCall parses a filter name and its optional arguments.
func (p *parser) filterCall(x expr) (*filterExpr, error) {
	n := p.next()
	if n.kind != tokName {
		return nil, p.errf("expected a filter name after '|'")
	}
	f := &filterExpr{at: at{n.line}, x: x, name: n.val}
	for p.peek().kind == tokOp && p.peek().val == "." {
		p.next()
		f.name += "." + p.next().val
	}
	if t := p.peek(); t.kind == tokOp && t.val == "(" {
		call, err := p.call(nil)
		if err != nil {
			return nil, err
		}
		f.call = call
	}
	return f, nil
}

// postfix parses attribute access, subscripts and calls.
func (p *parser) postfix(x expr) (expr, error) {
	for {
		t := p.peek()
		if t.kind != tokOp {
			return x, nil
		}
		switch t.val {
		case ".":
			p.next()
			n := p.next()
			switch n.kind {
			case tokName:
				x = &attrExpr{at{n.line}, x, n.val}
			case tokInt:
				x = &itemExpr{at{n.line}, x, &constExpr{at{n.line}, n.num}}
			default:
				return nil, p.errf("expected an attribute name after '.'")
			}
		case "[":
			p.next()
			sub, err := p.subscript(x)
			if err != nil {
				return nil, err
			}
			x = sub
		case "(":
			call, err := p.call(x)
			if err != nil {
				return nil, err
			}
			x = call
		default:
			return x, nil
		}
	}
}

// subscript parses what follows "[": an index, a tuple or a slice.
func (p *parser) subscript(x expr) (expr, error) {
	line := p.line
	var parts [3]expr
	colons := 0
	for {
		t := p.peek()
		if t.kind == tokOp && t.val == "]" {
			p.next()
			break
		}
		if t.kind == tokOp && t.val == ":" {
			p.next()
			if colons++; colons > 2 {
				return nil, p.errf("too many ':' in a slice")
			}
			continue
		}
		if parts[colons] != nil {
			return nil, p.errf("expected ']'")
		}
		v, err := p.tuple(false)
		if err != nil {
			return nil, err
		}
		parts[colons] = v
	}
	if colons == 0 {
		if parts[0] == nil {
			return nil, p.errf("empty subscript")
		}
		return &itemExpr{at{line}, x, parts[0]}, nil
	}
	return &sliceExpr{at{line}, x, parts[0], parts[1], parts[2]}, nil
}

// call parses "(args)" applied to fn.
func (p *parser) call(fn expr) (*callExpr, error) {
	c := &callExpr{at: at{p.peek().line}, fn: fn}
	p.next() // (
	for !p.op(")") {
		if len(c.args)+len(c.kwvals) > 0 || c.star != nil || c.starstar != nil {
			if !p.op(",") {
				return nil, p.errf("expected ',' or ')' in call, got %s", p.peek())
			}
			if p.op(")") {
				break
			}
		}
		switch {
		case p.op("**"):
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			c.starstar = x
		case p.op("*"):
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			c.star = x
		default:
			t := p.peek()
			if t.kind == tokName && p.ti+1 < len(p.toks) && p.toks[p.ti+1].kind == tokOp && p.toks[p.ti+1].val == "=" {
				p.ti += 2
				x, err := p.expr()
				if err != nil {
					return nil, err
				}
				c.kwnames, c.kwvals = append(c.kwnames, t.val), append(c.kwvals, x)
				continue
			}
			if len(c.kwvals) > 0 {
				return nil, p.errf("positional argument follows keyword argument")
			}
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, x)
		}
	}
	return c, nil
}

func (p *parser) primary() (expr, error) {
	t := p.next()
	a := at{t.line}
	switch t.kind {
	case tokName:
		switch t.val {
		case "true", "True":
			return &constExpr{a, true}, nil
		case "false", "False":
			return &constExpr{a, false}, nil
		case "none", "None":
			return &constExpr{a, nil}, nil
		}
		return &nameExpr{a, t.val}, nil
	case tokString:
		s := t.val
		for p.peek().kind == tokString {
			s += p.next().val
		}
		return &constExpr{a, s}, nil
	case tokInt, tokFloat:
		return &constExpr{a, t.num}, nil
	case tokOp:
		switch t.val {
		case "(":
			if p.op(")") {
				return &tupleExpr{a, nil}, nil
			}
			x, err := p.tuple(false)
			if err != nil {
				return nil, err
			}
			if !p.op(")") {
				return nil, p.errf("expected ')', got %s", p.peek())
			}
			return x, nil
		case "[":
			l := &listExpr{at: a}
			for !p.op("]") {
				if len(l.items) > 0 {
					if !p.op(",") {
						return nil, p.errf("expected ',' or ']' in list, got %s", p.peek())
					}
					if p.op("]") {
						break
					}
				}
				x, err := p.expr()
				if err != nil {
					return nil, err
				}
				l.items = append(l.items, x)
			}
			return l, nil
		case "{":
			d := &dictExpr{at: a}
			for !p.op("}") {
				if len(d.keys) > 0 {
					if !p.op(",") {
						return nil, p.errf("expected ',' or '}' in dict, got %s", p.peek())
					}
					if p.op("}") {
						break
					}
				}
				k, err := p.expr()
				if err != nil {
					return nil, err
				}
				if !p.op(":") {
					return nil, p.errf("expected ':' in dict, got %s", p.peek())
				}
				v, err := p.expr()
				if err != nil {
					return nil, err
				}
				d.keys, d.vals = append(d.keys, k), append(d.vals, v)
			}
			return d, nil
		}
	}
	return nil, p.errf("unexpected %s", t)
}
