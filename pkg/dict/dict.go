// Package dict reads nested data (grains, pillar, opts) the way Salt's
// `grains.get` and `pillar.get` do: "a:b:c" walks mappings and list indexes.
package dict

import (
	"strconv"
	"strings"
)

// DefaultDelimiter separates path elements in keys such as "os:family".
const DefaultDelimiter = ":"

// Traverse walks m along the delim-separated key. Mappings are entered by
// key, lists by decimal index. It reports whether the whole path exists.
func Traverse(m map[string]any, key, delim string) (any, bool) {
	if delim == "" {
		delim = DefaultDelimiter
	}
	if v, ok := m[key]; ok { // a key may itself contain the delimiter
		return v, true
	}
	var cur any = m
	for _, part := range strings.Split(key, delim) {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[part]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// Get is Traverse with a default for missing paths.
func Get(m map[string]any, key string, def any) any {
	if v, ok := Traverse(m, key, DefaultDelimiter); ok {
		return v
	}
	return def
}

// Merge deep-merges src into dst, as Salt merges pillar and extend data:
// mappings merge recursively, anything else in src replaces dst's value.
// It returns dst (a new map when dst is nil).
func Merge(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = make(map[string]any, len(src))
	}
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = Merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}
