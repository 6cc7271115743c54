package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/dockerx/dockertest"
	"github.com/brinecm/brine/pkg/ovsx/ovstest"
	"github.com/brinecm/brine/pkg/systest"
)

// The drift tests run a real `brine master` on testdata/drift and real
// `brine minion` processes with drift: {watch: True}, break what the
// minions manage behind their backs (files, an Open vSwitch port, a Docker
// container) and read the corrections back from the job cache, the event
// stream and `brine drift`.

// newDriftFleet starts a master on the drift state tree, and `brine events
// --tag 'drift/*'` on it.
func newDriftFleet(t *testing.T) (*fleet, *proc) {
	t.Helper()
	dir := t.TempDir()
	f := &fleet{t: t, dir: dir, socket: filepath.Join(dir, "master.sock"), minions: map[string]*proc{}}
	port := freePort(t)
	f.busURL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	cfg := filepath.Join(dir, "master.yaml")
	writeFile(t, cfg, "{}\n")
	f.args = []string{"master", "--config", cfg, "--data-dir", filepath.Join(dir, "master"), "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--socket", f.socket, "--file-root", "testdata/drift/states", "--pillar-root", "testdata/drift/pillar", "--log-level", "info", "--auto-accept"}
	f.master = start(t, f.args...)
	waitFor(t, 20*time.Second, "master socket", func() bool { _, err := os.Stat(f.socket); return err == nil })
	ev := start(t, "events", "--socket", f.socket, "--tag", "drift/*")
	return f, ev
}

// startDriftMinion starts minion id with grains (root is added) and
// driftYAML (a drift: mapping) in its configuration file, and waits until
// it answers.
func (f *fleet) startDriftMinion(id string, grains map[string]string, driftYAML string) *proc {
	f.t.Helper()
	cfg := filepath.Join(f.dir, id+".yaml")
	var g strings.Builder
	for _, k := range slices.Sorted(maps.Keys(grains)) {
		fmt.Fprintf(&g, "  %s: %s\n", k, grains[k])
	}
	writeFile(f.t, cfg, fmt.Sprintf("id: %s\nmaster: [%s]\ndata_dir: %s\ngrains:\n%s  root: %s\n%s",
		id, f.busURL, filepath.Join(f.dir, id), g.String(), f.root(id), driftYAML))
	p := start(f.t, "minion", "--config", cfg, "--log-level", "debug")
	f.minions[id] = p
	f.pingAll(id)
	return p
}

// highstate applies the highstate to id and fails the test unless it
// succeeded.
func (f *fleet) highstate(id string, extra ...string) string {
	f.t.Helper()
	code, out, errOut := f.brine(append([]string{id, "state.highstate", "--out", "json"}, extra...)...)
	if code != 0 {
		f.t.Fatalf("highstate of %s: exit %d\n%s\n%s", id, code, out, errOut)
	}
	return out
}

// driftRun is a drift correction's return as the job cache keeps it.
type driftRun struct {
	jid    string
	ids    []string // the states that ran, in __run_num__ order
	runNum []int
}

// driftRuns returns the drift corrections of minion id in the job cache,
// oldest first.
func (f *fleet) driftRuns(id string) []driftRun {
	f.t.Helper()
	code, out, errOut := f.brine("jobs", "list", "--limit", "100000")
	if code != 0 {
		f.t.Fatalf("jobs list: exit %d\n%s", code, errOut)
	}
	var runs []driftRun
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		// jid date time fun target origin returned n/m
		if len(fields) < 8 || fields[5] != "drift" || fields[4] != id || fields[7] != "1/1" {
			continue
		}
		code, show, errOut := f.brine("jobs", "show", fields[0], "--out", "json")
		if code != 0 {
			f.t.Fatalf("jobs show %s: exit %d\n%s\n%s", fields[0], code, show, errOut)
		}
		var ret map[string]map[string]struct {
			ID     string `json:"__id__"`
			RunNum int    `json:"__run_num__"`
			Result *bool  `json:"result"`
		}
		if err := json.Unmarshal([]byte(show), &ret); err != nil {
			f.t.Fatalf("jobs show %s: %v\n%s", fields[0], err, show)
		}
		states := slices.Collect(maps.Values(ret[id]))
		slices.SortFunc(states, func(a, b struct {
			ID     string `json:"__id__"`
			RunNum int    `json:"__run_num__"`
			Result *bool  `json:"result"`
		}) int {
			return a.RunNum - b.RunNum
		})
		r := driftRun{jid: fields[0]}
		for _, s := range states {
			if s.Result == nil || !*s.Result {
				f.t.Errorf("drift run %s: state %s did not succeed", fields[0], s.ID)
			}
			r.ids = append(r.ids, s.ID)
			r.runNum = append(r.runNum, s.RunNum)
		}
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b driftRun) int { return strings.Compare(a.jid, b.jid) })
	return runs
}

