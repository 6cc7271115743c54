package jinja

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Default per-render limits, used when the Options field is zero or negative.
const (
	// DefaultMaxOutputBytes bounds the text one render produces.
	DefaultMaxOutputBytes = 16 << 20
	// DefaultMaxSteps bounds the loop iterations, macro calls, imports and
	// includes of one render.
	DefaultMaxSteps = 1_000_000
	// DefaultMaxRenderTime bounds the wall time of one render.
	DefaultMaxRenderTime = 30 * time.Second
)

// Names of the limits, as LimitError.Limit gives them: the master
// configuration keys that set them.
const (
	LimitOutput = "jinja_max_output_bytes"
	LimitSteps  = "jinja_max_steps"
	LimitTime   = "jinja_max_render_time"
)

// LimitError is a render stopped by one of its limits.
type LimitError struct {
	Limit string // LimitOutput, LimitSteps or LimitTime
	Max   int64  // the limit's value (bytes, steps or nanoseconds)
	What  string // what went over it
}

// Error says what went over which limit and how to raise it.
func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitOutput:
		return fmt.Sprintf("%s, over the render output limit of %d bytes (raise %s)", e.What, e.Max, e.Limit)
	case LimitSteps:
		return fmt.Sprintf("%s, over the limit of %d loop iterations, macro calls and includes per render (raise %s)", e.What, e.Max, e.Limit)
	default:
		return fmt.Sprintf("%s: render took longer than %s (raise %s)", e.What, time.Duration(e.Max), e.Limit)
	}
}

// limits are an Env's resolved per-render limits.
type limits struct {
	maxOut   int
	maxSteps int
	maxTime  time.Duration
}

// resolveLimits applies the defaults to opts.
func resolveLimits(opts Options) limits {
	l := limits{maxOut: opts.MaxOutputBytes, maxSteps: opts.MaxSteps, maxTime: opts.MaxRenderTime}
	if l.maxOut <= 0 {
		l.maxOut = DefaultMaxOutputBytes
	}
	if l.maxSteps <= 0 {
		l.maxSteps = DefaultMaxSteps
	}
	if l.maxTime <= 0 {
		l.maxTime = DefaultMaxRenderTime
	}
	return l
}

// tooBig is the error for a value of n bytes built by what.
func (l limits) tooBig(what string, n int) error {
	return &LimitError{Limit: LimitOutput, Max: int64(l.maxOut), What: fmt.Sprintf("%s would make %d bytes", what, n)}
}

// check fails when a value of n bytes built by what is over the output limit.
func (l limits) check(what string, n int) error {
	if n < 0 || n > l.maxOut {
		return l.tooBig(what, n)
	}
	return nil
}

// step counts one unit of work (a loop iteration, a macro call, an import
// or include) and literal bytes of text it writes, and stops the render
// when its context is done or a limit is reached.
func (s *renderState) step(what string, literal int) error {
	if s.ctx.Err() != nil {
		return s.fail(s.stopped(what))
	}
	s.steps++
	if s.steps > s.lim.maxSteps {
		return s.fail(&LimitError{Limit: LimitSteps, Max: int64(s.lim.maxSteps), What: what + ": too many steps"})
	}
	return s.charge(what, literal)
}

// stopped is the error for a render whose context is done: the time limit
// when the render's own timer fired, else the caller's cancellation.
func (s *renderState) stopped(what string) error {
	if cause := context.Cause(s.ctx); cause != nil {
		if le, ok := cause.(*LimitError); ok {
			return &LimitError{Limit: le.Limit, Max: le.Max, What: what}
		}
		return fmt.Errorf("%s: render stopped: %w", what, cause)
	}
	return fmt.Errorf("%s: render stopped", what)
}

// charge adds n bytes to the text the render has produced so far, counted
// where it is produced (loop bodies, macro bodies, expressions).
func (s *renderState) charge(what string, n int) error {
	s.emitted += n
	if s.emitted > s.lim.maxOut {
		return s.fail(s.lim.tooBig(what, s.emitted))
	}
	return nil
}

// Names of the guard functions instrument calls from templates.
const (
	opFunc   = "__brine_op"
	emitFunc = "__brine_emit"
	iterFunc = "__brine_iter"
)

// guardGlobals are the functions instrument's rewritten nodes call.
func guardGlobals() map[string]any {
	return map[string]any{opFunc: guardOp, emitFunc: guardEmit, iterFunc: guardIter}
}

