package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// newRecipeCallFleet starts a master over testdata/remotecall, whose
// recipes call execution functions from their templates, with no minion.
func newRecipeCallFleet(t *testing.T) *fleet {
	t.Helper()
	dir := t.TempDir()
	f := &fleet{t: t, dir: dir, socket: filepath.Join(dir, "master.sock"), minions: map[string]*proc{}}
	port := freePort(t)
	f.busURL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	cfg := filepath.Join(dir, "master.yaml")
	writeFile(t, cfg, "jinja_call_timeout: 5s\n")
	f.master = start(t, "master", "--config", cfg, "--data-dir", filepath.Join(dir, "master"),
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--socket", f.socket, "--auto-accept",
		"--file-root", "testdata/remotecall/states", "--pillar-root", "testdata/remotecall/pillar", "--log-level", "info")
	waitFor(t, 20*time.Second, "master socket", func() bool { _, err := os.Stat(f.socket); return err == nil })
	return f
}

// pidOf is the process id of a daemon the test started, as $PPID prints it
// in a shell that daemon runs.
func pidOf(p *proc) string { return strconv.Itoa(p.cmd.Process.Pid) }

// readTrimmed returns a file's contents without surrounding space, "" when
// it does not exist.
func readTrimmed(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestRecipeCallsRunOnTheMinion compiles, on a real master, recipes that
// call execution functions from their templates, for real minion
// processes: every call that is not pure runs in the minion's process (the
// shell's parent is the minion), never in the master's, and pure calls
// answer on the master even for a minion that is gone.
func TestRecipeCallsRunOnTheMinion(t *testing.T) {
	f := newRecipeCallFleet(t)
	injected := filepath.Join(f.dir, "injected")
	f.startMinionWith("m1", map[string]string{"role": "web"})
	f.startMinionWith("m2", map[string]string{"role": "db",
		"fqdn": fmt.Sprintf("'localhost; echo $PPID >> %s'", injected)})
	f.pingAll("m1", "m2")
	masterPID := pidOf(f.master)
	m1PID, m2PID := pidOf(f.minions["m1"]), pidOf(f.minions["m2"])

	online := []struct {
		name    string
		minion  string
		sls     string
		code    int
		wantOut []string
		check   func(t *testing.T)
	}{
		{name: "cmd.run runs in the minion's process and its output is compiled into the state",
			minion: "m1", sls: "whoami", code: exitOK,
			check: func(t *testing.T) {
				got := readTrimmed(t, filepath.Join(f.root("m1"), "whoami"))
				if got != m1PID {
					t.Errorf("the command ran in process %q; the minion is %s, the master %s", got, m1PID, masterPID)
				}
				if _, list, _ := f.brine("jobs", "list"); !strings.Contains(list, "cmd.run") {
					t.Errorf("the job cache does not list the call sent to m1:\n%s", list)
				}
			}},
		{name: "a grain the minion reports cannot make the master run a command",
			minion: "m2", sls: "resolve", code: exitOK,
			check: func(t *testing.T) {
				if got := readTrimmed(t, injected); got != m2PID {
					t.Errorf("the injected command ran in process(es) %q; the minion is %s, the master %s", got, m2PID, masterPID)
				}
				if got := readTrimmed(t, filepath.Join(f.root("m2"), "hosts-entry")); !strings.Contains(got, "localhost") {
					t.Errorf("getent's answer did not reach the compiled state: %q", got)
				}
			}},
		{name: "a call that fails on the minion fails the compile",
			minion: "m1", sls: "failing", code: exitError,
			wantOut: []string{"Data failed to compile", "salt['cmd.run']: failed on minion m1: cmd.run", "/nonexistent/sh"},
			check: func(t *testing.T) {
				if _, err := os.Stat(filepath.Join(f.root("m1"), "failing")); err == nil {
					t.Error("a state whose recipe did not compile was applied")
				}
			}},
		{name: "a minion that does not answer in time fails the compile",
			minion: "m1", sls: "slow", code: exitError,
			wantOut: []string{"Data failed to compile", "salt['cmd.run']: minion m1 did not answer within 5s", "raise jinja_call_timeout"}},
		{name: "a state run cannot be nested in a recipe",
			minion: "m1", sls: "nested", code: exitError,
			wantOut: []string{"Data failed to compile", "salt['state.apply']: state.apply is a state run, which cannot be called from a recipe"}},
	}
	for _, tc := range online {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := f.brine(tc.minion, "state.sls", tc.sls)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tc.code, out, errOut)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if tc.check != nil {
				tc.check(t)
			}
		})
	}

	f.minions["m2"].stop()
	waitFor(t, 30*time.Second, "the master to see m2 gone", func() bool {
		_, out, _ := f.brine("m2", "test.ping", "--timeout", "1s")
		return strings.Contains(out, "[Not connected]")
	})
	offline := []struct {
		name    string
		fun     string
		sls     string
		code    int
		wantOut []string
	}{
		{name: "pure functions answer on the master for an offline minion",
			fun: "state.show_sls", sls: "pure", code: exitOK,
			wantOut: []string{"db web echoed hello"}},
		{name: "a call that is not pure fails the compile for an offline minion",
			fun: "state.sls", sls: "marker", code: exitError,
			wantOut: []string{"Data failed to compile", "salt['cmd.run']: must run on minion m2, which is not connected"}},
		{name: "so does a state.show_* of such a recipe",
			fun: "state.show_sls", sls: "marker", code: exitError,
			wantOut: []string{"salt['cmd.run']: must run on minion m2, which is not connected"}},
	}
	for _, tc := range offline {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := f.brine("m2", tc.fun, tc.sls)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tc.code, out, errOut)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
	if got := readTrimmed(t, filepath.Join(f.root("m2"), "ran")); got != "" {
		t.Errorf("a command of an offline minion's recipe ran in process(es) %q; the master is %s", got, masterPID)
	}
	if got := readTrimmed(t, injected); got != m2PID {
		t.Errorf("the injected command ran again, in process(es) %q; the master is %s", got, masterPID)
	}
}
