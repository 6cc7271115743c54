package sls

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// sameTree compares the tree of the fast parser with yaml.v3's and
// describes the first difference, with its path, or returns "". A plain
// scalar of the fast parser has no Tag; its resolved ShortTag must equal
// yaml.v3's Tag. Comments are not compared: the compiler never reads them.
func sameTree(path string, got, want *yaml.Node) string {
	if got == nil || want == nil {
		if got != want {
			return fmt.Sprintf("%s: got node %v, want %v", path, got, want)
		}
		return ""
	}
	at := fmt.Sprintf("%s (line %d col %d)", path, want.Line, want.Column)
	switch {
	case got.Kind != want.Kind:
		return fmt.Sprintf("%s: kind %d, want %d", at, got.Kind, want.Kind)
	case got.Style != want.Style:
		return fmt.Sprintf("%s: style %d, want %d", at, got.Style, want.Style)
	case got.Value != want.Value:
		return fmt.Sprintf("%s: value %q, want %q", at, got.Value, want.Value)
	case got.Line != want.Line || got.Column != want.Column:
		return fmt.Sprintf("%s: position %d:%d, want %d:%d", at, got.Line, got.Column, want.Line, want.Column)
	case got.Anchor != want.Anchor || (got.Alias == nil) != (want.Alias == nil):
		return fmt.Sprintf("%s: anchor or alias differs", at)
	case len(got.Content) != len(want.Content):
		return fmt.Sprintf("%s: %d children, want %d", at, len(got.Content), len(want.Content))
	}
	if got.Tag == "" && got.Kind == yaml.ScalarNode {
		if got.Style != 0 || got.ShortTag() != want.Tag || nodeTag(got) != want.Tag {
			return fmt.Sprintf("%s: untagged style %d resolves to %q (%q), want tag %q", at, got.Style, got.ShortTag(), nodeTag(got), want.Tag)
		}
	} else if got.Tag != want.Tag {
		return fmt.Sprintf("%s: tag %q, want %q", at, got.Tag, want.Tag)
	}
	for i := range got.Content {
		if d := sameTree(fmt.Sprintf("%s/%d", path, i), got.Content[i], want.Content[i]); d != "" {
			return d
		}
	}
	return ""
}

// checkFast parses src with both parsers. When the fast parser accepts
// src, yaml.v3 must accept it too and build the same tree. It reports
// whether the fast path was taken.
func checkFast(t *testing.T, src []byte) bool {
	t.Helper()
	got, ok := parseFast(src)
	if !ok {
		return false
	}
	var want yaml.Node
	if err := yaml.Unmarshal(src, &want); err != nil {
		t.Fatalf("fast path accepted what yaml.v3 rejects (%v):\n%s", err, src)
	}
	if d := sameTree("doc", got, &want); d != "" {
		t.Fatalf("trees differ: %s\ninput:\n%q", d, src)
	}
	return true
}

// benchSLS is the SLS of BenchmarkCompile1000 with n states.
func benchSLS(n int) []byte {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "motd_%d:\n  file.managed:\n    - name: /tmp/brine-bench/f%d\n    - contents: hello %d\n    - mode: 0644\n    - require:\n      - file: dir\n\n", i, i, i)
	}
	return []byte(sb.String())
}

// slsFixtures returns every .sls file of the repository, by path.
func slsFixtures(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".sls") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out[path] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFastYAMLFixtures(t *testing.T) {
	files := slsFixtures(t)
	if len(files) < 50 {
		t.Fatalf("found only %d .sls files", len(files))
	}
	fast := 0
	for path, src := range files {
		t.Run(path, func(t *testing.T) {
			if checkFast(t, src) {
				fast++
			}
		})
	}
	t.Logf("%d of %d fixtures took the fast path", fast, len(files))
	if fast < len(files)/3 {
		t.Errorf("only %d of %d fixtures took the fast path", fast, len(files))
	}
	if !checkFast(t, benchSLS(50)) {
		t.Error("the benchmark SLS did not take the fast path")
	}
}