// guardOp evaluates `left op right` for +, * and ~ as gonja does, but checks
// the size of strings and lists before building them.
func guardOp(e *exec.Evaluator, va *exec.VarArgs) *exec.Value {
	st, err := stateOf(e.Environment.Context)
	if err != nil || len(va.Args) != 3 {
		return exec.AsValue(fmt.Errorf("internal error: bad guarded operation"))
	}
	op, left, right := va.Args[0].String(), va.Args[1], va.Args[2]
	switch op {
	case "~":
		n := len(left.String()) + len(right.String())
		if err := st.lim.check(fmt.Sprintf("'~' joining %d and %d bytes", len(left.String()), len(right.String())), n); err != nil {
			return exec.AsValue(st.fail(err))
		}
		return exec.AsValue(left.String() + right.String())
	case "+":
		if left.IsList() {
			if !right.IsList() {
				return exec.AsValue(fmt.Errorf("unable to concatenate list to %s", right.String()))
			}
			l, r := left.Len(), right.Len()
			if err := st.step(fmt.Sprintf("'+' concatenating lists of %d and %d items", l, r), 0); err != nil {
				return exec.AsValue(err)
			}
			if st.steps += l + r; st.steps > st.lim.maxSteps {
				return exec.AsValue(st.fail(&LimitError{Limit: LimitSteps, Max: int64(st.lim.maxSteps),
					What: fmt.Sprintf("'+' concatenating lists of %d and %d items", l, r)}))
			}
			out := make([]any, 0, l+r)
			for _, v := range []*exec.Value{left, right} {
				v.Iterate(func(_, _ int, key, _ *exec.Value) bool {
					out = append(out, key.Interface())
					return true
				}, func() {})
			}
			return exec.AsValue(out)
		}
		if left.IsFloat() || right.IsFloat() {
			return exec.AsValue(left.Float() + right.Float())
		}
		if left.IsString() || right.IsString() {
			ls, rs := left.String(), right.String()
			if err := st.lim.check(fmt.Sprintf("'+' joining %d and %d bytes", len(ls), len(rs)), len(ls)+len(rs)); err != nil {
				return exec.AsValue(st.fail(err))
			}
			return exec.AsValue(ls + rs)
		}
		return exec.AsValue(left.Integer() + right.Integer())
	default: // "*"
		if left.IsFloat() || right.IsFloat() {
			return exec.AsValue(left.Float() * right.Float())
		}
		if left.IsString() {
			s, n := left.String(), right.Integer()
			if n <= 0 || s == "" {
				return exec.AsValue("")
			}
			if n > st.lim.maxOut/len(s) {
				return exec.AsValue(st.fail(&LimitError{Limit: LimitOutput, Max: int64(st.lim.maxOut),
					What: fmt.Sprintf("'*' repeating %d bytes %d times", len(s), n)}))
			}
			return exec.AsValue(strings.Repeat(s, n))
		}
		return exec.AsValue(left.Integer() * right.Integer())
	}
}

// guardEmit counts a {{ expression }}'s text towards the output limit and
// passes the value through.
func guardEmit(e *exec.Evaluator, va *exec.VarArgs) *exec.Value {
	st, err := stateOf(e.Environment.Context)
	if err != nil || len(va.Args) != 1 {
		return exec.AsValue(fmt.Errorf("internal error: bad guarded output"))
	}
	v := va.Args[0]
	if v.IsString() {
		if err := st.charge("{{ ... }}", len(v.String())); err != nil {
			return exec.AsValue(err)
		}
	}
	return v
}

// guardIter refuses a {% for %} over more items than the render has steps
// left, before the loop copies them, and passes the value through.
func guardIter(e *exec.Evaluator, va *exec.VarArgs) *exec.Value {
	st, err := stateOf(e.Environment.Context)
	if err != nil || len(va.Args) != 1 {
		return exec.AsValue(fmt.Errorf("internal error: bad guarded loop"))
	}
	v := va.Args[0]
	n := 0
	switch {
	case v.IsString():
		n = utf8.RuneCountInString(v.String())
	case v.IsList() || v.IsDict():
		n = v.Len()
	}
	if left := st.lim.maxSteps - st.steps; n > left {
		return exec.AsValue(st.fail(&LimitError{Limit: LimitSteps, Max: int64(st.lim.maxSteps),
			What: fmt.Sprintf("for: loop over %d items with %d steps left", n, left)}))
	}
	return v
}

// tickTag is a node instrument puts first in every loop and macro body: it
// counts a step and the body's literal text, and stops a cancelled render.
type tickTag struct {
	loc     *tokens.Token
	what    string // "for loop at line 3"
	literal int    // bytes of template text in the body
}

