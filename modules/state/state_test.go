package state_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/pkg/sls"
)

func runtimeFor(t *testing.T, id string) (*modules.Runtime, map[string]any) {
	t.Helper()
	return &modules.Runtime{ID: id, Grains: map[string]any{"id": id, "os": "Debian"},
			FileRoots: []string{"testdata/tree"}, PillarRoots: []string{"testdata/pillar"}},
		map[string]any{"root": t.TempDir()}
}

func call(t *testing.T, rt *modules.Runtime, fun string, args []any, kw map[string]any) any {
	t.Helper()
	out, err := modules.Call(context.Background(), rt, fun, args, kw)
	if err != nil {
		t.Fatalf("%s: %v", fun, err)
	}
	return out
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHighstatePerMinion applies the same tree to two minions: each gets
// its own top-file SLS, its own pillar, map.jinja defaults merged with its
// pillar, a rendered template, and include/extend resolved.
func TestHighstatePerMinion(t *testing.T) {
	cases := []struct {
		id        string
		wantConf  string // "" when web is not applied
		wantMotd  string
		wantCount int
	}{
		{"web1", "host=web1 port=8081 workers=2 site=lab\n", "web1 in lab\n", 3},
		{"web2", "host=web2 port=80 workers=2 site=lab\n", "web2 in lab\n", 3},
		{"db1", "", "db1 in lab\n", 1},
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			rt, pillar := runtimeFor(t, c.id)
			root := pillar["root"].(string)
			h := call(t, rt, "state.highstate", nil, map[string]any{"pillar": pillar}).(result.Highstate)
			if len(h) != c.wantCount || h.Failed() {
				t.Fatalf("%d states (failed=%v), want %d: %+v", len(h), h.Failed(), c.wantCount, h)
			}
			if got := read(t, filepath.Join(root, "etc/motd")); got != c.wantMotd {
				t.Errorf("motd %q, want %q", got, c.wantMotd)
			}
			if c.wantConf == "" {
				return
			}
			if got := read(t, filepath.Join(root, "etc/web.conf")); got != c.wantConf {
				t.Errorf("web.conf %q, want %q", got, c.wantConf)
			}
			if got := read(t, filepath.Join(root, "etc/vhost")); got != "extended\n" {
				t.Errorf("extend did not overwrite contents: %q", got)
			}
			again := call(t, rt, "state.highstate", nil, map[string]any{"pillar": pillar}).(result.Highstate)
			for _, r := range again {
				if len(r.Changes) != 0 {
					t.Errorf("second run changed %s: %v", r.Key, r.Changes)
				}
			}
		})
	}
}

func TestShowFunctions(t *testing.T) {
	rt, pillar := runtimeFor(t, "web1")
	kw := map[string]any{"pillar": pillar}
	top := call(t, rt, "state.show_top", nil, kw)
	if want := map[string]any{"base": []any{"common", "web"}}; !reflect.DeepEqual(top, want) {
		t.Errorf("show_top %v, want %v", top, want)
	}
	high := call(t, rt, "state.show_sls", []any{"web"}, kw).(map[string]any)
	if _, ok := high["vhost"]; !ok || len(high) != 2 {
		t.Errorf("show_sls web: %v", high)
	}
	for _, tc := range []struct {
		mods []any
		want []any
	}{
		{nil, []any{"common", "web.vhost", "web"}}, // web includes web.vhost
		{[]any{"web"}, []any{"web.vhost", "web"}},
	} {
		if got := call(t, rt, "state.show_states", tc.mods, kw); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("show_states %v: %v, want %v", tc.mods, got, tc.want)
		}
	}
	low := call(t, rt, "state.show_lowstate", nil, kw).([]any)
	var ids []string
	for _, l := range low {
		ids = append(ids, l.(map[string]any)["__id__"].(string))
	}
	if want := []string{"motd", "vhost", "web-conf"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("lowstate order %v, want %v", ids, want)
	}
	low = call(t, rt, "state.show_low_sls", []any{"web"}, kw).([]any)
	ids = nil
	for _, l := range low {
		m := l.(map[string]any)
		ids = append(ids, m["__sls__"].(string)+":"+m["__id__"].(string))
	}
	if want := []string{"web.vhost:vhost", "web:web-conf"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("show_low_sls web: %v, want %v", ids, want)
	}
	if _, err := modules.Call(context.Background(), rt, "state.show_low_sls", nil, kw); err == nil {
		t.Error("show_low_sls without SLS names did not fail")
	}
	if _, err := os.Stat(filepath.Join(pillar["root"].(string), "etc")); err == nil {
		t.Error("show functions changed the system")
	}
}

func TestSingle(t *testing.T) {
	rt, pillar := runtimeFor(t, "web1")
	path := filepath.Join(pillar["root"].(string), "single")
	h := call(t, rt, "state.single", []any{"file.managed", path}, map[string]any{"contents": "one"}).(result.Highstate)
	if len(h) != 1 || h.Failed() || read(t, path) != "one\n" {
		t.Fatalf("state.single: %+v", h)
	}
	// A typo runs, as Salt runs it, with a warning naming the argument...
	h = call(t, rt, "state.single", []any{"file.managed", path}, map[string]any{"contnets": "x"}).(result.Highstate)
	if want := "unknown argument 'contnets' (did you mean 'contents'?)"; len(h) != 1 || h.Failed() || len(h[0].Warnings) != 1 || h[0].Warnings[0] != want {
		t.Fatalf("typo in state.single: %+v, want the warning %q", h, want)
	}
	// ... and strict_arguments refuses it.
	rt.Opts = map[string]any{"strict_arguments": true}
	_, err := modules.Call(context.Background(), rt, "state.single", []any{"file.managed", path}, map[string]any{"contnets": "x"})
	var errs sls.Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("typo in state.single with strict_arguments: %v", err)
	}
}

func TestCommaSeparatedMods(t *testing.T) {
	rt, pillar := runtimeFor(t, "db1")
	h := call(t, rt, "state.sls", []any{"common,web.vhost"}, map[string]any{"pillar": pillar, "test": true}).(result.Highstate)
	if len(h) != 2 {
		t.Fatalf("%d states, want 2", len(h))
	}
	for _, r := range h {
		if r.Result != nil {
			t.Errorf("test mode result %v for %s", *r.Result, r.Key)
		}
	}
}
