package pkg

import (
	"context"
	"fmt"
	"github.com/brinecm/brine/pkg/systest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/grains"
	"github.com/brinecm/brine/pkg/pkgmgr/debtest"
)

const (
	app = "brine-test-app"
	lib = "brine-test-lib"
)

func runtime(t *testing.T) *modules.Runtime {
	t.Helper()
	g, err := grains.Collect(context.Background(), "minion1", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &modules.Runtime{ID: "minion1", Grains: g}
}

func call(t *testing.T, rt *modules.Runtime, fun string, args []any, kwargs map[string]any) (any, error) {
	t.Helper()
	return modules.Call(context.Background(), rt, fun, args, kwargs)
}

func change(old, new string) map[string]any { return map[string]any{"old": old, "new": new} }

func TestPkgFunctions(t *testing.T) {
	debtest.NewRepo(t, map[string][]debtest.Deb{"stable": {
		debtest.Simple(lib, "1.0-1", ""),
		debtest.Simple(app, "1.0-1", lib),
		debtest.Simple(app, "2.0-1", lib),
	}})
	rt := runtime(t)
	steps := []struct {
		fun    string
		args   []any
		kwargs map[string]any
		want   any
	}{
		{"pkg.version", []any{app}, nil, ""},
		{"pkg.install", []any{app}, map[string]any{"version": "1.0-1", "test": true},
			map[string]any{app: change("", "1.0-1"), lib: change("", "1.0-1")}},
		{"pkg.version", []any{app, lib}, nil, map[string]any{app: "", lib: ""}},
		{"pkg.install", []any{app}, map[string]any{"version": "1.0-1"},
			map[string]any{app: change("", "1.0-1"), lib: change("", "1.0-1")}},
		{"pkg.version", []any{app, lib}, nil, map[string]any{app: "1.0-1", lib: "1.0-1"}},
		{"pkg.install", nil, map[string]any{"pkgs": []any{map[string]any{app: ">=2"}, lib}},
			map[string]any{app: change("1.0-1", "2.0-1")}},
		{"pkg.refresh_db", nil, nil, true},
		{"pkg.remove", []any{app}, nil, map[string]any{app: change("2.0-1", "")}},
		{"pkg.purge", nil, map[string]any{"pkgs": []any{lib, app}}, map[string]any{lib: change("1.0-1", "")}},
		{"pkg.version", []any{lib}, nil, ""},
	}
	for i, s := range steps {
		got, err := call(t, rt, s.fun, s.args, s.kwargs)
		if err != nil || !reflect.DeepEqual(got, s.want) {
			t.Fatalf("step %d %s %v %v = %v, %v; want %v", i, s.fun, s.args, s.kwargs, got, err, s.want)
		}
	}
}

func TestListPkgs(t *testing.T) {
	got, err := call(t, runtime(t), "pkg.list_pkgs", nil, nil)
	if err != nil {
		systest.Require(t, false, fmt.Sprintf("no package database: %v", err))
	}
	m := got.(map[string]any)
	if v, ok := m["dpkg"].(string); !ok || v == "" {
		t.Errorf("list_pkgs has no dpkg: %d packages", len(m))
	}
}

func TestPkgErrors(t *testing.T) {
	debtest.NewRepo(t, map[string][]debtest.Deb{"stable": {debtest.Simple(lib, "1.0-1", "")}})
	rt := runtime(t)
	tests := []struct {
		fun    string
		args   []any
		kwargs map[string]any
		want   string
	}{
		{"pkg.install", []any{"brine-test-nope"}, nil, "E: Unable to locate package brine-test-nope"},
		{"pkg.install", []any{lib}, map[string]any{"version": ">=2"}, "no version of brine-test-lib matching >=2 is available (available: 1.0-1)"},
		{"pkg.install", nil, nil, "name a package, or list them in pkgs"},
		{"pkg.install", []any{lib}, map[string]any{"fromrepo": "nosuch", "verison": 1}, "unknown argument 'verison' (did you mean 'version'?)"},
		{"pkg.remove", []any{"Not A Package"}, nil, `invalid package name "Not A Package"`},
		{"pkg.version", nil, nil, "name at least one package"},
	}
	for _, tt := range tests {
		_, err := call(t, rt, tt.fun, tt.args, tt.kwargs)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %v %v: err = %v, want %q", tt.fun, tt.args, tt.kwargs, err, tt.want)
		}
	}
	other := &modules.Runtime{Grains: map[string]any{"os_family": "Arch"}}
	if _, err := call(t, other, "pkg.list_pkgs", nil, nil); err == nil || !strings.Contains(err.Error(), `os_family "Arch"`) {
		t.Errorf("Arch: %v", err)
	}
	if !slices.Contains(modules.Names(), "pkg.refresh_db") {
		t.Error("pkg.refresh_db is not registered")
	}
}
