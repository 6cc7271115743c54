package jinja

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of an expression token.
type tokKind int

const (
	tokEOF tokKind = iota
	tokName
	tokInt
	tokFloat
	tokString
	tokOp
)

// token is one expression token inside {{ }} or {% %}.
type token struct {
	kind tokKind
	val  string // name, operator, or the decoded string literal
	num  any    // int or float64 for number tokens
	line int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of tag"
	case tokString:
		return strconv.Quote(t.val)
	}
	return t.val
}

// chunkKind is the kind of a piece of template source.
type chunkKind int

const (
	chunkText chunkKind = iota
	chunkVar
	chunkBlock
)

// chunk is literal text, a {{ }} expression or a {% %} tag with its tokens.
type chunk struct {
	kind chunkKind
	text string
	toks []token
	line int
}

// syntaxError is a template syntax error at a line.
type syntaxError struct {
	line int
	msg  string
}

func (e *syntaxError) Error() string { return "syntax error: " + e.msg }

// lexer splits a template into chunks, tokenizing tags as it goes.
type lexer struct {
	src    string
	pos    int
	line   int
	chunks []chunk
	lstrip bool // strip the whitespace at the start of the next text
}

// lex splits src into chunks, applying whitespace control.
func lex(src string) ([]chunk, error) {
	l := &lexer{src: src, line: 1}
	if err := l.run(); err != nil {
		return nil, err
	}
	return l.chunks, nil
}

func (l *lexer) run() error {
	for l.pos < len(l.src) {
		i := l.nextOpen(l.pos)
		if i < 0 {
			l.text(l.src[l.pos:])
			l.pos = len(l.src)
			break
		}
		text := l.src[l.pos:i]
		kind := l.src[i+1]
		strip := i+2 < len(l.src) && l.src[i+2] == '-'
		if strip {
			text = strings.TrimRight(text, " \t\r\n")
		}
		l.text(text)
		l.line += strings.Count(l.src[l.pos:i], "\n")
		l.pos = i + 2
		if i+2 < len(l.src) && (l.src[i+2] == '-' || l.src[i+2] == '+') {
			l.pos++
		}
		switch kind {
		case '#':
			end := strings.Index(l.src[l.pos:], "#}")
			if end < 0 {
				return &syntaxError{l.line, "unclosed comment (missing #})"}
			}
			body := l.src[l.pos : l.pos+end]
			l.lstrip = strings.HasSuffix(body, "-")
			l.line += strings.Count(body, "\n")
			l.pos += end + 2
		case '{', '%':
			start := l.line
			toks, err := l.tokens(kind)
			if err != nil {
				return err
			}
			ck := chunkVar
			if kind == '%' {
				ck = chunkBlock
				if len(toks) > 0 && toks[0].kind == tokName && toks[0].val == "raw" {
					if err := l.raw(start); err != nil {
						return err
					}
					continue
				}
			}
			l.chunks = append(l.chunks, chunk{kind: ck, toks: toks, line: start})
		}
	}
	return nil
}

// nextOpen finds the next {{, {% or {# at or after i.
func (l *lexer) nextOpen(i int) int {
	for {
		j := strings.IndexByte(l.src[i:], '{')
		if j < 0 || i+j+1 >= len(l.src) {
			return -1
		}
		switch l.src[i+j+1] {
		case '{', '%', '#':
			return i + j
		}
		i += j + 1
	}
}

// text adds literal text, stripped at its start after a "-" closing.
func (l *lexer) text(s string) {
	if l.lstrip {
		s = strings.TrimLeft(s, " \t\r\n")
		l.lstrip = false
	}
	if s != "" {
		l.chunks = append(l.chunks, chunk{kind: chunkText, text: s, line: l.line})
	}
}

// raw handles {% raw %}: everything up to {% endraw %} is text.
func (l *lexer) raw(start int) error {
	i := l.pos
	for {
		j := strings.Index(l.src[i:], "{%")
		if j < 0 {
			return &syntaxError{start, "raw block never closed (missing {% endraw %})"}
		}
		k := i + j + 2
		stripBefore := k < len(l.src) && l.src[k] == '-'
		if stripBefore || (k < len(l.src) && l.src[k] == '+') {
			k++
		}
		rest := strings.TrimLeft(l.src[k:], " \t\r\n")
		if strings.HasPrefix(rest, "endraw") {
			after := strings.TrimLeft(rest[len("endraw"):], " \t\r\n")
			strip := strings.HasPrefix(after, "-%}")
			if strip || strings.HasPrefix(after, "%}") {
				text := l.src[l.pos : i+j]
				if stripBefore {
					text = strings.TrimRight(text, " \t\r\n")
				}
				l.text(text)
				end := len(l.src) - len(after) + 2
				if strip {
					end++
				}
				l.line += strings.Count(l.src[l.pos:end], "\n")
				l.pos = end
				l.lstrip = strip
				return nil
			}
		}
		i += j + 2
	}
}

