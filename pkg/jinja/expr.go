package jinja

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// eval evaluates an expression in scope sc.
func (f *frame) eval(x expr, sc *scope) (any, error) {
	r := f.r
	switch x := x.(type) {
	case *constExpr:
		return x.v, nil
	case *nameExpr:
		if v, ok := sc.lookup(x.name); ok {
			return v, nil
		}
		return &Undefined{name: x.name}, nil
	case *listExpr:
		l := &List{items: make([]any, len(x.items))}
		for i, e := range x.items {
			v, err := f.eval(e, sc)
			if err != nil {
				return nil, err
			}
			l.items[i] = v
		}
		return l, nil
	case *tupleExpr:
		t := make(Tuple, len(x.items))
		for i, e := range x.items {
			v, err := f.eval(e, sc)
			if err != nil {
				return nil, err
			}
			t[i] = v
		}
		return t, nil
	case *dictExpr:
		d := newDict(len(x.keys))
		for i, ke := range x.keys {
			k, err := f.eval(ke, sc)
			if err != nil {
				return nil, err
			}
			if u, ok := k.(*Undefined); ok {
				return nil, u.err()
			}
			v, err := f.eval(x.vals[i], sc)
			if err != nil {
				return nil, err
			}
			if err := d.Set(k, v); err != nil {
				return nil, err
			}
		}
		return d, nil
	case *attrExpr:
		obj, err := f.eval(x.x, sc)
		if err != nil {
			return nil, err
		}
		return getattr(obj, x.name)
	case *itemExpr:
		obj, err := f.eval(x.x, sc)
		if err != nil {
			return nil, err
		}
		key, err := f.eval(x.key, sc)
		if err != nil {
			return nil, err
		}
		return getitem(obj, key)
	case *sliceExpr:
		return f.slice(x, sc)
	case *callExpr:
		fn, err := f.eval(x.fn, sc)
		if err != nil {
			return nil, err
		}
		args, kw, err := f.args(x, sc)
		if err != nil {
			return nil, err
		}
		return r.call(fn, args, kw)
	case *filterExpr:
		v, err := f.eval(x.x, sc)
		if err != nil {
			return nil, err
		}
		return f.applyFilter(x, v, sc)
	case *testExpr:
		v, err := f.eval(x.x, sc)
		if err != nil {
			return nil, err
		}
		test, ok := tests[x.name]
		if !ok {
			return nil, fmt.Errorf("unknown test '%s'", x.name)
		}
		var (
			args []any
			kw   *Dict
		)
		if x.call != nil {
			if args, kw, err = f.args(x.call, sc); err != nil {
				return nil, err
			}
		}
		if u, ok := v.(*Undefined); ok && !lenient[x.name] {
			return nil, u.err()
		}
		res, err := test(r, v, args, kw)
		if err != nil {
			return nil, fmt.Errorf("test %s: %w", x.name, err)
		}
		return res != x.not, nil
	case *unaryExpr:
		v, err := f.eval(x.x, sc)
		if err != nil {
			return nil, err
		}
		switch x.op {
		case "not":
			t, err := truth(v)
			return !t, err
		case "-":
			switch n := v.(type) {
			case int:
				return -n, nil
			case float64:
				return -n, nil
			case bool:
				if n {
					return -1, nil
				}
				return 0, nil
			case *Undefined:
				return nil, n.err()
			}
			return nil, fmt.Errorf("bad operand type for unary -: '%s'", typeName(v))
		default:
			if n, ok := number(v); ok {
				return n, nil
			}
			if u, ok := v.(*Undefined); ok {
				return nil, u.err()
			}
			return nil, fmt.Errorf("bad operand type for unary +: '%s'", typeName(v))
		}
	case *condExpr:
		t, err := f.eval(x.test, sc)
		if err != nil {
			return nil, err
		}
		ok, err := truth(t)
		if err != nil {
			return nil, err
		}
		if ok {
			return f.eval(x.yes, sc)
		}
		if x.no == nil {
			return &Undefined{name: "the inline if expression evaluated to false and no else section was defined"}, nil
		}
		return f.eval(x.no, sc)
	case *compareExpr:
		left, err := f.eval(x.first, sc)
		if err != nil {
			return nil, err
		}
		for i, op := range x.ops {
			right, err := f.eval(x.rest[i], sc)
			if err != nil {
				return nil, err
			}
			ok, err := compareOp(op, left, right)
			if err != nil || !ok {
				return false, err
			}
			left = right
		}
		return true, nil
	case *binExpr:
		l, err := f.eval(x.l, sc)
		if err != nil {
			return nil, err
		}
		switch x.op {
		case "and", "or":
			t, err := truth(l)
			if err != nil {
				return nil, err
			}
			if t == (x.op == "or") {
				return l, nil
			}
			return f.eval(x.r, sc)
		}
		rv, err := f.eval(x.r, sc)
		if err != nil {
			return nil, err
		}
		return r.binary(x.op, l, rv)
	}
	return nil, fmt.Errorf("unknown expression %T", x)
}

