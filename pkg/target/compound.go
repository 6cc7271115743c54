package target

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/brinecm/brine/pkg/dict"
)

// compiler compiles compound expressions and the nodegroups they name.
type compiler struct {
	nodegroups map[string]string
	stack      []string           // nodegroups being compiled, outermost first
	done       map[string]Matcher // nodegroups already compiled
}

type tokKind uint8

const (
	tWord tokKind = iota
	tAnd
	tOr
	tNot
	tOpen
	tClose
	tEnd
)

type token struct {
	kind tokKind
	text string
	pos  int
}

// tokenize splits a compound expression into words at whitespace, as Salt
// does. Parentheses must stand alone in Salt; here a '(' opening a word and
// a ')' closing one that the word does not itself open (as in "E@(a|b)") are
// also split off, so "(web* or db*)" means what it looks like.
func tokenize(expr string) []token {
	var toks []token
	i := 0
	for i < len(expr) {
		r, n := utf8.DecodeRuneInString(expr[i:])
		if unicode.IsSpace(r) {
			i += n
			continue
		}
		j := i
		for j < len(expr) {
			r, n := utf8.DecodeRuneInString(expr[j:])
			if unicode.IsSpace(r) {
				break
			}
			j += n
		}
		toks = appendWord(toks, expr[i:j], i)
		i = j
	}
	return append(toks, token{kind: tEnd, pos: len(expr)})
}

func appendWord(toks []token, w string, pos int) []token {
	for len(w) > 1 && w[0] == '(' {
		toks = append(toks, token{kind: tOpen, text: "(", pos: pos})
		w, pos = w[1:], pos+1
	}
	closes := 0
	for len(w) > 1 && w[len(w)-1] == ')' && strings.Count(w, ")") > strings.Count(w, "(") {
		w = w[:len(w)-1]
		closes++
	}
	kind := tWord
	switch w {
	case "and":
		kind = tAnd
	case "or":
		kind = tOr
	case "not":
		kind = tNot
	case "(":
		kind = tOpen
	case ")":
		kind = tClose
	}
	toks = append(toks, token{kind: kind, text: w, pos: pos})
	for k := range closes {
		toks = append(toks, token{kind: tClose, text: ")", pos: pos + len(w) + k})
	}
	return toks
}

// parser is a recursive-descent parser over one expression's tokens with
// Python's precedence: not binds tightest, then and, then or. A not right
// after a target or ')' implies an and, as in Salt ("web* not db*").
type parser struct {
	c    *compiler
	expr string
	toks []token
	i    int
}

func (c *compiler) compound(expr string, depth int) (Matcher, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, &Error{Kind: Compound, Expr: expr, Msg: "empty expression"}
	}
	p := &parser{c: c, expr: expr, toks: tokenize(expr)}
	m, err := p.or(depth)
	if err != nil {
		return nil, err
	}
	switch t := p.peek(); t.kind {
	case tEnd:
		return m, nil
	case tClose:
		return nil, p.errorf(t.pos, "unbalanced ')': no '(' to close")
	default:
		return nil, p.errorf(t.pos, "missing 'and' or 'or' before %q", t.text)
	}
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEnd {
		p.i++
	}
	return t
}

func (p *parser) errorf(pos int, format string, args ...any) *Error {
	return &Error{Kind: Compound, Expr: p.expr, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) or(depth int) (Matcher, error) {
	m, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	var alts orMatcher
	for p.peek().kind == tOr {
		p.next()
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		if alts == nil {
			alts = orMatcher{m}
		}
		alts = append(alts, r)
	}
	if alts != nil {
		return alts, nil
	}
	return m, nil
}

func (p *parser) and(depth int) (Matcher, error) {
	m, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	var all andMatcher
	for {
		switch p.peek().kind {
		case tAnd:
			p.next()
		case tNot: // implied and
		default:
			if all != nil {
				return all, nil
			}
			return m, nil
		}
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = andMatcher{m}
		}
		all = append(all, r)
	}
}

func (p *parser) unary(depth int) (Matcher, error) {
	t := p.peek()
	if t.kind != tNot {
		return p.primary(depth)
	}
	if depth >= maxDepth {
		return nil, p.errorf(t.pos, "nested too deeply (more than %d levels)", maxDepth)
	}
	p.next()
	m, err := p.unary(depth + 1)
	if err != nil {
		return nil, err
	}
	return notMatcher{m}, nil
}

func (p *parser) primary(depth int) (Matcher, error) {
	t := p.next()
	switch t.kind {
	case tWord:
		return p.term(t, depth)
	case tOpen:
		if depth >= maxDepth {
			return nil, p.errorf(t.pos, "nested too deeply (more than %d levels)", maxDepth)
		}
		m, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tClose {
			if c.kind == tEnd {
				return nil, p.errorf(t.pos, "unbalanced '(': no ')' closes it")
			}
			return nil, p.errorf(c.pos, "missing 'and' or 'or' before %q", c.text)
		}
		return m, nil
	case tClose:
		return nil, p.errorf(t.pos, "unexpected ')': want a target")
	case tEnd:
		prev := "the start"
		if p.i > 0 {
			prev = fmt.Sprintf("%q", p.toks[p.i-1].text)
		}
		return nil, p.errorf(t.pos, "expression ends after %s: want a target", prev)
	default:
		return nil, p.errorf(t.pos, "unexpected %q: want a target before it", t.text)
	}
}

