package defaults

import (
	"context"
	"reflect"
	"testing"

	"github.com/brinecm/brine/modules"
)

func TestMergeInPlace(t *testing.T) {
	tests := []struct {
		name     string
		kwargs   map[string]any
		want     map[string]any
		destLeft map[string]any
	}{
		{"in place", nil,
			map[string]any{"a": map[string]any{"x": 1, "y": 2}, "l": []any{3}},
			map[string]any{"a": map[string]any{"x": 1, "y": 2}, "l": []any{3}}},
		{"merge_lists", map[string]any{"merge_lists": true},
			map[string]any{"a": map[string]any{"x": 1, "y": 2}, "l": []any{1, 2, 3}},
			map[string]any{"a": map[string]any{"x": 1, "y": 2}, "l": []any{1, 2, 3}}},
		{"not in place", map[string]any{"in_place": false},
			map[string]any{"a": map[string]any{"x": 1, "y": 2}, "l": []any{3}},
			map[string]any{"a": map[string]any{"x": 1}, "l": []any{1, 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dest := map[string]any{"a": map[string]any{"x": 1}, "l": []any{1, 2}}
			src := map[string]any{"a": map[string]any{"y": 2}, "l": []any{3}}
			got, err := modules.Call(context.Background(), &modules.Runtime{}, "defaults.merge", []any{dest, src}, tc.kwargs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("returned %#v, want %#v", got, tc.want)
			}
			if !reflect.DeepEqual(dest, tc.destLeft) {
				t.Errorf("dest is %#v after the call, want %#v", dest, tc.destLeft)
			}
		})
	}
	if _, err := modules.Call(context.Background(), &modules.Runtime{}, "defaults.merge", []any{"x", map[string]any{}}, nil); err == nil {
		t.Error("a string dest was accepted")
	}
}
