package jinja

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unsafe"

	"github.com/brinecm/brine/pkg/dict"
	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// stateKey is the context variable that carries the current render's state
// to brine's tags.
const stateKey = "__brine_render__"

// renderState is what one Render call shares with its tags and functions.
type renderState struct {
	env     *Env // the Env rendering: its loader, file cache and limits
	ctx     context.Context
	lim     limits
	methods exec.Methods  // the Env's methods, string methods bounded by lim
	base    *exec.Context // globals and the caller's vars, without template locals
	depth   int           // nesting of imports, includes and macro calls
	steps   int           // loop iterations, macro calls, imports and includes so far
	emitted int           // bytes of text produced so far, wherever they went
	cause   error         // first failure raised by brine's own functions
}

// fail records err as the render's cause of failure, unless one is
// recorded already, and returns it. gonja flattens some errors into
// strings; the recorded cause gives the error message back its meaning.
func (s *renderState) fail(err error) error {
	if s.cause == nil {
		s.cause = err
	}
	return err
}

// enter counts one more level of nesting, failing past maxDepth, and one
// step of the render.
func (s *renderState) enter(what string) error {
	if err := s.step(what, 0); err != nil {
		return err
	}
	if s.depth >= maxDepth {
		return s.fail(fmt.Errorf("%s: nesting deeper than %d levels (recursive template?)", what, maxDepth))
	}
	s.depth++
	return nil
}

// leave undoes enter.
func (s *renderState) leave() { s.depth-- }

// stateOf returns the render state visible from r.
func stateOf(ctx *exec.Context) (*renderState, error) {
	v, _ := ctx.Get(stateKey)
	st, ok := v.(*renderState)
	if !ok {
		return nil, errors.New("no render state in template context")
	}
	return st, nil
}

// saltDict is a top-level mapping from the vars (grains, pillar, ...). It
// behaves as a plain dict, and its get method walks colon-delimited keys as
// Salt's grains.get and pillar.get do: pillar.get('web:port', 80).
type saltDict map[string]any

// GetAttribute serves get, items, keys and values without copying the map;
// any other name falls through to item lookup.
func (d saltDict) GetAttribute(name string) (*exec.Value, bool) {
	switch name {
	case "get":
		return exec.AsValue(d.get), true
	case "items":
		return exec.AsValue(func(va *exec.VarArgs) (any, error) {
			if err := va.Take(); err != nil {
				return nil, err
			}
			keys := sortedKeys(d)
			out := make([]any, len(keys))
			for i, k := range keys {
				out[i] = []any{k, d[k]}
			}
			return out, nil
		}), true
	case "keys":
		return exec.AsValue(func(va *exec.VarArgs) (any, error) {
			if err := va.Take(); err != nil {
				return nil, err
			}
			keys := sortedKeys(d)
			out := make([]any, len(keys))
			for i, k := range keys {
				out[i] = k
			}
			return out, nil
		}), true
	case "values":
		return exec.AsValue(func(va *exec.VarArgs) (any, error) {
			if err := va.Take(); err != nil {
				return nil, err
			}
			keys := sortedKeys(d)
			out := make([]any, len(keys))
			for i, k := range keys {
				out[i] = d[k]
			}
			return out, nil
		}), true
	}
	return exec.AsValue(nil), false
}

// get implements d.get(key, default=None, delimiter=':').
func (d saltDict) get(va *exec.VarArgs) (any, error) {
	var (
		key   string
		def   *exec.Value
		delim string
	)
	err := va.Take(
		exec.PositionalArgument("key", nil, exec.StringArgument(&key)),
		exec.KeywordArgument("default", exec.AsValue(nil), func(v *exec.Value) error { def = v; return nil }),
		exec.KeywordArgument("delimiter", exec.AsValue(dict.DefaultDelimiter), exec.StringArgument(&delim)),
	)
	if err != nil {
		return nil, fmt.Errorf("get(): %w", err)
	}
	if v, ok := dict.Traverse(d, key, delim); ok {
		return v, nil
	}
	return def.Interface(), nil
}

// saltFuncs is the `salt` variable: salt['mod.fun'](...) and salt.mod.fun(...)
// run Options.Call with the render's context.
type saltFuncs struct {
	state *renderState
	call  CallFunc
}

// GetItem returns the function named key ("mod.fun").
func (s *saltFuncs) GetItem(key any) (*exec.Value, bool) {
	name, ok := key.(string)
	if !ok || !strings.Contains(name, ".") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
		err := fmt.Errorf("salt[%q]: function names have the form 'module.function'", fmt.Sprint(key))
		return exec.AsValue(func(*exec.VarArgs) (any, error) { return nil, s.state.fail(err) }), true
	}
	return exec.AsValue(s.fn(name)), true
}

// GetAttribute returns the module called name, for salt.mod.fun(...).
func (s *saltFuncs) GetAttribute(name string) (*exec.Value, bool) {
	return exec.AsValue(saltModule{funcs: s, name: name}), true
}

