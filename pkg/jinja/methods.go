package jinja

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// method returns obj's Python method name bound to obj, or nil.
func method(obj any, name string) *builtin {
	var fn func(r *renderer, args []any, kw *Dict) (any, error)
	switch o := obj.(type) {
	case string:
		m, ok := strMethods[name]
		if !ok {
			return nil
		}
		fn = func(r *renderer, args []any, kw *Dict) (any, error) { return m(r, o, args, kw) }
	case *List:
		m, ok := listMethods[name]
		if !ok {
			return nil
		}
		fn = func(r *renderer, args []any, kw *Dict) (any, error) { return m(r, o, args, kw) }
	case *Dict:
		m, ok := dictMethods[name]
		if !ok {
			return nil
		}
		fn = func(r *renderer, args []any, kw *Dict) (any, error) { return m(r, o, args, kw) }
	default:
		return nil
	}
	return &builtin{name: name, fn: func(r *renderer, args []any, kw *Dict) (any, error) {
		v, err := fn(r, args, kw)
		if err != nil {
			var le *LimitError
			if errors.As(err, &le) {
				return nil, err
			}
			return nil, fmt.Errorf("%s.%s(): %w", typeName(obj), name, err)
		}
		return v, nil
	}}
}

// nargs checks the positional argument count.
func nargs(args []any, lo, hi int) error {
	if len(args) < lo || len(args) > hi {
		if lo == hi {
			return fmt.Errorf("takes %d arguments (%d given)", lo, len(args))
		}
		return fmt.Errorf("takes %d to %d arguments (%d given)", lo, hi, len(args))
	}
	return nil
}

// arg returns positional argument i, or keyword name, or def.
func arg(args []any, kw *Dict, i int, name string, def any) any {
	if i < len(args) {
		return args[i]
	}
	if kw != nil {
		if v, ok := kw.Get(name); ok {
			return v
		}
	}
	return def
}

// strArg requires a string argument.
func strArg(v any, what string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be str, not %s", what, typeName(v))
	}
	return s, nil
}

// intArg requires an int argument.
func intArg(v any, what string) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("%s must be int, not %s", what, typeName(v))
}

type strMethod func(r *renderer, s string, args []any, kw *Dict) (any, error)

var strMethods map[string]strMethod

