package jinja

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// filterFunc is a filter: the value, positional and keyword arguments.
type filterFunc func(r *renderer, v any, args []any, kw *Dict) (any, error)

// testFunc is a test: the value, positional and keyword arguments.
type testFunc func(r *renderer, v any, args []any, kw *Dict) (bool, error)

var (
	filters map[string]filterFunc
	tests   map[string]testFunc
)

// lenient are the tests an undefined value may be given.
var lenient = map[string]bool{"defined": true, "undefined": true, "none": true}

func init() {
	filters = map[string]filterFunc{
		"default": fDefault, "d": fDefault,
		"join":       fJoin,
		"map":        fMap,
		"select":     selectFilter(false, false),
		"reject":     selectFilter(true, false),
		"selectattr": selectFilter(false, true),
		"rejectattr": selectFilter(true, true),
		"sort":       fSort,
		"unique":     fUnique,
		"list":       fList,
		"dictsort":   fDictsort,
		"items":      fItems,
		"int":        fInt,
		"float":      fFloat,
		"string":     func(_ *renderer, v any, _ []any, _ *Dict) (any, error) { return str(v), nil },
		"length":     fLength,
		"count":      fLength,
		"first":      fFirst,
		"last":       fLast,
		"replace":    fReplace,
		"lower":      strFilter(strings.ToLower),
		"upper":      strFilter(strings.ToUpper),
		"title":      strFilter(pyTitle),
		"capitalize": strFilter(pyCapitalize),
		"trim":       fTrim,
		"striptags":  strFilter(strings.TrimSpace),
		"format":     fFormat,
		"indent":     fIndent,
		"round":      fRound,
		"abs":        fAbs,
		"sum":        fSum,
		"min":        minMax(-1),
		"max":        minMax(1),
		"batch":      fBatch,
		"slice":      fSlice,
		"groupby":    fGroupby,
		"reverse":    fReverse,
		"center":     fCenter,
		"wordcount":  func(_ *renderer, v any, _ []any, _ *Dict) (any, error) { return len(strings.Fields(str(v))), nil },
		"truncate":   fTruncate,
		"attr":       fAttr,
		"e":          identity, "escape": identity, "safe": identity, "forceescape": identity,
		"pprint":         func(_ *renderer, v any, _ []any, _ *Dict) (any, error) { return repr(v), nil },
		"tojson":         fToJSON,
		"wordwrap":       identity,
		"urlencode":      fURLEncode,
		"filesizeformat": fFilesize,
		"random":         fFirst,
		"xmlattr":        fXMLAttr,
	}
	for name, fn := range saltFilters() {
		filters[name] = fn
	}
	for name, fn := range saltExtFilters() {
		filters[name] = fn
	}
	tests = map[string]testFunc{
		"defined":   func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) { _, u := v.(*Undefined); return !u, nil },
		"undefined": func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) { _, u := v.(*Undefined); return u, nil },
		"none":      func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) { return v == nil, nil },
		"boolean":   func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) { _, ok := v.(bool); return ok, nil },
		"false":     func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) { return v == false, nil },
		"true":      func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) { return v == true, nil },
		"integer": func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) {
			_, ok := v.(int)
			return ok, nil
		},
		"float":  func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) { _, ok := v.(float64); return ok, nil },
		"number": func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) { _, ok := number(v); return ok, nil },
		"string": func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) { _, ok := v.(string); return ok, nil },
		"mapping": func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) {
			_, ok := v.(*Dict)
			return ok, nil
		},
		"sequence": func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) {
			switch v.(type) {
			case string, *List, Tuple, *Dict:
				return true, nil
			}
			return false, nil
		},
		"iterable": func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) {
			_, err := items(v)
			return err == nil, nil
		},
		"callable": func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) {
			switch v.(type) {
			case *Macro, *builtin:
				return true, nil
			}
			return false, nil
		},
		"odd":  intTest(func(i int) bool { return floorMod(i, 2) == 1 }),
		"even": intTest(func(i int) bool { return floorMod(i, 2) == 0 }),
		"lower": func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) {
			s := str(v)
			return strings.ToLower(s) == s, nil
		},
		"upper": func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) {
			s := str(v)
			return strings.ToUpper(s) == s, nil
		},
		"divisibleby": func(_ *renderer, v any, args []any, _ *Dict) (bool, error) { return divisible(v, args) },
		"sameas": func(_ *renderer, v any, args []any, _ *Dict) (bool, error) {
			if len(args) != 1 {
				return false, errors.New("sameas needs one argument")
			}
			return sameAs(v, args[0]), nil
		},
		"in": func(_ *renderer, v any, args []any, _ *Dict) (bool, error) {
			if len(args) != 1 {
				return false, errors.New("in needs one argument")
			}
			return contains(args[0], v)
		},
		"escaped": func(_ *renderer, _ any, _ []any, _ *Dict) (bool, error) { return false, nil },
		"filter":  func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) { _, ok := filters[str(v)]; return ok, nil },
		"test":    func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) { _, ok := tests[str(v)]; return ok, nil },
	}
	for _, c := range []struct {
		names []string
		op    string
	}{
		{[]string{"eq", "equalto", "=="}, "=="}, {[]string{"ne", "!="}, "!="}, {[]string{"lt", "lessthan", "<"}, "<"},
		{[]string{"le", "<="}, "<="}, {[]string{"gt", "greaterthan", ">"}, ">"}, {[]string{"ge", ">="}, ">="},
	} {
		op := c.op
		for _, n := range c.names {
			tests[n] = func(_ *renderer, v any, args []any, _ *Dict) (bool, error) {
				if len(args) != 1 {
					return false, fmt.Errorf("test needs one argument")
				}
				return compareOp(op, v, args[0])
			}
		}
	}
	for name, fn := range saltTests() {
		tests[name] = fn
	}
}

