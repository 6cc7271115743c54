package sls

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// The fast YAML front end parses the block-style subset of YAML that SLS
// files use in practice and builds the same node tree gopkg.in/yaml.v3
// builds for it, apart from comments, which the compiler never reads, and
// the Tag of plain scalars, which is left empty for Node.ShortTag (or the
// quicker nodeTag) to resolve; only the merge key "<<", which ShortTag
// would not resolve, is tagged. Anything outside the subset, and anything
// it is unsure about,
// makes it give up so that yaml.v3 parses the file instead; yaml.v3 also
// produces every syntax error.

const (
	// fastMaxDepth bounds the nesting of collections on the fast path.
	fastMaxDepth = 500
	// fastMaxKey bounds the length in bytes of a mapping key up to its
	// colon; YAML limits implicit keys to 1024 characters.
	fastMaxKey = 1000
)

// parseFast parses src into a document node when src sticks to the subset
// of YAML the fast path handles, reporting ok=false otherwise.
func parseFast(src []byte) (doc *yaml.Node, ok bool) {
	ascii, ok := fastChars(src)
	if !ok {
		return nil, false
	}
	p := &fastParser{src: string(src), line: 1, ascii: ascii}
	// SLS files hold about two nodes a line; one slab for them all is
	// cheaper than many small ones.
	lines := bytes.Count(src, []byte{'\n'})
	p.slab = make([]yaml.Node, 0, min(2*lines, len(src)/4)+16)
	return p.document()
}

// fastChars reports whether src is UTF-8 made only of characters the fast
// path accepts: printable characters, tabs and "\n" line breaks. It
// rejects carriage returns, the Unicode line breaks, byte order marks and
// everything YAML forbids. ascii tells whether src is all ASCII.
func fastChars(src []byte) (ascii, ok bool) {
	ascii = true
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
				return false, false
			}
			i++
			continue
		}
		ascii = false
		r, size := utf8.DecodeRune(src[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return false, false
		case r == 0xFEFF, r == 0x2028, r == 0x2029:
			return false, false
		case r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false, false
		}
		i += size
	}
	return ascii, true
}

// fastParser walks the source line by line. Every parsing method that
// returns leaves the parser at the start of the next line with content
// (or at the end of the input, where ind is -1).
type fastParser struct {
	src   string
	pos   int  // offset of the start of the current line
	line  int  // number of the current line, from 1
	ind   int  // indentation of the current line; -1 at the end of input
	ascii bool // the source is all ASCII, so columns count bytes
	depth int
	slab  []yaml.Node  // nodes handed out by node
	stack []*yaml.Node // children of the collections being parsed
	kids  []*yaml.Node // storage the Content of finished collections slices
}

// node allocates a node from the parser's slab.
func (p *fastParser) node(kind yaml.Kind, line, column int) *yaml.Node {
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]yaml.Node, 0, 256)
	}
	p.slab = p.slab[:len(p.slab)+1]
	n := &p.slab[len(p.slab)-1]
	n.Kind, n.Line, n.Column = kind, line, column
	return n
}

// children moves the children pushed on the stack since base into the
// Content of a finished collection.
func (p *fastParser) children(base int) []*yaml.Node {
	n := len(p.stack) - base
	if cap(p.kids)-len(p.kids) < n {
		p.kids = make([]*yaml.Node, 0, max(n, 1024))
	}
	start := len(p.kids)
	p.kids = append(p.kids, p.stack[base:]...)
	clear(p.stack[base:])
	p.stack = p.stack[:base]
	return p.kids[start:len(p.kids):len(p.kids)]
}

// column is the 1-based column, in characters, of offset off on the
// current line.
func (p *fastParser) column(off int) int {
	if p.ascii {
		return off - p.pos + 1
	}
	n := 1
	for i := p.pos; i < off; i++ {
		if p.src[i]&0xC0 != 0x80 {
			n++
		}
	}
	return n
}

// blankz reports whether offset i holds a space, a tab, a line break or
// the end of the input.
func (p *fastParser) blankz(i int) bool {
	return i >= len(p.src) || p.src[i] == ' ' || p.src[i] == '\t' || p.src[i] == '\n'
}

// entry reports whether offset i starts a block sequence entry ("- ").
func (p *fastParser) entry(i int) bool {
	return i < len(p.src) && p.src[i] == '-' && p.blankz(i+1)
}