func init() {
	strMethods = map[string]strMethod{
		"upper":      strFn(strings.ToUpper),
		"lower":      strFn(strings.ToLower),
		"casefold":   strFn(strings.ToLower),
		"title":      strFn(pyTitle),
		"capitalize": strFn(pyCapitalize),
		"swapcase": strFn(func(s string) string {
			return strings.Map(func(r rune) rune {
				if unicode.IsUpper(r) {
					return unicode.ToLower(r)
				}
				return unicode.ToUpper(r)
			}, s)
		}),
		"strip":  stripFn(strings.Trim, strings.TrimSpace),
		"lstrip": stripFn(strings.TrimLeft, func(s string) string { return strings.TrimLeftFunc(s, unicode.IsSpace) }),
		"rstrip": stripFn(strings.TrimRight, func(s string) string { return strings.TrimRightFunc(s, unicode.IsSpace) }),
		"replace": func(r *renderer, s string, args []any, _ *Dict) (any, error) {
			if err := nargs(args, 2, 3); err != nil {
				return nil, err
			}
			old, err := strArg(args[0], "old")
			if err != nil {
				return nil, err
			}
			nw, err := strArg(args[1], "new")
			if err != nil {
				return nil, err
			}
			n := -1
			if len(args) == 3 {
				if n, err = intArg(args[2], "count"); err != nil {
					return nil, err
				}
			}
			return replaceBounded(r, "str.replace()", s, old, nw, n)
		},
		"split":  splitFn(false),
		"rsplit": splitFn(true),
		"splitlines": func(_ *renderer, s string, args []any, _ *Dict) (any, error) {
			lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
			if len(lines) > 0 && lines[len(lines)-1] == "" {
				lines = lines[:len(lines)-1]
			}
			return strList(lines), nil
		},
		"startswith": affixFn(strings.HasPrefix),
		"endswith":   affixFn(strings.HasSuffix),
		"find":       findFn(strings.Index, false),
		"rfind":      findFn(strings.LastIndex, false),
		"index":      findFn(strings.Index, true),
		"rindex":     findFn(strings.LastIndex, true),
		"count": func(_ *renderer, s string, args []any, _ *Dict) (any, error) {
			if err := nargs(args, 1, 1); err != nil {
				return nil, err
			}
			sub, err := strArg(args[0], "sub")
			if err != nil {
				return nil, err
			}
			if sub == "" {
				return utf8.RuneCountInString(s) + 1, nil
			}
			return strings.Count(s, sub), nil
		},
		"join": func(r *renderer, s string, args []any, _ *Dict) (any, error) {
			if err := nargs(args, 1, 1); err != nil {
				return nil, err
			}
			its, err := items(args[0])
			if err != nil {
				return nil, err
			}
			parts := make([]string, len(its))
			n := 0
			for i, e := range its {
				p, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("sequence item %d: expected str instance, %s found", i, typeName(e))
				}
				parts[i] = p
				n += len(p) + len(s)
			}
			if err := r.over(max(n-len(s), 0), "str.join()"); err != nil {
				return nil, r.fail(err)
			}
			return strings.Join(parts, s), nil
		},
		"format": func(r *renderer, s string, args []any, kw *Dict) (any, error) {
			out, err := strFormat(s, args, kw)
			if err != nil {
				return nil, err
			}
			return out, r.over(len(out), "str.format()")
		},
		"zfill": func(r *renderer, s string, args []any, _ *Dict) (any, error) {
			if err := nargs(args, 1, 1); err != nil {
				return nil, err
			}
			w, err := intArg(args[0], "width")
			if err != nil {
				return nil, err
			}
			if err := r.over(w, "str.zfill()"); err != nil {
				return nil, r.fail(err)
			}
			n := utf8.RuneCountInString(s)
			if n >= w {
				return s, nil
			}
			sign := ""
			if s != "" && (s[0] == '-' || s[0] == '+') {
				sign, s = s[:1], s[1:]
			}
			return sign + strings.Repeat("0", w-n) + s, nil
		},
		"center":    padFn("center"),
		"ljust":     padFn("ljust"),
		"rjust":     padFn("rjust"),
		"isdigit":   predFn(func(r rune) bool { return r >= '0' && r <= '9' }),
		"isnumeric": predFn(unicode.IsNumber),
		"isdecimal": predFn(unicode.IsDigit),
		"isalpha":   predFn(unicode.IsLetter),
		"isalnum":   predFn(func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }),
		"isspace":   predFn(unicode.IsSpace),
		"islower": func(_ *renderer, s string, _ []any, _ *Dict) (any, error) {
			return strings.ToLower(s) == s && strings.ToUpper(s) != s, nil
		},
		"isupper": func(_ *renderer, s string, _ []any, _ *Dict) (any, error) {
			return strings.ToUpper(s) == s && strings.ToLower(s) != s, nil
		},
		"partition":  partitionFn(strings.Index),
		"rpartition": partitionFn(strings.LastIndex),
		"removeprefix": func(_ *renderer, s string, args []any, _ *Dict) (any, error) {
			if err := nargs(args, 1, 1); err != nil {
				return nil, err
			}
			p, err := strArg(args[0], "prefix")
			return strings.TrimPrefix(s, p), err
		},
		"removesuffix": func(_ *renderer, s string, args []any, _ *Dict) (any, error) {
			if err := nargs(args, 1, 1); err != nil {
				return nil, err
			}
			p, err := strArg(args[0], "suffix")
			return strings.TrimSuffix(s, p), err
		},
	}
}

func strFn(fn func(string) string) strMethod {
	return func(_ *renderer, s string, args []any, _ *Dict) (any, error) {
		if err := nargs(args, 0, 0); err != nil {
			return nil, err
		}
		return fn(s), nil
	}
}

func predFn(fn func(rune) bool) strMethod {
	return func(_ *renderer, s string, _ []any, _ *Dict) (any, error) {
		if s == "" {
			return false, nil
		}
		for _, r := range s {
			if !fn(r) {
				return false, nil
			}
		}
		return true, nil
	}
}