func sameAs(a, b any) bool {
	switch x := a.(type) {
	case *List:
		y, ok := b.(*List)
		return ok && x == y
	case *Dict:
		y, ok := b.(*Dict)
		return ok && x == y
	case nil, bool:
		return a == b
	}
	return equal(a, b) && typeName(a) == typeName(b)
}

func divisible(v any, args []any) (bool, error) {
	if len(args) != 1 {
		return false, errors.New("divisibleby needs one argument")
	}
	a, ok1 := v.(int)
	b, ok2 := args[0].(int)
	if !ok1 || !ok2 {
		return math.Mod(toFloat(v), toFloat(args[0])) == 0, nil
	}
	if b == 0 {
		return false, errDivZero
	}
	return a%b == 0, nil
}

func intTest(fn func(int) bool) testFunc {
	return func(_ *renderer, v any, _ []any, _ *Dict) (bool, error) {
		i, ok := v.(int)
		if !ok {
			return false, fmt.Errorf("needs an integer, not %s", typeName(v))
		}
		return fn(i), nil
	}
}

func identity(_ *renderer, v any, _ []any, _ *Dict) (any, error) { return v, nil }

func strFilter(fn func(string) string) filterFunc {
	return func(_ *renderer, v any, _ []any, _ *Dict) (any, error) { return fn(str(v)), nil }
}

func fDefault(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	def := arg(args, kw, 0, "default_value", "")
	boolean, _ := truth(arg(args, kw, 1, "boolean", false))
	if _, ok := v.(*Undefined); ok {
		return def, nil
	}
	if boolean {
		if t, _ := truth(v); !t {
			return def, nil
		}
	}
	return v, nil
}

// attrGetter returns a function reading the dotted attribute path attr.
func attrGetter(attr any) func(any) (any, error) {
	if attr == nil {
		return func(v any) (any, error) { return v, nil }
	}
	parts := strings.Split(str(attr), ".")
	if i, ok := attr.(int); ok {
		return func(v any) (any, error) { return getitem(v, i) }
	}
	return func(v any) (any, error) {
		for _, p := range parts {
			var err error
			var key any = p
			if n, e := strconv.Atoi(p); e == nil {
				key = n
			}
			if v, err = getitem(v, key); err != nil {
				return nil, err
			}
		}
		return v, nil
	}
}

