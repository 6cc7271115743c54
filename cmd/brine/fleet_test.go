package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The fleet tests run real processes on loopback: one `brine master` and
// several `brine minion`, driven through the `brine` command line.

// goProgram is a Go program a test run builds once, on first use.
type goProgram struct {
	pkg, name string // what to build ("." is this package) and the file's name
	once      sync.Once
	path      string
	err       error
}

// binary builds the program the first time it is asked for and returns
// its path; a failed build fails every test that asks.
func (g *goProgram) binary(t *testing.T) string {
	t.Helper()
	g.once.Do(func() {
		dir, err := os.MkdirTemp("", "brine-"+g.name)
		if err != nil {
			g.err = err
			return
		}
		g.path = filepath.Join(dir, g.name)
		out, err := exec.Command("go", "build", "-o", g.path, g.pkg).CombinedOutput()
		if err != nil {
			g.err = fmt.Errorf("go build %s: %v\n%s", g.pkg, err, out)
		}
	})
	if g.err != nil {
		t.Fatal(g.err)
	}
	return g.path
}

// The programs the process tests run: brine itself, and nats-server from
// the module brine embeds (the external-cluster tests).
var (
	brineProgram = &goProgram{pkg: ".", name: "brine"}
	natsProgram  = &goProgram{pkg: "github.com/nats-io/nats-server/v2", name: "nats-server"}
)

// brineBinary builds the brine binary once per test run.
func brineBinary(t *testing.T) string { return brineProgram.binary(t) }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a daemon started by a test, stopped at cleanup.
type proc struct {
	cmd *exec.Cmd
	log *bytes.Buffer
	mu  *sync.Mutex

	waitOnce sync.Once
	exited   chan struct{} // closed once cmd.Wait returned
}

// waited returns a channel closed when the process has exited and been
// reaped; cmd.Wait runs once, whoever asks first.
func (p *proc) waited() <-chan struct{} {
	p.waitOnce.Do(func() {
		p.exited = make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(p.exited) }()
	})
	return p.exited
}

type lockedBuffer struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{log: &bytes.Buffer{}, mu: &sync.Mutex{}}
	p.cmd = exec.Command(brineBinary(t), args...)
	p.cmd.Stdout = lockedBuffer{p.mu, p.log}
	p.cmd.Stderr = lockedBuffer{p.mu, p.log}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("output of %v:\n%s", args[:2], p.output())
		}
	})
	return p
}

func (p *proc) stop() {
	if p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.waited():
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.waited()
	}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.waited()
}

// fleet is a master and its minions.
type fleet struct {
	t       *testing.T
	dir     string
	socket  string
	busURL  string
	master  *proc
	minions map[string]*proc
	args    []string // the master's command line
}

type fleetOptions struct {
	autoAccept bool
	minions    map[string]string // id -> role grain
}

func newFleet(t *testing.T, o fleetOptions) *fleet {
	t.Helper()
	dir := t.TempDir()
	f := &fleet{t: t, dir: dir, socket: filepath.Join(dir, "master.sock"), minions: map[string]*proc{}}
	port := freePort(t)
	f.busURL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	cfg := filepath.Join(dir, "master.yaml")
	writeFile(t, cfg, "nodegroups:\n  webs: 'G@role:web'\n")
	args := []string{"master", "--config", cfg, "--data-dir", filepath.Join(dir, "master"), "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--socket", f.socket, "--file-root", "testdata/fleet/states", "--pillar-root", "testdata/fleet/pillar", "--log-level", "info"}
	if o.autoAccept {
		args = append(args, "--auto-accept")
	}
	f.args = args
	f.master = start(t, args...)
	waitFor(t, 20*time.Second, "master socket", func() bool { _, err := os.Stat(f.socket); return err == nil })
	for id, role := range o.minions {
		f.startMinion(id, role)
	}
	return f
}

// startMinion starts (or restarts) minion id with its own data dir and root.
func (f *fleet) startMinion(id, role string) *proc {
	f.t.Helper()
	return f.startMinionWith(id, map[string]string{"role": role})
}

// startMinionWith starts (or restarts) minion id with the given static
// grains besides root.
func (f *fleet) startMinionWith(id string, grains map[string]string) *proc {
	f.t.Helper()
	cfg := filepath.Join(f.dir, id+".yaml")
	var g strings.Builder
	for _, k := range slices.Sorted(maps.Keys(grains)) {
		fmt.Fprintf(&g, "  %s: %s\n", k, grains[k])
	}
	writeFile(f.t, cfg, fmt.Sprintf("id: %s\nmaster: [%s]\ndata_dir: %s\ngrains:\n%s  root: %s\n",
		id, f.busURL, filepath.Join(f.dir, id), g.String(), f.root(id)))
	p := start(f.t, "minion", "--config", cfg, "--log-level", "info")
	f.minions[id] = p
	return p
}

// root is where minion id's states write.
func (f *fleet) root(id string) string { return filepath.Join(f.dir, "root-"+id) }