func stripFn(cut func(string, string) string, space func(string) string) strMethod {
	return func(_ *renderer, s string, args []any, _ *Dict) (any, error) {
		if err := nargs(args, 0, 1); err != nil {
			return nil, err
		}
		if len(args) == 0 || args[0] == nil {
			return space(s), nil
		}
		chars, err := strArg(args[0], "chars")
		if err != nil {
			return nil, err
		}
		return cut(s, chars), nil
	}
}

func splitFn(right bool) strMethod {
	return func(_ *renderer, s string, args []any, kw *Dict) (any, error) {
		sepV := arg(args, kw, 0, "sep", nil)
		maxV := arg(args, kw, 1, "maxsplit", -1)
		n, err := intArg(maxV, "maxsplit")
		if err != nil {
			return nil, err
		}
		if sepV == nil {
			fields := strings.Fields(s)
			if n >= 0 && len(fields) > n+1 {
				if right {
					s = strings.TrimRightFunc(s, unicode.IsSpace)
					for range n {
						i := strings.LastIndexFunc(s, unicode.IsSpace)
						fields = append([]string{s[i+1:]}, fields...)
						s = strings.TrimRightFunc(s[:i], unicode.IsSpace)
					}
					return strList(append([]string{s}, fields[len(fields)-n:]...)), nil
				}
				rest := strings.TrimLeftFunc(s, unicode.IsSpace)
				out := make([]string, 0, n+1)
				for range n {
					i := strings.IndexFunc(rest, unicode.IsSpace)
					out = append(out, rest[:i])
					rest = strings.TrimLeftFunc(rest[i:], unicode.IsSpace)
				}
				return strList(append(out, rest)), nil
			}
			return strList(fields), nil
		}
		sep, err := strArg(sepV, "sep")
		if err != nil {
			return nil, err
		}
		if sep == "" {
			return nil, errors.New("empty separator")
		}
		if n < 0 {
			return strList(strings.Split(s, sep)), nil
		}
		if !right {
			return strList(strings.SplitN(s, sep, n+1)), nil
		}
		var out []string
		for range n {
			i := strings.LastIndex(s, sep)
			if i < 0 {
				break
			}
			out = append([]string{s[i+len(sep):]}, out...)
			s = s[:i]
		}
		return strList(append([]string{s}, out...)), nil
	}
}

func affixFn(fn func(string, string) bool) strMethod {
	return func(_ *renderer, s string, args []any, _ *Dict) (any, error) {
		if err := nargs(args, 1, 1); err != nil {
			return nil, err
		}
		if t, ok := args[0].(Tuple); ok {
			for _, e := range t {
				a, err := strArg(e, "affix")
				if err != nil {
					return nil, err
				}
				if fn(s, a) {
					return true, nil
				}
			}
			return false, nil
		}
		a, err := strArg(args[0], "affix")
		if err != nil {
			return nil, err
		}
		return fn(s, a), nil
	}
}

func findFn(fn func(string, string) int, raise bool) strMethod {
	return func(_ *renderer, s string, args []any, _ *Dict) (any, error) {
		if err := nargs(args, 1, 1); err != nil {
			return nil, err
		}
		sub, err := strArg(args[0], "sub")
		if err != nil {
			return nil, err
		}
		i := fn(s, sub)
		if i < 0 {
			if raise {
				return nil, errors.New("substring not found")
			}
			return -1, nil
		}
		return utf8.RuneCountInString(s[:i]), nil
	}
}

func partitionFn(fn func(string, string) int) strMethod {
	return func(_ *renderer, s string, args []any, _ *Dict) (any, error) {
		if err := nargs(args, 1, 1); err != nil {
			return nil, err
		}
		sep, err := strArg(args[0], "sep")
		if err != nil {
			return nil, err
		}
		i := fn(s, sep)
		if i < 0 {
			if fn("ab", "b") == 1 && fn("bb", "b") == 1 {
				return Tuple{"", "", s}, nil
			}
			return Tuple{s, "", ""}, nil
		}
		return Tuple{s[:i], sep, s[i+len(sep):]}, nil
	}
}