// engine returns the kind a compound prefix letter matches with.
func engine(letter byte) (Kind, bool) {
	switch letter {
	case 'G':
		return Grain, true
	case 'P':
		return GrainPCRE, true
	case 'I':
		return Pillar, true
	case 'J':
		return PillarPCRE, true
	case 'E':
		return PCRE, true
	case 'L':
		return List, true
	case 'S':
		return IPCIDR, true
	}
	return "", false
}

// term compiles one word: "X@pattern", "X<delim>@pattern" for the grain and
// pillar prefixes, or else a glob on the id.
func (p *parser) term(t token, depth int) (Matcher, error) {
	w := t.text
	letter, delim, pattern, ok := splitPrefix(w)
	if !ok {
		return globMatcher{compileGlob(w, false)}, nil
	}
	fail := func(msg string, err error) (Matcher, error) {
		if msg != "" {
			msg = w + ": " + msg
		} else {
			msg = w
		}
		return nil, &Error{Kind: Compound, Expr: p.expr, Pos: t.pos, Msg: msg, Err: err}
	}
	if pattern == "" {
		return fail(fmt.Sprintf("nothing after %c@", letter), nil)
	}
	switch letter {
	case 'N':
		if delim != "" {
			return fail("N@ takes no delimiter", nil)
		}
		if depth >= maxDepth {
			return fail(fmt.Sprintf("nested too deeply (more than %d levels)", maxDepth), nil)
		}
		m, err := p.c.nodegroup(pattern, depth+1)
		if err != nil {
			return fail("", err)
		}
		return m, nil
	case 'R':
		return fail("range targets (R@) are not supported", nil)
	}
	kind, known := engine(letter)
	if !known {
		return fail(fmt.Sprintf("unknown prefix %c@ (want one of G@ P@ I@ J@ E@ L@ S@ N@)", letter), nil)
	}
	if delim == "" {
		delim = dict.DefaultDelimiter
	} else if kind != Grain && kind != GrainPCRE && kind != Pillar && kind != PillarPCRE {
		return fail(fmt.Sprintf("%c@ takes no delimiter", letter), nil)
	}
	m, msg, err := compileSimple(kind, pattern, delim)
	if msg != "" || err != nil {
		return fail(msg, err)
	}
	return m, nil
}

// splitPrefix recognises "X@pattern" and "X?@pattern" (X a letter, ? one
// delimiter character). ok is false for a plain glob.
func splitPrefix(w string) (engine byte, delim, pattern string, ok bool) {
	if len(w) < 2 || !isASCIILetter(w[0]) {
		return 0, "", "", false
	}
	if w[1] == '@' {
		return w[0], "", w[2:], true
	}
	r, n := utf8.DecodeRuneInString(w[1:])
	if r == utf8.RuneError || 1+n >= len(w) || w[1+n] != '@' || unicode.IsSpace(r) {
		return 0, "", "", false
	}
	return w[0], w[1 : 1+n], w[2+n:], true
}

func isASCIILetter(b byte) bool { return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' }

// nodegroup compiles the named nodegroup's compound expression once per
// compiler, refusing cycles.
func (c *compiler) nodegroup(name string, depth int) (Matcher, error) {
	if m, ok := c.done[name]; ok {
		return m, nil
	}
	for i, n := range c.stack {
		if n == name {
			return nil, &cycleError{append(append([]string{}, c.stack[i:]...), name)}
		}
	}
	expr, ok := c.nodegroups[name]
	if !ok {
		return nil, fmt.Errorf("unknown nodegroup %q", name)
	}
	c.stack = append(c.stack, name)
	m, err := c.compound(expr, depth)
	c.stack = c.stack[:len(c.stack)-1]
	if err != nil {
		var cycle *cycleError
		if errors.As(err, &cycle) { // the chain already says where
			return nil, cycle
		}
		return nil, fmt.Errorf("nodegroup %q: %w", name, err)
	}
	if c.done == nil {
		c.done = make(map[string]Matcher)
	}
	c.done[name] = m
	return m, nil
}

// cycleError is a nodegroup that refers back to itself through chain.
type cycleError struct{ chain []string }

func (e *cycleError) Error() string {
	return "nodegroup cycle " + strings.Join(e.chain, " -> ")
}

// andMatcher matches when every operand does, evaluated left to right.
type andMatcher []Matcher

func (a andMatcher) Match(m Minion) bool {
	for _, x := range a {
		if !x.Match(m) {
			return false
		}
	}
	return true
}

// orMatcher matches when any operand does, evaluated left to right.
type orMatcher []Matcher

func (o orMatcher) Match(m Minion) bool {
	for _, x := range o {
		if x.Match(m) {
			return true
		}
	}
	return false
}

// notMatcher inverts its operand.
type notMatcher struct{ m Matcher }

func (n notMatcher) Match(m Minion) bool { return !n.m.Match(m) }
