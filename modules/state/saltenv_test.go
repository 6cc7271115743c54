package state_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/result"
)

// envRuntime is a minion with base and dev state and pillar trees
// (testdata/envs).
func envRuntime(t *testing.T, id string) (*modules.Runtime, string) {
	t.Helper()
	return &modules.Runtime{ID: id, Grains: map[string]any{"id": id},
		FileRoots: []string{"testdata/envs/base"}, PillarRoots: []string{"testdata/envs/pillar"},
		FileEnvs:   map[string][]string{"dev": {"testdata/envs/dev"}},
		PillarEnvs: map[string][]string{"dev": {"testdata/envs/pillar-dev"}},
	}, t.TempDir()
}

// TestSaltenvHighstate applies a highstate whose base top file gives a
// state of dev: each state reads salt:// from its own environment, and
// templates see their environment and the pillar of every environment.
func TestSaltenvHighstate(t *testing.T) {
	rt, root := envRuntime(t, "web1")
	kw := map[string]any{"pillar": map[string]any{"root": root}}
	h := call(t, rt, "state.highstate", nil, kw).(result.Highstate)
	if len(h) != 3 || h.Failed() {
		t.Fatalf("%d states (failed=%v), want 3: %+v", len(h), h.Failed(), h)
	}
	for file, want := range map[string]string{
		"motd":               "base motd\n",
		"app.conf":           "dev app.conf in dev tier=dev\n",
		"app-from-base.conf": "base app.conf\n",
	} {
		if got := read(t, filepath.Join(root, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	top := call(t, rt, "state.show_top", nil, kw)
	if want := map[string]any{"base": []any{"motd"}, "dev": []any{"app"}}; !reflect.DeepEqual(top, want) {
		t.Errorf("show_top %v, want %v", top, want)
	}
	low := call(t, rt, "state.show_lowstate", nil, kw).([]any)
	envs := map[string]string{}
	for _, l := range low {
		m := l.(map[string]any)
		envs[m["__sls__"].(string)] = m["__env__"].(string)
	}
	if want := map[string]string{"motd": "base", "app": "dev"}; !reflect.DeepEqual(envs, want) {
		t.Errorf("show_lowstate environments %v, want %v", envs, want)
	}
}

// TestSaltenvArguments runs state.sls, state.show_top and the pillar with
// saltenv and pillarenv, and refuses environments that do not exist.
func TestSaltenvArguments(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fun    string
		args   []any
		kw     map[string]any
		states int    // states applied, when no error
		file   string // app.conf's contents
		err    string
	}{
		{name: "sls in dev", fun: "state.sls", args: []any{"app"}, kw: map[string]any{"saltenv": "dev"}, states: 2,
			file: "dev app.conf in dev tier=dev\n"},
		{name: "pillarenv base leaves dev's pillar out", fun: "state.sls", args: []any{"app"},
			kw: map[string]any{"saltenv": "dev", "pillarenv": "base"}, states: 2, file: "dev app.conf in dev tier=none\n"},
		{name: "sls of dev without saltenv", fun: "state.sls", args: []any{"app"},
			err: "No matching sls found for 'app' in env 'base'"},
		{name: "highstate in dev reads dev's top file only", fun: "state.highstate", kw: map[string]any{"saltenv": "dev"},
			err: "no top.sls found in the file_roots of env \"dev\""},
		{name: "unknown saltenv", fun: "state.apply", args: []any{"app"}, kw: map[string]any{"saltenv": "prod"},
			err: "saltenv 'prod' does not exist: the environments of file_roots are base, dev (add prod to file_roots in the configuration, or use one of them)"},
		{name: "unknown pillarenv", fun: "state.show_sls", args: []any{"motd"}, kw: map[string]any{"pillarenv": "qa"},
			err: "pillarenv 'qa' does not exist: the environments of pillar_roots are base, dev"},
		{name: "sls_id names the saltenv", fun: "state.sls_id", args: []any{"nope", "app"}, kw: map[string]any{"saltenv": "dev"},
			err: "no matches for ID 'nope' found in SLS 'app' within saltenv 'dev'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, root := envRuntime(t, "web1")
			kw := map[string]any{"pillar": map[string]any{"root": root}}
			for k, v := range tc.kw {
				kw[k] = v
			}
			out, err := modules.Call(t.Context(), rt, tc.fun, tc.args, kw)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%s: error %v, want one holding %q", tc.fun, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			h := out.(result.Highstate)
			if len(h) != tc.states || h.Failed() {
				t.Fatalf("%d states (failed=%v), want %d: %+v", len(h), h.Failed(), tc.states, h)
			}
			if got := read(t, filepath.Join(root, "app.conf")); got != tc.file {
				t.Errorf("app.conf = %q, want %q", got, tc.file)
			}
		})
	}
}
