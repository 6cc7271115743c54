package pkg

import (
	"context"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/pkgmgr/debtest"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

const (
	app    = "brine-test-app"
	lib    = "brine-test-lib"
	daemon = debtest.DaemonName
)

// testRepo serves lib 1.0-1, app 1.0-1 (depending on lib) and daemon
// 1.0-1 from "stable", and app 2.0-1 and daemon 1.1-1 from "next".
func testRepo(t *testing.T) {
	debtest.NewRepo(t, map[string][]debtest.Deb{
		"stable": {
			debtest.Simple(lib, "1.0-1", ""),
			debtest.Simple(app, "1.0-1", lib+" (>= 1.0)"),
			debtest.Daemon(t, "1.0-1"),
		},
		"next": {
			debtest.Simple(app, "2.0-1", lib+" (>= 1.0)"),
			debtest.Daemon(t, "1.1-1"),
		},
	})
}

// apply runs a pkg state function as the engine does.
func apply(t *testing.T, fun, name string, raw map[string]any, test bool) states.Outcome {
	t.Helper()
	return statetest.Apply(t, fun, raw, &states.Call{ID: name, Name: name, Test: test})
}

// step is one state run and what it must report.
type step struct {
	fun, name string
	args      map[string]any
	test      bool
	result    string // True, False, None
	comment   string // a substring of the comment
	changes   map[string]any
	dpkg      map[string]string // package -> dpkg status afterwards ("installed 1.0-1", "config-files", "not-installed")
}

func (s step) run(t *testing.T) {
	t.Helper()
	o := apply(t, s.fun, s.name, s.args, s.test)
	if states.ResultString(o.Result) != s.result || !strings.Contains(o.Comment, s.comment) {
		t.Errorf("%s %s: result %s, comment %q; want %s, %q", s.fun, s.name, states.ResultString(o.Result), o.Comment, s.result, s.comment)
	}
	if !reflect.DeepEqual(o.Changes, s.changes) {
		t.Errorf("%s %s: changes %v, want %v", s.fun, s.name, o.Changes, s.changes)
	}
	for name, want := range s.dpkg {
		got := debtest.Status(t, name)
		if got == "installed" {
			v, _ := debtest.Installed(t, name)
			got += " " + v
		}
		if got != want {
			t.Errorf("%s %s: dpkg says %s is %q, want %q", s.fun, s.name, name, got, want)
		}
	}
	if t.Failed() || s.test || s.result != "True" {
		return
	}
	// idempotence: the same state again changes nothing
	again := apply(t, s.fun, s.name, s.args, false)
	if states.ResultString(again.Result) != "True" || again.Changed() {
		t.Errorf("%s %s second run: result %s, changes %v, comment %q", s.fun, s.name, states.ResultString(again.Result), again.Changes, again.Comment)
	}
}

func change(old, new string) map[string]any { return map[string]any{"old": old, "new": new} }

func TestPackageLifecycle(t *testing.T) {
	testRepo(t)
	steps := []struct {
		name string
		step
	}{
		{"test mode reports without touching dpkg", step{fun: "pkg.installed", name: app, test: true, result: "None",
			comment: "The following packages would be installed/updated: brine-test-app",
			changes: map[string]any{app: change("", "2.0-1"), lib: change("", "1.0-1")},
			dpkg:    map[string]string{app: "not-installed", lib: "not-installed"}}},
		{"install a pinned version with its dependency", step{fun: "pkg.installed", name: app, args: map[string]any{"version": "1.0-1"},
			result: "True", comment: "The following packages were installed/updated: brine-test-app=1.0-1",
			changes: map[string]any{app: change("", "1.0-1"), lib: change("", "1.0-1")},
			dpkg:    map[string]string{app: "installed 1.0-1", lib: "installed 1.0-1"}}},
		{"pkgs in one transaction", step{fun: "pkg.installed", name: "several",
			args:   map[string]any{"pkgs": []any{map[string]any{daemon: "1.0-1"}, lib, map[string]any{app: "1.0-1"}}},
			result: "True", comment: "The following packages were already installed: brine-test-app, brine-test-lib",
			changes: map[string]any{daemon: change("", "1.0-1")},
			dpkg:    map[string]string{daemon: "installed 1.0-1"}}},
		{"upgrade to a version spec", step{fun: "pkg.installed", name: app, args: map[string]any{"version": ">=2.0"},
			result: "True", changes: map[string]any{app: change("1.0-1", "2.0-1")},
			dpkg: map[string]string{app: "installed 2.0-1"}}},
		{"hold", step{fun: "pkg.installed", name: app, args: map[string]any{"hold": true},
			result: "True", comment: "The following packages were held: brine-test-app",
			changes: map[string]any{app: change("install", "hold")}}},
		{"a held package keeps its version in test mode", step{fun: "pkg.installed", name: app, args: map[string]any{"version": "1.0-1", "hold": true},
			test: true, result: "None", changes: map[string]any{app: change("2.0-1", "1.0-1")},
			dpkg: map[string]string{app: "installed 2.0-1"}}},
		{"update_holds lets a held package change version", step{fun: "pkg.installed", name: app, args: map[string]any{"version": "1.0-1", "update_holds": true},
			test: true, result: "None", changes: map[string]any{app: change("2.0-1", "1.0-1")},
			dpkg: map[string]string{app: "installed 2.0-1"}}},
		{"unhold", step{fun: "pkg.installed", name: app, args: map[string]any{"hold": false},
			result: "True", comment: "The following packages were unheld: brine-test-app",
			changes: map[string]any{app: change("hold", "install")}}},
		{"latest from a preferred release is current", step{fun: "pkg.latest", name: daemon, args: map[string]any{"fromrepo": "stable"},
			result: "True", comment: "Package brine-test-daemon is already up-to-date"}},
		{"installed at version latest plans the upgrade", step{fun: "pkg.installed", name: daemon, args: map[string]any{"version": "latest"},
			test: true, result: "None", changes: map[string]any{daemon: change("1.0-1", "1.1-1")},
			dpkg: map[string]string{daemon: "installed 1.0-1"}}},
		{"latest", step{fun: "pkg.latest", name: daemon,
			result: "True", comment: "The following packages were successfully installed/upgraded: brine-test-daemon=1.1-1",
			changes: map[string]any{daemon: change("1.0-1", "1.1-1")},
			dpkg:    map[string]string{daemon: "installed 1.1-1"}}},
		{"removed in test mode", step{fun: "pkg.removed", name: lib, test: true, result: "None",
			comment: "The following packages will be removed: brine-test-lib.",
			changes: map[string]any{lib: change("1.0-1", ""), app: change("2.0-1", "")},
			dpkg:    map[string]string{lib: "installed 1.0-1"}}},
		{"removed only at a version", step{fun: "pkg.removed", name: app, args: map[string]any{"version": "1.0-1"},
			result: "True", comment: "None of the targeted packages are installed",
			dpkg: map[string]string{app: "installed 2.0-1"}}},
		{"removed", step{fun: "pkg.removed", name: "apps", args: map[string]any{"pkgs": []any{app, daemon}},
			result: "True", comment: "All targeted packages were removed.",
			changes: map[string]any{app: change("2.0-1", ""), daemon: change("1.1-1", "")},
			dpkg:    map[string]string{app: "not-installed", daemon: "config-files", lib: "installed 1.0-1"}}},
		{"purged after removed", step{fun: "pkg.purged", name: daemon,
			result: "True", comment: "All targeted packages were purged.",
			changes: map[string]any{daemon: change("1.1-1", "")},
			dpkg:    map[string]string{daemon: "not-installed"}}},
		{"purged", step{fun: "pkg.purged", name: lib,
			result: "True", changes: map[string]any{lib: change("1.0-1", "")},
			dpkg: map[string]string{lib: "not-installed"}}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			break // later steps build on this one
		}
	}
}

func TestBadInput(t *testing.T) {
	testRepo(t)
	tests := []struct {
		fun, name string
		args      map[string]any
		test      bool
		comment   string
	}{
		{"pkg.installed", "brine-test-nope", nil, false, "E: Unable to locate package brine-test-nope"},
		{"pkg.installed", "brine-test-nope", nil, true, "E: Unable to locate package brine-test-nope"},
		{"pkg.installed", lib, map[string]any{"version": "9.9-9"}, false, "E: Version '9.9-9' for 'brine-test-lib' was not found"},
		{"pkg.installed", lib, map[string]any{"version": ">=3"}, false, "no version of brine-test-lib matching >=3 is available (available: 1.0-1)"},
		{"pkg.installed", app, map[string]any{"fromrepo": "nosuch"}, false, "E: The value 'nosuch' is invalid for APT::Default-Release"},
		{"pkg.latest", "brine-test-nope", nil, false, "E: Unable to locate package brine-test-nope"},
		{"pkg.installed", "Bad Name", nil, false, `invalid package name "Bad Name"`},
		{"pkg.installed", "x", map[string]any{"pkgs": []any{lib}, "version": "1"}, false, "version cannot be combined with pkgs"},
		{"pkg.latest", "x", map[string]any{"pkgs": []any{map[string]any{lib: "1.0-1"}}}, false, "pkg.latest installs the newest version"},
	}
	for _, tt := range tests {
		o := apply(t, tt.fun, tt.name, tt.args, tt.test)
		if states.ResultString(o.Result) != "False" || !strings.Contains(o.Comment, tt.comment) || strings.Contains(o.Comment, "exit status") {
			t.Errorf("%s %s %v: result %s, comment %q; want False with %q", tt.fun, tt.name, tt.args, states.ResultString(o.Result), o.Comment, tt.comment)
		}
		for _, n := range []string{lib, app} {
			if s := debtest.Status(t, n); s != "not-installed" {
				t.Errorf("%s %s: %s is %s after a failed state", tt.fun, tt.name, n, s)
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		fun  string
		args map[string]any
		want string
	}{
		{"pkg.installed", map[string]any{"verison": "1"}, "unknown argument 'verison' (did you mean 'version'?)"},
		{"pkg.installed", map[string]any{"pkgs": "nginx"}, "expected a list of package names"},
		{"pkg.installed", map[string]any{"pkgs": []any{map[string]any{"a": 1, "b": 2}}}, "item 1: expected one package per mapping"},
		{"pkg.installed", map[string]any{"pkgs": []any{[]any{"a"}}}, "item 1: expected a package name"},
		{"pkg.installed", map[string]any{"hold": "maybe"}, "argument 'hold'"},
		{"pkg.removed", map[string]any{"fromrepo": "x"}, "unknown argument 'fromrepo'"},
	}
	for _, tt := range tests {
		e, _ := states.Lookup(tt.fun)
		if _, err := e.Decode(tt.args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %v: err = %v, want %q", tt.fun, tt.args, err, tt.want)
		}
	}
}

func TestPkgListVersions(t *testing.T) {
	var l PkgList
	err := l.DecodeArg([]any{"a", map[string]any{"b": "1.0-1"}, map[string]any{"c": 2}, map[string]any{"d": 1.5}, map[string]any{"e": nil}})
	want := PkgList{{"a", ""}, {"b", "1.0-1"}, {"c", "2"}, {"d", "1.5"}, {"e", ""}}
	if err != nil || !reflect.DeepEqual(l, want) {
		t.Errorf("PkgList = %v, %v; want %v", l, err, want)
	}
}

// runSLS compiles testdata/tree/<name>.sls and runs it.
func runSLS(t *testing.T, name string) result.Highstate {
	t.Helper()
	c := sls.New(sls.Config{FileRoots: []string{"testdata/tree"}, ID: "minion1"})
	lows, err := c.SLS(context.Background(), name)
	plan, err := states.Prepare(lows, err)
	if err != nil {
		t.Fatal(err)
	}
	return plan.Run(context.Background(), states.RunOptions{Env: c})
}

func TestFailedStatesDoNotStopTheRun(t *testing.T) {
	testRepo(t)
	h := runSLS(t, "badinput")
	want := []struct {
		id      string
		ok      bool
		comment string
	}{
		{"no-such-package", false, "E: Unable to locate package brine-test-nope"},
		{"no-such-version", false, "E: Version '9.9-9' for 'brine-test-lib' was not found"},
		{"lib", true, "The following packages were installed/updated: brine-test-lib"},
		{"app", true, "The following packages were successfully installed/upgraded: brine-test-app=2.0-1"},
	}
	if len(h) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(h), len(want), h)
	}
	for i, w := range want {
		r := h[i]
		if r.ID != w.id || r.Succeeded() != w.ok || !strings.Contains(r.Comment, w.comment) {
			t.Errorf("result %d: %s ok=%v %q; want %s ok=%v %q", i, r.ID, r.Succeeded(), r.Comment, w.id, w.ok, w.comment)
		}
	}
	if v, ok := debtest.Installed(t, app); !ok || v != "2.0-1" {
		t.Errorf("app: %s %v", v, ok)
	}
}

func TestFailhardStopsTheRun(t *testing.T) {
	testRepo(t)
	h := runSLS(t, "failhard")
	if len(h) != 1 || h[0].Succeeded() {
		t.Fatalf("results = %+v, want only the failed state", h)
	}
	if s := debtest.Status(t, lib); s != "not-installed" {
		t.Errorf("lib is %s after failhard", s)
	}
}

// BenchmarkInstalled50NoChange applies one pkg.installed state over 50
// packages already installed on the host, each pinned to its installed
// version: the cost of a no-change run.
func BenchmarkInstalled50NoChange(b *testing.B) {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Status} ${Package} ${Version}\n").Output()
	if err != nil {
		b.Skipf("dpkg-query: %v", err)
	}
	var pkgs []any
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "installed" && len(pkgs) < 50 {
			pkgs = append(pkgs, map[string]any{f[1]: f[2]})
		}
	}
	if len(pkgs) < 50 {
		b.Skipf("only %d packages installed", len(pkgs))
	}
	e, _ := states.Lookup("pkg.installed")
	args, err := e.Decode(map[string]any{"pkgs": pkgs})
	if err != nil {
		b.Fatal(err)
	}
	c := &states.Call{ID: "base", Name: "base"}
	ctx := context.Background()
	for b.Loop() {
		if o := e.Apply(ctx, c, args); !o.OK() || o.Changed() {
			b.Fatalf("%s %v", o.Comment, o.Changes)
		}
	}
}
