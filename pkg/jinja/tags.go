package jinja

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/nikolalohinski/gonja/v2/builtins"
	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
	"gopkg.in/yaml.v3"
)

// tagSet returns gonja's tags with import, from and include
// replaced by cached, state-tree-aware versions, macros guarded against
// runaway recursion, and Salt's import_yaml, import_json and import_text.
// The tags hold no Env: at render time they take the rendering Env from the
// render state, so a parsed template can be shared between Envs.
func tagSet() *exec.ControlStructureSet {
	own := map[string]parser.ControlStructureParser{
		"import":      parseImport,
		"from":        parseFrom,
		"include":     parseInclude,
		"import_yaml": parseData("yaml"),
		"import_json": parseData("json"),
		"import_text": parseData("text"),
	}
	if macro, ok := builtins.ControlStructures.Get("macro"); ok {
		own["macro"] = guardMacro(macro)
	}
	all := map[string]parser.ControlStructureParser{}
	for _, name := range gonjaTags {
		if p, ok := builtins.ControlStructures.Get(name); ok {
			all[name] = located(p)
		}
	}
	for name, p := range own {
		all[name] = located(p)
	}
	return exec.NewControlStructureSet(all)
}

// gonjaTags are the gonja tags brine offers.
var gonjaTags = []string{
	"autoescape", "block", "break", "call", "continue", "do", "extends", "filter", "for",
	"if", "macro", "raw", "set", "trans", "with",
}

// located gives a tag's parse errors the tag's line when gonja gives none.
func located(inner parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		tok := p.Current()
		cs, err := inner(p, args)
		if err == nil || tok == nil {
			return cs, err
		}
		var se *parser.SyntaxError
		if !errors.As(err, &se) {
			return nil, &parser.SyntaxError{Message: err.Error(), Line: tok.Line, Column: tok.Col}
		}
		if se.Line == 0 {
			return nil, &parser.SyntaxError{Message: se.Message, Raw: se.Raw, Line: tok.Line, Column: tok.Col}
		}
		return nil, err
	}
}

// withContext parses an optional trailing "with context" / "without
// context", returning def when absent.
func withContext(args *parser.Parser, def bool) bool {
	if tok := args.MatchName("with", "without"); tok != nil {
		if args.MatchName("context") != nil {
			return tok.Val == "with"
		}
		args.Stream().Backup()
	}
	return def
}

// importTag is {% import 'x' as x %} and {% from 'x' import a, b as c %}.
type importTag struct {
	loc         *tokens.Token
	name        nodes.Expression
	as          string      // import: the variable receiving every export
	names       [][2]string // from: (exported name, local name) pairs
	withContext bool
}

func (t *importTag) Position() *tokens.Token { return t.loc }
func (t *importTag) String() string          { return fmt.Sprintf("import (line %d)", t.loc.Line) }

func parseImport(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	t := &importTag{loc: p.Current()}
	if args.End() {
		return nil, args.Error("import needs a template name", nil)
	}
	name, err := args.ParseExpression()
	if err != nil {
		return nil, err
	}
	t.name = name
	if args.MatchName("as") == nil {
		return nil, args.Error(`expected "as"`, args.Current())
	}
	alias := args.Match(tokens.Name)
	if alias == nil {
		return nil, args.Error("expected a variable name after \"as\"", args.Current())
	}
	t.as = alias.Val
	t.withContext = withContext(args, false)
	if !args.End() {
		return nil, args.Error("unexpected text after import", args.Current())
	}
	return t, nil
}

func parseFrom(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	t := &importTag{loc: p.Current()}
	if args.End() {
		return nil, args.Error("from needs a template name", nil)
	}
	name, err := args.ParseExpression()
	if err != nil {
		return nil, err
	}
	t.name = name
	if args.MatchName("import") == nil {
		return nil, args.Error(`expected "import"`, args.Current())
	}
	for !args.End() {
		if args.CurrentName("with", "without") != nil {
			t.withContext = withContext(args, false)
			break
		}
		n := args.Match(tokens.Name)
		if n == nil {
			return nil, args.Error("expected a name to import", args.Current())
		}
		local := n.Val
		if args.MatchName("as") != nil {
			alias := args.Match(tokens.Name)
			if alias == nil {
				return nil, args.Error("expected a variable name after \"as\"", args.Current())
			}
			local = alias.Val
		}
		t.names = append(t.names, [2]string{n.Val, local})
		if args.Match(tokens.Comma) == nil && !args.End() && args.CurrentName("with", "without") == nil {
			return nil, args.Error("expected ','", args.Current())
		}
	}
	if len(t.names) == 0 {
		return nil, args.Error("from ... import needs at least one name", nil)
	}
	if !args.End() {
		return nil, args.Error("unexpected text after import", args.Current())
	}
	return t, nil
}