// fastCases are hand-written inputs; fast tells whether the fast path must
// take them (and then build yaml.v3's tree) or leave them to yaml.v3.
var fastCases = []struct {
	name string
	src  string
	fast bool
}{
	{"mapping", "a: 1\nb: two\n", true},
	{"no final newline", "a: 1\nb: two", true},
	{"empty values", "a:\nb:\nc: # note\n", true},
	{"nested", "a:\n  b:\n    c: d\n  e: f\ng: h\n", true},
	{"sequence", "- a\n- b\n-\n- c # note\n", true},
	{"indented root", "  a: 1\n  b: 2\n", true},
	{"indentless sequence", "a:\n- x\n- y\nb: 1\n", true},
	{"indented sequence", "a:\n  - x\n  -   y\nb:\n    - z\n", true},
	{"compact mappings", "- a: 1\n  b: 2\n- c:\n  - x\n- d:\n    e: f\n", true},
	{"state", "vim:\n  pkg.installed:\n    - name: vim\n    - require:\n      - file: /etc/x\n", true},
	{"null items", "a:\n  -\n  - b\n  -\n", true},
	{"comments", "# head\na: 1 # line\n  # odd\n# foot\nb: 2\n\n\n", true},
	{"document start", "---\na: 1\n", true},
	{"document start comment", "# c\n--- # c\na: 1\n", true},
	{"hash inside", "a: b#c\nd: 'e' # f\nurl: http://x/#y\n", true},
	{"colons inside", "a: b:c\nd: http://x\ne::f: g\n", true},
	{"dash scalars", "a: -1\nb: --force\n- c: x\n", false},
	{"dash values", "a: -1\nb: --force\nc:\n  - -x\n", true},
	{"resolved tags", "a: 1\nb: 1.5\nc: true\nd: ~\ne: null\nf: 2001-12-14\ng: 0644\nh: yes\n<<: x\nj: 0x1F\nk: .inf\n", true},
	{"quoted", "'a': 'it''s'\n\"b\": \"x\\ty\\n\\\"\\\\ \\u00e9\\x41\\U0001F600\"\nc: ''\nd: \"\"\n", true},
	{"quoted key spaces", "'a'  : 1\nb  : 2\n", true},
	{"unicode", "é: ü\nkey: 日本語 # c\n\"ñ\": 'ø'\n", true},
	{"unicode column", "- é: ü\n  ñ:\n", true},
	{"trailing spaces", "a: b   \nc:   \n- d  \n", true},
	{"merge key", "<<: x\n'<<': y\n", true},
	{"literal", "a: |\n  x\n   y\n\n  z\nb: 1\n", true},
	{"literal strip keep", "a: |-\n  x\n\n\nb: |+\n  y\n\n\nc: 1\n", true},
	{"folded", "a: >\n  x\n  y\n\n  z\n   w\n  q\n", true},
	{"folded strip", "a: >-\n  x\n  y\n\n\n", true},
	{"folded keep", "a: >+\n  x\n  y\n\n\n", true},
	{"block in sequence", "- |\n  x\n- >\n   y\n-  |\n   z\n", true},
	{"block in compact", "- a: |\n    x\n  b: 1\n", true},
	{"block at eof", "a: |\n  x", true},
	{"block with comment", "a: | # c\n  x\n", true},
	{"block leading blank lines", "a: |\n\n\n  x\n", true},
	{"block trailing comment", "a: |\n  x\n\n# c\nb: 1\n", true},
	{"block inner spaces", "a: |\n  x\n    \n  y\n", true},
	{"block with tab content", "a: |\n  x\ty\n  \tz\n", true},
	{"block below key", "a:\n  |\n   x\n", true},
	{"scalar below key", "a:\n  b\nc: 1\n", true},
	{"dedent to parent", "a:\n  b:\n    c: 1\nd: 2\n", true},
	{"keep at eof", "a: |+\n  x\n\n", true},
	{"folded more indented", "a: >\n  x\n\n    y\n  z\n\n  w\n", true},
	{"indentless block scalar", "a:\n- |\n x\n- b\n", true},
	{"nested indentless", "- a:\n  - x\n  b: 1\n-\n  - y\n", true},
	{"plain indicators inside", "a: b[1], c{2} d? e- f! g& h* i|\n", true},
	{"escapes", "a: \"\\0\\a\\b\\v\\f\\r\\e\\ \\'\\N\\_\\L\\P\"\n", true},
	{"long key", strings.Repeat("k", 1100) + ": v\n", false},
	{"deep nesting", deep(600), false},
	{"over-indented blank before block", "a: |\n    \n  x\n", false},

	{"empty", "", false},
	{"only comments", "# x\n", false},
	{"null document", "---\n", false},
	{"scalar document", "hello\n", false},
	{"flow sequence", "a: [1, 2]\n", false},
	{"flow mapping", "a: {b: 1}\n", false},
	{"anchor", "a: &x 1\nb: *x\n", false},
	{"tag", "a: !!str 1\n", false},
	{"multi-line plain", "a: b\n  c\n", false},
	{"multi-line quoted", "a: 'b\n  c'\n", false},
	{"multi-line double", "a: \"b\\\n  c\"\n", false},
	{"complex key", "? a\n: b\n", false},
	{"tab indent", "a:\n\tb: 1\n", false},
	{"tab value", "a:\tb\n", false},
	{"two documents", "a: 1\n---\nb: 2\n", false},
	{"document end", "a: 1\n...\n", false},
	{"directive", "%YAML 1.1\n---\na: 1\n", false},
	{"bom", "\ufeffa: 1\n", false},
	{"not utf-8", "a: \xff\n", false},
	{"crlf", "a: 1\r\nb: 2\r\n", false},
	{"indentation indicator", "a: |2\n   x\n", false},
	{"bad indent", "a:\n    b: 1\n  c: 2\n", false},
	{"value then key", "a: b: c\n", false},
	{"entry after value", "a: 1\n- b\n", false},
	{"sequence then key", "- a\nb: 1\n", false},
	{"nested compact sequence", "- - a\n", false},
	{"empty block scalar", "a: |\nb: 1\n", false},
	{"unknown escape", "a: \"\\q\"\n", false},
	{"slash escape", "a: \"\\/\"\n", false},
	{"escape out of range", "a: \"\\UFFFFFFFF\"\n", false},
	{"surrogate escape", "a: \"\\uD800\"\n", false},
	{"quote then text", "a: 'b' c\n", false},
	{"quote then hash", "a: 'b'#c\n", false},
	{"over-indented after scalar", "a: 'b'\n  c: d\n", false},
	{"control character", "a: \x01\n", false},
	{"line separator", "a: b\u2028c\n", false},
}

