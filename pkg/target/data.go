package target

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/brinecm/brine/pkg/dict"
)

// dataMatcher matches "key:value" against grains or pillar as Salt's
// subdict_match does. The expression is cut at every delimiter; the longest
// key that exists wins first, then shorter ones, so both "a:b:c" as key a:b
// and value c and key a with value "b:c" are tried. A value that is a list
// matches when any element does; a value that is a mapping matches when the
// rest of the expression names one of its keys or matches inside it. A key
// of "*" stands for every key at that level. Values compare as text,
// case-insensitively, with a glob or a regexp anchored at the start.
type dataMatcher struct {
	pillar bool
	expr   string
	delim  string
	starts []int            // starts[i]: offset of part i in expr
	cuts   []int            // cuts[i]: offset of the delimiter ending part i
	globs  []*glob          // per suffix index t >= 1, for glob kinds
	res    []*regexp.Regexp // per suffix index t >= 1, for regexp kinds; nil when invalid
}

// maxLevels bounds how many delimiters are taken as cuts between key levels;
// any further ones are part of the value. No real grain or pillar nests that
// deep, and the bound keeps compiling and matching linear in the expression.
const maxLevels = 32

func newDataMatcher(kind Kind, expr, delim string) (Matcher, string, error) {
	m := &dataMatcher{pillar: kind == Pillar || kind == PillarPCRE, expr: expr, delim: delim}
	m.starts = append(m.starts, 0)
	for off := 0; len(m.cuts) < maxLevels; {
		i := strings.Index(expr[off:], delim)
		if i < 0 {
			break
		}
		m.cuts = append(m.cuts, off+i)
		off += i + len(delim)
		m.starts = append(m.starts, off)
	}
	n := len(m.starts)
	if n == 1 {
		return nil, fmt.Sprintf("want key%svalue", delim), nil
	}
	if kind == GrainPCRE || kind == PillarPCRE {
		m.res = make([]*regexp.Regexp, n)
		var first error
		valid := false
		for t := 1; t < n; t++ {
			re, err := compileAnchored(expr[m.starts[t]:], true)
			if err != nil {
				if first == nil {
					first = err
				}
				continue
			}
			m.res[t], valid = re, true
		}
		if !valid {
			return nil, fmt.Sprintf("bad regular expression %q", expr[m.starts[1]:]), first
		}
	} else {
		m.globs = make([]*glob, n)
		for t := 1; t < n; t++ {
			m.globs[t] = compileGlob(expr[m.starts[t]:], true)
		}
	}
	return m, "", nil
}

func (m *dataMatcher) Match(mn Minion) bool {
	data := mn.Grains
	if m.pillar {
		data = mn.Pillar
	}
	return len(data) > 0 && m.subdict(data, 0)
}

// part returns part i of the expression.
func (m *dataMatcher) part(i int) string {
	if i < len(m.cuts) {
		return m.expr[m.starts[i]:m.cuts[i]]
	}
	return m.expr[m.starts[i]:]
}

// subdict matches data against the expression from part s on.
func (m *dataMatcher) subdict(data map[string]any, s int) bool {
	n := len(m.starts)
	for idx := n - 1; idx > s; idx-- {
		key := m.expr[m.starts[s]:m.cuts[idx-1]]
		if idx == s+1 && key == "*" { // one part that is "*": every key of data
			if m.dictMatch(data, s) {
				return true
			}
			continue
		}
		v, ok := dict.Traverse(data, key, m.delim)
		if !ok {
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			if len(v) > 0 && m.dictMatch(v, idx) {
				return true
			}
		case []any:
			for _, e := range v {
				if sub, ok := e.(map[string]any); ok {
					if m.dictMatch(sub, idx) {
						return true
					}
					continue
				}
				if m.value(idx, e) {
					return true
				}
			}
		case []string:
			for _, e := range v {
				if m.value(idx, e) {
					return true
				}
			}
		default:
			if m.value(idx, v) {
				return true
			}
		}
	}
	return false
}

// dictMatch matches a mapping against the expression from part t on: the
// rest may be "*" (any mapping), a key of the mapping, a deeper key:value,
// or start with "*:" to look one level down under every key.
func (m *dataMatcher) dictMatch(target map[string]any, t int) bool {
	n := len(m.starts)
	wildcard := t < n-1 && m.part(t) == "*"
	if wildcard {
		t++
	}
	rest := m.expr[m.starts[t]:]
	if rest == "*" {
		return true
	}
	if _, ok := target[rest]; ok {
		return true
	}
	if m.subdict(target, t) {
		return true
	}
	if !wildcard {
		return false
	}
	for _, v := range target {
		switch v := v.(type) {
		case map[string]any:
			if m.dictMatch(v, t) {
				return true
			}
		case []any:
			for _, e := range v {
				if m.value(t, e) {
					return true
				}
			}
		case []string:
			for _, e := range v {
				if m.value(t, e) {
					return true
				}
			}
		default:
			if m.value(t, v) {
				return true
			}
		}
	}
	return false
}

// value matches one scalar against the expression from part t on.
func (m *dataMatcher) value(t int, v any) bool {
	s := text(v)
	if m.globs != nil {
		return m.globs[t].match(s)
	}
	re := m.res[t]
	return re != nil && re.MatchString(s)
}

// text renders a value as Salt compares it: Python's str() of the decoded
// data, with whole floats written as integers because JSON decoding turns
// every number into a float.
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}