// args evaluates a call's arguments, expanding *args and **kwargs.
func (f *frame) args(c *callExpr, sc *scope) ([]any, *Dict, error) {
	args := make([]any, 0, len(c.args))
	for _, a := range c.args {
		v, err := f.eval(a, sc)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, v)
	}
	kw := newDict(len(c.kwnames))
	for i, n := range c.kwnames {
		v, err := f.eval(c.kwvals[i], sc)
		if err != nil {
			return nil, nil, err
		}
		_ = kw.Set(n, v)
	}
	if c.star != nil {
		v, err := f.eval(c.star, sc)
		if err != nil {
			return nil, nil, err
		}
		its, err := items(v)
		if err != nil {
			return nil, nil, fmt.Errorf("argument after * must be an iterable, not %s", typeName(v))
		}
		args = append(args, its...)
	}
	if c.starstar != nil {
		v, err := f.eval(c.starstar, sc)
		if err != nil {
			return nil, nil, err
		}
		d, ok := v.(*Dict)
		if !ok {
			if u, isU := v.(*Undefined); isU {
				return nil, nil, u.err()
			}
			return nil, nil, fmt.Errorf("argument after ** must be a mapping, not %s", typeName(v))
		}
		for i, k := range d.keys {
			ks, ok := k.(string)
			if !ok {
				return nil, nil, errors.New("keywords must be strings")
			}
			_ = kw.Set(ks, d.vals[i])
		}
	}
	return args, kw, nil
}

// applyFilter runs the filter fl on v.
func (f *frame) applyFilter(fl *filterExpr, v any, sc *scope) (any, error) {
	fn, ok := filters[fl.name]
	if !ok {
		return nil, &unknownFilterError{fl.name}
	}
	var args []any
	kw := newDict(0)
	if fl.call != nil {
		var err error
		if args, kw, err = f.args(fl.call, sc); err != nil {
			return nil, err
		}
	}
	if u, ok := v.(*Undefined); ok && fl.name != "default" && fl.name != "d" {
		return nil, u.err()
	}
	out, err := fn(f.r, v, args, kw)
	if err != nil {
		var le *LimitError
		var ue *undefinedError
		if errors.As(err, &le) || errors.As(err, &ue) || errors.Is(err, f.r.ctx.Err()) && f.r.ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("filter %s: %w", fl.name, err)
	}
	return out, nil
}

// unknownFilterError is a filter name no filter has.
type unknownFilterError struct{ name string }

func (e *unknownFilterError) Error() string { return fmt.Sprintf("unknown filter '%s'", e.name) }

// slice evaluates x[lo:hi:step].
func (f *frame) slice(x *sliceExpr, sc *scope) (any, error) {
	obj, err := f.eval(x.x, sc)
	if err != nil {
		return nil, err
	}
	var b [3]any
	for i, e := range []expr{x.lo, x.hi, x.step} {
		if e == nil {
			continue
		}
		if b[i], err = f.eval(e, sc); err != nil {
			return nil, err
		}
	}
	var seq []any
	var s []rune
	switch o := obj.(type) {
	case *List:
		seq = o.items
	case Tuple:
		seq = o
	case string:
		s = []rune(o)
	case *Undefined:
		return nil, o.err()
	default:
		return nil, fmt.Errorf("'%s' object is not subscriptable", typeName(obj))
	}
	n := len(seq)
	if s != nil {
		n = len(s)
	}
	start, stop, step, err := sliceBounds(b[0], b[1], b[2], n)
	if err != nil {
		return nil, err
	}
	pos := sliceOf(start, stop, step)
	switch obj.(type) {
	case string:
		out := make([]rune, len(pos))
		for i, p := range pos {
			out[i] = s[p]
		}
		return string(out), nil
	case Tuple:
		out := make(Tuple, len(pos))
		for i, p := range pos {
			out[i] = seq[p]
		}
		return out, nil
	}
	out := &List{items: make([]any, len(pos))}
	for i, p := range pos {
		out.items[i] = seq[p]
	}
	return out, nil
}

