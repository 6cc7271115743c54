package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileRecurseOnMinion copies a directory of the master's state tree to
// a minion process with file.recurse: the minion lists it through the
// master's file server, keeps the tree's modes (file_mode: keep), renders
// each file, cleans what the tree does not hold, and a second run changes
// nothing.
func TestFileRecurseOnMinion(t *testing.T) {
	f := newFleet(t, fleetOptions{autoAccept: true, minions: map[string]string{"rec1": "db"}})
	f.pingAll("rec1")
	site := filepath.Join(f.root("rec1"), "site")
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(site, "stray.conf")
	writeFile(t, stray, "not in the state tree\n")

	code, out, errOut := f.brine("rec1", "state.apply", "recurse", "--out", "json")
	if code != 0 {
		t.Fatalf("state.apply recurse: exit %d\n%s\n%s", code, out, errOut)
	}
	want := []struct {
		path, content string
		mode          fs.FileMode
	}{
		{"index.conf", "server {}\n", 0o644},
		{"conf.d/listen.conf", "listen rec1\n", 0o644},
		{"bin/hello", "#!/bin/sh\necho hi\n", 0o755},
	}
	for _, w := range want {
		p := filepath.Join(site, w.path)
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s: %v", w.path, err)
			continue
		}
		if string(got) != w.content {
			t.Errorf("%s = %q, want %q", w.path, got, w.content)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != w.mode {
			t.Errorf("%s mode %v, want %v (the state tree's, file_mode: keep)", w.path, st.Mode().Perm(), w.mode)
		}
	}
	for _, d := range []string{"conf.d", "bin"} {
		st, err := os.Stat(filepath.Join(site, d))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o750 {
			t.Errorf("directory %s mode %v, want 0750", d, st.Mode().Perm())
		}
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Errorf("clean: True left %s (err %v)", stray, err)
	}
	if !strings.Contains(out, `"removed"`) || !strings.Contains(out, "stray.conf") {
		t.Errorf("the return does not report the removed file:\n%s", out)
	}

	code, out, errOut = f.brine("rec1", "state.apply", "recurse", "--out", "json")
	if code != 0 {
		t.Fatalf("second state.apply recurse: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, `"changes": {}`) || strings.Contains(out, `"result": false`) {
		t.Errorf("the second run changed something or failed:\n%s", out)
	}
}

// TestShowFunctionsThroughMaster: the state.show_* functions asked of a
// minion through its master are answered by the master, which holds the
// state tree (the minion has none of its own here).
func TestShowFunctionsThroughMaster(t *testing.T) {
	f := newFleet(t, fleetOptions{autoAccept: true, minions: map[string]string{"show1": "db"}})
	f.pingAll("show1")
	for _, call := range [][]string{
		{"state.show_top"},
		{"state.show_highstate"},
		{"state.show_lowstate"},
		{"state.show_states"},
		{"state.show_sls", "motd"},
		{"state.show_low_sls", "motd"},
	} {
		args := append([]string{"show1"}, call...)
		code, out, errOut := f.brine(append(args, "--out", "json")...)
		if code != 0 {
			t.Errorf("%v: exit %d\n%s\n%s", call, code, out, errOut)
			continue
		}
		if !strings.Contains(out, "motd") {
			t.Errorf("%v does not show the motd state or SLS:\n%s", call, out)
		}
	}
}

// TestSLSIDThroughMaster: state.sls_id asked of a minion through its
// master runs the states of that ID and what their requisites need, from
// the master's tree, and nothing else; an ID the SLS lacks is Salt's error.
func TestSLSIDThroughMaster(t *testing.T) {
	f := newFleet(t, fleetOptions{autoAccept: true, minions: map[string]string{"sid1": "db"}})
	f.pingAll("sid1")
	code, out, errOut := f.brine("sid1", "state.sls_id", "second", "sid", "--out", "json")
	if code != 0 {
		t.Fatalf("state.sls_id second sid: exit %d\n%s\n%s", code, out, errOut)
	}
	dir := filepath.Join(f.root("sid1"), "sid")
	for id, want := range map[string]bool{"first": true, "second": true, "third": false} {
		_, err := os.Stat(filepath.Join(dir, id))
		if got := err == nil; got != want {
			t.Errorf("%s written: %v, want %v (err %v)", id, got, want, err)
		}
	}
	if strings.Contains(out, "third") {
		t.Errorf("the return lists a state sls_id did not ask for:\n%s", out)
	}
	code, out, errOut = f.brine("sid1", "state.sls_id", "nope", "sid", "--out", "json")
	if code == 0 || !strings.Contains(out+errOut, "no matches for ID 'nope' found in SLS 'sid' within saltenv 'base'") {
		t.Errorf("state.sls_id nope sid: exit %d\n%s\n%s", code, out, errOut)
	}
}
