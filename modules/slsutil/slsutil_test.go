package slsutil

import (
	"context"
	"reflect"
	"testing"

	"github.com/brinecm/brine/modules"
)

func TestSerialize(t *testing.T) {
	obj := map[string]any{"b": []any{1, "x"}, "a": map[string]any{"k": "<v>"}}
	tests := []struct {
		serializer string
		opts       map[string]any
		want       string
	}{
		{"yaml", map[string]any{"default_flow_style": false, "allow_unicode": true}, "a:\n  k: <v>\nb:\n  - 1\n  - x\n"},
		{"yaml", map[string]any{"default_flow_style": true}, "{\"a\": {\"k\": \"<v>\"}, \"b\": [1, \"x\"]}\n"},
		{"json", nil, `{"a": {"k": "<v>"}, "b": [1, "x"]}`},
		{"json", map[string]any{"indent": 2}, "{\n  \"a\": {\n    \"k\": \"<v>\"\n  },\n  \"b\": [\n    1,\n    \"x\"\n  ]\n}"},
	}
	for _, tc := range tests {
		t.Run(tc.serializer, func(t *testing.T) {
			got, err := modules.Call(context.Background(), &modules.Runtime{}, "slsutil.serialize", []any{tc.serializer, obj}, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := Serialize("toml", obj, nil); err == nil {
		t.Error("an unsupported serializer was accepted")
	}
}

func TestMergeAndUpdate(t *testing.T) {
	a := map[string]any{"k": map[string]any{"x": 1}, "l": []any{1}}
	b := map[string]any{"k": map[string]any{"y": 2}, "l": []any{2}}
	got, err := modules.Call(context.Background(), &modules.Runtime{}, "slsutil.merge", []any{a, b},
		map[string]any{"strategy": "recurse", "merge_lists": true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"k": map[string]any{"x": 1, "y": 2}, "l": []any{1, 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merge: got %#v, want %#v", got, want)
	}
	if !reflect.DeepEqual(a, map[string]any{"k": map[string]any{"x": 1}, "l": []any{1}}) {
		t.Errorf("merge changed obj_a: %#v", a)
	}
	if _, err := modules.Call(context.Background(), &modules.Runtime{}, "slsutil.update", []any{a, b}, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, map[string]any{"k": map[string]any{"x": 1, "y": 2}, "l": []any{2}}) {
		t.Errorf("update did not update dest in place: %#v", a)
	}
}