func fJoin(r *renderer, v any, args []any, kw *Dict) (any, error) {
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	sep := str(arg(args, kw, 0, "d", ""))
	get := attrGetter(arg(args, kw, 1, "attribute", nil))
	parts := make([]string, len(its))
	n := 0
	for i, e := range its {
		x, err := get(e)
		if err != nil {
			return nil, err
		}
		if u, ok := x.(*Undefined); ok {
			return nil, u.err()
		}
		parts[i] = str(x)
		n += len(parts[i]) + len(sep)
	}
	n = max(n-len(sep), 0)
	if err := r.over(n, "filter join"); err != nil {
		return nil, r.fail(err)
	}
	return strings.Join(parts, sep), nil
}

func fMap(r *renderer, v any, args []any, kw *Dict) (any, error) {
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	out := &List{items: make([]any, 0, len(its))}
	if attr, ok := kw.Get("attribute"); ok && len(args) == 0 {
		get := attrGetter(attr)
		def, hasDef := kw.Get("default")
		for _, e := range its {
			x, err := get(e)
			if err != nil {
				return nil, err
			}
			if _, u := x.(*Undefined); u && hasDef {
				x = def
			}
			out.items = append(out.items, x)
		}
		return out, nil
	}
	if len(args) == 0 {
		return nil, errors.New("map needs a filter name or attribute=")
	}
	name := str(args[0])
	fn, ok := filters[name]
	if !ok {
		return nil, &unknownFilterError{name}
	}
	for _, e := range its {
		x, err := fn(r, e, args[1:], kw)
		if err != nil {
			return nil, err
		}
		out.items = append(out.items, x)
	}
	return out, nil
}

func selectFilter(reject, byAttr bool) filterFunc {
	return func(r *renderer, v any, args []any, kw *Dict) (any, error) {
		its, err := items(v)
		if err != nil {
			return nil, err
		}
		get := attrGetter(nil)
		if byAttr {
			if len(args) == 0 {
				return nil, errors.New("needs an attribute name")
			}
			get = attrGetter(args[0])
			args = args[1:]
		}
		var test testFunc
		if len(args) > 0 {
			t, ok := tests[str(args[0])]
			if !ok {
				return nil, fmt.Errorf("unknown test '%s'", str(args[0]))
			}
			test, args = t, args[1:]
		}
		out := &List{}
		for _, e := range its {
			x, err := get(e)
			if err != nil {
				return nil, err
			}
			var ok bool
			if test == nil {
				if ok, err = truth(x); err != nil {
					return nil, err
				}
			} else if ok, err = test(r, x, args, kw); err != nil {
				return nil, err
			}
			if ok != reject {
				out.items = append(out.items, e)
			}
		}
		return out, nil
	}
}

// sortKey folds strings when case-insensitive.
func sortKey(v any, caseSensitive bool) any {
	if s, ok := v.(string); ok && !caseSensitive {
		return strings.ToLower(s)
	}
	return v
}

func fSort(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	rev, _ := truth(arg(args, kw, 0, "reverse", false))
	cs, _ := truth(arg(args, kw, 1, "case_sensitive", false))
	get := attrGetter(arg(args, kw, 2, "attribute", nil))
	out := append([]any(nil), its...)
	keys := make([]any, len(out))
	for i, e := range out {
		k, err := get(e)
		if err != nil {
			return nil, err
		}
		keys[i] = sortKey(k, cs)
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		c, e := compare(keys[idx[a]], keys[idx[b]])
		if e != nil && err == nil {
			err = e
		}
		if rev {
			return c > 0
		}
		return c < 0
	})
	res := &List{items: make([]any, len(out))}
	for i, j := range idx {
		res.items[i] = out[j]
	}
	return res, err
}

func fUnique(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	cs, _ := truth(arg(args, kw, 0, "case_sensitive", false))
	get := attrGetter(arg(args, kw, 1, "attribute", nil))
	out := &List{}
	var seen []any
	for _, e := range its {
		k, err := get(e)
		if err != nil {
			return nil, err
		}
		k = sortKey(k, cs)
		dup := false
		for _, s := range seen {
			if equal(s, k) {
				dup = true
				break
			}
		}
		if !dup {
			seen = append(seen, k)
			out.items = append(out.items, e)
		}
	}
	return out, nil
}

func fList(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	return &List{items: append([]any(nil), its...)}, nil
}