func padFn(kind string) strMethod {
	return func(r *renderer, s string, args []any, _ *Dict) (any, error) {
		if err := nargs(args, 1, 2); err != nil {
			return nil, err
		}
		w, err := intArg(args[0], "width")
		if err != nil {
			return nil, err
		}
		fill := " "
		if len(args) == 2 {
			if fill, err = strArg(args[1], "fillchar"); err != nil {
				return nil, err
			}
			if utf8.RuneCountInString(fill) != 1 {
				return nil, errors.New("the fill character must be exactly one character long")
			}
		}
		if err := r.over(w, "str.%s()", kind); err != nil {
			return nil, r.fail(err)
		}
		return pad(s, w, fill, kind), nil
	}
}

// pad pads s to width w with fill as str.center/ljust/rjust do.
func pad(s string, w int, fill, kind string) string {
	n := utf8.RuneCountInString(s)
	if n >= w {
		return s
	}
	total := w - n
	switch kind {
	case "ljust":
		return s + strings.Repeat(fill, total)
	case "rjust":
		return strings.Repeat(fill, total) + s
	}
	left := total / 2
	if total%2 == 1 && w%2 == 1 {
		left++
	}
	return strings.Repeat(fill, left) + s + strings.Repeat(fill, total-left)
}

// replaceBounded replaces, checking the size of the result first.
func replaceBounded(r *renderer, what, s, old, nw string, n int) (string, error) {
	count := strings.Count(s, old)
	if old == "" {
		count = utf8.RuneCountInString(s) + 1
	}
	if n >= 0 && n < count {
		count = n
	}
	size := len(s) + count*(len(nw)-len(old))
	if err := r.over(size, "%s", what); err != nil {
		return "", r.fail(err)
	}
	return strings.Replace(s, old, nw, n), nil
}

func strList(ss []string) *List {
	l := &List{items: make([]any, len(ss))}
	for i, s := range ss {
		l.items[i] = s
	}
	return l
}

// pyTitle is Python's str.title.
func pyTitle(s string) string {
	var b strings.Builder
	prev := false
	for _, r := range s {
		if unicode.IsLetter(r) {
			if prev {
				b.WriteRune(unicode.ToLower(r))
			} else {
				b.WriteRune(unicode.ToUpper(r))
			}
			prev = true
			continue
		}
		prev = false
		b.WriteRune(r)
	}
	return b.String()
}

// pyCapitalize is Python's str.capitalize.
func pyCapitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + strings.ToLower(s[n:])
}

type listMethod func(r *renderer, l *List, args []any, kw *Dict) (any, error)