// tokens tokenizes a tag's expression up to its closing }} or %}.
func (l *lexer) tokens(kind byte) ([]token, error) {
	closer := byte('}')
	if kind == '%' {
		closer = '%'
	}
	var toks []token
	depth := 0
	for {
		// Skip whitespace.
		for l.pos < len(l.src) && strings.IndexByte(" \t\r\n", l.src[l.pos]) >= 0 {
			if l.src[l.pos] == '\n' {
				l.line++
			}
			l.pos++
		}
		if l.pos >= len(l.src) {
			what := "}}"
			if kind == '%' {
				what = "%}"
			}
			return nil, &syntaxError{l.line, "unexpected end of template, expected '" + what + "'"}
		}
		rest := l.src[l.pos:]
		if depth == 0 {
			if strings.HasPrefix(rest, "-"+string(closer)+"}") {
				l.pos += 3
				l.lstrip = true
				return toks, nil
			}
			if strings.HasPrefix(rest, "+"+string(closer)+"}") && kind == '%' {
				l.pos += 3
				return toks, nil
			}
			if rest[0] == closer && len(rest) > 1 && rest[1] == '}' {
				l.pos += 2
				return toks, nil
			}
		}
		c := rest[0]
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			n := 1
			for n < len(rest) && (rest[n] == '_' || rest[n] >= 'a' && rest[n] <= 'z' || rest[n] >= 'A' && rest[n] <= 'Z' || rest[n] >= '0' && rest[n] <= '9') {
				n++
			}
			toks = append(toks, token{kind: tokName, val: rest[:n], line: l.line})
			l.pos += n
		case c >= '0' && c <= '9':
			t, n, err := lexNumber(rest)
			if err != nil {
				return nil, &syntaxError{l.line, err.Error()}
			}
			t.line = l.line
			toks = append(toks, t)
			l.pos += n
		case c == '\'' || c == '"':
			s, n, nl, err := lexString(rest)
			if err != nil {
				return nil, &syntaxError{l.line, err.Error()}
			}
			toks = append(toks, token{kind: tokString, val: s, line: l.line})
			l.line += nl
			l.pos += n
		default:
			op := ""
			for _, o := range []string{"**", "//", "==", "!=", "<=", ">="} {
				if strings.HasPrefix(rest, o) {
					op = o
					break
				}
			}
			if op == "" {
				if strings.IndexByte("+-*/%~<>=()[]{},.:|", c) < 0 {
					r, _ := utf8.DecodeRuneInString(rest)
					return nil, &syntaxError{l.line, fmt.Sprintf("unexpected character %q", r)}
				}
				op = rest[:1]
			}
			switch op {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				if depth > 0 {
					depth--
				}
			}
			toks = append(toks, token{kind: tokOp, val: op, line: l.line})
			l.pos += len(op)
		}
	}
}

// lexNumber reads an integer or float literal (underscores allowed).
func lexNumber(s string) (token, int, error) {
	n := 0
	digits := func() {
		for n < len(s) && (s[n] >= '0' && s[n] <= '9' || s[n] == '_' && n+1 < len(s) && s[n+1] >= '0' && s[n+1] <= '9') {
			n++
		}
	}
	digits()
	isFloat := false
	if n+1 < len(s) && s[n] == '.' && s[n+1] >= '0' && s[n+1] <= '9' {
		isFloat = true
		n++
		digits()
	}
	if n < len(s) && (s[n] == 'e' || s[n] == 'E') {
		m := n + 1
		if m < len(s) && (s[m] == '+' || s[m] == '-') {
			m++
		}
		if m < len(s) && s[m] >= '0' && s[m] <= '9' {
			isFloat = true
			n = m
			digits()
		}
	}
	lit := strings.ReplaceAll(s[:n], "_", "")
	if isFloat {
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			return token{}, 0, fmt.Errorf("bad number %q", s[:n])
		}
		return token{kind: tokFloat, val: s[:n], num: f}, n, nil
	}
	i, err := strconv.ParseInt(lit, 10, 64)
	if err != nil {
		return token{}, 0, fmt.Errorf("integer %q out of range", s[:n])
	}
	return token{kind: tokInt, val: s[:n], num: int(i)}, n, nil
}

// lexString reads a quoted string literal with Python's escapes, returning
// its value, its length in the source and the newlines it spans.
func lexString(s string) (string, int, int, error) {
	q := s[0]
	var b strings.Builder
	nl := 0
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, nl, nil
		case c == '\n':
			nl++
			b.WriteByte(c)
		case c == '\\' && i+1 < len(s):
			i++
			e := s[i]
			switch e {
			case '\\', '\'', '"':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'v':
				b.WriteByte('\v')
			case '0':
				b.WriteByte(0)
			case '\n':
				nl++
			case 'x', 'u', 'U':
				size := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if i+size >= len(s) {
					return "", 0, 0, fmt.Errorf("truncated \\%c escape in string", e)
				}
				r, err := strconv.ParseUint(s[i+1:i+1+size], 16, 32)
				if err != nil || r > utf8.MaxRune {
					return "", 0, 0, fmt.Errorf("bad \\%c escape in string", e)
				}
				b.WriteRune(rune(r))
				i += size
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, 0, fmt.Errorf("unterminated string")
}