// getattr is Jinja's obj.name: an attribute (method) first, then an item.
func getattr(obj any, name string) (any, error) {
	switch o := obj.(type) {
	case *Undefined:
		return nil, o.err()
	case *loopObj:
		if v, ok := o.attr(name); ok {
			return v, nil
		}
	case *namespace:
		if v, ok := o.d.Get(name); ok {
			return v, nil
		}
	case *saltFuncs:
		return saltModule{funcs: o, name: name}, nil
	case saltModule:
		return o.funcs.fn(o.name + "." + name), nil
	case *Dict:
		if m := method(obj, name); m != nil {
			return m, nil
		}
		if v, ok := o.Get(name); ok {
			return v, nil
		}
	default:
		if m := method(obj, name); m != nil {
			return m, nil
		}
	}
	return &Undefined{obj: obj, key: name, hasObj: true}, nil
}

// getitem is Jinja's obj[key]: an item first, then an attribute.
func getitem(obj, key any) (any, error) {
	if u, ok := key.(*Undefined); ok {
		return nil, u.err()
	}
	switch o := obj.(type) {
	case *Undefined:
		return nil, o.err()
	case *Dict:
		if v, ok := o.Get(key); ok {
			return v, nil
		}
	case *List, Tuple, string:
		i, ok := key.(int)
		if b, isBool := key.(bool); isBool {
			i, ok = 0, true
			if b {
				i = 1
			}
		}
		if ok {
			switch s := o.(type) {
			case *List:
				if j, ok := index(i, len(s.items)); ok {
					return s.items[j], nil
				}
			case Tuple:
				if j, ok := index(i, len(s)); ok {
					return s[j], nil
				}
			case string:
				rs := []rune(s)
				if j, ok := index(i, len(rs)); ok {
					return string(rs[j]), nil
				}
			}
		}
	case *saltFuncs:
		name, ok := key.(string)
		if !ok {
			name = str(key)
		}
		return o.fn(name), nil
	case *namespace:
		if k, ok := key.(string); ok {
			return getattr(o, k)
		}
	case *loopObj:
		if k, ok := key.(string); ok {
			return getattr(o, k)
		}
	}
	if k, ok := key.(string); ok {
		if m := method(obj, k); m != nil {
			return m, nil
		}
	}
	return &Undefined{obj: obj, key: key, hasObj: true}, nil
}

// compareOp evaluates one comparison.
func compareOp(op string, l, r any) (bool, error) {
	for _, v := range []any{l, r} {
		if u, ok := v.(*Undefined); ok {
			return false, u.err()
		}
	}
	switch op {
	case "==":
		return equal(l, r), nil
	case "!=":
		return !equal(l, r), nil
	case "in":
		return contains(r, l)
	case "not in":
		ok, err := contains(r, l)
		return !ok, err
	}
	c, err := compare(l, r)
	if err != nil {
		return false, errors.New(strings.Replace(err.Error(), "'<'", "'"+op+"'", 1))
	}
	switch op {
	case "<":
		return c < 0, nil
	case ">":
		return c > 0, nil
	case "<=":
		return c <= 0, nil
	}
	return c >= 0, nil
}