// expectCorrection waits until a drift run of id newer than the before
// runs is in the job cache, and checks that every new run applied exactly
// the states want, numbered from 0. It returns the new runs.
func (f *fleet) expectCorrection(id string, before []driftRun, want ...string) []driftRun {
	f.t.Helper()
	var fresh []driftRun
	waitFor(f.t, 60*time.Second, fmt.Sprintf("a drift run of %v in the job cache", want), func() bool {
		fresh = f.driftRuns(id)[len(before):]
		return len(fresh) > 0
	})
	for _, r := range fresh {
		wantNums := make([]int, len(want))
		for i := range wantNums {
			wantNums[i] = i
		}
		if !slices.Equal(r.ids, want) || !slices.Equal(r.runNum, wantNums) {
			f.t.Errorf("drift run %s applied %v (__run_num__ %v), want only %v", r.jid, r.ids, r.runNum, want)
		}
	}
	return fresh
}

// driftEvents returns the data of the events of tag the event stream
// printed for minion, in order.
func driftEvents(ev *proc, minion, tag string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(ev.output(), "\n") {
		fields := strings.Fields(line)
		// time source tag data
		if len(fields) < 4 || fields[1] != minion || fields[2] != tag {
			continue
		}
		var data map[string]any
		if json.Unmarshal([]byte(strings.Join(fields[3:], " ")), &data) == nil {
			out = append(out, data)
		}
	}
	return out
}

// statesIn lists the "id" of each entry of an event's "states".
func statesIn(data map[string]any) []string {
	var ids []string
	list, _ := data["states"].([]any)
	for _, s := range list {
		if m, ok := s.(map[string]any); ok {
			ids = append(ids, fmt.Sprint(m["id"]))
		}
	}
	return ids
}

// expectEvents waits for drift/detected and drift/corrected events of
// minion naming exactly the states want, beyond the first n of each.
func expectEvents(t *testing.T, ev *proc, minion string, n int, want ...string) {
	t.Helper()
	for _, tag := range []string{"drift/detected", "drift/corrected"} {
		waitFor(t, 30*time.Second, fmt.Sprintf("a %s event of %s for %v", tag, minion, want), func() bool {
			evs := driftEvents(ev, minion, tag)
			for _, e := range evs[min(n, len(evs)):] {
				if slices.Equal(statesIn(e), want) {
					return true
				}
			}
			return false
		})
	}
}

