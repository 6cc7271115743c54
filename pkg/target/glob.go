package target

import (
	"unicode"
	"unicode/utf8"
)

// glob is a compiled shell-style pattern with the semantics of Python's
// fnmatch, which Salt uses: '*' matches any run of characters ('/' included),
// '?' any one character, "[seq]" and "[!seq]" a character class with a-z
// ranges; a '[' without a closing ']' is literal and there is no escape
// character. A folding glob compares lower-cased characters on both sides.
type glob struct {
	toks []globTok
	fold bool
	lit  string // the whole pattern when it has no metacharacters
	all  bool   // the pattern is one or more '*' only
}

type globKind uint8

const (
	tokLit globKind = iota
	tokAny
	tokStar
	tokClass
)

type globTok struct {
	kind  globKind
	r     rune        // tokLit
	neg   bool        // tokClass: "[!...]"
	class []runeRange // tokClass
}

type runeRange struct{ lo, hi rune }

// compileGlob parses pattern; it never fails, as fnmatch never does.
func compileGlob(pattern string, fold bool) *glob {
	g := &glob{fold: fold}
	rs := []rune(pattern)
	if fold {
		for i, r := range rs {
			rs[i] = unicode.ToLower(r)
		}
	}
	meta := false
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '*':
			meta = true
			if n := len(g.toks); n == 0 || g.toks[n-1].kind != tokStar {
				g.toks = append(g.toks, globTok{kind: tokStar})
			}
		case '?':
			meta = true
			g.toks = append(g.toks, globTok{kind: tokAny})
		case '[':
			tok, next, ok := parseClass(rs, i)
			if !ok {
				g.toks = append(g.toks, globTok{kind: tokLit, r: '['})
				continue
			}
			meta = true
			g.toks = append(g.toks, tok)
			i = next
		default:
			g.toks = append(g.toks, globTok{kind: tokLit, r: rs[i]})
		}
	}
	if !meta {
		g.lit = string(rs)
		g.toks = nil
	}
	g.all = len(g.toks) == 1 && g.toks[0].kind == tokStar
	return g
}

// parseClass reads the class opening at rs[i] == '['. It returns the token,
// the index of the closing ']' and whether the class is closed at all.
func parseClass(rs []rune, i int) (globTok, int, bool) {
	j := i + 1
	tok := globTok{kind: tokClass}
	if j < len(rs) && rs[j] == '!' {
		tok.neg = true
		j++
	}
	start := j
	if j < len(rs) && rs[j] == ']' { // a leading ']' is a member
		j++
	}
	for j < len(rs) && rs[j] != ']' {
		j++
	}
	if j >= len(rs) {
		return globTok{}, 0, false
	}
	body := rs[start:j]
	for k := 0; k < len(body); k++ {
		if k+2 < len(body) && body[k+1] == '-' {
			if body[k] <= body[k+2] { // a reversed range matches nothing
				tok.class = append(tok.class, runeRange{body[k], body[k+2]})
			}
			k += 2
			continue
		}
		tok.class = append(tok.class, runeRange{body[k], body[k]})
	}
	return tok, j, true
}

// match reports whether the whole of s matches the pattern.
func (g *glob) match(s string) bool {
	if g.all {
		return true
	}
	if g.toks == nil && !g.fold {
		return s == g.lit
	}
	return g.scan(s)
}

// scan matches a folding literal, or runs the classic single-backtrack
// wildcard algorithm: every token but '*' consumes exactly one character, so
// retrying only the most recent star is enough.
func (g *glob) scan(s string) bool {
	toks := g.toks
	si, ti := 0, 0
	if toks == nil { // folding literal
		for _, want := range g.lit {
			if si >= len(s) {
				return false
			}
			r, n := utf8.DecodeRuneInString(s[si:])
			if unicode.ToLower(r) != want {
				return false
			}
			si += n
		}
		return si == len(s)
	}
	starTok, starStr := -1, 0
	for {
		if ti < len(toks) {
			t := toks[ti]
			if t.kind == tokStar {
				starTok, starStr = ti, si
				ti++
				continue
			}
			if si < len(s) {
				r, n := utf8.DecodeRuneInString(s[si:])
				if g.fold {
					r = unicode.ToLower(r)
				}
				if t.matches(r) {
					si += n
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starTok < 0 || starStr >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starStr:])
		starStr += n
		si, ti = starStr, starTok+1
	}
}

func (t globTok) matches(r rune) bool {
	switch t.kind {
	case tokLit:
		return r == t.r
	case tokAny:
		return true
	case tokClass:
		in := false
		for _, rr := range t.class {
			if rr.lo <= r && r <= rr.hi {
				in = true
				break
			}
		}
		return in != t.neg
	}
	return false
}