// Position is where the loop or macro starts.
func (t *tickTag) Position() *tokens.Token { return t.loc }

// String names the tick for gonja's messages.
func (t *tickTag) String() string { return t.what }

// Execute counts one step.
func (t *tickTag) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	st, err := stateOf(r.Environment.Context)
	if err != nil {
		return err
	}
	return st.step(t.what, t.literal)
}

// instrument rewrites a parsed template once, before any render uses it, so
// that its renders stay within their limits: +, * and ~ go through guardOp,
// {{ }} through guardEmit, for loops through guardIter, and every loop and
// macro body starts with a tickTag.
func instrument(t *exec.Template) {
	root := reflect.ValueOf(t).Elem().FieldByName("root")
	if !root.IsValid() {
		return
	}
	w := &walker{seen: map[unsafe.Pointer]bool{}}
	w.walk(exposed(root))
}

// exposed returns a settable view of an addressable struct field, exported
// or not.
func exposed(f reflect.Value) reflect.Value {
	if f.CanSet() || !f.CanAddr() {
		return f
	}
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
}

// walker visits every node reachable from a template root once.
type walker struct {
	seen map[unsafe.Pointer]bool
}

var (
	tokenType = reflect.TypeFor[*tokens.Token]()
	envType   = reflect.TypeFor[*Env]()
	fileType  = reflect.TypeFor[*file]()
	exprType  = reflect.TypeFor[nodes.Expression]()
)

// walk instruments v and everything under it, replacing guarded binary
// expressions in place where v is settable.
func (w *walker) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		w.walk(v.Elem())
		if b, ok := v.Elem().Interface().(*nodes.BinaryExpression); ok && v.CanSet() && v.Type().Implements(exprType) {
			if c := guardBinary(b); c != nil && reflect.TypeOf(c).AssignableTo(v.Type()) {
				v.Set(reflect.ValueOf(c))
			}
		}
	case reflect.Pointer:
		if v.IsNil() || v.Type() == tokenType || v.Type() == envType || v.Type() == fileType {
			return
		}
		p := v.UnsafePointer()
		if w.seen[p] {
			return
		}
		w.seen[p] = true
		w.walk(v.Elem())
		if v.CanInterface() {
			w.after(v.Interface())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			w.walk(exposed(v.Field(i)))
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			w.walk(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		it := v.MapRange()
		for it.Next() {
			e := reflect.New(it.Value().Type()).Elem()
			e.Set(it.Value())
			w.walk(e)
			if v.CanSet() {
				v.SetMapIndex(it.Key(), e)
			}
		}
	}
}

// after instruments a node whose children are done.
func (w *walker) after(n any) {
	switch x := n.(type) {
	case *nodes.Output:
		x.Expression = guardCall(emitFunc, x.Expression)
		if x.Alternative != nil {
			x.Alternative = guardCall(emitFunc, x.Alternative)
		}
	case *controlStructures.ForControlStructure:
		x.ObjectEvaluator = guardCall(iterFunc, x.ObjectEvaluator)
		prependTick(x.BodyWrapper, x.ObjectEvaluator.Position(), "for loop")
	case *nodes.Macro:
		prependTick(x.Wrapper, x.Location, "macro "+x.Name)
	}
}

// guardBinary returns the call replacing b when b is +, * or ~.
func guardBinary(b *nodes.BinaryExpression) nodes.Expression {
	switch b.Operator.Token.Type {
	case tokens.Addition, tokens.Multiply, tokens.Tilde:
	default:
		return nil
	}
	loc := b.Position()
	op := &nodes.String{Location: b.Operator.Token, Val: b.Operator.Token.Val}
	return &nodes.Call{Location: loc, Func: &nodes.Name{Name: &tokens.Token{Type: tokens.Name, Val: opFunc, Line: loc.Line, Col: loc.Col}},
		Args: []nodes.Expression{op, b.Left, b.Right}}
}

// guardCall wraps expr in a call to the guard function fn, once.
func guardCall(fn string, expr nodes.Expression) nodes.Expression {
	if expr == nil {
		return nil
	}
	if c, ok := expr.(*nodes.Call); ok {
		if n, ok := c.Func.(*nodes.Name); ok && n.Name.Val == fn {
			return expr
		}
	}
	loc := expr.Position()
	return &nodes.Call{Location: loc, Func: &nodes.Name{Name: &tokens.Token{Type: tokens.Name, Val: fn, Line: loc.Line, Col: loc.Col}},
		Args: []nodes.Expression{expr}}
}