func fItems(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	d, ok := v.(*Dict)
	if !ok {
		return nil, fmt.Errorf("can only get item pairs from a mapping, not %s", typeName(v))
	}
	out := &List{}
	for i, k := range d.keys {
		out.items = append(out.items, Tuple{k, d.vals[i]})
	}
	return out, nil
}

func fDictsort(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	d, ok := v.(*Dict)
	if !ok {
		return nil, fmt.Errorf("dictsort needs a dict, not %s", typeName(v))
	}
	cs, _ := truth(arg(args, kw, 0, "case_sensitive", false))
	by := str(arg(args, kw, 1, "by", "key"))
	rev, _ := truth(arg(args, kw, 2, "reverse", false))
	pos := 0
	if by == "value" {
		pos = 1
	}
	pairs := make([]Tuple, d.Len())
	for i, k := range d.keys {
		pairs[i] = Tuple{k, d.vals[i]}
	}
	var err error
	sort.SliceStable(pairs, func(a, b int) bool {
		c, e := compare(sortKey(pairs[a][pos], cs), sortKey(pairs[b][pos], cs))
		if e != nil && err == nil {
			err = e
		}
		if rev {
			return c > 0
		}
		return c < 0
	})
	out := &List{items: make([]any, len(pairs))}
	for i, p := range pairs {
		out.items[i] = p
	}
	return out, err
}

func fInt(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	def := arg(args, kw, 0, "default", 0)
	base, err := intArg(arg(args, kw, 1, "base", 10), "base")
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case int:
		return x, nil
	case bool:
		return intArg(x, "")
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return def, nil
		}
		return int(x), nil
	case string:
		s := strings.ReplaceAll(strings.TrimSpace(x), "_", "")
		if base == 16 || base == 8 || base == 2 {
			s = strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(s), "0x"), "0o")
			s = strings.TrimPrefix(s, "0b")
		}
		if i, err := strconv.ParseInt(s, base, 64); err == nil {
			return int(i), nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && base == 10 {
			return int(f), nil
		}
	}
	return def, nil
}

func fFloat(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	def := arg(args, kw, 0, "default", 0.0)
	switch x := v.(type) {
	case int, bool:
		return toFloat(x), nil
	case float64:
		return x, nil
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return f, nil
		}
	}
	return def, nil
}

func fLength(_ *renderer, v any, _ []any, _ *Dict) (any, error) { return length(v) }

func fFirst(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	if len(its) == 0 {
		return &Undefined{name: "No first item, sequence was empty."}, nil
	}
	return its[0], nil
}

func fLast(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	if len(its) == 0 {
		return &Undefined{name: "No last item, sequence was empty."}, nil
	}
	return its[len(its)-1], nil
}

func fReplace(r *renderer, v any, args []any, kw *Dict) (any, error) {
	if len(args) < 2 {
		return nil, errors.New("replace needs old and new")
	}
	n := -1
	if c := arg(args, kw, 2, "count", nil); c != nil {
		var err error
		if n, err = intArg(c, "count"); err != nil {
			return nil, err
		}
	}
	return replaceBounded(r, "filter replace", str(v), str(args[0]), str(args[1]), n)
}

func fTrim(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	if chars := arg(args, kw, 0, "chars", nil); chars != nil {
		return strings.Trim(str(v), str(chars)), nil
	}
	return strings.TrimSpace(str(v)), nil
}

func fFormat(r *renderer, v any, args []any, kw *Dict) (any, error) {
	var out string
	var err error
	if kw.Len() > 0 {
		out, err = percentFormat(str(v), kw)
	} else {
		out, err = percentFormat(str(v), Tuple(args))
	}
	if err != nil {
		return nil, err
	}
	return out, r.over(len(out), "filter format")
}

func fIndent(r *renderer, v any, args []any, kw *Dict) (any, error) {
	width := arg(args, kw, 0, "width", 4)
	first, _ := truth(arg(args, kw, 1, "first", false))
	blank, _ := truth(arg(args, kw, 2, "blank", false))
	ind := ""
	if w, ok := width.(int); ok {
		if w < 0 {
			w = 0
		}
		if err := r.over(w, "filter indent"); err != nil {
			return nil, r.fail(err)
		}
		ind = strings.Repeat(" ", w)
	} else {
		ind = str(width)
	}
	s := str(v)
	lines := strings.Split(s, "\n")
	size := len(s) + len(ind)*len(lines)
	if err := r.over(size, "filter indent"); err != nil {
		return nil, r.fail(err)
	}
	for i, l := range lines {
		if i == 0 && !first {
			continue
		}
		if l == "" && !blank {
			continue
		}
		lines[i] = ind + l
	}
	return strings.Join(lines, "\n"), nil
}

