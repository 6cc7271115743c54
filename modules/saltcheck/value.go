package saltcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/brinecm/brine/pkg/output"
	"github.com/brinecm/brine/pkg/saltdata"
)

// The values saltcheck compares are YAML or JSON trees: nil, bool, int64,
// float64, string, []any and map[string]any. Salt compares them with
// Python's rules, so these helpers follow Python: 1 == 1.0 == True,
// "a" in "cat", [1, 2] < [1, 3], and a str() of a value as Python prints it.

// normalize turns any value (a function's Go return, a YAML-decoded
// expectation) into the tree shape above, through JSON.
func normalize(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode value: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("decode value: %w", err)
	}
	return numbers(out), nil
}

// numbers replaces json.Number by int64 (integers) or float64.
func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case []any:
		for i := range v {
			v[i] = numbers(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = numbers(v[k])
		}
	}
	return v
}

// typeName is the Python name of v's type, for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// number returns v as a float when it is a Python number (bool included).
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// equal is Python's a == b.
func equal(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	switch a := a.(type) {
	case nil:
		return b == nil
	case string:
		s, ok := b.(string)
		return ok && a == s
	case []any:
		l, ok := b.([]any)
		if !ok || len(a) != len(l) {
			return false
		}
		for i := range a {
			if !equal(a[i], l[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		m, ok := b.(map[string]any)
		if !ok || len(a) != len(m) {
			return false
		}
		for k, v := range a {
			w, ok := m[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

// compare is Python's ordering of a and b: -1, 0 or 1, or an error for
// values Python cannot order (a str and an int, a dict, None).
func compare(a, b any) (int, error) {
	if x, ok := number(a); ok {
		if y, ok := number(b); ok {
			switch {
			case x < y:
				return -1, nil
			case x > y:
				return 1, nil
			}
			return 0, nil
		}
	}
	switch a := a.(type) {
	case string:
		if s, ok := b.(string); ok {
			return strings.Compare(a, s), nil
		}
	case []any:
		if l, ok := b.([]any); ok {
			for i := 0; i < len(a) && i < len(l); i++ {
				if equal(a[i], l[i]) {
					continue
				}
				return compare(a[i], l[i])
			}
			switch {
			case len(a) < len(l):
				return -1, nil
			case len(a) > len(l):
				return 1, nil
			}
			return 0, nil
		}
	}
	return 0, fmt.Errorf("a %s and a %s cannot be ordered", typeName(a), typeName(b))
}

// contains is Python's needle in haystack: a substring of a str, an
// element of a list, a key of a dict.
func contains(haystack, needle any) (bool, error) {
	switch h := haystack.(type) {
	case string:
		s, ok := needle.(string)
		if !ok {
			return false, fmt.Errorf("cannot look for a %s in a str: expected_return must be a string", typeName(needle))
		}
		return strings.Contains(h, s), nil
	case []any:
		for _, e := range h {
			if equal(e, needle) {
				return true, nil
			}
		}
		return false, nil
	case map[string]any:
		switch k := needle.(type) {
		case string:
			_, ok := h[k]
			return ok, nil
		case []any, map[string]any:
			return false, fmt.Errorf("cannot look for a %s among the keys of a dict", typeName(needle))
		}
		return false, nil
	}
	return false, fmt.Errorf("the return is a %s (%s), not a str, list or dict to look in", typeName(haystack), output.PyRepr(haystack))
}

// cast converts expected to the type of returned, as Salt does before
// comparing (Python's type(returned)(expected)); a value that does not
// convert is kept as it is. A nil return casts nothing.
func cast(expected, returned any) any {
	switch returned.(type) {
	case bool:
		if s, ok := expected.(string); ok && s == "False" {
			return false
		}
		return saltdata.Truthy(expected)
	case int64:
		switch e := expected.(type) {
		case bool:
			if e {
				return int64(1)
			}
			return int64(0)
		case float64:
			if !math.IsInf(e, 0) && !math.IsNaN(e) {
				return int64(e)
			}
		case string:
			if i, err := strconv.ParseInt(strings.TrimSpace(e), 10, 64); err == nil {
				return i
			}
		}
	case float64:
		if f, ok := number(expected); ok {
			return f
		}
		if s, ok := expected.(string); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
				return f
			}
		}
	case string:
		return output.PyStr(expected)
	case []any:
		switch e := expected.(type) {
		case string:
			chars := []any{}
			for _, r := range e {
				chars = append(chars, string(r))
			}
			return chars
		case map[string]any:
			keys := []any{}
			for _, k := range sortedKeys(e) {
				keys = append(keys, k)
			}
			return keys
		}
	}
	return expected
}

// section walks into v along path split by delim, as Salt's
// traverse_dict_and_list does: a dict by key, a list by index (or, when
// the part is not a number, the first dict in the list with that key).
// A missing part gives False, Salt's default.
func section(v any, path, delim string) any {
	if delim == "" {
		delim = ":"
	}
	cur := v
	for _, part := range strings.Split(path, delim) {
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[part]
			if !ok {
				return false
			}
			cur = next
		case []any:
			if i, err := strconv.Atoi(part); err == nil {
				if i < 0 {
					i += len(c)
				}
				if i < 0 || i >= len(c) {
					return false
				}
				cur = c[i]
				continue
			}
			found := false
			for _, e := range c {
				if m, ok := e.(map[string]any); ok {
					if next, ok := m[part]; ok {
						cur, found = next, true
						break
					}
				}
			}
			if !found {
				return false
			}
		default:
			return false
		}
	}
	return cur
}