// prependTick puts a tickTag first in body, once; loc is where the loop
// or macro is.
func prependTick(body *nodes.Wrapper, loc *tokens.Token, what string) {
	if body == nil {
		return
	}
	if loc == nil {
		loc = &tokens.Token{}
	}
	if len(body.Nodes) > 0 {
		if b, ok := body.Nodes[0].(*nodes.ControlStructureBlock); ok {
			if _, ok := b.ControlStructure.(*tickTag); ok {
				return
			}
		}
	}
	tick := &tickTag{loc: loc, what: fmt.Sprintf("%s at line %d", what, loc.Line), literal: literalBytes(reflect.ValueOf(body), map[unsafe.Pointer]bool{})}
	block := &nodes.ControlStructureBlock{Location: loc, Name: "brine_tick", ControlStructure: tick}
	body.Nodes = append([]nodes.Node{block}, body.Nodes...)
}

// literalBytes is the template text under v, nested tags included: an
// upper bound of the literal text one pass over a body writes.
func literalBytes(v reflect.Value, seen map[unsafe.Pointer]bool) int {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			return literalBytes(v.Elem(), seen)
		}
	case reflect.Pointer:
		if v.IsNil() || v.Type() == tokenType || v.Type() == envType || v.Type() == fileType || seen[v.UnsafePointer()] {
			return 0
		}
		seen[v.UnsafePointer()] = true
		if v.Type() == reflect.TypeFor[*nodes.Data]() {
			if d := (*nodes.Data)(v.UnsafePointer()); d.Data != nil {
				return len(d.Data.Val)
			}
			return 0
		}
		return literalBytes(v.Elem(), seen)
	case reflect.Struct:
		n := 0
		for i := range v.NumField() {
			n += literalBytes(v.Field(i), seen)
		}
		return n
	case reflect.Slice, reflect.Array:
		n := 0
		for i := range v.Len() {
			n += literalBytes(v.Index(i), seen)
		}
		return n
	case reflect.Map:
		n := 0
		it := v.MapRange()
		for it.Next() {
			n += literalBytes(it.Value(), seen)
		}
		return n
	}
	return 0
}

// sizeFunc estimates, before a filter or method runs, the bytes of the
// string it would build; ok is false when it cannot tell.
type sizeFunc func(in string, va *exec.VarArgs) (n int, ok bool)

// guardFilters replaces, in fs (an Env's own set), the filters that build
// strings by versions that check the size against l: before building where
// the size can be told from the arguments, after otherwise.
func guardFilters(fs *exec.FilterSet, l limits) *exec.FilterSet {
	pre := map[string]sizeFunc{ // join and list are estimated below
		"replace": replaceSize,
		"center":  widthSize("width"),
		"indent":  indentSize,
	}
	for _, name := range []string{"join", "replace", "center", "indent", "list", "format", "wordwrap", "json", "yaml", "yaml_encode", "tojson"} {
		inner, ok := fs.Get(name)
		if !ok {
			continue
		}
		size := pre[name]
		_ = fs.Replace(name, func(e *exec.Evaluator, in *exec.Value, va *exec.VarArgs) *exec.Value {
			what := "filter " + name
			n, known := 0, false
			switch {
			case name == "join":
				sep := ""
				if d, ok := va.KwArgs["d"]; ok {
					sep = d.String()
				} else if len(va.Args) > 0 {
					sep = va.Args[0].String()
				}
				n, known = joinSize(in, sep)
			case name == "list" && in.IsString():
				// a list of one-character strings costs about 32 bytes an item
				n, known = 32*utf8.RuneCountInString(in.String()), true
			case size != nil && in.IsString():
				n, known = size(in.String(), va)
			}
			if known {
				if err := l.check(what, n); err != nil {
					return exec.AsValue(failIn(e, err))
				}
			}
			out := inner(e, in, va)
			if out.IsString() {
				if err := l.check(what, len(out.String())); err != nil {
					return exec.AsValue(failIn(e, err))
				}
			}
			return out
		})
	}
	return fs
}

// failIn records err as the failure of the render e belongs to.
func failIn(e *exec.Evaluator, err error) error {
	if st, stErr := stateOf(e.Environment.Context); stErr == nil {
		return st.fail(err)
	}
	return err
}

