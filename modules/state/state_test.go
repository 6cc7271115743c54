package state_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/testfs"
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
	// As Salt's high data: requisites as written, and the definition order
	// (10000 and up) of states without an order of their own.
	conf, _ := high["web-conf"].(map[string]any)["file"].([]any)
	var req, order any
	for _, item := range conf {
		if m, ok := item.(map[string]any); ok {
			if v, ok := m["require"]; ok {
				req = v
			}
			if v, ok := m["order"]; ok {
				order = v
			}
		}
	}
	if want := []any{map[string]any{"file": "vhost"}}; !reflect.DeepEqual(req, want) {
		t.Errorf("show_sls web-conf require %v, want %v", req, want)
	}
	if n, ok := order.(int); !ok || n < 10000 {
		t.Errorf("show_sls web-conf order %v, want 10000 and up", order)
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

// TestRunSubsets runs parts of a real SLS tree with state.sls_id,
// exclude= and mock=True, and checks what ran by the files the commands
// create.
func TestRunSubsets(t *testing.T) {
	tests := []struct {
		name    string
		fun     string
		args    []any
		kwargs  map[string]any
		ran     []string // files created, i.e. commands run, sorted
		failed  []string // IDs whose state failed
		wantErr string
	}{
		{"sls_id runs the ID and what it requires", "state.sls_id", []any{"b", "main"}, nil, []string{"a", "b"}, nil, ""},
		{"sls_id of an included SLS's ID", "state.sls_id", []any{"d", "main"}, nil, []string{"d"}, nil, ""},
		{"sls_id of an unknown ID", "state.sls_id", []any{"nope", "main"}, nil, nil, nil, "no matches for ID 'nope' found in SLS 'main'"},
		{"sls_id without SLS", "state.sls_id", []any{"b"}, nil, nil, nil, "name the SLS files"},
		{"all", "state.sls", []any{"main"}, nil, []string{"a", "b", "c", "d"}, nil, ""},
		{"exclude an SLS by name", "state.sls", []any{"main"}, map[string]any{"exclude": "other"}, []string{"a", "b", "c"}, nil, ""},
		{"exclude an SLS by glob", "state.sls", []any{"main"}, map[string]any{"exclude": []any{"oth*"}}, []string{"a", "b", "c"}, nil, ""},
		{"exclude an ID", "state.sls", []any{"main"}, map[string]any{"exclude": []any{map[string]any{"id": "c"}}}, []string{"a", "b", "d"}, nil, ""},
		{"excluding a required state fails the state requiring it", "state.sls", []any{"main"}, map[string]any{"exclude": []any{map[string]any{"id": "a"}}}, []string{"c", "d"}, []string{"b"}, ""},
		{"exclude with an unknown key", "state.sls", []any{"main"}, map[string]any{"exclude": []any{map[string]any{"sl": "a"}}}, nil, nil, `unknown key "sl"`},
		{"mock runs nothing", "state.sls", []any{"main"}, map[string]any{"mock": true}, nil, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			tree := filepath.Join(tmp, "tree")
			if err := os.Mkdir(tree, 0o755); err != nil {
				t.Fatal(err)
			}
			main := "include:\n  - other\n"
			for _, id := range []string{"a", "b", "c"} {
				main += id + ":\n  cmd.run:\n    - name: touch " + filepath.Join(tmp, id) + "\n"
				if id == "b" {
					main += "    - require:\n      - cmd: a\n"
				}
			}
			other := "d:\n  cmd.run:\n    - name: touch " + filepath.Join(tmp, "d") + "\n"
			for name, src := range map[string]string{"main.sls": main, "other.sls": other} {
				if err := os.WriteFile(filepath.Join(tree, name), []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rt := &modules.Runtime{ID: "m", Grains: map[string]any{"id": "m"}, FileRoots: []string{tree}}
			out, err := modules.Call(context.Background(), rt, tc.fun, tc.args, tc.kwargs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one holding %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, r := range out.(result.Highstate) {
				if !r.Succeeded() {
					failed = append(failed, r.ID)
				}
				if tc.kwargs["mock"] == true && r.Comment != "Not called, mocked" {
					t.Errorf("%s: comment %q under mock", r.Key, r.Comment)
				}
			}
			if !reflect.DeepEqual(failed, tc.failed) {
				t.Errorf("failed states %v, want %v", failed, tc.failed)
			}
			var ran []string
			for _, id := range []string{"a", "b", "c", "d"} {
				if _, err := os.Stat(filepath.Join(tmp, id)); err == nil {
					ran = append(ran, id)
				}
			}
			if !reflect.DeepEqual(ran, tc.ran) {
				t.Errorf("commands run %v, want %v", ran, tc.ran)
			}
		})
	}
}

// TestTemplateRefusals: state.template names the file whose include it
// refuses, and a missing file is an error naming it.
func TestTemplateRefusals(t *testing.T) {
	tmp := t.TempDir()
	path := filepath.Join(tmp, "t.sls")
	if err := os.WriteFile(path, []byte("x: test.nop\nextend:\n  x:\n    test.nop: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rt := &modules.Runtime{ID: "m"}
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{path}, path + ":2: The 'extend' declaration found on '" + path + "' is invalid when rendering single templates"},
		{[]any{filepath.Join(tmp, "none.sls")}, "none.sls: no such file"},
	} {
		_, err := modules.Call(context.Background(), rt, "state.template", tc.args, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("state.template %v: error %v, want one holding %q", tc.args, err, tc.want)
		}
	}
}

// TestTopFileKeys: the configuration's top file keys, in opts, decide how
// a highstate merges the environments' top files.
func TestTopFileKeys(t *testing.T) {
	dir := t.TempDir()
	testfs.Write(t, dir, map[string]string{
		"base/top.sls": "base:\n  '*':\n    - a\ndev:\n  '*':\n    - b\n",
		"dev/top.sls":  "dev:\n  '*':\n    - c\n",
	})
	for _, c := range []struct {
		name string
		opts map[string]any
		want map[string]any
	}{
		{"merge: base's top file covers dev", nil, map[string]any{"base": []any{"a"}, "dev": []any{"b"}}},
		{"same: each environment's own", map[string]any{"top_file_merging_strategy": "same"}, map[string]any{"base": []any{"a"}, "dev": []any{"c"}}},
		{"merge_all: every section", map[string]any{"top_file_merging_strategy": "merge_all"}, map[string]any{"base": []any{"a"}, "dev": []any{"b", "c"}}},
		{"state_top_saltenv: dev's top file alone", map[string]any{"state_top_saltenv": "dev"}, map[string]any{"dev": []any{"c"}}},
		{"env_order leaves base out", map[string]any{"env_order": []any{"dev"}}, map[string]any{"dev": []any{"c"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := map[string]any{"id": "m1"}
			for k, v := range c.opts {
				opts[k] = v
			}
			rt := &modules.Runtime{ID: "m1", Grains: map[string]any{"id": "m1"}, Opts: opts,
				FileRoots: []string{filepath.Join(dir, "base")}, FileEnvs: map[string][]string{"dev": {filepath.Join(dir, "dev")}}}
			if got := call(t, rt, "state.show_top", nil, nil); !reflect.DeepEqual(got, c.want) {
				t.Errorf("show_top %v, want %v", got, c.want)
			}
		})
	}
}