// binary evaluates an arithmetic or concatenation operator.
func (r *renderer) binary(op string, l, rv any) (any, error) {
	for _, v := range []any{l, rv} {
		if u, ok := v.(*Undefined); ok {
			return nil, u.err()
		}
	}
	if op == "~" {
		ls, rs := str(l), str(rv)
		if err := r.over(len(ls)+len(rs), "'~' joining %d and %d bytes", len(ls), len(rs)); err != nil {
			return nil, r.fail(err)
		}
		return ls + rs, nil
	}
	ln, lnum := number(l)
	rn, rnum := number(rv)
	if lnum && rnum {
		return arith(op, ln, rn)
	}
	switch op {
	case "+":
		switch a := l.(type) {
		case string:
			if b, ok := rv.(string); ok {
				if err := r.over(len(a)+len(b), "'+' joining %d and %d bytes", len(a), len(b)); err != nil {
					return nil, r.fail(err)
				}
				return a + b, nil
			}
		case *List:
			if b, ok := rv.(*List); ok {
				if err := r.copySteps(len(a.items), len(b.items)); err != nil {
					return nil, err
				}
				out := make([]any, 0, len(a.items)+len(b.items))
				return &List{items: append(append(out, a.items...), b.items...)}, nil
			}
		case Tuple:
			if b, ok := rv.(Tuple); ok {
				if err := r.copySteps(len(a), len(b)); err != nil {
					return nil, err
				}
				out := make(Tuple, 0, len(a)+len(b))
				return append(append(out, a...), b...), nil
			}
		}
	case "*":
		s, n := l, rn
		if lnum {
			s, n = rv, ln
		}
		count, ok := n.(int)
		if ok {
			count = max(count, 0)
			switch x := s.(type) {
			case string:
				if count > 0 && len(x) > 0 && (count > r.lim.maxOut || len(x)*count > r.lim.maxOut) {
					return nil, r.fail(&LimitError{Limit: LimitOutput, Max: int64(r.lim.maxOut),
						What: fmt.Sprintf("'*' repeating %d bytes %d times", len(x), count)})
				}
				return strings.Repeat(x, count), nil
			case *List:
				if err := r.copySteps(len(x.items)*min(count, r.lim.maxSteps), 0); err != nil {
					return nil, err
				}
				out := make([]any, 0, len(x.items)*count)
				for range count {
					out = append(out, x.items...)
				}
				return &List{items: out}, nil
			}
		}
	case "%":
		if s, ok := l.(string); ok {
			out, err := percentFormat(s, rv)
			if err != nil {
				return nil, err
			}
			if err := r.over(len(out), "'%%' formatting"); err != nil {
				return nil, r.fail(err)
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(l), typeName(rv))
}

// copySteps counts the items copied by list + and * as render steps.
func (r *renderer) copySteps(a, b int) error {
	n := a + b
	if n < 0 || r.steps+n > r.lim.maxSteps {
		return r.fail(&LimitError{Limit: LimitSteps, Max: int64(r.lim.maxSteps),
			What: fmt.Sprintf("'+' concatenating lists of %d and %d items", a, b)})
	}
	r.steps += n
	return nil
}

// arith applies op to two numbers with Python's int/float rules.
func arith(op string, a, b any) (any, error) {
	ia, aInt := a.(int)
	ib, bInt := b.(int)
	if aInt && bInt {
		switch op {
		case "+":
			return ia + ib, nil
		case "-":
			return ia - ib, nil
		case "*":
			return ia * ib, nil
		case "/":
			if ib == 0 {
				return nil, errDivZero
			}
			return float64(ia) / float64(ib), nil
		case "//":
			if ib == 0 {
				return nil, errDivZero
			}
			return floorDiv(ia, ib), nil
		case "%":
			if ib == 0 {
				return nil, errors.New("integer modulo by zero")
			}
			return floorMod(ia, ib), nil
		case "**":
			if ib >= 0 {
				out := 1
				for range min(ib, 64) {
					out *= ia
				}
				if ib > 64 && ia != 0 && ia != 1 && ia != -1 {
					return math.Pow(float64(ia), float64(ib)), nil
				}
				return out, nil
			}
			return math.Pow(float64(ia), float64(ib)), nil
		}
	}
	fa, fb := toFloat(a), toFloat(b)
	switch op {
	case "+":
		return fa + fb, nil
	case "-":
		return fa - fb, nil
	case "*":
		return fa * fb, nil
	case "/":
		if fb == 0 {
			return nil, errDivZero
		}
		return fa / fb, nil
	case "//":
		if fb == 0 {
			return nil, errDivZero
		}
		return math.Floor(fa / fb), nil
	case "%":
		if fb == 0 {
			return nil, errors.New("float modulo")
		}
		m := math.Mod(fa, fb)
		if m != 0 && (m < 0) != (fb < 0) {
			m += fb
		}
		return m, nil
	case "**":
		return math.Pow(fa, fb), nil
	}
	return nil, fmt.Errorf("unknown operator %s", op)
}
