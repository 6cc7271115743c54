package jinja

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/brinecm/brine/pkg/saltdata"
)

// Template values follow Python's types: nil (None), bool, int, float64,
// string, *List, Tuple, *Dict, plus *Undefined, callables and a few
// template objects.

// List is a mutable Python list.
type List struct{ items []any }

// Tuple is an immutable Python tuple.
type Tuple []any

// Dict is a Python dict: keys keep their insertion order.
type Dict struct {
	keys []any
	vals []any
	idx  map[any]int
	salt bool // a top-level context dict whose get() walks "a:b" paths
}

// newDict returns an empty dict with room for n keys.
func newDict(n int) *Dict {
	return &Dict{keys: make([]any, 0, n), vals: make([]any, 0, n), idx: make(map[any]int, n)}
}

// tupleKey is the hash key of a tuple.
type tupleKey string

// hashKey maps a dict key to its Go map key, equal where Python's keys are
// equal (1 == 1.0 == True), or fails for an unhashable key.
func hashKey(k any) (any, error) {
	switch x := k.(type) {
	case nil, string, int:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<62 {
			return int(x), nil
		}
		return x, nil
	case Tuple:
		for _, e := range x {
			if _, err := hashKey(e); err != nil {
				return nil, err
			}
		}
		return tupleKey(repr(x)), nil
	}
	return nil, fmt.Errorf("unhashable type: '%s'", typeName(k))
}

// Get returns the value for key k.
func (d *Dict) Get(k any) (any, bool) {
	h, err := hashKey(k)
	if err != nil {
		return nil, false
	}
	i, ok := d.idx[h]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// Set stores v under k.
func (d *Dict) Set(k, v any) error {
	h, err := hashKey(k)
	if err != nil {
		return err
	}
	if i, ok := d.idx[h]; ok {
		d.vals[i] = v
		return nil
	}
	d.idx[h] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

// Delete removes k, reporting whether it was there.
func (d *Dict) Delete(k any) bool {
	h, err := hashKey(k)
	if err != nil {
		return false
	}
	i, ok := d.idx[h]
	if !ok {
		return false
	}
	d.keys = append(d.keys[:i], d.keys[i+1:]...)
	d.vals = append(d.vals[:i], d.vals[i+1:]...)
	delete(d.idx, h)
	for j := i; j < len(d.keys); j++ {
		hk, _ := hashKey(d.keys[j])
		d.idx[hk] = j
	}
	return true
}

// Len is the number of keys.
func (d *Dict) Len() int { return len(d.keys) }

// copy returns a shallow copy.
func (d *Dict) copy() *Dict {
	c := newDict(d.Len())
	for i, k := range d.keys {
		_ = c.Set(k, d.vals[i])
	}
	return c
}

// Undefined is the value of a name or attribute that does not exist. Any
// use other than the defined tests and the default filter fails, as with
// Jinja's StrictUndefined, which Salt uses.
type Undefined struct {
	name   string // the variable's name, when the variable is missing
	obj    any    // the object lacking the attribute or item
	key    any
	hasObj bool
}

// err is the error for using u, worded as Salt words it.
func (u *Undefined) err() error {
	return &undefinedError{msg: u.message()}
}

func (u *Undefined) message() string {
	if !u.hasObj {
		return fmt.Sprintf("'%s' is undefined", u.name)
	}
	if s, ok := u.key.(string); ok {
		return fmt.Sprintf("'%s object' has no attribute '%s'", typeName(u.obj), s)
	}
	return fmt.Sprintf("'%s object' has no element %s", typeName(u.obj), repr(u.key))
}

// undefinedError is the use of an undefined value.
type undefinedError struct{ msg string }

func (e *undefinedError) Error() string { return "Jinja variable " + e.msg }

// OrderedMapping is a Go mapping that knows its keys' order (pkg/dict's
// Ordered: pillar and YAML data as written); a render iterates it in that
// order, as Python iterates a dict. Other Go maps iterate sorted.
type OrderedMapping interface {
	OrderedKeys() []string
	Lookup(k string) (any, bool)
}

// fromGo converts Go data given to a render (vars, salt function results)
// to template values.
func fromGo(v any) any {
	switch x := v.(type) {
	case nil, bool, int, float64, string, *List, Tuple, *Dict, *Undefined, *Macro, *builtin, *saltFuncs, *namespace:
		return x
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := newDict(len(keys))
		for _, k := range keys {
			_ = d.Set(k, fromGo(x[k]))
		}
		return d
	case OrderedMapping:
		keys := x.OrderedKeys()
		d := newDict(len(keys))
		for _, k := range keys {
			v, _ := x.Lookup(k)
			_ = d.Set(k, fromGo(v))
		}
		return d
	case []any:
		l := &List{items: make([]any, len(x))}
		for i, e := range x {
			l.items[i] = fromGo(e)
		}
		return l
	case []string:
		l := &List{items: make([]any, len(x))}
		for i, e := range x {
			l.items[i] = e
		}
		return l
	case int64:
		return int(x)
	case int32:
		return int(x)
	case uint64:
		return int(x)
	case float32:
		return float64(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		d := newDict(rv.Len())
		it := rv.MapRange()
		type kv struct{ k, v any }
		var pairs []kv
		for it.Next() {
			pairs = append(pairs, kv{fromGo(it.Key().Interface()), fromGo(it.Value().Interface())})
		}
		sort.Slice(pairs, func(i, j int) bool { return str(pairs[i].k) < str(pairs[j].k) })
		for _, p := range pairs {
			if err := d.Set(p.k, p.v); err != nil {
				_ = d.Set(str(p.k), p.v)
			}
		}
		return d
	case reflect.Slice, reflect.Array:
		l := &List{items: make([]any, rv.Len())}
		for i := range rv.Len() {
			l.items[i] = fromGo(rv.Index(i).Interface())
		}
		return l
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return int(rv.Convert(reflect.TypeFor[int64]()).Int())
	case reflect.String:
		return rv.String()
	}
	return v
}

// plain converts a template value to plain Go data: map[string]any, []any,
// strings, numbers, bools and nil.
func plain(v any) any {
	switch x := v.(type) {
	case *Dict:
		m := make(map[string]any, x.Len())
		for i, k := range x.keys {
			ks, ok := k.(string)
			if !ok {
				ks = str(k)
			}
			m[ks] = plain(x.vals[i])
		}
		return m
	case *List:
		out := make([]any, len(x.items))
		for i, e := range x.items {
			out[i] = plain(e)
		}
		return out
	case Tuple:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case *Undefined:
		return nil
	}
	return v
}

// typeName is the Python type name of v.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case *List:
		return "list"
	case Tuple:
		return "tuple"
	case *Dict:
		return "dict"
	case *Undefined:
		return "Undefined"
	case *Macro:
		return "Macro"
	case *builtin:
		return "builtin_function_or_method"
	case *namespace:
		return "Namespace"
	case *loopObj:
		return "LoopContext"
	case *saltFuncs:
		return "LazyLoader"
	}
	return fmt.Sprintf("%T", v)
}

// truth is Python's truthiness; an undefined value fails.
func truth(v any) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	case int:
		return x != 0, nil
	case float64:
		return x != 0, nil
	case string:
		return x != "", nil
	case *List:
		return len(x.items) > 0, nil
	case Tuple:
		return len(x) > 0, nil
	case *Dict:
		return x.Len() > 0, nil
	case *Undefined:
		return false, x.err()
	}
	return true, nil
}

