// Package saltdata holds the data helpers Salt's execution modules share
// (salt.utils.dictupdate and salt.utils.data.filter_by): recursive dict
// updates, the merge strategies of slsutil.merge and pillar merging, and
// the grain-keyed lookups of grains.filter_by.
package saltdata

import (
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/brinecm/brine/pkg/dict"
	"github.com/brinecm/brine/pkg/fnmatch"
)

// Update merges upd into dest as salt.utils.dictupdate.update does and
// returns dest: a mapping in both is merged recursively, two lists are
// concatenated without duplicates when mergeLists is set (upd's list
// replaces dest's otherwise), and anything else in upd replaces dest's value.
func Update(dest, upd map[string]any, mergeLists bool) map[string]any {
	if dest == nil {
		dest = make(map[string]any, len(upd))
	}
	for k, v := range upd {
		switch uv := v.(type) {
		case map[string]any:
			if dv, ok := dest[k].(map[string]any); ok {
				dest[k] = Update(dv, uv, mergeLists)
				continue
			}
		case []any:
			if dv, ok := dest[k].([]any); ok && mergeLists {
				dest[k] = MergeLists(DeepCopy(dv).([]any), uv)
				continue
			}
		}
		dest[k] = v
	}
	return dest
}

// MergeLists appends to dst the items of src it does not hold yet.
func MergeLists(dst, src []any) []any {
	for _, x := range src {
		if !slices.ContainsFunc(dst, func(y any) bool { return Equal(x, y) }) {
			dst = append(dst, x)
		}
	}
	return dst
}

// Equal compares two plain values (maps, lists, scalars) as Python's ==
// does, where 1 == 1.0.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !Equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && fa == fb
	}
	return a == b
}

// number returns v as a float64 when it is a Go number.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// DeepCopy copies nested maps and lists, leaving scalars shared.
func DeepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = DeepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = DeepCopy(e)
		}
		return out
	}
	return v
}

// Strategies lists the merge strategies of Merge, as Salt names them.
var Strategies = []string{"smart", "recurse", "overwrite", "aggregate", "list", "none"}

// Merge merges b over a copy of a with one of Salt's strategies
// (salt.utils.dictupdate.merge): "recurse" (Update), "overwrite" (each of
// b's top-level keys replaces a's), "list" (a key in both becomes the list
// [a's value, b's value]), "aggregate" (as recurse, lists concatenated:
// brine has no yamlex tags to aggregate on), "none" (as recurse) and
// "smart" (aggregate for the yamlex renderer, recurse otherwise). a and b
// are left unchanged.
func Merge(a, b map[string]any, strategy, renderer string, mergeLists bool) (map[string]any, error) {
	if strategy == "" || strategy == "smart" {
		strategy = "recurse"
		if renderer == "yamlex" || len(renderer) > 7 && renderer[:7] == "yamlex_" {
			strategy = "aggregate"
		}
	}
	a = DeepCopy(a).(map[string]any)
	switch strategy {
	case "recurse", "none":
		return Update(a, b, mergeLists), nil
	case "aggregate":
		return Update(a, b, true), nil
	case "overwrite":
		for k, v := range b {
			a[k] = v
		}
		return a, nil
	case "list":
		for k, v := range b {
			if av, ok := a[k]; ok {
				a[k] = []any{av, v}
			}
		}
		return a, nil
	}
	return nil, fmt.Errorf("unknown merge strategy %q (use one of %v)", strategy, Strategies)
}

// FilterBy is salt.utils.data.filter_by, which grains.filter_by and
// pillar.filter_by call: the value of lookup (a ':'-delimited path into
// data, a list value trying each item) selects the entry of lookupDict whose
// key matches it as a shell glob; without a match the entry named def. The
// entry named base, when given, is the base the selected entry is merged
// over, and merge, when not nil, is merged over the result. An exact key
// wins over a pattern, and patterns are tried in sorted order (Go maps keep
// no order, where Python tries the keys as written).
func FilterBy(lookupDict map[string]any, lookup string, data map[string]any, merge any, def, base string) (any, error) {
	val, found := dict.Traverse(data, lookup, "")
	var vals []any
	switch v := val.(type) {
	case []any:
		vals = v
	default:
		if found {
			vals = []any{v}
		}
	}
	keys := make([]string, 0, len(lookupDict))
	for k := range lookupDict {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ret any
	matched := false
	for _, each := range vals {
		s := Str(each)
		if v, ok := lookupDict[s]; ok {
			ret, matched = v, true
			break
		}
		for _, k := range keys {
			if fnmatch.Match(k, s) {
				ret, matched = lookupDict[k], true
				break
			}
		}
		if matched {
			break
		}
	}
	if !matched || ret == nil {
		ret = lookupDict[def]
	}
	ret = DeepCopy(ret)
	if base != "" {
		if bv, ok := lookupDict[base]; ok {
			if ret == nil {
				ret = DeepCopy(bv)
			} else if bm, ok := bv.(map[string]any); ok {
				rm, ok := ret.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("filter_by: the base %q and the selected value must both be dictionaries, the selected value is %s", base, typeName(ret))
				}
				ret = Update(DeepCopy(bm).(map[string]any), rm, false)
			}
		}
	}
	if merge != nil {
		mm, ok := merge.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("filter_by: merge must be a dictionary, got %s", typeName(merge))
		}
		if ret == nil {
			return DeepCopy(mm), nil
		}
		rm, ok := ret.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("filter_by: cannot merge a dictionary into the selected value, a %s", typeName(ret))
		}
		ret = Update(rm, DeepCopy(mm).(map[string]any), false)
	}
	return ret, nil
}

// Str renders a scalar as Python's str() does, for matching grain values
// (numbers, booleans) against string keys.
func Str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return "None"
	}
	return fmt.Sprint(v)
}

// typeName names v's type as a Salt user knows it.
func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "dict"
	case []any:
		return "list"
	case string:
		return "str"
	case bool:
		return "bool"
	case int, int64:
		return "int"
	case float64:
		return "float"
	case nil:
		return "None"
	}
	return fmt.Sprintf("%T", v)
}
