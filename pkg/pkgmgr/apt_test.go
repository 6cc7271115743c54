package pkgmgr

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/brinecm/brine/pkg/pkgmgr/debtest"
)

const (
	app    = "brine-test-app"
	lib    = "brine-test-lib"
	daemon = debtest.DaemonName
)

// testRepo serves lib 1.0-1, app 1.0-1 (depending on lib) and daemon
// 1.0-1 from "stable", and app 2.0-1 and daemon 1.1-1 from "next".
func testRepo(t *testing.T) *Apt {
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
	return &Apt{LockFile: filepath.Join(t.TempDir(), "pkg.lock")}
}

func wantInstalled(t *testing.T, name, version string) {
	t.Helper()
	got, ok := debtest.Installed(t, name)
	if version == "" && ok {
		t.Errorf("%s %s is installed, want it absent", name, got)
	}
	if version != "" && (!ok || got != version) {
		t.Errorf("%s: dpkg-query says %q (installed %v), want %s", name, got, ok, version)
	}
}

func TestAptLifecycle(t *testing.T) {
	a := testRepo(t)
	ctx := context.Background()

	t.Run("query and available", func(t *testing.T) {
		st, err := a.Query(ctx, app, "bash")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st[app]; ok || !st["bash"].Installed() {
			t.Errorf("Query = %v", st)
		}
		offers, err := a.Available(ctx, []string{app, "brine-test-nope"}, "")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]Offer{app: {Candidate: "2.0-1", Versions: []string{"2.0-1", "1.0-1"}}}
		if !reflect.DeepEqual(offers, want) {
			t.Errorf("Available = %v, want %v", offers, want)
		}
		offers, err = a.Available(ctx, []string{app}, "stable")
		if err != nil || offers[app].Candidate != "1.0-1" {
			t.Errorf("Available from stable = %v, %v", offers, err)
		}
	})

	t.Run("dry run touches nothing", func(t *testing.T) {
		ch, err := a.Install(ctx, []Target{{Name: app, Version: "1.0-1"}}, InstallOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		want := Changes{app: {New: "1.0-1"}, lib: {New: "1.0-1"}}
		if !reflect.DeepEqual(ch, want) {
			t.Errorf("changes = %v, want %v", ch, want)
		}
		wantInstalled(t, app, "")
		wantInstalled(t, lib, "")
	})

	t.Run("install pulls the dependency", func(t *testing.T) {
		ch, err := a.Install(ctx, []Target{{Name: app, Version: "1.0-1"}}, InstallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := Changes{app: {New: "1.0-1"}, lib: {New: "1.0-1"}}
		if !reflect.DeepEqual(ch, want) {
			t.Errorf("changes = %v, want %v", ch, want)
		}
		wantInstalled(t, app, "1.0-1")
		wantInstalled(t, lib, "1.0-1")
	})

	t.Run("upgrade to the candidate and back", func(t *testing.T) {
		ch, err := a.Install(ctx, []Target{{Name: app}}, InstallOptions{})
		if err != nil || !reflect.DeepEqual(ch, Changes{app: {"1.0-1", "2.0-1"}}) {
			t.Fatalf("upgrade: %v, %v", ch, err)
		}
		wantInstalled(t, app, "2.0-1")
		ch, err = a.Install(ctx, []Target{{Name: app, Version: "1.0-1"}}, InstallOptions{})
		if err != nil || !reflect.DeepEqual(ch, Changes{app: {"2.0-1", "1.0-1"}}) {
			t.Fatalf("downgrade: %v, %v", ch, err)
		}
		wantInstalled(t, app, "1.0-1")
	})

	t.Run("hold", func(t *testing.T) {
		if err := a.Hold(ctx, []string{app}, true); err != nil {
			t.Fatal(err)
		}
		if st, _ := a.Query(ctx, app); !st[app].Held {
			t.Fatalf("not held: %v", st)
		}
		_, err := a.Install(ctx, []Target{{Name: app, Version: "2.0-1"}}, InstallOptions{})
		if err == nil || !strings.Contains(err.Error(), "E: Held packages were changed") {
			t.Errorf("install of a held package: %v", err)
		}
		wantInstalled(t, app, "1.0-1")
		if _, err := a.Install(ctx, []Target{{Name: app, Version: "2.0-1"}}, InstallOptions{AllowHeld: true}); err != nil {
			t.Errorf("allowed change of a held package: %v", err)
		}
		wantInstalled(t, app, "2.0-1")
		if err := a.Hold(ctx, []string{app}, false); err != nil {
			t.Fatal(err)
		}
		if st, _ := a.Query(ctx, app); st[app].Held {
			t.Errorf("still held: %v", st)
		}
	})

	t.Run("errors are apt's own", func(t *testing.T) {
		tests := []struct {
			targets []Target
			opts    InstallOptions
			want    string
		}{
			{[]Target{{Name: "brine-test-nope"}}, InstallOptions{}, "apt-get install: E: Unable to locate package brine-test-nope"},
			{[]Target{{Name: app, Version: "9.9"}}, InstallOptions{}, "E: Version '9.9' for 'brine-test-app' was not found"},
			{[]Target{{Name: app}}, InstallOptions{FromRepo: "nosuch"}, "E: The value 'nosuch' is invalid for APT::Default-Release"},
			{[]Target{{Name: "-y"}}, InstallOptions{}, `invalid package name "-y"`},
		}
		for _, tt := range tests {
			_, err := a.Install(ctx, tt.targets, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "exit status") {
				t.Errorf("Install(%v) err = %v, want %q", tt.targets, err, tt.want)
			}
		}
		wantInstalled(t, app, "2.0-1")
	})

	t.Run("removing a dependency removes its dependents", func(t *testing.T) {
		ch, err := a.Remove(ctx, []string{lib}, RemoveOptions{DryRun: true})
		want := Changes{app: {Old: "2.0-1"}, lib: {Old: "1.0-1"}}
		if err != nil || !reflect.DeepEqual(ch, want) {
			t.Fatalf("dry run: %v, %v", ch, err)
		}
		wantInstalled(t, lib, "1.0-1")
		ch, err = a.Remove(ctx, []string{lib}, RemoveOptions{})
		if err != nil || !reflect.DeepEqual(ch, want) {
			t.Fatalf("remove: %v, %v", ch, err)
		}
		wantInstalled(t, app, "")
		wantInstalled(t, lib, "")
	})

	t.Run("purge removes what remove leaves", func(t *testing.T) {
		if _, err := a.Install(ctx, []Target{{Name: daemon, Version: "1.0-1"}}, InstallOptions{}); err != nil {
			t.Fatal(err)
		}
		ch, err := a.Remove(ctx, []string{daemon}, RemoveOptions{})
		if err != nil || !reflect.DeepEqual(ch, Changes{daemon: {Old: "1.0-1"}}) {
			t.Fatalf("remove: %v, %v", ch, err)
		}
		if s := debtest.Status(t, daemon); s != "config-files" {
			t.Fatalf("status after remove = %q, want config-files", s)
		}
		ch, err = a.Remove(ctx, []string{daemon}, RemoveOptions{Purge: true})
		if err != nil || !reflect.DeepEqual(ch, Changes{daemon: {Old: "1.0-1"}}) {
			t.Fatalf("purge: %v, %v", ch, err)
		}
		if s := debtest.Status(t, daemon); s != "not-installed" {
			t.Errorf("status after purge = %q", s)
		}
	})

	t.Run("refresh", func(t *testing.T) {
		if err := a.Refresh(ctx); err != nil {
			t.Error(err)
		}
	})
}

// TestAptParallelInstallsAreSerialized runs two installs at once. Each
// holds the host lock from its "before" snapshot of dpkg's database to
// its "after" one, so each reports exactly its own package; overlapping
// transactions would report each other's.
func TestAptParallelInstallsAreSerialized(t *testing.T) {
	a := testRepo(t)
	b := &Apt{LockFile: a.LockFile} // another provider value, the same host lock
	ctx := context.Background()
	targets := []Target{{Name: lib}, {Name: daemon}}
	want := []Changes{{lib: {New: "1.0-1"}}, {daemon: {New: "1.1-1"}}}
	got := make([]Changes, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, p := range []*Apt{a, b} {
		wg.Go(func() { got[i], errs[i] = p.Install(ctx, targets[i:i+1], InstallOptions{}) })
	}
	wg.Wait()
	for i := range targets {
		if errs[i] != nil || !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("install %s: %v, %v; want %v", targets[i].Name, got[i], errs[i], want[i])
		}
	}
	wantInstalled(t, lib, "1.0-1")
	wantInstalled(t, daemon, "1.1-1")
}