// pyRound is Python's round(x, n): round half to even on the decimal value.
func pyRound(x float64, n int) float64 {
	s := strconv.FormatFloat(x, 'f', n, 64)
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

func fRound(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	prec, err := intArg(arg(args, kw, 0, "precision", 0), "precision")
	if err != nil {
		return nil, err
	}
	method := str(arg(args, kw, 1, "method", "common"))
	f := toFloat(v)
	if _, ok := number(v); !ok {
		return nil, fmt.Errorf("round needs a number, not %s", typeName(v))
	}
	p := math.Pow(10, float64(prec))
	switch method {
	case "common":
		return pyRound(f, prec), nil
	case "ceil":
		return math.Ceil(f*p) / p, nil
	case "floor":
		return math.Floor(f*p) / p, nil
	}
	return nil, errors.New("method must be common, ceil or floor")
}

func fAbs(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	switch x := v.(type) {
	case int:
		if x < 0 {
			return -x, nil
		}
		return x, nil
	case float64:
		return math.Abs(x), nil
	}
	return nil, fmt.Errorf("bad operand type for abs(): '%s'", typeName(v))
}

func fSum(r *renderer, v any, args []any, kw *Dict) (any, error) {
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	get := attrGetter(arg(args, kw, 0, "attribute", nil))
	total := arg(args, kw, 1, "start", 0)
	for _, e := range its {
		x, err := get(e)
		if err != nil {
			return nil, err
		}
		if total, err = r.binary("+", total, x); err != nil {
			return nil, err
		}
	}
	return total, nil
}

func minMax(sign int) filterFunc {
	return func(_ *renderer, v any, args []any, kw *Dict) (any, error) {
		its, err := items(v)
		if err != nil {
			return nil, err
		}
		cs, _ := truth(arg(args, kw, 0, "case_sensitive", false))
		get := attrGetter(arg(args, kw, 1, "attribute", nil))
		if len(its) == 0 {
			return &Undefined{name: "No aggregated item, sequence was empty."}, nil
		}
		best, bestKey := its[0], any(nil)
		for i, e := range its {
			k, err := get(e)
			if err != nil {
				return nil, err
			}
			k = sortKey(k, cs)
			if i == 0 {
				bestKey = k
				continue
			}
			c, err := compare(k, bestKey)
			if err != nil {
				return nil, err
			}
			if c*sign > 0 {
				best, bestKey = e, k
			}
		}
		return best, nil
	}
}

func fBatch(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	n, err := intArg(arg(args, kw, 0, "linecount", 1), "linecount")
	if err != nil || n <= 0 {
		return nil, errors.New("batch needs a positive count")
	}
	fill, hasFill := arg(args, kw, 1, "fill_with", nil), len(args) > 1
	if _, ok := kw.Get("fill_with"); ok {
		hasFill = true
	}
	out := &List{}
	for i := 0; i < len(its); i += n {
		row := &List{items: append([]any(nil), its[i:min(i+n, len(its))]...)}
		for hasFill && len(row.items) < n {
			row.items = append(row.items, fill)
		}
		out.items = append(out.items, row)
	}
	return out, nil
}

func fSlice(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	n, err := intArg(arg(args, kw, 0, "slices", 1), "slices")
	if err != nil || n <= 0 {
		return nil, errors.New("slice needs a positive count")
	}
	per, extra := len(its)/n, len(its)%n
	out := &List{}
	off := 0
	for i := range n {
		start := off + i*per
		if i < extra {
			off++
		}
		end := off + (i+1)*per
		out.items = append(out.items, &List{items: append([]any(nil), its[start:end]...)})
	}
	return out, nil
}

func fGroupby(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	get := attrGetter(arg(args, kw, 0, "attribute", nil))
	keys := make([]any, len(its))
	idx := make([]int, len(its))
	for i, e := range its {
		if keys[i], err = get(e); err != nil {
			return nil, err
		}
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		c, e := compare(keys[idx[a]], keys[idx[b]])
		if e != nil && err == nil {
			err = e
		}
		return c < 0
	})
	out := &List{}
	var cur *List
	var curKey any
	for n, i := range idx {
		if n == 0 || !equal(keys[i], curKey) {
			cur, curKey = &List{}, keys[i]
			out.items = append(out.items, groupTuple{curKey, cur})
		}
		cur.items = append(cur.items, its[i])
	}
	for i, g := range out.items {
		gt := g.(groupTuple)
		d := newDict(2)
		_ = d.Set("grouper", gt.key)
		_ = d.Set("list", gt.list)
		out.items[i] = &namespace{d: d, tuple: Tuple{gt.key, gt.list}}
	}
	return out, err
}