// Execute renders the imported template and binds its top-level variables
// and macros.
func (t *importTag) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	st, f, tmpl, err := target(r, t.name)
	if err != nil {
		return err
	}
	ctx := st.base.Inherit()
	if t.withContext {
		ctx = r.Environment.Context.Inherit()
	}
	if err := st.enter("import " + f.name); err != nil {
		return err
	}
	defer st.leave()
	var discard bytes.Buffer
	if err := st.env.execute(st, f, tmpl, ctx, &discard); err != nil {
		return toError(f.name, err, st.cause)
	}
	exported := map[string]any{}
	exec.NewContext(exported).Update(ctx)
	delete(exported, "self")

	if t.as != "" {
		r.Environment.Context.Set(t.as, exported)
		return nil
	}
	for _, n := range t.names {
		v, ok := exported[n[0]]
		if !ok {
			return fmt.Errorf("%s does not define %q", f.name, n[0])
		}
		r.Environment.Context.Set(n[1], v)
	}
	return nil
}

// includeTag is {% include 'x' [ignore missing] [with|without context] %}.
type includeTag struct {
	loc           *tokens.Token
	name          nodes.Expression
	ignoreMissing bool
	withContext   bool
}

func (t *includeTag) Position() *tokens.Token { return t.loc }
func (t *includeTag) String() string          { return fmt.Sprintf("include (line %d)", t.loc.Line) }

func parseInclude(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	t := &includeTag{loc: p.Current()}
	if args.End() {
		return nil, args.Error("include needs a template name", nil)
	}
	name, err := args.ParseExpression()
	if err != nil {
		return nil, err
	}
	t.name = name
	if args.MatchName("ignore") != nil {
		if args.MatchName("missing") == nil {
			return nil, args.Error(`expected "missing" after "ignore"`, args.Current())
		}
		t.ignoreMissing = true
	}
	t.withContext = withContext(args, true)
	if !args.End() {
		return nil, args.Error("unexpected text after include", args.Current())
	}
	return t, nil
}

// Execute renders the included template into the current output.
func (t *includeTag) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	st, f, tmpl, err := target(r, t.name)
	if err != nil {
		if t.ignoreMissing && f != nil && f.readErr != nil {
			return nil
		}
		return err
	}
	ctx := st.base.Inherit()
	if t.withContext {
		ctx = r.Environment.Context.Inherit()
	}
	if err := st.enter("include " + f.name); err != nil {
		return err
	}
	defer st.leave()
	var buf bytes.Buffer
	if err := st.env.execute(st, f, tmpl, ctx, &buf); err != nil {
		return toError(f.name, err, st.cause)
	}
	_, err = r.Output.Write(buf.Bytes())
	return err
}

// dataTag is {% import_yaml|import_json|import_text 'x' as v %}: the file is
// rendered as a template when it contains Jinja, then parsed.
type dataTag struct {
	loc    *tokens.Token
	format string
	name   nodes.Expression
	as     string
}

func (t *dataTag) Position() *tokens.Token { return t.loc }
func (t *dataTag) String() string {
	return fmt.Sprintf("import_%s (line %d)", t.format, t.loc.Line)
}

func parseData(format string) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		t := &dataTag{loc: p.Current(), format: format}
		if args.End() {
			return nil, args.Error("import_"+format+" needs a file name", nil)
		}
		name, err := args.ParseExpression()
		if err != nil {
			return nil, err
		}
		t.name = name
		if args.MatchName("as") == nil {
			return nil, args.Error(`expected "as"`, args.Current())
		}
		alias := args.Match(tokens.Name)
		if alias == nil {
			return nil, args.Error("expected a variable name after \"as\"", args.Current())
		}
		t.as = alias.Val
		if !args.End() {
			return nil, args.Error("unexpected text after import_"+format, args.Current())
		}
		return t, nil
	}
}

