// Package target decides which minions a target expression selects, with the
// semantics of Salt's matchers: glob, list and PCRE on the minion id, glob and
// PCRE on grains and pillar ("key:value", nested keys joined by ':'), IP
// address or CIDR against the ipv4/ipv6 grains, nodegroups, and compound
// expressions joining all of those with and, or, not and parentheses.
//
// An expression is compiled once; matching a minion is then cheap and safe to
// do from many goroutines at once.
package target

import (
	"fmt"
	"strings"

	"github.com/brinecm/brine/pkg/dict"
)

// Minion is what a matcher looks at.
type Minion struct {
	ID     string
	Grains map[string]any
	Pillar map[string]any
}

// Kind names a matcher: "glob", "list", "grain", "grain_pcre", "pcre",
// "pillar", "pillar_pcre", "ipcidr", "compound", "nodegroup".
type Kind string

// The kinds of target expression, as Salt's `match:` names them in top.sls.
const (
	Glob       Kind = "glob"        // shell glob on the id: web*, db-[0-9]?
	List       Kind = "list"        // ids separated by commas or spaces
	Grain      Kind = "grain"       // key:glob on grains, case-insensitive
	GrainPCRE  Kind = "grain_pcre"  // key:regexp on grains, case-insensitive
	PCRE       Kind = "pcre"        // regexp on the id, anchored at its start
	Pillar     Kind = "pillar"      // key:glob on pillar
	PillarPCRE Kind = "pillar_pcre" // key:regexp on pillar
	IPCIDR     Kind = "ipcidr"      // an address or network against ipv4/ipv6 grains
	Compound   Kind = "compound"    // G@os:Debian and web* or L@a,b
	Nodegroup  Kind = "nodegroup"   // the name of a nodegroup
)

// Matcher is a compiled target expression.
type Matcher interface {
	// Match reports whether the expression selects m.
	Match(m Minion) bool
}

// Error is a target expression that does not compile. Pos is the byte offset
// in Expr of the word or character at fault.
type Error struct {
	Kind Kind
	Expr string
	Pos  int
	Msg  string
	Err  error // the underlying cause, when there is one
}

// Error formats the fault with the expression and where in it.
func (e *Error) Error() string {
	s := fmt.Sprintf("%s target %q: at offset %d", e.Kind, e.Expr, e.Pos)
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// maxDepth bounds the nesting of parentheses, not and nodegroups.
const maxDepth = 200

// Compile parses a target expression once; Match is then cheap. nodegroups
// maps names to compound expressions (for N@ and kind "nodegroup");
// nodegroups may reference other nodegroups, and a cycle is an error.
func Compile(kind Kind, expr string, nodegroups map[string]string) (Matcher, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, &Error{Kind: kind, Expr: expr, Msg: "empty expression"}
	}
	switch kind {
	case Compound:
		c := compiler{nodegroups: nodegroups}
		return c.compound(expr, 0)
	case Nodegroup:
		c := compiler{nodegroups: nodegroups}
		name := strings.TrimSpace(expr)
		m, err := c.nodegroup(name, 0)
		if err != nil {
			return nil, &Error{Kind: kind, Expr: expr, Pos: strings.Index(expr, name), Err: err}
		}
		return m, nil
	}
	m, msg, err := compileSimple(kind, expr, dict.DefaultDelimiter)
	if msg != "" || err != nil {
		if msg == "" {
			msg = "invalid expression"
		}
		return nil, &Error{Kind: kind, Expr: expr, Msg: msg, Err: err}
	}
	return m, nil
}

// compileSimple compiles one non-compound expression. On failure it returns
// a message saying what is wrong and, when there is one, the cause.
func compileSimple(kind Kind, expr, delim string) (Matcher, string, error) {
	switch kind {
	case Glob:
		return globMatcher{compileGlob(expr, false)}, "", nil
	case List:
		return newListMatcher(expr)
	case PCRE:
		return newPCREMatcher(expr)
	case Grain, GrainPCRE, Pillar, PillarPCRE:
		return newDataMatcher(kind, expr, delim)
	case IPCIDR:
		return newIPMatcher(expr)
	case Compound, Nodegroup:
		return nil, fmt.Sprintf("%s expression cannot be nested here", kind), nil
	}
	return nil, fmt.Sprintf("unknown target kind %q", string(kind)), nil
}