// brine runs the CLI against the master and returns exit code and output.
func (f *fleet) brine(args ...string) (int, string, string) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, brineBinary(f.t), args...)
	cmd.Env = append(os.Environ(), "BRINE_SOCKET="+f.socket, "NO_COLOR=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		f.t.Fatalf("brine %v: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

// pingAll waits until every listed minion answers test.ping.
func (f *fleet) pingAll(ids ...string) {
	f.t.Helper()
	waitFor(f.t, 60*time.Second, "minions to answer", func() bool {
		_, out, _ := f.brine("-L", strings.Join(ids, ","), "test.ping", "--timeout", "3s", "--out", "json")
		for _, id := range ids {
			if !strings.Contains(out, fmt.Sprintf("%q: true", id)) {
				return false
			}
		}
		return true
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// returnedIDs lists the minions in --out json output (one object per minion).
func returnedIDs(out string) map[string]json.RawMessage {
	ids := map[string]json.RawMessage{}
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var m map[string]json.RawMessage
		if dec.Decode(&m) != nil {
			return ids
		}
		for k, v := range m {
			ids[k] = v
		}
	}
}

var threeMinions = map[string]string{"web1": "web", "web2": "web", "db1": "db"}

func TestFleetHighstate(t *testing.T) {
	f := newFleet(t, fleetOptions{autoAccept: true, minions: threeMinions})
	f.pingAll("web1", "web2", "db1")

	t.Run("test mode changes nothing", func(t *testing.T) {
		code, out, errOut := f.brine("*", "state.highstate", "--test")
		if code != 0 || strings.Count(out, "Result: None") < 3 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		for id := range threeMinions {
			if _, err := os.Stat(f.root(id)); err == nil {
				t.Errorf("test mode wrote under %s", f.root(id))
			}
		}
	})
	t.Run("test render uses the grains the master keeps", func(t *testing.T) {
		code, out, errOut := f.brine("test", "render", "--from-master", "--file-root", "testdata/fleet/states", "--pillar-root", "testdata/fleet/pillar")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		states := map[string]string{}
		for _, m := range regexp.MustCompile(`(?m)^(\S+): ok \((\d+) states\)$`).FindAllStringSubmatch(out, -1) {
			states[m[1]] = m[2]
		}
		// The top file gives role:web minions more states: the grains came from the master.
		if len(states) != 3 || states["web1"] != states["web2"] || states["web1"] == states["db1"] {
			t.Fatalf("states per minion %v, want web1 and web2 alike and db1 apart\n%s", states, out)
		}
	})
	t.Run("highstate applies per minion", func(t *testing.T) {
		code, out, errOut := f.brine("*", "state.highstate")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		for _, s := range []string{"Summary for web1", "Summary for web2", "Summary for db1"} {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q", s)
			}
		}
		for id, role := range threeMinions {
			got, err := os.ReadFile(filepath.Join(f.root(id), "motd"))
			if want := fmt.Sprintf("%s (%s) says hello\n", id, role); err != nil || string(got) != want {
				t.Errorf("%s motd %q (%v), want %q", id, got, err, want)
			}
		}
		if got, _ := os.ReadFile(filepath.Join(f.root("web1"), "web.conf")); string(got) != "port=8081\n" {
			t.Errorf("web1 did not get its own pillar: %q", got)
		}
		if got, _ := os.ReadFile(filepath.Join(f.root("web2"), "web.conf")); string(got) != "port=80\n" {
			t.Errorf("web2 web.conf %q", got)
		}
		if _, err := os.Stat(filepath.Join(f.root("db1"), "web.conf")); err == nil {
			t.Error("db1 got the web state")
		}
	})
	t.Run("second run changes nothing", func(t *testing.T) {
		code, out, _ := f.brine("*", "state.highstate", "--out", "json")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if strings.Contains(out, `"diff"`) {
			t.Errorf("second highstate changed something:\n%s", out)
		}
	})
	t.Run("targeting", func(t *testing.T) {
		cases := []struct {
			args []string
			want string
		}{
			{[]string{"web*"}, "web1 web2"},
			{[]string{"-L", "web1,db1"}, "db1 web1"},
			{[]string{"-G", "role:db"}, "db1"},
			{[]string{"-E", "web[12]"}, "web1 web2"},
			{[]string{"-C", "G@role:web and not web2"}, "web1"},
			{[]string{"-I", "secret:only-for-web1"}, "web1"},
			{[]string{"-N", "webs"}, "web1 web2"},
		}
		for _, c := range cases {
			code, out, errOut := f.brine(append(c.args, "test.ping", "--out", "json")...)
			ids := returnedIDs(out)
			var got []string
			for _, id := range []string{"db1", "web1", "web2"} {
				if _, ok := ids[id]; ok {
					got = append(got, id)
				}
			}
			if code != 0 || strings.Join(got, " ") != c.want {
				t.Errorf("%v: exit %d, returned %v, want %s\n%s", c.args, code, got, c.want, errOut)
			}
		}
	})
	t.Run("batch", func(t *testing.T) {
		code, out, _ := f.brine("*", "test.ping", "--batch", "1", "--out", "json")
		if code != 0 || len(returnedIDs(out)) != 3 {
			t.Errorf("exit %d: %s", code, out)
		}
	})
	t.Run("compile error is reported per minion and applies nothing", func(t *testing.T) {
		code, out, _ := f.brine("*", "state.sls", "nosuch")
		if code != 1 || strings.Count(out, "Data failed to compile") != 3 {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
}

func TestFleetOfflineMinionAndJobCache(t *testing.T) {
	f := newFleet(t, fleetOptions{autoAccept: true, minions: threeMinions})
	f.pingAll("web1", "web2", "db1")
	f.minions["db1"].stop()
	code, out, errOut := f.brine("*", "test.echo", "late", "--timeout", "2s")
	if code != exitNoReturn || !strings.Contains(out, "db1:\n    Minion did not return. [Not connected]") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	jid := regexp.MustCompile(`brine jobs show (\S+)`).FindStringSubmatch(errOut)
	if jid == nil {
		t.Fatalf("no jid to look up in:\n%s", errOut)
	}
	f.startMinion("db1", "db")
	waitFor(t, 60*time.Second, "db1's late return in the job cache", func() bool {
		_, out, _ := f.brine("jobs", "show", jid[1], "--out", "json")
		return strings.Contains(out, `"db1": "late"`)
	})
	_, list, _ := f.brine("jobs", "list")
	if !strings.Contains(list, jid[1]) || !strings.Contains(list, "returned 3/3") {
		t.Errorf("jobs list:\n%s", list)
	}
	// A job id no job can have is refused before it reaches the bus, and
	// the master keeps serving.
	code, out, errOut = f.brine("jobs", "show", strings.Repeat("j", 5000))
	if code == 0 || !strings.Contains(errOut, "not a job id") {
		t.Errorf("jobs show of a 5000-character job id: exit %d\n%s\n%.300s", code, out, errOut)
	}
	if code, list, errOut := f.brine("jobs", "list"); code != 0 || !strings.Contains(list, jid[1]) {
		t.Errorf("jobs list after it: exit %d\n%s\n%s", code, list, errOut)
	}
}

func TestFleetMinionKilledMidJob(t *testing.T) {
	f := newFleet(t, fleetOptions{autoAccept: true, minions: map[string]string{"web1": "web", "db1": "db"}})
	f.pingAll("web1", "db1")
	go func() {
		time.Sleep(3 * time.Second)
		f.minions["db1"].kill()
	}()
	code, out, errOut := f.brine("-L", "db1", "state.sls", "slow", "--timeout", "1s")
	if code != exitNoReturn || !strings.Contains(out, "db1:\n    Minion did not return.") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestFleetKeys(t *testing.T) {
	f := newFleet(t, fleetOptions{minions: map[string]string{"web1": "web"}})
	waitFor(t, 30*time.Second, "a pending key", func() bool {
		_, out, _ := f.brine("key", "list")
		return strings.Contains(out, "Unaccepted Keys:\nweb1\n")
	})
	code, _, errOut := f.brine("*", "test.ping")
	if code != exitError || !strings.Contains(errOut, "No minions matched") {
		t.Errorf("an unaccepted minion was targeted: exit %d %s", code, errOut)
	}
	_, fp, _ := f.brine("key", "fingerprint", "web1")
	if !strings.Contains(f.minions["web1"].output(), strings.TrimSpace(strings.SplitN(fp, ": ", 2)[1])) {
		t.Errorf("fingerprint %q not what the minion printed", fp)
	}
	if code, out, errOut := f.brine("key", "accept", "web1"); code != 0 {
		t.Fatalf("accept: %d %s %s", code, out, errOut)
	}
	f.pingAll("web1")
	if code, _, _ := f.brine("key", "reject", "web1"); code != 0 {
		t.Fatal("reject failed")
	}
	code, out, _ := f.brine("*", "test.ping", "--timeout", "2s")
	if code == 0 || strings.Contains(out, "True") {
		t.Errorf("a rejected minion still answered: %d %s", code, out)
	}
}

func TestFleetEvents(t *testing.T) {
	f := newFleet(t, fleetOptions{autoAccept: true, minions: map[string]string{"web1": "web"}})
	f.pingAll("web1")
	ev := start(t, "events", "--socket", f.socket)
	time.Sleep(500 * time.Millisecond) // let the event stream subscribe
	if code, out, errOut := f.brine("web1", "test.ping"); code != 0 {
		t.Fatalf("ping: %d %s %s", code, out, errOut)
	}
	waitFor(t, 20*time.Second, "job events", func() bool {
		out := ev.output()
		return strings.Contains(out, "job.new") && strings.Contains(out, "web1") && strings.Contains(out, "job.started")
	})
}