// str is Python's str(v).
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(x)
	case float64:
		return saltdata.PyFloat(x)
	}
	return repr(v)
}

// repr is Python's repr(v).
func repr(v any) string {
	var b strings.Builder
	writeRepr(&b, v, 0)
	return b.String()
}

// maxReprBytes bounds the text repr builds for one value: shared
// sub-lists can make a value whose text grows exponentially with its size.
// It is above the default output limit, so such a render fails on it.
const maxReprBytes = 4 * DefaultMaxOutputBytes

func writeRepr(b *strings.Builder, v any, depth int) {
	if depth > 100 || b.Len() > maxReprBytes {
		b.WriteString("...")
		return
	}
	switch x := v.(type) {
	case string:
		b.WriteString(pyQuote(x))
	case *List:
		b.WriteByte('[')
		for i, e := range x.items {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e, depth+1)
		}
		b.WriteByte(']')
	case Tuple:
		b.WriteByte('(')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e, depth+1)
		}
		if len(x) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
	case *Dict:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, k, depth+1)
			b.WriteString(": ")
			writeRepr(b, x.vals[i], depth+1)
		}
		b.WriteByte('}')
	case *Macro:
		fmt.Fprintf(b, "<Macro '%s'>", x.def.name)
	case *builtin:
		fmt.Fprintf(b, "<built-in function %s>", x.name)
	case *namespace:
		b.WriteString("<Namespace ")
		writeRepr(b, x.d, depth+1)
		b.WriteByte('>')
	case *loopObj:
		fmt.Fprintf(b, "<LoopContext %d/%d>", x.index+1, len(x.items))
	case *Undefined:
		b.WriteString("Undefined")
	case nil, bool, int, float64:
		b.WriteString(str(x))
	default:
		fmt.Fprint(b, x)
	}
}