// deep is a mapping nested n levels deep.
func deep(n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "%sk:\n", strings.Repeat(" ", i))
	}
	fmt.Fprintf(&sb, "%sk: v\n", strings.Repeat(" ", n))
	return sb.String()
}

func TestFastYAMLCases(t *testing.T) {
	for _, tt := range fastCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkFast(t, []byte(tt.src)); got != tt.fast {
				t.Errorf("fast path taken: %v, want %v", got, tt.fast)
			}
		})
	}
}

// TestFastYAMLErrors checks that malformed files still get yaml.v3's
// messages and line numbers through parseYAML.
func TestFastYAMLErrors(t *testing.T) {
	tests := []struct {
		src  string
		line int
	}{
		{"a: 1\nb: c: d\n", 2},
		{"a:\n  b: 1\n c: 2\n", 2},
		{"a: 'x\n", 2},
		{"- a\nb: 1\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			if _, ok := parseFast([]byte(tt.src)); ok {
				t.Fatal("fast path accepted a malformed document")
			}
			_, err := parseYAML("t.sls", []byte(tt.src))
			if err == nil || err.Pos.Line != tt.line || !strings.HasPrefix(err.Msg, "invalid YAML: ") {
				t.Fatalf("got %v, want an invalid YAML error at line %d", err, tt.line)
			}
		})
	}
}