// fn returns the template-callable function for the salt function name.
func (s *saltFuncs) fn(name string) func(*exec.VarArgs) (any, error) {
	return func(va *exec.VarArgs) (any, error) {
		if s.call == nil {
			return nil, s.state.fail(fmt.Errorf("salt['%s']: salt functions are not available here", name))
		}
		if err := s.state.ctx.Err(); err != nil {
			return nil, s.state.fail(fmt.Errorf("salt['%s']: %w", name, err))
		}
		args := make([]any, len(va.Args))
		for i, a := range va.Args {
			args[i] = plain(a)
		}
		kwargs := make(map[string]any, len(va.KwArgs))
		for k, v := range va.KwArgs {
			kwargs[k] = plain(v)
		}
		out, err := s.call(s.state.ctx, name, args, kwargs)
		if err != nil {
			return nil, s.state.fail(fmt.Errorf("salt['%s']: %w", name, err))
		}
		return out, nil
	}
}

// saltModule is `salt.mod`, whose attributes are the module's functions.
type saltModule struct {
	funcs *saltFuncs
	name  string
}

// GetAttribute returns the function mod.name.
func (m saltModule) GetAttribute(name string) (*exec.Value, bool) {
	return exec.AsValue(m.funcs.fn(m.name + "." + name)), true
}

// plain converts a template value to plain Go data: map[string]any, []any,
// strings, numbers, bools and nil.
func plain(v *exec.Value) any {
	switch x := v.Interface().(type) {
	case saltDict:
		return map[string]any(x)
	case map[string]any, string, bool, int, int64, float64, nil:
		return x
	}
	return v.ToGoSimpleType(false)
}

// maxRange bounds range(), as Jinja's sandbox does, so a typo cannot make
// a render loop for hours.
const maxRange = 100000

// rangeFunc is Python's range(stop) / range(start, stop[, step]) as a list.
func rangeFunc(va *exec.VarArgs) ([]int, error) {
	if len(va.KwArgs) > 0 || len(va.Args) < 1 || len(va.Args) > 3 {
		return nil, errors.New("range() takes 1 to 3 integer arguments")
	}
	n := make([]int, len(va.Args))
	for i, a := range va.Args {
		if !a.IsInteger() {
			return nil, fmt.Errorf("range(): %s is not an integer", a.String())
		}
		n[i] = a.Integer()
	}
	start, stop, step := 0, n[0], 1
	if len(n) > 1 {
		start, stop = n[0], n[1]
	}
	if len(n) == 3 {
		step = n[2]
	}
	if step == 0 {
		return nil, errors.New("range(): step must not be zero")
	}
	count := 0
	if step > 0 && stop > start {
		count = (stop - start + step - 1) / step
	} else if step < 0 && stop < start {
		count = (start - stop - step - 1) / -step
	}
	if count > maxRange || count < 0 {
		return nil, fmt.Errorf("range(): more than %d items", maxRange)
	}
	out := make([]int, count)
	for i := range out {
		out[i] = start + i*step
	}
	return out, nil
}

// globals returns the functions and variables every template sees: gonja's
// builtins, a bounded range(), and Salt's raise().
func globals() *exec.Context {
	return exec.EmptyContext().
		Update(builtins.GlobalFunctions).
		Update(builtins.GlobalVariables).
		Update(exec.NewContext(guardGlobals())).
		Update(exec.NewContext(map[string]any{
			"range": rangeFunc,
			"raise": func(e *exec.Evaluator, va *exec.VarArgs) (any, error) {
				err := errors.New(va.First().String())
				if st, stErr := stateOf(e.Environment.Context); stErr == nil {
					st.fail(err)
				}
				return nil, err
			},
		}))
}

// methods returns gonja's methods for template values, with the dict
// methods that modify their dict (update, setdefault, pop, clear) acting on
// the dict itself: gonja's own act on a copy, so
// {% do defaults.update(overrides) %} would change nothing.
func methods() exec.Methods {
	m := builtins.Methods
	dictMethods := map[string]exec.Method[map[string]any]{}
	for _, name := range []string{"keys", "values", "items", "get", "copy"} {
		if fn, ok := m.Dict.Get(name); ok {
			dictMethods[name] = fn
		}
	}
	dictMethods["update"] = dictUpdate
	dictMethods["setdefault"] = dictSetDefault
	dictMethods["pop"] = dictPop
	dictMethods["clear"] = dictClear
	m.Dict = exec.NewMethodSet(dictMethods)
	return m
}

// dictUpdate is dict.update(other, **kwargs).
func dictUpdate(_ map[string]any, self *exec.Value, va *exec.VarArgs) (any, error) {
	if len(va.Args) > 1 {
		return nil, exec.ErrInvalidCall(errors.New("update() takes at most 1 positional argument"))
	}
	var err error
	if len(va.Args) == 1 {
		if !va.Args[0].IsDict() {
			return nil, exec.ErrInvalidCall(fmt.Errorf("update() needs a dict, not %s", va.Args[0].String()))
		}
		va.Args[0].Iterate(func(_, _ int, k, v *exec.Value) bool {
			err = dictSet(self, k.String(), v.Interface())
			return err == nil
		}, func() {})
	}
	for k, v := range va.KwArgs {
		if err == nil {
			err = dictSet(self, k, v.Interface())
		}
	}
	return nil, err
}

