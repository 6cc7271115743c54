package jinja

import (
	"errors"
	"fmt"
	"sort"
)

// maxRange bounds range(), as Jinja's sandbox does, so a typo cannot make
// a render loop for hours.
const maxRange = 100000

// sortStrings sorts s in place.
func sortStrings(s []string) { sort.Strings(s) }

// globals returns the functions every template sees.
func globals() *scope {
	sc := newScope(nil)
	for _, b := range []*builtin{
		{name: "range", fn: rangeFunc},
		{name: "namespace", fn: func(_ *renderer, args []any, kw *Dict) (any, error) {
			d := newDict(kw.Len())
			for _, a := range args {
				if m, ok := a.(*Dict); ok {
					for i, k := range m.keys {
						_ = d.Set(k, m.vals[i])
					}
				}
			}
			for i, k := range kw.keys {
				_ = d.Set(k, kw.vals[i])
			}
			return &namespace{d: d}, nil
		}},
		{name: "dict", fn: func(_ *renderer, args []any, kw *Dict) (any, error) {
			d := newDict(kw.Len())
			if len(args) == 1 {
				if m, ok := args[0].(*Dict); ok {
					d = m.copy()
				}
			}
			for i, k := range kw.keys {
				_ = d.Set(k, kw.vals[i])
			}
			return d, nil
		}},
		{name: "lipsum", fn: func(*renderer, []any, *Dict) (any, error) { return "Lorem ipsum dolor sit amet.", nil }},
		{name: "cycler", fn: func(_ *renderer, args []any, _ *Dict) (any, error) {
			return nil, errors.New("cycler() is not supported")
		}},
		{name: "joiner", fn: func(_ *renderer, args []any, _ *Dict) (any, error) {
			sep := ", "
			if len(args) > 0 {
				sep = str(args[0])
			}
			used := false
			return &builtin{name: "joiner", fn: func(*renderer, []any, *Dict) (any, error) {
				if !used {
					used = true
					return "", nil
				}
				return sep, nil
			}}, nil
		}},
		{name: "raise", fn: func(r *renderer, args []any, _ *Dict) (any, error) {
			msg := ""
			if len(args) > 0 {
				msg = str(args[0])
			}
			return nil, r.fail(errors.New(msg))
		}},
	} {
		sc.vars[b.name] = b
	}
	return sc
}

// rangeFunc is Python's range(stop) / range(start, stop[, step]) as a list.
func rangeFunc(_ *renderer, args []any, kw *Dict) (any, error) {
	if kw.Len() > 0 || len(args) < 1 || len(args) > 3 {
		return nil, errors.New("range() takes 1 to 3 integer arguments")
	}
	n := make([]int, len(args))
	for i, a := range args {
		v, ok := a.(int)
		if !ok {
			return nil, fmt.Errorf("range(): %s is not an integer", repr(a))
		}
		n[i] = v
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
	out := &List{items: make([]any, count)}
	for i := range out.items {
		out.items[i] = start + i*step
	}
	return out, nil
}