// jsonOf shows v as JSON, null for a nil pointer.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// TestDriftFiles: with watching on (debounce and watch in the minion's
// configuration file, flap_limit from its pillar), managed files edited,
// deleted or replaced are restored by a run of only their state; a file
// whose state says watch_drift: False is left alone; a file re-broken in a
// loop is corrected flap_limit times, reported as flapping and left alone
// until the next highstate; brine drift shows it all.
func TestDriftFiles(t *testing.T) {
	started := time.Now().Add(-time.Second)
	f, ev := newDriftFleet(t)
	const id = "drift-files"
	mp := f.startDriftMinion(id, nil, "drift:\n  watch: True\n  debounce: 200ms\n")
	f.highstate(id)
	root := f.root(id)
	motd, conf, flapper, handsoff := filepath.Join(root, "motd"), filepath.Join(root, "app.conf"),
		filepath.Join(root, "flapper"), filepath.Join(root, "handsoff")
	wantMotd := id + " keeps this file\n"

	cases := []struct {
		name  string
		do    func()
		path  string
		want  string
		state string
	}{
		{"edited", func() { writeFile(t, motd, "edited by hand\n") }, motd, wantMotd, "motd"},
		{"deleted", func() {
			if err := os.Remove(motd); err != nil {
				t.Fatal(err)
			}
		}, motd, wantMotd, "motd"},
		{"replaced by an editor's rename (its requisite motd does not run)", func() {
			writeFile(t, conf+".swp", "port=8080\n")
			if err := os.Rename(conf+".swp", conf); err != nil {
				t.Fatal(err)
			}
		}, conf, "port=80\n", "conf"},
		{"mode changed", func() {
			if err := os.Chmod(conf, 0o600); err != nil {
				t.Fatal(err)
			}
		}, conf, "port=80\n", "conf"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.driftRuns(id)
			nEv := len(driftEvents(ev, id, "drift/corrected"))
			c.do()
			waitFor(t, 30*time.Second, c.path+" restored", func() bool { return readString(t, c.path) == c.want })
			f.expectCorrection(id, before, c.state)
			expectEvents(t, ev, id, nEv, c.state)
		})
	}
	if st, err := os.Stat(conf); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o644 {
		t.Errorf("app.conf has mode %v after the correction, want 0644", st.Mode().Perm())
	}

	t.Run("watch_drift: False is left alone", func(t *testing.T) {
		before := f.driftRuns(id)
		writeFile(t, handsoff, "by hand\n")
		// A change seen after it, on the same inotify queue, is corrected:
		// had handsoff been watched, its run would be there by then.
		writeFile(t, motd, "edited again\n")
		f.expectCorrection(id, before, "motd")
		if got := readString(t, handsoff); got != "by hand\n" {
			t.Errorf("handsoff is %q: drift correction touched a state with watch_drift: False", got)
		}
	})

	var flapRuns int
	t.Run("flapping state left alone after flap_limit corrections", func(t *testing.T) {
		before := f.driftRuns(id)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(300 * time.Millisecond):
					if readString(t, flapper) == "wanted\n" {
						_ = os.WriteFile(flapper, []byte("another tool wants this\n"), 0o644)
					}
				}
			}
		})
		waitFor(t, 60*time.Second, "a drift/flapping event for flapper", func() bool {
			for _, e := range driftEvents(ev, id, "drift/flapping") {
				if e["id"] == "flapper" && e["count"] == float64(4) {
					return true
				}
			}
			return false
		})
		close(stop)
		wg.Wait()
		// A correction after the flap report proves the watcher goes on,
		// and that it did not touch flapper any more.
		writeFile(t, motd, "edited once more\n")
		var runs []driftRun
		waitFor(t, 60*time.Second, "motd's correction after the flap report", func() bool {
			runs = f.driftRuns(id)[len(before):]
			return len(runs) > 0 && slices.Equal(runs[len(runs)-1].ids, []string{"motd"})
		})
		for _, r := range runs {
			if slices.Equal(r.ids, []string{"flapper"}) {
				flapRuns++
			} else if !slices.Equal(r.ids, []string{"motd"}) {
				t.Errorf("drift run %s applied %v", r.jid, r.ids)
			}
		}
		if flapRuns != 4 {
			t.Errorf("flapper was corrected %d times, want flap_limit (4)", flapRuns)
		}
		if got := readString(t, flapper); got != "another tool wants this\n" {
			t.Errorf("flapper is %q after it was reported flapping, want it left alone", got)
		}
		if !strings.Contains(mp.output(), "a state keeps drifting") {
			t.Error("the minion's log does not report the flapping state")
		}
	})

	t.Run("the next highstate watches the flapping state again", func(t *testing.T) {
		f.highstate(id)
		if got := readString(t, flapper); got != "wanted\n" {
			t.Fatalf("flapper after the highstate: %q", got)
		}
		before := f.driftRuns(id)
		writeFile(t, flapper, "broken once\n")
		waitFor(t, 30*time.Second, "flapper restored", func() bool { return readString(t, flapper) == "wanted\n" })
		f.expectCorrection(id, before, "flapper")
	})

	t.Run("brine drift", func(t *testing.T) {
		report := func() minionDrift {
			code, out, errOut := f.brine("drift", id, "--out", "json")
			if code != 0 {
				t.Fatalf("brine drift: exit %d\n%s\n%s", code, out, errOut)
			}
			var r map[string]minionDrift
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("brine drift --out json: %v\n%s", err, out)
			}
			if len(r) != 1 {
				t.Fatalf("brine drift %s reports %d minions:\n%s", id, len(r), out)
			}
			return r[id]
		}
		d := report()
		runs := f.driftRuns(id)
		counted := map[string]int{}
		for _, r := range runs {
			for _, s := range r.ids {
				counted[s]++
			}
		}
		got := map[string]int{}
		for _, c := range d.Corrected {
			got[c.ID]++
			at, err := time.Parse(time.RFC3339, c.At)
			if c.State != "file.managed" || err != nil || at.Before(started.Truncate(time.Second)) || at.After(time.Now()) {
				t.Errorf("correction %+v (%v)", c, err)
			}
		}
		if d.Corrected24h != len(d.Corrected) || !maps.Equal(got, counted) {
			t.Errorf("brine drift: corrected_24h %d, corrected %v; the job cache's drift runs corrected %v", d.Corrected24h, got, counted)
		}
		if d.LastConverged == nil {
			t.Fatal("last_converged is null after a highstate that succeeded")
		}
		if at, err := time.Parse(time.RFC3339, *d.LastConverged); err != nil || at.Before(started.Truncate(time.Second)) {
			t.Errorf("last_converged %q (%v)", *d.LastConverged, err)
		}
		if d.Pending != nil {
			t.Errorf("pending %d before any test=True highstate, want null", *d.Pending)
		}
		// handsoff is not watched: edited by hand, a test run would change it.
		writeFile(t, handsoff, "by hand\n")
		f.highstate(id, "--test")
		after := report()
		if after.Pending == nil || *after.Pending != 1 {
			t.Errorf("pending after a test=True highstate with handsoff edited: %s, want 1", jsonOf(after.Pending))
		}
		if after.LastConverged == nil || *after.LastConverged != *d.LastConverged {
			t.Errorf("a test run with changes pending moved last_converged from %s to %s", *d.LastConverged, jsonOf(after.LastConverged))
		}
		code, text, errOut := f.brine("drift")
		if code != 0 || !strings.Contains(text, id+":\n    Last converged:  "+*d.LastConverged) ||
			!strings.Contains(text, fmt.Sprintf("Corrected (24h): %d\n", d.Corrected24h)) || !strings.Contains(text, "Pending:         1 ") {
			t.Errorf("brine drift: exit %d\n%s\n%s", code, text, errOut)
		}
		code, _, errOut = f.brine("drift", "nosuch*")
		if code != exitError || !strings.Contains(errOut, `no accepted minion matches "nosuch*"`) {
			t.Errorf("brine drift nosuch*: exit %d\n%s", code, errOut)
		}
	})
}