// skip moves from the start of the current line to the next line with
// content, passing blank and comment-only lines. It reports false on what
// the fast path leaves to yaml.v3: tabs in indentation and document
// markers (allowed once, at the top, when first is set).
func (p *fastParser) skip(first bool) bool {
	s := p.src
	for p.pos < len(s) {
		i := p.pos
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i == len(s) {
			break
		}
		switch s[i] {
		case '\n':
			p.pos, p.line = i+1, p.line+1
			continue
		case '#':
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				p.pos = len(s)
				continue
			}
			p.pos, p.line = i+j+1, p.line+1
			continue
		case '\t':
			return false
		}
		p.ind = i - p.pos
		if p.ind == 0 && (strings.HasPrefix(s[i:], "---") || strings.HasPrefix(s[i:], "...")) {
			return first && s[i] == '-' && p.blankz(i+3)
		}
		return true
	}
	p.pos, p.ind = len(s), -1
	return true
}

// endLine finishes the current line from offset i, which may only be
// followed by spaces and a comment, and moves to the next line with
// content.
func (p *fastParser) endLine(i int) bool {
	s := p.src
	start := i
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i < len(s) && s[i] == '#' && (i > start || (i > 0 && s[i-1] == ' ')) {
		j := strings.IndexByte(s[i:], '\n')
		if j < 0 {
			i = len(s)
		} else {
			i += j
		}
	}
	switch {
	case i == len(s):
		p.pos = i
	case s[i] == '\n':
		p.pos, p.line = i+1, p.line+1
	default:
		return false
	}
	return p.skip(false)
}

// document parses the whole input: an optional "---" line and one block
// mapping or sequence.
func (p *fastParser) document() (*yaml.Node, bool) {
	if !p.skip(true) || p.ind < 0 {
		return nil, false
	}
	doc := p.node(yaml.DocumentNode, 0, 0)
	if p.ind == 0 && strings.HasPrefix(p.src[p.pos:], "---") {
		doc.Line, doc.Column = p.line, 1
		if !p.endLine(p.pos+3) || p.ind < 0 {
			return nil, false
		}
	}
	root, ok := p.block(-1)
	if !ok || p.ind >= 0 || (root.Kind != yaml.MappingNode && root.Kind != yaml.SequenceNode) {
		return nil, false
	}
	if doc.Line == 0 {
		doc.Line, doc.Column = root.Line, root.Column
	}
	doc.Content = []*yaml.Node{root}
	return doc, true
}

// block parses the node that starts the current line, inside a collection
// whose entries sit at column parent.
func (p *fastParser) block(parent int) (*yaml.Node, bool) {
	off := p.pos + p.ind
	switch p.src[off] {
	case '-':
		if p.blankz(off + 1) {
			return p.sequence(p.ind, false)
		}
	case '|', '>':
		return p.blockScalar(off, parent)
	}
	n, next, ok := p.inline(off)
	if !ok {
		return nil, false
	}
	if p.isColon(next) {
		return p.mapping(p.ind, off, n, next)
	}
	return p.finishScalar(n, next, parent)
}

// isColon reports whether offset i holds the ": " that ends a mapping key.
func (p *fastParser) isColon(i int) bool {
	return i < len(p.src) && p.src[i] == ':' && p.blankz(i+1)
}

// mapping parses a block mapping whose entries sit at column col; the
// first key, starting at offset off, is already parsed and its colon is at
// offset colon.
func (p *fastParser) mapping(col, off int, key *yaml.Node, colon int) (*yaml.Node, bool) {
	if p.depth++; p.depth > fastMaxDepth {
		return nil, false
	}
	defer func() { p.depth-- }()
	m := p.node(yaml.MappingNode, key.Line, key.Column)
	m.Tag = "!!map"
	base := len(p.stack)
	for {
		if colon-off > fastMaxKey {
			return nil, false
		}
		val, ok := p.value(col, colon)
		if !ok {
			return nil, false
		}
		p.stack = append(p.stack, key, val)
		if p.ind < col {
			m.Content = p.children(base)
			return m, true
		}
		off = p.pos + col
		if p.ind > col {
			return nil, false
		}
		var next int
		if key, next, ok = p.inline(off); !ok || !p.isColon(next) {
			return nil, false
		}
		colon = next
	}
}

