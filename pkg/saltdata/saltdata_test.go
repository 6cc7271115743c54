package saltdata

import (
	"reflect"
	"strings"
	"testing"
)

type m = map[string]any
type l = []any

func TestFilterBy(t *testing.T) {
	grains := m{"os_family": "Debian", "os": "Ubuntu", "osmajorrelease": 12, "roles": l{"db", "web"}, "none": nil}
	lookup := m{
		"Debian":  m{"pkg": "apache2", "conf": m{"a": 1}},
		"RedHat":  m{"pkg": "httpd"},
		"Ubu*":    m{"pkg": "ubuntu-pattern"},
		"12":      m{"pkg": "twelve"},
		"web":     m{"pkg": "role-web"},
		"default": m{"pkg": "generic", "conf": m{"b": 2}},
		"common":  m{"svc": "common", "conf": m{"c": 3}},
	}
	tests := []struct {
		name        string
		grain       string
		merge       any
		def, base   string
		want        any
		errContains string
	}{
		{name: "exact", grain: "os_family", def: "default", want: m{"pkg": "apache2", "conf": m{"a": 1}}},
		{name: "glob", grain: "os", def: "default", want: m{"pkg": "ubuntu-pattern"}},
		{name: "int grain matches string key", grain: "osmajorrelease", def: "default", want: m{"pkg": "twelve"}},
		{name: "list grain tries each item", grain: "roles", def: "default", want: m{"pkg": "role-web"}},
		{name: "missing grain falls to default", grain: "nosuch", def: "default", want: m{"pkg": "generic", "conf": m{"b": 2}}},
		{name: "missing default is None", grain: "nosuch", def: "nodefault", want: nil},
		{name: "merge over selection", grain: "os_family", def: "default", merge: m{"conf": m{"z": 9}},
			want: m{"pkg": "apache2", "conf": m{"a": 1, "z": 9}}},
		{name: "merge alone", grain: "nosuch", def: "nodefault", merge: m{"x": 1}, want: m{"x": 1}},
		{name: "base under selection", grain: "os_family", def: "default", base: "common",
			want: m{"pkg": "apache2", "svc": "common", "conf": m{"a": 1, "c": 3}}},
		{name: "base alone", grain: "nosuch", def: "nodefault", base: "common", want: m{"svc": "common", "conf": m{"c": 3}}},
		{name: "merge not a dict", grain: "os_family", def: "default", merge: "x", errContains: "merge must be a dictionary"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FilterBy(lookup, tc.grain, grains, tc.merge, tc.def, tc.base)
			if tc.errContains != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errContains) {
					t.Fatalf("err = %v, want one containing %q", err, tc.errContains)
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
	if !reflect.DeepEqual(lookup["Debian"], m{"pkg": "apache2", "conf": m{"a": 1}}) {
		t.Errorf("FilterBy changed its lookup table: %#v", lookup["Debian"])
	}
}

func TestMerge(t *testing.T) {
	a := m{"k": m{"x": 1, "l": l{1, 2}}, "top": "a", "only_a": true}
	b := m{"k": m{"y": 2, "l": l{2, 3}}, "top": "b"}
	tests := []struct {
		strategy, renderer string
		mergeLists         bool
		want               m
	}{
		{"recurse", "", false, m{"k": m{"x": 1, "y": 2, "l": l{2, 3}}, "top": "b", "only_a": true}},
		{"smart", "yaml", true, m{"k": m{"x": 1, "y": 2, "l": l{1, 2, 3}}, "top": "b", "only_a": true}},
		{"smart", "yamlex", false, m{"k": m{"x": 1, "y": 2, "l": l{1, 2, 3}}, "top": "b", "only_a": true}},
		{"overwrite", "", false, m{"k": m{"y": 2, "l": l{2, 3}}, "top": "b", "only_a": true}},
		{"list", "", false, m{"k": l{m{"x": 1, "l": l{1, 2}}, m{"y": 2, "l": l{2, 3}}}, "top": l{"a", "b"}, "only_a": true}},
		{"none", "", false, m{"k": m{"x": 1, "y": 2, "l": l{2, 3}}, "top": "b", "only_a": true}},
	}
	for _, tc := range tests {
		t.Run(tc.strategy+"/"+tc.renderer, func(t *testing.T) {
			got, err := Merge(a, b, tc.strategy, tc.renderer, tc.mergeLists)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
	if !reflect.DeepEqual(a, m{"k": m{"x": 1, "l": l{1, 2}}, "top": "a", "only_a": true}) {
		t.Errorf("Merge changed its first argument: %#v", a)
	}
	if _, err := Merge(a, b, "bogus", "", false); err == nil {
		t.Error("an unknown strategy was accepted")
	}
}

func TestPillarGet(t *testing.T) {
	pillar := m{"app": m{"port": 80, "users": l{"bob"}}, "list": l{"b", "c"}, "str": "s"}
	tests := []struct {
		name  string
		key   string
		def   any
		merge bool
		want  any
	}{
		{"plain hit", "app:port", 1, false, 80},
		{"plain miss", "app:nope", 1, false, 1},
		{"no merge replaces default", "app", m{"host": "h"}, false, m{"port": 80, "users": l{"bob"}}},
		{"merge dict", "app", m{"host": "h", "port": 1}, true, m{"host": "h", "port": 80, "users": l{"bob"}}},
		{"merge dict missing key keeps default", "nope", m{"host": "h"}, true, m{"host": "h"}},
		{"merge list", "list", l{"a", "b"}, true, l{"a", "b", "c"}},
		{"merge type mismatch returns pillar value", "str", m{"a": 1}, true, "s"},
		{"merge scalar default", "str", "d", true, "s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PillarGet(pillar, tc.key, tc.def, "", tc.merge, false, nil); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestConfigGet(t *testing.T) {
	src := ConfigSources{
		Opts:   m{"a": "opts", "d": m{"x": 1}},
		Grains: m{"a": "grains", "b": "grains", "d": m{"y": 2}},
		Pillar: m{"a": "pillar", "b": "pillar", "c": "pillar", "d": m{"z": 3}, "master": m{"m": "master"}},
	}
	tests := []struct {
		name  string
		src   ConfigSources
		key   string
		merge string
		want  any
	}{
		{"opts first", src, "a", "", "opts"},
		{"grains second", src, "b", "", "grains"},
		{"pillar third", src, "c", "", "pillar"},
		{"master pillar last", src, "m", "", "master"},
		{"default", src, "nope", "", "def"},
		{"omit opts", ConfigSources{Opts: src.Opts, Grains: src.Grains, OmitOpts: true}, "a", "", "grains"},
		{"first source wins whole", src, "d", "", m{"x": 1}},
		{"recurse merges sources", src, "d", "recurse", m{"x": 1, "y": 2, "z": 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigGet(tc.src, tc.key, "def", "", tc.merge)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}
