package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The lifecycle tests start, stop, kill and restart real master, minion and
// CLI processes: a port or data dir already in use, a restart on the heels
// of a SIGTERM, a master that dies while the CLI waits for a job.

// hangBound is how long a process may take to do what a test waits for
// before the test calls it hung; it guards the test run, it measures nothing.
const hangBound = 90 * time.Second

// exitCode waits for p to exit and returns its exit status.
func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.waited():
	case <-time.After(hangBound):
		t.Fatalf("%v still runs after %s:\n%s", p.cmd.Args[1:], hangBound, p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// exited reports whether p has exited, without waiting.
func (p *proc) hasExited() bool {
	select {
	case <-p.waited():
		return true
	default:
		return false
	}
}

// masterArgs is a master's command line.
func masterArgs(dataDir, socket, listen string) []string {
	return []string{"master", "--config", "/dev/null", "--data-dir", dataDir, "--listen", listen, "--socket", socket,
		"--file-root", "testdata/fleet/states", "--pillar-root", "testdata/fleet/pillar"}
}

// ownMaster is a master's command line with its own data dir and socket
// under dir.
func ownMaster(dir, listen string) []string {
	return masterArgs(filepath.Join(dir, "master"), filepath.Join(dir, "master.sock"), listen)
}

func TestMasterRefusesAnAddressInUse(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	running := newFleet(t, fleetOptions{})
	cases := []struct {
		name string
		args func(dir string) []string
		want string
	}{
		{"bus port", func(dir string) []string { return ownMaster(dir, held.Addr().String()) },
			"Error: start bus: bus listen " + held.Addr().String() + ": address already in use; is another master running?"},
		{"CLI socket", func(dir string) []string {
			return masterArgs(filepath.Join(dir, "master"), running.socket, fmt.Sprintf("127.0.0.1:%d", freePort(t)))
		}, "CLI socket " + running.socket + ": another master answers on it"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := start(t, c.args(t.TempDir())...)
			if code := p.exitCode(t); code != exitError || !strings.Contains(p.output(), c.want) {
				t.Fatalf("exit %d, want %d and %q:\n%s", code, exitError, c.want, p.output())
			}
		})
	}
	if code, out, errOut := running.brine("key", "list"); code != 0 {
		t.Errorf("the running master no longer serves the CLI: exit %d %s %s", code, out, errOut)
	}
}

func TestDataDirLock(t *testing.T) {
	f := newFleet(t, fleetOptions{autoAccept: true, minions: map[string]string{"web1": "web"}})
	f.pingAll("web1")
	cases := []struct {
		name   string
		second func(t *testing.T) *proc
		want   string
	}{
		{"second master", func(t *testing.T) *proc {
			// the running master's data dir, with a port and a socket of its own
			return start(t, masterArgs(filepath.Join(f.dir, "master"), filepath.Join(t.TempDir(), "master.sock"),
				fmt.Sprintf("127.0.0.1:%d", freePort(t)))...)
		}, fmt.Sprintf("master data dir %s is in use by another master (pid %d, ", filepath.Join(f.dir, "master"), f.master.cmd.Process.Pid)},
		{"second minion", func(t *testing.T) *proc {
			return start(t, "minion", "--config", filepath.Join(f.dir, "web1.yaml"))
		}, fmt.Sprintf("minion data dir %s is in use by another minion (pid %d, ", filepath.Join(f.dir, "web1"), f.minions["web1"].cmd.Process.Pid)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := c.second(t)
			if code := p.exitCode(t); code != exitError || !strings.Contains(p.output(), c.want) {
				t.Fatalf("exit %d, want %d and %q:\n%s", code, exitError, c.want, p.output())
			}
		})
	}
	t.Cleanup(func() { f.pingAll("web1") }) // after the parallel subtests: the first ones still work
}

