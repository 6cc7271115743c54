package defaults

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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

// TestGet reads a formula's defaults from real files of the state tree,
// as Salt's defaults.get reads salt://<formula>/defaults.yaml.
func TestGet(t *testing.T) {
	root := t.TempDir()
	for name, data := range map[string]string{
		"nginx/defaults.yaml": "server:\n  port: 80\n  names: [a, b]\n",
		"app/defaults.json":   `{"user": "svc", "limits": {"files": 1024}, "ratio": 0.5}`,
		"both/defaults.yaml":  "from: yaml\n",
		"both/defaults.json":  `{"from": "json"}`,
		"bad/defaults.yaml":   "a: [\n",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rt := &modules.Runtime{FileRoots: []string{filepath.Join(root, "missing-root"), root}}
	tests := []struct {
		name    string
		args    []any
		kwargs  map[string]any
		want    any
		wantErr string
	}{
		{"nested key", []any{"nginx:server:port"}, nil, 80, ""},
		{"list index", []any{"nginx:server:names:1"}, nil, "b", ""},
		{"json file, whole numbers are integers", []any{"app:limits:files"}, nil, int64(1024), ""},
		{"json fractions are floats", []any{"app:ratio"}, nil, 0.5, ""},
		{"yaml before json", []any{"both:from"}, nil, "yaml", ""},
		{"whole file", []any{"app"}, nil, map[string]any{"user": "svc", "limits": map[string]any{"files": int64(1024)}, "ratio": 0.5}, ""},
		{"missing key gives default", []any{"nginx:server:tls"}, map[string]any{"default": "off"}, "off", ""},
		{"missing key without default gives ''", []any{"nginx:nope"}, nil, "", ""},
		{"missing key with default=None gives None", []any{"nginx:nope"}, map[string]any{"default": nil}, nil, ""},
		{"missing key with a positional None gives None", []any{"nginx:nope", nil}, nil, nil, ""},
		{"missing key with default='' gives ''", []any{"nginx:nope"}, map[string]any{"default": ""}, "", ""},
		{"missing key with default=False gives False", []any{"nginx:nope"}, map[string]any{"default": false}, false, ""},
		{"present key ignores default=None", []any{"nginx:server:port"}, map[string]any{"default": nil}, 80, ""},
		{"missing formula", []any{"nothere"}, nil, nil, ""},
		{"missing formula key with default=None gives None", []any{"nothere:x"}, map[string]any{"default": nil}, nil, ""},
		{"missing formula key gives default", []any{"nothere:x", 5}, nil, 5, ""},
		{"bad yaml names the file", []any{"bad:a"}, nil, nil, "bad/defaults.yaml"},
		{"path escape refused", []any{"../etc:x"}, nil, nil, "is not a formula name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := modules.Call(context.Background(), rt, "defaults.get", tc.args, tc.kwargs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}