// value parses the value of the mapping entry at column col whose key
// ends with the colon at offset colon.
func (p *fastParser) value(col, colon int) (*yaml.Node, bool) {
	s := p.src
	i := colon + 1
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i < len(s) && s[i] != '\n' && s[i] != '#' {
		return p.inlineValue(i, col)
	}
	line, column := p.line, p.column(colon)+1
	if !p.endLine(i) {
		return nil, false
	}
	switch {
	case p.ind > col:
		return p.block(col)
	case p.ind == col && p.entry(p.pos+col):
		return p.sequence(col, true)
	}
	return p.node(yaml.ScalarNode, line, column), true
}

// sequence parses a block sequence whose "-" indicators sit at column col.
// An indentless sequence is the value of a mapping entry at the same
// column, and ends at the mapping's next key.
func (p *fastParser) sequence(col int, indentless bool) (*yaml.Node, bool) {
	if p.depth++; p.depth > fastMaxDepth {
		return nil, false
	}
	defer func() { p.depth-- }()
	s := p.src
	q := p.node(yaml.SequenceNode, p.line, col+1)
	q.Tag = "!!seq"
	base := len(p.stack)
	for {
		dash := p.pos + col
		i := dash + 1
		for i < len(s) && s[i] == ' ' {
			i++
		}
		var item *yaml.Node
		var ok bool
		switch {
		case i == len(s) || s[i] == '\n' || s[i] == '#':
			line := p.line
			if !p.endLine(i) {
				return nil, false
			}
			if p.ind > col {
				item, ok = p.block(col)
			} else {
				item, ok = p.node(yaml.ScalarNode, line, col+2), true
			}
		case p.entry(i):
			return nil, false
		default:
			item, ok = p.entryValue(i, col)
		}
		if !ok {
			return nil, false
		}
		p.stack = append(p.stack, item)
		if p.ind < col {
			q.Content = p.children(base)
			return q, true
		}
		if p.ind > col {
			return nil, false
		}
		if !p.entry(p.pos + col) {
			if indentless {
				q.Content = p.children(base)
				return q, true
			}
			return nil, false
		}
	}
}

// entryValue parses what follows "- " at offset i on the line of a
// sequence entry at column col: a compact mapping or a scalar.
func (p *fastParser) entryValue(i, col int) (*yaml.Node, bool) {
	if c := p.src[i]; c == '|' || c == '>' {
		return p.blockScalar(i, col)
	}
	n, next, ok := p.inline(i)
	if !ok {
		return nil, false
	}
	if p.isColon(next) {
		return p.mapping(i-p.pos, i, n, next)
	}
	return p.finishScalar(n, next, col)
}

// inlineValue parses a scalar value starting at offset off, in a
// collection whose entries sit at column parent.
func (p *fastParser) inlineValue(off, parent int) (*yaml.Node, bool) {
	switch p.src[off] {
	case '|', '>':
		return p.blockScalar(off, parent)
	}
	n, next, ok := p.inline(off)
	if !ok {
		return nil, false
	}
	return p.finishScalar(n, next, parent)
}

// finishScalar ends the line of a one-line scalar n, the rest of which
// starts at offset next. A following line indented past parent would
// continue the scalar (or be an error), so it sends the file to yaml.v3.
func (p *fastParser) finishScalar(n *yaml.Node, next, parent int) (*yaml.Node, bool) {
	if !p.endLine(next) || p.ind > parent {
		return nil, false
	}
	return n, true
}

// inline parses a plain, single-quoted or double-quoted scalar that starts
// at offset off and ends on the same line. next is the offset after it
// and the spaces that follow a quoted scalar.
func (p *fastParser) inline(off int) (n *yaml.Node, next int, ok bool) {
	s := p.src
	switch s[off] {
	case '\'':
		return p.singleQuoted(off)
	case '"':
		return p.doubleQuoted(off)
	case '-', '?', ':':
		if p.blankz(off + 1) {
			return nil, 0, false
		}
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '%', '@', '`', ' ', '\t', '\n':
		return nil, 0, false
	}
	end := off
	i := off
scan:
	for ; i < len(s); i++ {
		switch s[i] {
		case '\n':
			break scan
		case '\t':
			return nil, 0, false
		case ' ':
			continue
		case ':':
			if p.blankz(i + 1) {
				break scan
			}
		case '#':
			if s[i-1] == ' ' {
				break scan
			}
		}
		end = i + 1
	}
	n = p.node(yaml.ScalarNode, p.line, p.column(off))
	n.Value = s[off:end]
	if n.Value == "<<" {
		n.Tag = "!!merge" // yaml.v3 tags it so; ShortTag would not
	}
	return n, i, true
}