func TestQuickRestart(t *testing.T) {
	f := newFleet(t, fleetOptions{autoAccept: true, minions: map[string]string{"web1": "web", "db1": "db"}})
	f.pingAll("web1", "db1")
	oldMaster, oldMinion := f.master, f.minions["web1"]
	for _, p := range []*proc{oldMaster, oldMinion} {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	f.master = start(t, f.args...)
	f.startMinion("web1", "web")
	waitFor(t, hangBound, "the new master to serve the CLI", func() bool {
		if f.master.hasExited() {
			t.Fatalf("the new master exited:\n%s", f.master.output())
		}
		code, out, _ := f.brine("key", "list")
		return code == 0 && strings.Contains(out, "Accepted Keys:\ndb1\nweb1\n")
	})
	f.pingAll("web1", "db1")
	for name, p := range map[string]*proc{"master": oldMaster, "minion": oldMinion} {
		if code := p.exitCode(t); code != 0 {
			t.Errorf("the old %s exited %d after SIGTERM:\n%s", name, code, p.output())
		}
	}
}

// cli is a CLI process whose stdout and stderr are kept apart.
type cli struct {
	*proc
	stdout lockedBuffer
}

func (c *cli) out() string {
	c.stdout.mu.Lock()
	defer c.stdout.mu.Unlock()
	return c.stdout.buf.String()
}

func startCLI(t *testing.T, socket string, args ...string) *cli {
	t.Helper()
	c := &cli{proc: &proc{log: &bytes.Buffer{}, mu: &sync.Mutex{}}, stdout: lockedBuffer{&sync.Mutex{}, &bytes.Buffer{}}}
	c.cmd = exec.Command(brineBinary(t), args...)
	c.cmd.Env = append(os.Environ(), "BRINE_SOCKET="+socket, "NO_COLOR=1")
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, lockedBuffer{c.mu, c.log}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			t.Logf("brine %v\nstdout:\n%s\nstderr:\n%s", args, c.out(), c.output())
		}
	})
	return c
}

var jidLine = regexp.MustCompile(`Executed command with job ID: (\S+)\n`)

func TestCLIMasterKilledMidRun(t *testing.T) {
	cases := []struct {
		name        string
		out         []string
		jidOnStdout bool
	}{
		{"highstate output", nil, true},
		{"json output", []string{"--out", "json"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFleet(t, fleetOptions{autoAccept: true, minions: map[string]string{"db1": "db"}})
			f.pingAll("db1")
			run := startCLI(t, f.socket, append([]string{"-L", "db1", "state.sls", "slow"}, c.out...)...)
			jidOut, other := run.output, run.out
			if c.jidOnStdout {
				jidOut, other = run.out, run.output
			}
			waitFor(t, hangBound, "the CLI to print the jid", func() bool { return jidLine.MatchString(jidOut()) })
			jid := jidLine.FindStringSubmatch(jidOut())[1]
			if strings.Contains(other(), "job ID") {
				t.Errorf("the jid went to both stdout and stderr")
			}
			f.master.kill()
			want := fmt.Sprintf("lost the connection to the master; job %s goes on: brine jobs show %s", jid, jid)
			if code := run.exitCode(t); code != exitError || !strings.Contains(run.output(), want) {
				t.Fatalf("exit %d, want %d and %q on stderr", code, exitError, want)
			}
			if !c.jidOnStdout {
				for dec := json.NewDecoder(strings.NewReader(run.out())); dec.More(); {
					var v any
					if err := dec.Decode(&v); err != nil {
						t.Fatalf("stdout is not JSON: %v\n%s", err, run.out())
					}
				}
			}

			// The job is in the cache for the master that comes next.
			f.master = start(t, f.args...)
			waitFor(t, hangBound, "the new master to serve the CLI", func() bool {
				code, _, _ := f.brine("key", "list")
				return code == 0
			})
			code, out, errOut := f.brine("jobs", "show", jid)
			if code == exitError || !strings.Contains(out, "db1:") {
				t.Errorf("brine jobs show %s: exit %d\n%s\n%s", jid, code, out, errOut)
			}
		})
	}
}

// TestLockFileHoldsThePID checks where the refusal's pid comes from: the
// running master writes its own into the lock file.
func TestLockFileHoldsThePID(t *testing.T) {
	f := newFleet(t, fleetOptions{})
	got, err := os.ReadFile(filepath.Join(f.dir, "master", "master.lock"))
	if err != nil || strings.TrimSpace(string(got)) != strconv.Itoa(f.master.cmd.Process.Pid) {
		t.Fatalf("master.lock holds %q (%v), want pid %d", got, err, f.master.cmd.Process.Pid)
	}
}