// TestDriftOVSPort: an Open vSwitch port the minion manages, deleted with
// ovs-vsctl del-port, is back through a run of only its state.
func TestDriftOVSPort(t *testing.T) {
	ovstest.Switch(t)
	const br, port = "brine-t-dwb0", "btdwp0"
	ovstest.RemoveBridges(t, br)
	f, ev := newDriftFleet(t)
	const id = "drift-ovs"
	f.startDriftMinion(id, map[string]string{"bridge": br, "port": port}, "drift:\n  watch: True\n  debounce: 200ms\n")
	f.highstate(id)
	ports := func() string { return ovstest.Vsctl(t, "list-ports", br) }
	if !strings.Contains(ports(), port) {
		t.Fatalf("no port %s on %s after the highstate", port, br)
	}
	before := f.driftRuns(id)
	ovstest.Vsctl(t, "del-port", br, port)
	waitFor(t, 30*time.Second, "the port back on its bridge", func() bool { return strings.Contains(ports(), port) })
	f.expectCorrection(id, before, "port")
	expectEvents(t, ev, id, 0, "port")
}

// TestDriftDockerContainer: a container the minion manages, stopped and
// then removed with the docker CLI, runs again through a run of only its
// state.
func TestDriftDockerContainer(t *testing.T) {
	dc := dockertest.Engine(t)
	systest.RequireCommands(t, "docker")
	img := dockertest.Image(t, dc, dockertest.Context(t), "brine-test-driftwire:1", "1")
	const name = "brine-test-driftwire-web"
	dockertest.RemoveContainers(t, dc, "brine-test-driftwire-")
	f, ev := newDriftFleet(t)
	const id = "drift-docker"
	// Docker reports one stop or removal as several events over a few
	// hundred milliseconds: a debounce of 1s gathers them.
	f.startDriftMinion(id, map[string]string{"container": name, "image": img}, "drift:\n  watch: True\n  debounce: 1s\n")
	f.highstate(id)
	running := func() bool {
		out, err := exec.Command("docker", "inspect", "-f", "{{.State.Running}}", name).Output()
		return err == nil && strings.TrimSpace(string(out)) == "true"
	}
	if !running() {
		t.Fatalf("%s is not running after the highstate", name)
	}
	cases := []struct {
		name string
		cmd  []string
	}{
		{"stopped with docker stop", []string{"docker", "stop", "-t", "1", name}},
		{"removed with docker rm -f", []string{"docker", "rm", "-f", name}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.driftRuns(id)
			nEv := len(driftEvents(ev, id, "drift/corrected"))
			if out, err := exec.Command(c.cmd[0], c.cmd[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", c.cmd, err, out)
			}
			waitFor(t, 60*time.Second, name+" running again", running)
			f.expectCorrection(id, before, "web")
			expectEvents(t, ev, id, nEv, "web")
		})
	}
}