var listMethods = map[string]listMethod{
	"append": func(_ *renderer, l *List, args []any, _ *Dict) (any, error) {
		if err := nargs(args, 1, 1); err != nil {
			return nil, err
		}
		if reaches(args[0], l, 0) {
			return nil, errors.New("a list cannot contain itself")
		}
		l.items = append(l.items, args[0])
		return nil, nil
	},
	"extend": func(r *renderer, l *List, args []any, _ *Dict) (any, error) {
		if err := nargs(args, 1, 1); err != nil {
			return nil, err
		}
		its, err := items(args[0])
		if err != nil {
			return nil, err
		}
		if err := r.copySteps(len(its), 0); err != nil {
			return nil, err
		}
		for _, e := range its {
			if reaches(e, l, 0) {
				return nil, errors.New("a list cannot contain itself")
			}
		}
		l.items = append(l.items, its...)
		return nil, nil
	},
	"insert": func(_ *renderer, l *List, args []any, _ *Dict) (any, error) {
		if err := nargs(args, 2, 2); err != nil {
			return nil, err
		}
		i, err := intArg(args[0], "index")
		if err != nil {
			return nil, err
		}
		if i < 0 {
			i = max(i+len(l.items), 0)
		}
		i = min(i, len(l.items))
		if reaches(args[1], l, 0) {
			return nil, errors.New("a list cannot contain itself")
		}
		l.items = append(l.items[:i], append([]any{args[1]}, l.items[i:]...)...)
		return nil, nil
	},
	"remove": func(_ *renderer, l *List, args []any, _ *Dict) (any, error) {
		if err := nargs(args, 1, 1); err != nil {
			return nil, err
		}
		for i, e := range l.items {
			if equal(e, args[0]) {
				l.items = append(l.items[:i], l.items[i+1:]...)
				return nil, nil
			}
		}
		return nil, errors.New("x not in list")
	},
	"pop": func(_ *renderer, l *List, args []any, _ *Dict) (any, error) {
		if err := nargs(args, 0, 1); err != nil {
			return nil, err
		}
		i := -1
		if len(args) == 1 {
			var err error
			if i, err = intArg(args[0], "index"); err != nil {
				return nil, err
			}
		}
		j, ok := index(i, len(l.items))
		if !ok {
			return nil, errors.New("pop index out of range")
		}
		v := l.items[j]
		l.items = append(l.items[:j], l.items[j+1:]...)
		return v, nil
	},
	"index": func(_ *renderer, l *List, args []any, _ *Dict) (any, error) {
		if err := nargs(args, 1, 3); err != nil {
			return nil, err
		}
		start, stop, _, err := sliceBounds(arg(args, nil, 1, "", nil), arg(args, nil, 2, "", nil), nil, len(l.items))
		if err != nil {
			return nil, err
		}
		for i := start; i < stop; i++ {
			if equal(l.items[i], args[0]) {
				return i, nil
			}
		}
		return nil, fmt.Errorf("%s is not in list", repr(args[0]))
	},
	"count": func(_ *renderer, l *List, args []any, _ *Dict) (any, error) {
		if err := nargs(args, 1, 1); err != nil {
			return nil, err
		}
		n := 0
		for _, e := range l.items {
			if equal(e, args[0]) {
				n++
			}
		}
		return n, nil
	},
	"reverse": func(_ *renderer, l *List, args []any, _ *Dict) (any, error) {
		for i, j := 0, len(l.items)-1; i < j; i, j = i+1, j-1 {
			l.items[i], l.items[j] = l.items[j], l.items[i]
		}
		return nil, nargs(args, 0, 0)
	},
	"sort": func(_ *renderer, l *List, args []any, kw *Dict) (any, error) {
		if err := nargs(args, 0, 0); err != nil {
			return nil, err
		}
		rev, _ := truth(arg(nil, kw, 0, "reverse", false))
		var err error
		sort.SliceStable(l.items, func(i, j int) bool {
			c, e := compare(l.items[i], l.items[j])
			if e != nil && err == nil {
				err = e
			}
			if rev {
				return c > 0
			}
			return c < 0
		})
		return nil, err
	},
	"copy": func(_ *renderer, l *List, args []any, _ *Dict) (any, error) {
		return &List{items: append([]any(nil), l.items...)}, nargs(args, 0, 0)
	},
	"clear": func(_ *renderer, l *List, args []any, _ *Dict) (any, error) {
		l.items = nil
		return nil, nargs(args, 0, 0)
	},
}

type dictMethod func(r *renderer, d *Dict, args []any, kw *Dict) (any, error)

var dictMethods map[string]dictMethod