// joinSize is the length of in's items joined with sep.
func joinSize(in *exec.Value, sep string) (int, bool) {
	if in.IsString() {
		s := in.String()
		return len(s) + utf8.RuneCountInString(s)*len(sep), true
	}
	if !in.IsList() {
		return 0, false
	}
	n, items := 0, 0
	in.Iterate(func(_, _ int, key, _ *exec.Value) bool {
		n += len(key.String())
		items++
		return true
	}, func() {})
	if items > 0 {
		n += (items - 1) * len(sep)
	}
	return n, true
}

// replaceSize bounds replace(old, new)'s result: every old replaced.
func replaceSize(in string, va *exec.VarArgs) (int, bool) {
	if len(va.Args) < 2 {
		return 0, false
	}
	old, repl := va.Args[0].String(), va.Args[1].String()
	count := utf8.RuneCountInString(in) + 1
	if old != "" {
		count = strings.Count(in, old)
	}
	if len(repl) <= len(old) {
		return len(in), true
	}
	return len(in) + count*(len(repl)-len(old)), true
}

// widthSize bounds a padding filter or method by its width argument.
func widthSize(kw string) sizeFunc {
	return func(in string, va *exec.VarArgs) (int, bool) {
		w, ok := va.KwArgs[kw]
		if !ok && len(va.Args) > 0 {
			w, ok = va.Args[0], true
		}
		if !ok || !w.IsInteger() {
			return 0, false
		}
		return max(w.Integer(), len(in)), true
	}
}

// indentSize bounds indent(width): every line indented.
func indentSize(in string, va *exec.VarArgs) (int, bool) {
	w, ok := va.KwArgs["width"]
	if !ok && len(va.Args) > 0 {
		w, ok = va.Args[0], true
	}
	if !ok {
		return len(in) + 4*(strings.Count(in, "\n")+1), true
	}
	per := len(w.String())
	if w.IsInteger() {
		per = max(w.Integer(), 0)
	}
	lines := strings.Count(in, "\n") + 1
	if per > 0 && lines > (1<<62)/per {
		return -1, true
	}
	return len(in) + per*lines, true
}

// strMethodMap returns a copy of gonja's string methods.
func strMethodMap(set *exec.MethodSet[string]) map[string]exec.Method[string] {
	all := map[string]exec.Method[string]{}
	src := exposed(reflect.ValueOf(set).Elem().FieldByName("methods"))
	if src.IsValid() && src.Kind() == reflect.Map {
		it := src.MapRange()
		for it.Next() {
			if fn, ok := it.Value().Interface().(exec.Method[string]); ok {
				all[it.Key().String()] = fn
			}
		}
	}
	return all
}

// strSizes estimate the result of the string methods that build strings.
var strSizes = map[string]sizeFunc{
	"center": widthSize("width"), "ljust": widthSize("width"), "rjust": widthSize("width"), "zfill": widthSize("width"),
	"replace": replaceSize,
	"join": func(in string, va *exec.VarArgs) (int, bool) {
		if len(va.Args) != 1 {
			return 0, false
		}
		return joinSize(va.Args[0], in)
	},
	"expandtabs": func(in string, va *exec.VarArgs) (int, bool) {
		tab := 8
		if len(va.Args) > 0 && va.Args[0].IsInteger() {
			tab = max(va.Args[0].Integer(), 0)
		}
		tabs := strings.Count(in, "\t")
		if tab > 0 && tabs > (1<<62)/tab {
			return -1, true
		}
		return len(in) + tabs*tab, true
	},
	"format": func(string, *exec.VarArgs) (int, bool) { return 0, false },
}

// strMethods returns base (gonja's string methods) for one render, with
// the methods in strSizes checking the size of what they build against the
// render's output limit: before building where the size can be told from
// the arguments, after otherwise.
func strMethods(base map[string]exec.Method[string], st *renderState) *exec.MethodSet[string] {
	all := make(map[string]exec.Method[string], len(base))
	for name, fn := range base {
		size, guarded := strSizes[name]
		if !guarded {
			all[name] = fn
			continue
		}
		all[name] = func(self string, sv *exec.Value, va *exec.VarArgs) (any, error) {
			what := "str." + name + "()"
			if n, ok := size(self, va); ok {
				if err := st.lim.check(what, n); err != nil {
					return nil, st.fail(err)
				}
			}
			out, err := fn(self, sv, va)
			if s, ok := out.(string); ok && err == nil {
				if err := st.lim.check(what, len(s)); err != nil {
					return nil, st.fail(err)
				}
			}
			return out, err
		}
	}
	return exec.NewMethodSet(all)
}
