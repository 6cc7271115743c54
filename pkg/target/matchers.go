package target

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// globMatcher matches the minion id against a glob, case-sensitively.
type globMatcher struct{ g *glob }

func (m globMatcher) Match(mn Minion) bool { return m.g.match(mn.ID) }

// listMatcher matches ids exactly from a set.
type listMatcher map[string]struct{}

func newListMatcher(expr string) (Matcher, string, error) {
	ids := strings.FieldsFunc(expr, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(ids) == 0 {
		return nil, "list names no minion", nil
	}
	set := make(listMatcher, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
	}
	return set, "", nil
}

func (m listMatcher) Match(mn Minion) bool {
	_, ok := m[mn.ID]
	return ok
}

// pcreMatcher matches the id against a regular expression anchored at the
// start of the id, as Python's re.match that Salt uses: "web" selects
// "web01"; end the expression with '$' to require a full match.
type pcreMatcher struct{ re *regexp.Regexp }

func newPCREMatcher(expr string) (Matcher, string, error) {
	re, err := compileAnchored(expr, false)
	if err != nil {
		return nil, "bad regular expression", err
	}
	return pcreMatcher{re}, "", nil
}

func (m pcreMatcher) Match(mn Minion) bool { return m.re.MatchString(mn.ID) }

// compileAnchored compiles expr to match from the start of a string only.
// expr is checked on its own first, so that wrapping it cannot change what
// it means ("a)|(b" is an error, not two alternatives).
func compileAnchored(expr string, fold bool) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(expr); err != nil {
		return nil, err
	}
	flags := ""
	if fold {
		flags = "(?i)"
	}
	return regexp.Compile(flags + "^(?:" + expr + ")")
}

// ipMatcher matches an address or a network against the minion's ipv4 or
// ipv6 grain (a list of address strings).
type ipMatcher struct {
	addr   netip.Addr
	prefix netip.Prefix // valid when the target is a network
	grain  string       // "ipv4" or "ipv6"
}

func newIPMatcher(expr string) (Matcher, string, error) {
	expr = strings.TrimSpace(expr)
	m := ipMatcher{}
	if a, err := netip.ParseAddr(expr); err == nil {
		if a.Zone() != "" {
			return nil, "an address to match must have no zone", nil
		}
		m.addr = a.Unmap()
	} else {
		p, perr := netip.ParsePrefix(expr)
		if perr != nil {
			return nil, "not an IP address or CIDR network", perr
		}
		if p.Masked() != p {
			return nil, fmt.Sprintf("network %s has host bits set (did you mean %s?)", expr, p.Masked()), nil
		}
		m.prefix = p
		m.addr = p.Addr()
	}
	m.grain = "ipv6"
	if m.addr.Is4() {
		m.grain = "ipv4"
	}
	return m, "", nil
}

func (m ipMatcher) Match(mn Minion) bool {
	found := false
	eachString(mn.Grains[m.grain], func(s string) bool {
		a, err := netip.ParseAddr(s)
		if err != nil {
			if p, perr := netip.ParsePrefix(s); perr == nil { // "10.0.0.5/24" forms
				a, err = p.Addr(), nil
			}
		}
		if err != nil {
			return false
		}
		a = a.WithZone("").Unmap()
		if m.prefix.IsValid() {
			found = m.prefix.Contains(a)
		} else {
			found = a == m.addr
		}
		return found
	})
	return found
}

// eachString calls f with every string in v, a list of strings in either of
// the shapes grains take ([]any from decoded data, []string from Go), until
// f returns true.
func eachString(v any, f func(string) bool) {
	switch l := v.(type) {
	case []any:
		for _, e := range l {
			if s, ok := e.(string); ok && f(s) {
				return
			}
		}
	case []string:
		for _, s := range l {
			if f(s) {
				return
			}
		}
	case string:
		f(l)
	}
}