// pyQuote quotes s as Python's repr does.
func pyQuote(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// number returns v as int or float64 (bools count as ints).
func number(v any) (any, bool) {
	switch x := v.(type) {
	case int, float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return nil, false
}

// toFloat returns a number as float64.
func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

// equal is Python's ==.
func equal(a, b any) bool {
	if na, ok := number(a); ok {
		nb, ok := number(b)
		if !ok {
			return false
		}
		ia, aInt := na.(int)
		ib, bInt := nb.(int)
		if aInt && bInt {
			return ia == ib
		}
		return toFloat(na) == toFloat(nb)
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case *List:
		y, ok := b.(*List)
		return ok && seqEqual(x.items, y.items)
	case Tuple:
		y, ok := b.(Tuple)
		return ok && seqEqual(x, y)
	case *Dict:
		y, ok := b.(*Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for i, k := range x.keys {
			v, ok := y.Get(k)
			if !ok || !equal(x.vals[i], v) {
				return false
			}
		}
		return true
	}
	return a == b
}

func seqEqual(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// compare orders a and b as Python's < does, failing for unordered types.
func compare(a, b any) (int, error) {
	if na, ok := number(a); ok {
		if nb, ok := number(b); ok {
			ia, aInt := na.(int)
			ib, bInt := nb.(int)
			if aInt && bInt {
				return cmp.Compare(ia, ib), nil
			}
			return cmp.Compare(toFloat(na), toFloat(nb)), nil
		}
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	case *List:
		if y, ok := b.(*List); ok {
			return seqCompare(x.items, y.items)
		}
	case Tuple:
		if y, ok := b.(Tuple); ok {
			return seqCompare(x, y)
		}
	case *Undefined:
		return 0, x.err()
	}
	if u, ok := b.(*Undefined); ok {
		return 0, u.err()
	}
	return 0, fmt.Errorf("'<' not supported between instances of '%s' and '%s'", typeName(a), typeName(b))
}

func seqCompare(a, b []any) (int, error) {
	for i := 0; i < len(a) && i < len(b); i++ {
		if equal(a[i], b[i]) {
			continue
		}
		return compare(a[i], b[i])
	}
	return cmp.Compare(len(a), len(b)), nil
}

// items returns the elements iterating v gives: list and tuple items, a
// dict's keys, a string's characters.
func items(v any) ([]any, error) {
	switch x := v.(type) {
	case *List:
		return x.items, nil
	case Tuple:
		return x, nil
	case *Dict:
		return x.keys, nil
	case string:
		out := make([]any, 0, len(x))
		for _, r := range x {
			out = append(out, string(r))
		}
		return out, nil
	case *namespace:
		if x.tuple != nil {
			return x.tuple, nil
		}
	case *saltFuncs:
		return x.list(), nil
	case *Undefined:
		return nil, x.err()
	}
	return nil, fmt.Errorf("'%s' object is not iterable", typeName(v))
}

// length is Python's len(v).
func length(v any) (int, error) {
	switch x := v.(type) {
	case string:
		return utf8.RuneCountInString(x), nil
	case *List:
		return len(x.items), nil
	case Tuple:
		return len(x), nil
	case *Dict:
		return x.Len(), nil
	case *saltFuncs:
		return len(x.list()), nil
	case *Undefined:
		return 0, x.err()
	}
	return 0, fmt.Errorf("object of type '%s' has no len()", typeName(v))
}

// contains is Python's "a in b".
func contains(b, a any) (bool, error) {
	switch x := b.(type) {
	case string:
		s, ok := a.(string)
		if !ok {
			if u, isU := a.(*Undefined); isU {
				return false, u.err()
			}
			return false, fmt.Errorf("'in <string>' requires string as left operand, not %s", typeName(a))
		}
		return strings.Contains(x, s), nil
	case *Dict:
		_, ok := x.Get(a)
		return ok, nil
	case *saltFuncs:
		return x.has(a), nil
	case *Undefined:
		return false, x.err()
	}
	its, err := items(b)
	if err != nil {
		return false, fmt.Errorf("argument of type '%s' is not iterable", typeName(b))
	}
	for _, e := range its {
		if equal(e, a) {
			return true, nil
		}
	}
	return false, nil
}

// errDivZero is Python's ZeroDivisionError.
var errDivZero = errors.New("division by zero")

// floorDiv is Python's // on ints.
func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// floorMod is Python's % on ints.
func floorMod(a, b int) int {
	m := a % b
	if m != 0 && (m < 0) != (b < 0) {
		m += b
	}
	return m
}

// index normalizes a Python index i for a sequence of length n.
func index(i, n int) (int, bool) {
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}

// sliceBounds computes Python's slice indices for length n.
func sliceBounds(lo, hi, step any, n int) (start, stop, st int, err error) {
	st = 1
	if step != nil {
		s, ok := step.(int)
		if !ok {
			return 0, 0, 0, errors.New("slice indices must be integers or None")
		}
		if s == 0 {
			return 0, 0, 0, errors.New("slice step cannot be zero")
		}
		st = s
	}
	get := func(v any, def int) (int, error) {
		if v == nil {
			return def, nil
		}
		i, ok := v.(int)
		if !ok {
			return 0, errors.New("slice indices must be integers or None")
		}
		if i < 0 {
			i += n
			if i < 0 {
				if st < 0 {
					return -1, nil
				}
				return 0, nil
			}
		}
		if i >= n {
			if st < 0 {
				return n - 1, nil
			}
			return n, nil
		}
		return i, nil
	}
	if st > 0 {
		if start, err = get(lo, 0); err == nil {
			stop, err = get(hi, n)
		}
	} else {
		if start, err = get(lo, n-1); err == nil {
			stop, err = get(hi, -1)
		}
	}
	return start, stop, st, err
}

// sliceOf picks the slice positions out of n elements.
func sliceOf(start, stop, step int) []int {
	var out []int
	if step > 0 {
		for i := start; i < stop; i += step {
			out = append(out, i)
		}
	} else {
		for i := start; i > stop; i += step {
			out = append(out, i)
		}
	}
	return out
}