type groupTuple struct {
	key  any
	list *List
}

func fReverse(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	if s, ok := v.(string); ok {
		rs := []rune(s)
		for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
			rs[i], rs[j] = rs[j], rs[i]
		}
		return string(rs), nil
	}
	its, err := items(v)
	if err != nil {
		return nil, err
	}
	out := &List{items: make([]any, len(its))}
	for i, e := range its {
		out.items[len(its)-1-i] = e
	}
	return out, nil
}

func fCenter(r *renderer, v any, args []any, kw *Dict) (any, error) {
	w, err := intArg(arg(args, kw, 0, "width", 80), "width")
	if err != nil {
		return nil, err
	}
	if err := r.over(w, "filter center"); err != nil {
		return nil, r.fail(err)
	}
	return pad(str(v), w, " ", "center"), nil
}

func fTruncate(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	s := str(v)
	n, err := intArg(arg(args, kw, 0, "length", 255), "length")
	if err != nil {
		return nil, err
	}
	kill, _ := truth(arg(args, kw, 1, "killwords", false))
	end := str(arg(args, kw, 2, "end", "..."))
	leeway, err := intArg(arg(args, kw, 3, "leeway", 5), "leeway")
	if err != nil {
		return nil, err
	}
	rs := []rune(s)
	if len(rs) <= n+leeway {
		return s, nil
	}
	cut := max(n-utf8.RuneCountInString(end), 0)
	if kill {
		return string(rs[:cut]) + end, nil
	}
	head := string(rs[:cut])
	if i := strings.LastIndex(head, " "); i >= 0 {
		head = head[:i]
	}
	return head + end, nil
}

func fAttr(_ *renderer, v any, args []any, _ *Dict) (any, error) {
	if len(args) != 1 {
		return nil, errors.New("attr needs a name")
	}
	return getattr(v, str(args[0]))
}

func fURLEncode(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	var b strings.Builder
	for _, c := range []byte(str(v)) {
		if c < 0x80 && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || strings.IndexByte("_.-~/", c) >= 0) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String(), nil
}

func fFilesize(_ *renderer, v any, args []any, kw *Dict) (any, error) {
	f := toFloat(v)
	binary, _ := truth(arg(args, kw, 0, "binary", false))
	base, units := 1000.0, []string{"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
	if binary {
		base, units = 1024, []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}
	}
	if f == 1 {
		return "1 Byte", nil
	}
	if f < base {
		return fmt.Sprintf("%d Bytes", int(f)), nil
	}
	for i, u := range units {
		unit := math.Pow(base, float64(i+2))
		if f < unit || i == len(units)-1 {
			return fmt.Sprintf("%.1f %s", base*f/unit, u), nil
		}
	}
	return nil, nil
}

func fXMLAttr(_ *renderer, v any, _ []any, _ *Dict) (any, error) {
	d, ok := v.(*Dict)
	if !ok {
		return nil, errors.New("xmlattr needs a dict")
	}
	var b strings.Builder
	for i, k := range d.keys {
		if d.vals[i] == nil {
			continue
		}
		fmt.Fprintf(&b, " %s=\"%s\"", str(k), strings.ReplaceAll(str(d.vals[i]), `"`, "&#34;"))
	}
	return b.String(), nil
}
