package grains

import (
	"context"
	"reflect"
	"testing"

	"github.com/brinecm/brine/modules"
)

func TestFilterByAndGet(t *testing.T) {
	rt := &modules.Runtime{Grains: map[string]any{"os_family": "Debian", "os": "Debian", "osfinger": "Debian-12",
		"a": map[string]any{"b": "nested"}}}
	lookup := map[string]any{"Debian": map[string]any{"pkg": "chrony"}, "RedHat": map[string]any{"pkg": "chronyd"},
		"default": map[string]any{"pkg": "x"}}
	tests := []struct {
		name   string
		fun    string
		args   []any
		kwargs map[string]any
		want   any
	}{
		{"filter_by os_family by default", "grains.filter_by", []any{lookup}, nil, map[string]any{"pkg": "chrony"}},
		{"filter_by other grain falls to default", "grains.filter_by", []any{lookup, "osfinger"}, nil, map[string]any{"pkg": "x"}},
		{"filter_by merge and named default", "grains.filter_by", []any{lookup}, map[string]any{"grain": "nosuch",
			"default": "RedHat", "merge": map[string]any{"v": 1}}, map[string]any{"pkg": "chronyd", "v": 1}},
		{"get with delimiter", "grains.get", []any{"a.b", "", "."}, nil, "nested"},
		{"get default", "grains.get", []any{"nosuch"}, map[string]any{"default": 7}, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := modules.Call(context.Background(), rt, tc.fun, tc.args, tc.kwargs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}