// dictSetDefault is dict.setdefault(key, default=None).
func dictSetDefault(_ map[string]any, self *exec.Value, va *exec.VarArgs) (any, error) {
	if len(va.Args) < 1 || len(va.Args) > 2 {
		return nil, exec.ErrInvalidCall(errors.New("setdefault() takes 1 or 2 positional arguments"))
	}
	key := va.Args[0].String()
	if v, ok := self.GetItem(key); ok {
		return v.Interface(), nil
	}
	var def any
	if len(va.Args) == 2 {
		def = va.Args[1].Interface()
	}
	return def, dictSet(self, key, def)
}

// dictPop is dict.pop(key[, default]).
func dictPop(_ map[string]any, self *exec.Value, va *exec.VarArgs) (any, error) {
	if len(va.Args) < 1 || len(va.Args) > 2 {
		return nil, exec.ErrInvalidCall(errors.New("pop() takes 1 or 2 positional arguments"))
	}
	key := va.Args[0].String()
	v, ok := self.GetItem(key)
	if !ok {
		if len(va.Args) == 2 {
			return va.Args[1].Interface(), nil
		}
		return nil, fmt.Errorf("pop(): key %q not found", key)
	}
	return v.Interface(), dictDelete(self, key)
}

// dictClear is dict.clear().
func dictClear(_ map[string]any, self *exec.Value, va *exec.VarArgs) (any, error) {
	if err := va.Take(); err != nil {
		return nil, exec.ErrInvalidCall(err)
	}
	for _, k := range self.Keys() {
		if err := dictDelete(self, k.String()); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// dictSet stores key in the dict behind self: a Go map or a dict literal.
// A dict may not contain itself: printing it would never end.
func dictSet(self *exec.Value, key string, v any) error {
	if reaches(v, reflect.ValueOf(self.Interface()).UnsafePointer(), map[unsafe.Pointer]bool{}) {
		return fmt.Errorf("cannot store %q: a dict cannot contain itself", key)
	}
	if d, ok := self.Interface().(*exec.Dict); ok {
		for _, p := range d.Pairs {
			if p.Key.String() == key {
				p.Value = exec.AsValue(v)
				return nil
			}
		}
		d.Pairs = append(d.Pairs, &exec.Pair{Key: exec.AsValue(key), Value: exec.AsValue(v)})
		return nil
	}
	rv := reflect.ValueOf(self.Interface())
	if rv.Kind() != reflect.Map || rv.IsNil() || rv.Type().Key().Kind() != reflect.String {
		return fmt.Errorf("cannot set %q on %s", key, self.String())
	}
	t := rv.Type()
	val := reflect.Zero(t.Elem())
	if v != nil {
		val = reflect.ValueOf(v)
	}
	if !val.Type().AssignableTo(t.Elem()) {
		return fmt.Errorf("cannot store %T in %s", v, t)
	}
	rv.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), val)
	return nil
}

// reaches reports whether the map or dict at target is reachable from v.
func reaches(v any, target unsafe.Pointer, seen map[unsafe.Pointer]bool) bool {
	if x, ok := v.(*exec.Value); ok {
		if x == nil || !x.Val.IsValid() || !x.Val.CanInterface() {
			return false
		}
		v = x.Interface()
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Pointer:
		if rv.IsNil() {
			return false
		}
		p := rv.UnsafePointer()
		if p == target {
			return true
		}
		if seen[p] {
			return false
		}
		seen[p] = true
		if d, ok := v.(*exec.Dict); ok {
			for _, pair := range d.Pairs {
				if reaches(pair.Value, target, seen) {
					return true
				}
			}
			return false
		}
		if rv.Kind() == reflect.Map {
			it := rv.MapRange()
			for it.Next() {
				if it.Value().CanInterface() && reaches(it.Value().Interface(), target, seen) {
					return true
				}
			}
		}
	case reflect.Slice:
		if rv.IsNil() || rv.Len() == 0 {
			return false
		}
		p := rv.UnsafePointer()
		if seen[p] {
			return false
		}
		seen[p] = true
		fallthrough
	case reflect.Array:
		for i := range rv.Len() {
			if e := rv.Index(i); e.CanInterface() && reaches(e.Interface(), target, seen) {
				return true
			}
		}
	}
	return false
}

// dictDelete removes key from the dict behind self.
func dictDelete(self *exec.Value, key string) error {
	if d, ok := self.Interface().(*exec.Dict); ok {
		d.Pairs = slices.DeleteFunc(d.Pairs, func(p *exec.Pair) bool { return p.Key.String() == key })
		return nil
	}
	rv := reflect.ValueOf(self.Interface())
	if rv.Kind() != reflect.Map || rv.IsNil() || rv.Type().Key().Kind() != reflect.String {
		return fmt.Errorf("cannot delete %q from %s", key, self.String())
	}
	rv.SetMapIndex(reflect.ValueOf(key).Convert(rv.Type().Key()), reflect.Value{})
	return nil
}