func init() {
	dictMethods = map[string]dictMethod{
		"get": func(_ *renderer, d *Dict, args []any, kw *Dict) (any, error) {
			if len(args) < 1 && kw.Len() == 0 {
				return nil, errors.New("get() needs a key")
			}
			key := arg(args, kw, 0, "key", nil)
			def := arg(args, kw, 1, "default", nil)
			if v, ok := d.Get(key); ok {
				return v, nil
			}
			if d.salt {
				if s, ok := key.(string); ok {
					delim, err := strArg(arg(args, kw, 2, "delimiter", ":"), "delimiter")
					if err != nil {
						return nil, err
					}
					if v, ok := traverse(d, s, delim); ok {
						return v, nil
					}
				}
			}
			return def, nil
		},
		"items": func(_ *renderer, d *Dict, args []any, _ *Dict) (any, error) {
			out := &List{items: make([]any, d.Len())}
			for i, k := range d.keys {
				out.items[i] = Tuple{k, d.vals[i]}
			}
			return out, nargs(args, 0, 0)
		},
		"keys": func(_ *renderer, d *Dict, args []any, _ *Dict) (any, error) {
			return &List{items: append([]any(nil), d.keys...)}, nargs(args, 0, 0)
		},
		"values": func(_ *renderer, d *Dict, args []any, _ *Dict) (any, error) {
			return &List{items: append([]any(nil), d.vals...)}, nargs(args, 0, 0)
		},
		"copy": func(_ *renderer, d *Dict, args []any, _ *Dict) (any, error) {
			return d.copy(), nargs(args, 0, 0)
		},
		"update": func(_ *renderer, d *Dict, args []any, kw *Dict) (any, error) {
			if err := nargs(args, 0, 1); err != nil {
				return nil, err
			}
			if len(args) == 1 {
				switch o := args[0].(type) {
				case *Dict:
					for i, k := range o.keys {
						if err := dictStore(d, k, o.vals[i]); err != nil {
							return nil, err
						}
					}
				default:
					its, err := items(o)
					if err != nil {
						return nil, fmt.Errorf("update() needs a dict, not %s", typeName(o))
					}
					for _, it := range its {
						pair, err := items(it)
						if err != nil || len(pair) != 2 {
							return nil, errors.New("update() sequence elements must be pairs")
						}
						if err := dictStore(d, pair[0], pair[1]); err != nil {
							return nil, err
						}
					}
				}
			}
			for i, k := range kw.keys {
				if err := dictStore(d, k, kw.vals[i]); err != nil {
					return nil, err
				}
			}
			return nil, nil
		},
		"setdefault": func(_ *renderer, d *Dict, args []any, _ *Dict) (any, error) {
			if err := nargs(args, 1, 2); err != nil {
				return nil, err
			}
			if v, ok := d.Get(args[0]); ok {
				return v, nil
			}
			def := arg(args, nil, 1, "", nil)
			return def, dictStore(d, args[0], def)
		},
		"pop": func(_ *renderer, d *Dict, args []any, _ *Dict) (any, error) {
			if err := nargs(args, 1, 2); err != nil {
				return nil, err
			}
			v, ok := d.Get(args[0])
			if !ok {
				if len(args) == 2 {
					return args[1], nil
				}
				return nil, fmt.Errorf("key %s not found", repr(args[0]))
			}
			d.Delete(args[0])
			return v, nil
		},
		"popitem": func(_ *renderer, d *Dict, args []any, _ *Dict) (any, error) {
			if d.Len() == 0 {
				return nil, errors.New("dictionary is empty")
			}
			k, v := d.keys[d.Len()-1], d.vals[d.Len()-1]
			d.Delete(k)
			return Tuple{k, v}, nargs(args, 0, 0)
		},
		"clear": func(_ *renderer, d *Dict, args []any, _ *Dict) (any, error) {
			*d = *newDict(0)
			return nil, nargs(args, 0, 0)
		},
	}
}

// dictStore sets d[k] = v, refusing a dict that would contain itself.
func dictStore(d *Dict, k, v any) error {
	if reaches(v, d, 0) {
		return fmt.Errorf("cannot store %s: a dict cannot contain itself", repr(k))
	}
	return d.Set(k, v)
}

// reaches reports whether target (a *Dict or *List) is reachable from v.
func reaches(v, target any, depth int) bool {
	if depth > 100 {
		return true
	}
	switch x := v.(type) {
	case *Dict:
		if any(x) == target {
			return true
		}
		for _, e := range x.vals {
			if reaches(e, target, depth+1) {
				return true
			}
		}
	case *List:
		if any(x) == target {
			return true
		}
		for _, e := range x.items {
			if reaches(e, target, depth+1) {
				return true
			}
		}
	case Tuple:
		for _, e := range x {
			if reaches(e, target, depth+1) {
				return true
			}
		}
	}
	return false
}

// parseInt parses a Python int literal in base 10.
func parseInt(s string) (int, error) {
	i, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(s, "_", "")))
	return i, err
}
