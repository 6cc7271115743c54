package dict

import (
	"slices"
	"testing"
)

func TestOrderMergeAndOrderedKeys(t *testing.T) {
	dst := &Order{Keys: []string{"b", "a"}, Sub: map[string]*Order{"a": {Keys: []string{"y", "x"}}}}
	src := &Order{Keys: []string{"c", "a", "d"}, Sub: map[string]*Order{"a": {Keys: []string{"z", "x"}}, "d": {Keys: []string{"q", "p"}}}}
	m := dst.Merge(src)
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"top: dst's keys, then src's new ones", m.Keys, []string{"b", "a", "c", "d"}},
		{"nested merge", m.Child("a").Keys, []string{"y", "x", "z"}},
		{"only in src", m.At("d").Keys, []string{"q", "p"}},
		{"dst unchanged", dst.Keys, []string{"b", "a"}},
		{"nil merge", (*Order)(nil).Merge(src).Keys, []string{"c", "a", "d"}},
		{"unknown keys sorted after", Ordered{Map: map[string]any{"a": 1, "zz": 1, "b": 1, "c": 1}, Order: m}.OrderedKeys(), []string{"b", "a", "c", "zz"}},
		{"no order: sorted", Ordered{Map: map[string]any{"b": 1, "a": 1}}.OrderedKeys(), []string{"a", "b"}},
		{"absent path", keysOf(m.At("a", "y", "nope")), nil},
	}
	for _, tt := range tests {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	v, _ := Ordered{Map: map[string]any{"d": map[string]any{"p": 1, "q": 2}}, Order: m}.Lookup("d")
	if o, ok := v.(Ordered); !ok || !slices.Equal(o.OrderedKeys(), []string{"q", "p"}) {
		t.Errorf("Lookup of a mapping: %#v", v)
	}
	list := WithOrder([]any{map[string]any{"a": 1, "b": 2}, "s"}, &Order{Items: []*Order{{Keys: []string{"b", "a"}}, nil}}).([]any)
	if o, ok := list[0].(Ordered); !ok || !slices.Equal(o.OrderedKeys(), []string{"b", "a"}) || list[1] != "s" {
		t.Errorf("WithOrder of a list: %#v", list)
	}
}

func keysOf(o *Order) []string {
	if o == nil {
		return nil
	}
	return o.Keys
}