// quoted finishes a quoted scalar whose closing quote is at offset end.
func (p *fastParser) quoted(off, end int, style yaml.Style, value string) (*yaml.Node, int, bool) {
	n := p.node(yaml.ScalarNode, p.line, p.column(off))
	n.Tag, n.Style, n.Value = "!!str", style, value
	next := end + 1
	for next < len(p.src) && p.src[next] == ' ' {
		next++
	}
	return n, next, true
}

// singleQuoted parses a one-line single-quoted scalar at offset off.
func (p *fastParser) singleQuoted(off int) (*yaml.Node, int, bool) {
	s := p.src
	var buf []byte
	start := off + 1
	for i := start; i < len(s); i++ {
		switch s[i] {
		case '\n', '\t':
			return nil, 0, false
		case '\'':
			if i+1 < len(s) && s[i+1] == '\'' {
				buf = append(buf, s[start:i+1]...)
				start = i + 2
				i++
				continue
			}
			value := s[start:i]
			if buf != nil {
				value = string(append(buf, value...))
			}
			return p.quoted(off, i, yaml.SingleQuotedStyle, value)
		}
	}
	return nil, 0, false
}

// doubleQuoted parses a one-line double-quoted scalar at offset off.
func (p *fastParser) doubleQuoted(off int) (*yaml.Node, int, bool) {
	s := p.src
	var buf []byte
	start := off + 1
	for i := start; i < len(s); i++ {
		switch s[i] {
		case '\n', '\t':
			return nil, 0, false
		case '"':
			value := s[start:i]
			if buf != nil {
				value = string(append(buf, value...))
			}
			return p.quoted(off, i, yaml.DoubleQuotedStyle, value)
		case '\\':
			buf = append(buf, s[start:i]...)
			r, size := escape(s[i+1:])
			if size == 0 {
				return nil, 0, false
			}
			buf = utf8.AppendRune(buf, r)
			i += size
			start = i + 1
		}
	}
	return nil, 0, false
}

// escape decodes the escape sequence after a backslash at the start of s,
// returning the character and how many bytes of s it takes (0 for one the
// fast path does not handle).
func escape(s string) (rune, int) {
	if s == "" {
		return 0, 0
	}
	switch s[0] {
	case '0':
		return 0, 1
	case 'a':
		return '\a', 1
	case 'b':
		return '\b', 1
	case 't':
		return '\t', 1
	case 'n':
		return '\n', 1
	case 'v':
		return '\v', 1
	case 'f':
		return '\f', 1
	case 'r':
		return '\r', 1
	case 'e':
		return 0x1b, 1
	case ' ', '"', '\'', '\\':
		return rune(s[0]), 1
	case 'N':
		return 0x85, 1
	case '_':
		return 0xA0, 1
	case 'L':
		return 0x2028, 1
	case 'P':
		return 0x2029, 1
	}
	var digits int
	switch s[0] {
	case 'x':
		digits = 2
	case 'u':
		digits = 4
	case 'U':
		digits = 8
	default:
		return 0, 0
	}
	if len(s) < 1+digits {
		return 0, 0
	}
	var r int64
	for _, c := range []byte(s[1 : 1+digits]) {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | int64(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | int64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | int64(c-'A'+10)
		default:
			return 0, 0
		}
	}
	if (r >= 0xD800 && r <= 0xDFFF) || r > 0x10FFFF {
		return 0, 0
	}
	return rune(r), 1 + digits
}