// Execute loads, renders and parses the file, and binds the result.
func (t *dataTag) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	st, f, err := targetFile(r, t.name)
	if err != nil {
		return err
	}
	src := f.src
	if t.format != "text" && NeedsRender(src) {
		tmpl, err := st.env.parse(f)
		if err != nil {
			return err
		}
		if err := st.enter("import_" + t.format + " " + f.name); err != nil {
			return err
		}
		defer st.leave()
		var buf bytes.Buffer
		if err := st.env.execute(st, f, tmpl, r.Environment.Context.Inherit(), &buf); err != nil {
			return toError(f.name, err, st.cause)
		}
		src = buf.Bytes()
	}
	var v any
	switch t.format {
	case "yaml":
		if err := yaml.Unmarshal(src, &v); err != nil {
			return &Error{Name: f.name, Line: yamlLine(err), Msg: "invalid YAML: " + err.Error()}
		}
		v = normalize(v)
	case "json":
		var err error
		if v, err = loadJSON(src); err != nil {
			return &Error{Name: f.name, Msg: "invalid JSON: " + err.Error()}
		}
	default:
		v = string(src)
	}
	r.Environment.Context.Set(t.as, v)
	return nil
}

// targetFile evaluates a tag's file name expression and loads that file
// through the rendering Env. The returned file is non-nil when the name
// resolved, even if reading failed.
func targetFile(r *exec.Renderer, expr nodes.Expression) (*renderState, *file, error) {
	st, err := stateOf(r.Environment.Context)
	if err != nil {
		return nil, nil, err
	}
	v := r.Eval(expr)
	if v.IsError() {
		return nil, nil, fmt.Errorf("template name: %s", v.Error())
	}
	if !v.IsString() {
		return nil, nil, fmt.Errorf("template name must be a string, not %s", v.String())
	}
	cur := ""
	if l, ok := r.Loader.(*treeLoader); ok && l.file != nil {
		cur = l.file.name
	}
	name, err := resolveName(cur, v.String())
	if err != nil {
		return nil, nil, err
	}
	f, err := st.env.load(name)
	return st, f, err
}

// target is targetFile plus the parsed template.
func target(r *exec.Renderer, expr nodes.Expression) (*renderState, *file, *exec.Template, error) {
	st, f, err := targetFile(r, expr)
	if err != nil {
		return nil, f, nil, err
	}
	tmpl, err := st.env.parse(f)
	if err != nil {
		return nil, f, nil, err
	}
	return st, f, tmpl, nil
}

// guardMacro wraps gonja's macro tag so that each call of the macro counts
// towards the render's nesting limit.
func guardMacro(inner parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		cs, err := inner(p, args)
		if err != nil {
			return nil, err
		}
		m, ok := cs.(*controlStructures.MacroControlStructure)
		if !ok {
			return cs, nil
		}
		return &macroTag{MacroControlStructure: m}, nil
	}
}

// macroTag is a macro definition whose calls are depth-limited.
type macroTag struct {
	*controlStructures.MacroControlStructure
}

// Execute defines the macro, then wraps it with the nesting guard.
func (t *macroTag) Execute(r *exec.Renderer, tag *nodes.ControlStructureBlock) error {
	if err := t.MacroControlStructure.Execute(r, tag); err != nil {
		return err
	}
	st, err := stateOf(r.Environment.Context)
	if err != nil {
		return err
	}
	v, _ := r.Environment.Context.Get(t.Name)
	fn, ok := v.(exec.Macro)
	if !ok {
		return nil
	}
	name := t.Name
	r.Environment.Context.Set(name, exec.Macro(func(va *exec.VarArgs) *exec.Value {
		if err := st.enter("macro " + name); err != nil {
			return exec.AsValue(err)
		}
		defer st.leave()
		return fn(va)
	}))
	return nil
}

// normalize turns YAML's map[any]any (non-string keys) into map[string]any,
// recursively, so templates and callers see one mapping type.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = normalize(e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