// randomYAML assembles a document from lines of YAML-like pieces: most
// are valid block YAML, many are not, and the pieces favour what the fast
// parser treats specially.
func randomYAML(r *rand.Rand) string {
	indents := []string{"", "", " ", "  ", "  ", "   ", "    ", "      "}
	prefixes := []string{"", "", "", "- ", "- ", "-  ", "- - ", "-"}
	keys := []string{"a", "name", "file.managed", "<<", "'q k'", "\"d\\tk\"", "é", "- x", "a b", "k:x", "'a' ", "? k", "0644", "~"}
	seps := []string{": ", ": ", ":", ":  ", ":\t", " : "}
	values := []string{"", "", "v", "two words", "yes", "0644", "-1", "--force", "1.5", "null", "x # c",
		"x#y", "x  ", "'s''q'", "\"e\\n\\u00e9\\/\"", "'unterminated", "|", "|-", "|+", ">", ">-", ">+", "| # c",
		"|2", "[a]", "{a: 1}", "&a x", "*a", "!t x", "http://h/p?q=1", "b: c", "- x", "ü", "\"\"", "''", "@x", "#c"}
	extras := []string{"", "# comment", "   ", "---", "...", "\t", "  # indented comment"}
	var sb strings.Builder
	n := 1 + r.IntN(12)
	for range n {
		if r.IntN(6) == 0 {
			sb.WriteString(extras[r.IntN(len(extras))])
			sb.WriteByte('\n')
			continue
		}
		sb.WriteString(indents[r.IntN(len(indents))])
		sb.WriteString(prefixes[r.IntN(len(prefixes))])
		switch r.IntN(4) {
		case 0:
			sb.WriteString(values[r.IntN(len(values))])
		default:
			sb.WriteString(keys[r.IntN(len(keys))])
			sb.WriteString(seps[r.IntN(len(seps))])
			sb.WriteString(values[r.IntN(len(values))])
		}
		if r.IntN(8) != 0 {
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

// gen writes random, mostly valid, block YAML.
type gen struct {
	r  *rand.Rand
	sb strings.Builder
}

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

// scalar writes a one-line scalar or a block scalar whose content lines
// are indented past col.
func (g *gen) scalar(col int) {
	if g.r.IntN(5) > 0 {
		g.sb.WriteString(g.pick("v", "two words", "yes", "0644", "-1", "1e3", "null", "~", "x#y", "a: b",
			"'s''q'", "\"e\\t\\x41\"", "é ü", "x ", "x # c", ".inf", "2001-12-14", "<<", "'<<'", "a:b", "b[1]"))
		g.sb.WriteByte('\n')
		return
	}
	g.sb.WriteString(g.pick("|", "|-", "|+", ">", ">-", ">+", "| # c", ">  "))
	g.sb.WriteByte('\n')
	ind := col + 1 + g.r.IntN(3)
	for i := range 1 + g.r.IntN(5) {
		switch g.r.IntN(6) {
		case 0:
			g.sb.WriteString(strings.Repeat(" ", g.r.IntN(ind+3)))
		case 1:
			if i > 0 {
				g.sb.WriteString(strings.Repeat(" ", ind+1+g.r.IntN(3)))
			}
			fallthrough
		default:
			g.sb.WriteString(strings.Repeat(" ", ind))
			g.sb.WriteString(g.pick("text", "more text", "\tx", "# not a comment", "a: b", "- c"))
		}
		g.sb.WriteByte('\n')
	}
}

// node writes a node whose entries sit at column col.
func (g *gen) node(col, depth int) {
	kind := g.r.IntN(3)
	if depth > 4 {
		kind = 0
	}
	switch kind {
	case 0:
		g.sb.WriteString(strings.Repeat(" ", col))
		g.scalar(col - 1)
	case 1:
		g.mapping(col, depth, false)
	case 2:
		g.sequence(col, depth, false)
	}
}

func (g *gen) noise() {
	switch g.r.IntN(10) {
	case 0:
		g.sb.WriteString("\n")
	case 1:
		g.sb.WriteString(strings.Repeat(" ", g.r.IntN(6)) + "# comment\n")
	case 2:
		g.sb.WriteString(strings.Repeat(" ", g.r.IntN(6)) + "\n")
	}
}

// mapping writes a block mapping at column col; inline means its first
// key continues a line already started.
func (g *gen) mapping(col, depth int, inline bool) {
	for i := range 1 + g.r.IntN(4) {
		g.noise()
		if !inline || i > 0 {
			g.sb.WriteString(strings.Repeat(" ", col))
		}
		g.sb.WriteString(g.pick("a", "b", "name", "file.managed", "'q'", "\"d\"", "é", "<<", "k k", "1"))
		g.sb.WriteString(g.pick(":", ": ", " :"))
		switch g.r.IntN(5) {
		case 0:
			g.sb.WriteString(g.pick("", " # c"))
			g.sb.WriteByte('\n')
		case 1:
			g.sb.WriteByte('\n')
			g.sequence(col+g.r.IntN(3), depth+1, false)
		case 2:
			g.sb.WriteByte('\n')
			g.node(col+1+g.r.IntN(3), depth+1)
		default:
			g.sb.WriteByte(' ')
			g.scalar(col)
		}
	}
}

// sequence writes a block sequence at column col.
func (g *gen) sequence(col, depth int, inline bool) {
	for i := range 1 + g.r.IntN(4) {
		g.noise()
		if !inline || i > 0 {
			g.sb.WriteString(strings.Repeat(" ", col))
		}
		g.sb.WriteString(g.pick("-", "- ", "-  "))
		switch g.r.IntN(4) {
		case 0:
			g.sb.WriteString(g.pick("", " # c"))
			g.sb.WriteByte('\n')
			if g.r.IntN(2) == 0 {
				g.node(col+1+g.r.IntN(3), depth+1)
			}
		case 1:
			if !strings.HasSuffix(g.sb.String(), " ") {
				g.sb.WriteByte(' ')
			}
			g.mapping(col+2+g.r.IntN(2), depth+1, true)
		default:
			if !strings.HasSuffix(g.sb.String(), " ") {
				g.sb.WriteByte(' ')
			}
			g.scalar(col)
		}
	}
}

// TestFastYAMLGenerated compares both parsers on many generated
// documents that are mostly valid YAML.
func TestFastYAMLGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	fast := 0
	const n = 20000
	for range n {
		g := gen{r: r}
		if r.IntN(4) == 0 {
			g.sb.WriteString(g.pick("---\n", "--- # c\n", "# head\n"))
		}
		if r.IntN(3) == 0 {
			g.sequence(0, 0, false)
		} else {
			g.mapping(r.IntN(2), 0, false)
		}
		if checkFast(t, []byte(g.sb.String())) {
			fast++
		}
	}
	t.Logf("%d of %d generated documents took the fast path", fast, n)
	if fast < n/3 {
		t.Errorf("only %d of %d generated documents took the fast path", fast, n)
	}
}

// TestFastYAMLRandom compares both parsers on many generated documents.
func TestFastYAMLRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	fast := 0
	const n = 50000
	for range n {
		if checkFast(t, []byte(randomYAML(r))) {
			fast++
		}
	}
	t.Logf("%d of %d generated documents took the fast path", fast, n)
	if fast < n/50 {
		t.Errorf("only %d of %d generated documents took the fast path", fast, n)
	}
}

// FuzzFastYAML checks differentially that whatever the fast parser accepts,
// yaml.v3 accepts too, with the same tree.
func FuzzFastYAML(f *testing.F) {
	for _, src := range slsFixtures(f) {
		f.Add(src)
	}
	for _, tt := range fastCases {
		f.Add([]byte(tt.src))
	}
	f.Add(benchSLS(3))
	r := rand.New(rand.NewPCG(5, 6))
	for range 100 {
		g := gen{r: r}
		g.mapping(0, 0, false)
		f.Add([]byte(g.sb.String()))
		f.Add([]byte(randomYAML(r)))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkFast(t, src)
	})
}

func BenchmarkParseFast(b *testing.B) {
	src := benchSLS(1000)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := parseFast(src); !ok {
			b.Fatal("fast path not taken")
		}
	}
}

func TestYAMLLine(t *testing.T) {
	tests := []struct {
		in   string
		line int
		msg  string
		ok   bool
	}{
		{"yaml: line 3: did not find expected key", 3, "did not find expected key", true},
		{"yaml: line 12: mapping values are not allowed in this context", 12, "mapping values are not allowed in this context", true},
		{"yaml: line 3: a: b", 3, "a: b", true},
		{"yaml: unmarshal errors:\n  line 1: x", 0, "", false},
		{"yaml: line x: y", 0, "", false},
		{"yaml: line : y", 0, "", false},
		{"yaml: line +3: y", 0, "", false},
		{"yaml: line 3: two\nlines", 0, "", false},
		{"yaml: control characters are not allowed", 0, "", false},
	}
	for _, tt := range tests {
		line, msg, ok := yamlLine(tt.in)
		if line != tt.line || msg != tt.msg || ok != tt.ok {
			t.Errorf("yamlLine(%q) = %d, %q, %v; want %d, %q, %v", tt.in, line, msg, ok, tt.line, tt.msg, tt.ok)
		}
	}
}