// blockScalar parses a literal (|) or folded (>) block scalar whose
// indicator is at offset off, inside a collection whose entries sit at
// column parent, following the content rules of libyaml that yaml.v3
// ports.
func (p *fastParser) blockScalar(off, parent int) (*yaml.Node, bool) {
	s := p.src
	n := p.node(yaml.ScalarNode, p.line, p.column(off))
	n.Tag, n.Style = "!!str", yaml.LiteralStyle
	literal := s[off] == '|'
	if !literal {
		n.Style = yaml.FoldedStyle
	}
	i := off + 1
	chomp := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		chomp = 1
		if s[i] == '-' {
			chomp = -1
		}
		i++
	}
	if i < len(s) && s[i] != ' ' && s[i] != '\n' {
		return nil, false
	}
	j := i
	for j < len(s) && s[j] == ' ' {
		j++
	}
	if j < len(s) && s[j] == '#' && j > i {
		if k := strings.IndexByte(s[j:], '\n'); k >= 0 {
			j += k
		} else {
			j = len(s)
		}
	}
	if j < len(s) && s[j] != '\n' {
		return nil, false
	}
	b := blockScan{src: s, pos: min(j+1, len(s)), line: p.line + 1, parent: parent}
	value, ok := b.scan(literal, chomp)
	if !ok {
		return nil, false
	}
	n.Value = value
	p.pos, p.line = b.lineStart, b.line
	if !p.skip(false) {
		return nil, false
	}
	return n, true
}

// blockScan holds the state of scanning the content of a block scalar.
type blockScan struct {
	src       string
	pos       int // current offset
	lineStart int // offset of the start of the current line
	line      int // number of the current line
	parent    int // column of the entries of the enclosing collection
	indent    int // content indentation, 0 until detected
	col       int // column reached on the current line
	breaks    int // line breaks seen since the last content line
}

// scan reads the content lines and returns the scalar's value.
func (b *blockScan) scan(literal bool, chomp int) (string, bool) {
	s := b.src
	if !b.skipBreaks() {
		return "", false
	}
	var out []byte
	lines := 0
	leadingBreak, leadingBlank := false, false
	for b.col == b.indent && b.pos < len(s) {
		trailingBlank := s[b.pos] == ' ' || s[b.pos] == '\t'
		if !literal && !leadingBlank && !trailingBlank && leadingBreak {
			if b.breaks == 0 {
				out = append(out, ' ')
			}
		} else if leadingBreak {
			out = append(out, '\n')
		}
		for ; b.breaks > 0; b.breaks-- {
			out = append(out, '\n')
		}
		leadingBlank = trailingBlank
		end := strings.IndexByte(s[b.pos:], '\n')
		if end < 0 {
			out = append(out, s[b.pos:]...)
			b.pos = len(s)
			leadingBreak = false
		} else {
			out = append(out, s[b.pos:b.pos+end]...)
			b.pos += end + 1
			b.line++
			leadingBreak = true
		}
		lines++
		if !b.skipBreaks() {
			return "", false
		}
	}
	if lines == 0 {
		return "", false
	}
	if chomp != -1 && leadingBreak {
		out = append(out, '\n')
	}
	if chomp == 1 {
		for ; b.breaks > 0; b.breaks-- {
			out = append(out, '\n')
		}
	}
	return string(out), true
}

// skipBreaks eats indentation and empty lines up to the next line with
// content, detecting the indentation on the first call.
func (b *blockScan) skipBreaks() bool {
	s := b.src
	maxIndent := 0
	for {
		b.lineStart = b.pos
		b.col = 0
		for b.pos < len(s) && s[b.pos] == ' ' && (b.indent == 0 || b.col < b.indent) {
			b.pos++
			b.col++
		}
		maxIndent = max(maxIndent, b.col)
		if b.pos < len(s) && s[b.pos] == '\t' && (b.indent == 0 || b.col < b.indent) {
			return false
		}
		if b.pos >= len(s) || s[b.pos] != '\n' {
			break
		}
		b.pos++
		b.line++
		b.breaks++
	}
	if b.indent == 0 {
		b.indent = max(maxIndent, b.parent+1, 1)
	}
	return true
}

// nodeTag is n.ShortTag(), with a shortcut for the plain scalars of the
// fast parser that are no number: yaml.v3 resolves those by their first
// character and a table of the few words that are booleans or null.
func nodeTag(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode || n.Tag != "" || n.Style != 0 {
		return n.ShortTag()
	}
	switch n.Value {
	case "", "~", "null", "Null", "NULL":
		return "!!null"
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return "!!bool"
	}
	if c := n.Value[0]; (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' {
		return n.ShortTag()
	}
	return "!!str"
}
