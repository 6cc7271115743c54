package dict

import (
	"reflect"
	"testing"
)

func TestTraverse(t *testing.T) {
	m := map[string]any{
		"os":     "Debian",
		"a:b":    "literal key",
		"nested": map[string]any{"x": map[string]any{"y": 1}},
		"list":   []any{"zero", map[string]any{"k": "v"}},
		"scalar": 3,
		"nilval": nil,
	}
	cases := []struct {
		key   string
		want  any
		found bool
	}{
		{"os", "Debian", true},
		{"a:b", "literal key", true},
		{"nested:x:y", 1, true},
		{"list:0", "zero", true},
		{"list:1:k", "v", true},
		{"list:2", nil, false},
		{"list:x", nil, false},
		{"scalar:deeper", nil, false},
		{"missing", nil, false},
		{"nilval", nil, true},
	}
	for _, c := range cases {
		got, ok := Traverse(m, c.key, "")
		if ok != c.found || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Traverse(%q) = %v, %v; want %v, %v", c.key, got, ok, c.want, c.found)
		}
	}
	if got := Get(m, "nested|x", "def"); got != "def" {
		t.Errorf("Get with default = %v", got)
	}
	if got, ok := Traverse(m, "nested|x|y", "|"); !ok || got != 1 {
		t.Errorf("custom delimiter: %v %v", got, ok)
	}
}

func TestMerge(t *testing.T) {
	dst := map[string]any{"a": map[string]any{"x": 1, "y": 2}, "b": []any{1}, "c": "keep"}
	src := map[string]any{"a": map[string]any{"y": 3, "z": 4}, "b": []any{2}, "d": "new"}
	want := map[string]any{"a": map[string]any{"x": 1, "y": 3, "z": 4}, "b": []any{2}, "c": "keep", "d": "new"}
	if got := Merge(dst, src); !reflect.DeepEqual(got, want) {
		t.Errorf("Merge = %v, want %v", got, want)
	}
	if got := Merge(nil, map[string]any{"k": 1}); got["k"] != 1 {
		t.Errorf("Merge into nil = %v", got)
	}
}
