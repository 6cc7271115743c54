package pkgmgr

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	out, err := os.ReadFile("testdata/policy.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := parsePolicy(string(out))
	want := map[string]Offer{
		"brine-test-app":    {Candidate: "2.0-1", Versions: []string{"2.0-1", "1.0-1"}},
		"brine-test-lib":    {Candidate: "1.0-1", Versions: []string{"1.0-1"}},
		"bash":              {Candidate: "5.2.15-2+b8"}, // installed, offered by no repository
		"brine-test-daemon": {Candidate: "1.1-1", Versions: []string{"1.1-1", "1.0-1"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsePolicy =\n%v\nwant\n%v", got, want)
	}
}

func TestParseSimulation(t *testing.T) {
	out, err := os.ReadFile("testdata/simulate.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := parseSimulation(string(out))
	// the file holds two simulations; the purge of brine-test-app is the last word on it
	want := Changes{
		"brine-test-app":    {Old: "1.0-1"},
		"brine-test-daemon": {Old: "1.0-1", New: "1.1-1"},
		"brine-test-lib":    {Old: "1.0-1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseSimulation = %v, want %v", got, want)
	}
	if got := parseSimulation("Inst newpkg (1.0 origin [all])\nConf newpkg (1.0 origin [all])\nPurg gone\n"); !reflect.DeepEqual(got,
		Changes{"newpkg": {New: "1.0"}, "gone": {}}) {
		t.Errorf("parseSimulation = %v", got)
	}
}

func TestParseQuery(t *testing.T) {
	out := "a\t1.0\tinstall\tinstalled\n" +
		"b\t2.0\thold\tinstalled\n" +
		"c\t3.0\tdeinstall\tconfig-files\n" +
		"d\t\tpurge\tnot-installed\n" +
		"libx\t1\tinstall\thalf-installed\n" +
		"libx\t1\tinstall\tinstalled\n"
	got := parseQuery(out)
	want := map[string]Status{
		"a":    {Version: "1.0", State: "installed"},
		"b":    {Version: "2.0", State: "installed", Held: true},
		"c":    {Version: "3.0", State: "config-files"},
		"libx": {Version: "1", State: "installed"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseQuery = %v, want %v", got, want)
	}
}

func TestDiff(t *testing.T) {
	before := map[string]Status{
		"kept":     {Version: "1", State: "installed"},
		"upgraded": {Version: "1", State: "installed"},
		"removed":  {Version: "1", State: "installed"},
		"conf":     {Version: "2", State: "config-files"},
	}
	after := map[string]Status{
		"kept":     {Version: "1", State: "installed"},
		"upgraded": {Version: "2", State: "installed"},
		"removed":  {Version: "1", State: "config-files"},
		"new":      {Version: "3", State: "installed"},
	}
	want := Changes{"upgraded": {"1", "2"}, "removed": {"1", ""}, "new": {"", "3"}}
	if got := diff(before, after, false); !reflect.DeepEqual(got, want) {
		t.Errorf("diff = %v, want %v", got, want)
	}
	wantPurge := Changes{"upgraded": {"1", "2"}, "conf": {"2", ""}, "new": {"", "3"}}
	if got := diff(before, after, true); !reflect.DeepEqual(got, wantPurge) {
		t.Errorf("diff purge = %v, want %v", got, wantPurge)
	}
}

func TestChangesMap(t *testing.T) {
	c := Changes{"nginx": {Old: "", New: "1.22-1"}}
	want := map[string]any{"nginx": map[string]any{"old": "", "new": "1.22-1"}}
	if got := c.Map(); !reflect.DeepEqual(got, want) {
		t.Errorf("Map = %v", got)
	}
	if (Changes{}).Map() != nil {
		t.Error("no changes must map to nil")
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		name, stdout, stderr, want string
	}{
		{"apt errors", "Reading package lists...\n", "W: something\nE: Unable to locate package nope\n", "E: Unable to locate package nope"},
		{"unmet dependencies", "The following packages have unmet dependencies:\n app : Depends: lib (>= 2) but 1 is to be installed\n",
			"E: Unable to correct problems, you have held broken packages.\n",
			"app : Depends: lib (>= 2) but 1 is to be installed\nE: Unable to correct problems, you have held broken packages."},
		{"dpkg errors", "", "dpkg: error processing package x (--configure):\n installed x package post-installation script subprocess returned error exit status 1\nE: Sub-process /usr/bin/dpkg returned an error code (1)\n",
			"dpkg: error processing package x (--configure):\nE: Sub-process /usr/bin/dpkg returned an error code (1)"},
		{"other tool", "", "something broke\n", "something broke"},
		{"silent", "", "", "exit status 3 without a message"},
	}
	for _, tt := range tests {
		if got := reason(tt.stdout, tt.stderr, 3); got != tt.want {
			t.Errorf("%s: reason = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestRunReportsTheToolsReason(t *testing.T) {
	_, err := run(context.Background(), "sh", "-c", "echo 'E: the reason' >&2; exit 100")
	var ce *cmdError
	if !errors.As(err, &ce) || ce.code != 100 || err.Error() != "sh: E: the reason" {
		t.Errorf("err = %v", err)
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"nginx", "libc6:amd64", "g++", "lib2to3.9-dev", "brine-test-app"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-y", "--purge", "a", "Nginx", "a b", "foo=1.0", "x;rm"} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
}

func TestForGrains(t *testing.T) {
	p, err := ForGrains(map[string]any{"os_family": "Debian"})
	if err != nil || p.Name() != "apt" {
		t.Errorf("Debian: %v, %v", p, err)
	}
	if _, err := ForGrains(map[string]any{"os_family": "Solaris"}); err == nil || !strings.Contains(err.Error(), `"Solaris"`) {
		t.Errorf("Solaris: %v", err)
	}
}

func TestLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "pkg.lock")
	ctx := context.Background()
	first, err := acquireLock(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *hostLock)
	go func() {
		l, err := acquireLock(ctx, path)
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	select {
	case <-got:
		t.Fatal("second holder got the lock while the first held it")
	case <-time.After(150 * time.Millisecond):
	}
	first.release()
	select {
	case l := <-got:
		l.release()
	case <-time.After(5 * time.Second):
		t.Fatal("second holder never got the released lock")
	}
}

func TestLockHonoursContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pkg.lock")
	held, err := acquireLock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer held.release()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := acquireLock(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
}
