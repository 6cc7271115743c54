package ovstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/ovsx"
	"github.com/brinecm/brine/pkg/systest"
)

// Bounds of the private switch's life cycle: how long its daemons may take
// to answer after they start, to exit when asked, and one command to run.
const (
	startTimeout   = 30 * time.Second
	stopTimeout    = 10 * time.Second
	commandTimeout = 10 * time.Second
	pollInterval   = 50 * time.Millisecond
)

// maxSocketPath is the longest unix socket path a client can dial
// (sun_path holds 108 bytes with the terminating NUL).
const maxSocketPath = 107

// schemaPaths are where Open vSwitch packages install the database schema.
var schemaPaths = []string{
	"/usr/share/openvswitch/vswitch.ovsschema",
	"/usr/local/share/openvswitch/vswitch.ovsschema",
}

// Isolated is a private Open vSwitch: its own ovsdb-server and database in
// a temporary directory, and its own ovs-vswitchd running inside one
// network namespace, so its bridges, tap devices and route table live
// there. The host's Open vSwitch is not involved.
type Isolated struct {
	// Client talks to the private database.
	Client *ovsx.Client
	// RunDir holds db.sock, the daemons' control sockets, pid files and
	// logs: give it as OVS_RUNDIR to a process that should use this switch.
	RunDir string
	// Namespace is the network namespace ovs-vswitchd runs in.
	Namespace string
}

// daemon is one running Open vSwitch daemon started by StartIsolated.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan error // receives Wait's result once
	ctl  string     // its unixctl socket
	log  string
	errf string // its stderr
}

// StartIsolated starts a private Open vSwitch for the test: a database
// made with ovsdb-tool from the installed schema, ovsdb-server serving it
// on RunDir/db.sock, and ovs-vswitchd inside the network namespace ns
// (`ip netns exec ns ovs-vswitchd …`), all files under t.TempDir(). It
// returns once ovs-vswitchd has read the database. Both daemons are
// stopped when the test ends, failed or not; create ns before calling, so
// that the namespace outlives the switch. It skips (fails when
// BRINE_REQUIRE_SYSTEM=1) without root or the Open vSwitch commands.
func StartIsolated(t testing.TB, ns string) *Isolated {
	t.Helper()
	systest.RequireRoot(t)
	systest.RequireCommands(t, "ovsdb-server", "ovs-vswitchd", "ovsdb-tool", "ovs-vsctl", "ovs-appctl", "ip")
	schema := findSchema()
	systest.Require(t, schema != "", "the Open vSwitch schema vswitch.ovsschema is not installed")

	dir := t.TempDir()
	sock := filepath.Join(dir, "db.sock")
	// The control sockets are the longest socket paths clients dial here.
	if p := filepath.Join(dir, "ovs-vswitchd.ctl"); len(p) > maxSocketPath {
		t.Fatalf("private Open vSwitch: socket path %s is longer than %d bytes (shorten the test's name or TMPDIR)", p, maxSocketPath)
	}
	db := filepath.Join(dir, "conf.db")
	run(t, "ovsdb-tool", "create", db, schema)

	sw := &Isolated{Client: &ovsx.Client{Socket: sock, Timeout: commandTimeout}, RunDir: dir, Namespace: ns}
	server := startDaemon(t, dir, "ovsdb-server", nil, db,
		"--remote=punix:"+sock)
	t.Cleanup(func() { stopDaemon(t, server) })
	waitDaemon(t, server, "ovsdb-server to answer", func(ctx context.Context) bool {
		return exec.CommandContext(ctx, "ovs-vsctl", "--db=unix:"+sock, "--timeout=2", "--no-wait", "show").Run() == nil
	})
	// As scripts/start-ovs.sh does for the host's switch: the root row,
	// with the versions ovs-vsctl and brine's grains report.
	sw.Vsctl(t, "--no-wait", "init", "--", "set", "Open_vSwitch", ".",
		"ovs_version="+quoteValue(vswitchdVersion(t)),
		"db_version="+quoteValue(run(t, "ovsdb-tool", "schema-version", schema)))

	vswitchd := startDaemon(t, dir, "ovs-vswitchd", []string{"ip", "netns", "exec", ns}, "unix:"+sock)
	t.Cleanup(func() { stopDaemon(t, vswitchd) })
	// ovs-vswitchd has read the database once it reports its datapath types.
	waitDaemon(t, vswitchd, "ovs-vswitchd to read its database", func(ctx context.Context) bool {
		out, err := exec.CommandContext(ctx, "ovs-vsctl", "--db=unix:"+sock, "--timeout=2",
			"get", "Open_vSwitch", ".", "datapath_types").Output()
		return err == nil && strings.Trim(strings.TrimSpace(string(out)), "[]") != ""
	})
	t.Cleanup(func() { // registered last, so it runs while the daemons still do
		if t.Failed() {
			sw.logState(t, server, vswitchd)
		}
	})
	return sw
}

// Vsctl runs ovs-vsctl against the private database with args and returns
// its trimmed output; a failure fails the test.
func (s *Isolated) Vsctl(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, "ovs-vsctl", append([]string{"--db=unix:" + s.Client.Socket, "--timeout=10"}, args...)...)
}

// Appctl runs an ovs-appctl command (e.g. "ovs/route/show",
// "tnl/arp/show") in the private ovs-vswitchd and returns its trimmed
// output; a failure fails the test.
func (s *Isolated) Appctl(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, "ovs-appctl", append([]string{"-t", s.ctl("ovs-vswitchd"), "--timeout=10"}, args...)...)
}

// ctl is the unixctl socket of the named daemon.
func (s *Isolated) ctl(name string) string { return filepath.Join(s.RunDir, name+".ctl") }

// logState logs what explains a failure: the switch as ovs-vsctl shows
// it, ovs-vswitchd's routes and tunnel neighbours, and the daemons' logs.
func (s *Isolated) logState(t testing.TB, daemons ...*daemon) {
	t.Helper()
	for _, c := range []struct {
		cmd  string
		args []string
	}{
		{"ovs-vsctl", []string{"--db=unix:" + s.Client.Socket, "--timeout=5", "show"}},
		{"ovs-appctl", []string{"-t", s.ctl("ovs-vswitchd"), "--timeout=5", "ovs/route/show"}},
		{"ovs-appctl", []string{"-t", s.ctl("ovs-vswitchd"), "--timeout=5", "tnl/arp/show"}},
	} {
		out, err := output(c.cmd, c.args...)
		t.Logf("private Open vSwitch in %s: %s %s (err %v):\n%s", s.Namespace, c.cmd, c.args[len(c.args)-1], err, out)
	}
	for _, d := range daemons {
		t.Logf("private Open vSwitch in %s: %s", s.Namespace, d.tail())
	}
}

// startDaemon starts the named Open vSwitch daemon in the foreground, as a
// child of the test (prefix, if any, is the command that runs it, e.g.
// `ip netns exec NS`), with its control socket, pid file and log in dir.
func startDaemon(t testing.TB, dir, name string, prefix []string, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, done: make(chan error, 1), ctl: filepath.Join(dir, name+".ctl"),
		log: filepath.Join(dir, name+".log"), errf: filepath.Join(dir, name+".stderr")}
	argv := slices.Concat(prefix, []string{name}, args, []string{"--unixctl=" + d.ctl, "--pidfile=" + filepath.Join(dir, name+".pid"),
		"--log-file=" + d.log, "-vconsole:off"})
	stderr, err := os.Create(d.errf)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	defer stderr.Close() // the child has its own copy
	d.cmd = exec.Command(argv[0], argv[1:]...)
	d.cmd.Stdout, d.cmd.Stderr = stderr, stderr
	// Every directory the daemons would otherwise use is the private one,
	// so nothing reaches the host's switch in /var/run/openvswitch.
	d.cmd.Env = append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_LOGDIR="+dir, "OVS_DBDIR="+dir, "OVS_SYSCONFDIR="+dir)
	// A test binary killed before its cleanups ran takes its switch along.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", strings.Join(argv, " "), err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	return d
}

// waitDaemon polls ready until it holds, failing the test when d exits or
// startTimeout passes first.
func waitDaemon(t testing.TB, d *daemon, what string, ready func(context.Context) bool) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		ok := ready(ctx)
		cancel()
		if ok {
			return
		}
		select {
		case err := <-d.done:
			d.done <- err // stopDaemon reads it again
			t.Fatalf("waiting for %s: %s exited: %v; %s", what, d.name, err, d.tail())
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: no answer within %s; %s", what, startTimeout, d.tail())
		}
	}
}

// stopDaemon asks d to exit (ovs-vswitchd removing its datapaths first),
// and kills it when it has not within stopTimeout. A daemon that exited
// before it was asked fails the test: it died under it.
func stopDaemon(t testing.TB, d *daemon) {
	t.Helper()
	select {
	case err := <-d.done:
		t.Errorf("private %s exited before the test ended: %v; %s", d.name, err, d.tail())
		return
	default:
	}
	args := []string{"-t", d.ctl, "--timeout=5", "exit"}
	if d.name == "ovs-vswitchd" {
		args = append(args, "--cleanup")
	}
	// The daemon may close the connection before it answers: what counts is
	// that it exits, checked below.
	_, _ = output("ovs-appctl", args...)
	select {
	case <-d.done:
		return
	case <-time.After(stopTimeout):
	}
	if err := d.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("kill private %s (pid %d): %v", d.name, d.cmd.Process.Pid, err)
	}
	<-d.done
	t.Errorf("private %s did not exit within %s when asked; killed it", d.name, stopTimeout)
}

// tail returns the last lines of d's log and stderr.
func (d *daemon) tail() string {
	var b strings.Builder
	for _, f := range []string{d.log, d.errf} {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(&b, "\n%s: %v", f, err)
			continue
		}
		text := strings.TrimRight(string(data), "\n")
		if text == "" {
			continue
		}
		lines := strings.Split(text, "\n")
		lines = lines[max(0, len(lines)-30):]
		fmt.Fprintf(&b, "\n--- %s (last %d lines)\n%s", filepath.Base(f), len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

// findSchema returns the installed vswitch.ovsschema, "" when none is.
func findSchema() string {
	paths := schemaPaths
	if dir := os.Getenv("OVS_PKGDATADIR"); dir != "" {
		paths = append([]string{filepath.Join(dir, "vswitch.ovsschema")}, paths...)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// vswitchdVersion returns the installed ovs-vswitchd's version, "3.1.0".
func vswitchdVersion(t testing.TB) string {
	t.Helper()
	out := run(t, "ovs-vswitchd", "--version")
	first, _, _ := strings.Cut(out, "\n")
	if _, v, ok := strings.Cut(first, "(Open vSwitch) "); ok {
		return strings.TrimSpace(v)
	}
	t.Fatalf("ovs-vswitchd --version: no version in %q", first)
	return ""
}

// quoteValue writes v as an OVSDB string for ovs-vsctl.
func quoteValue(v string) string { return fmt.Sprintf("%q", v) }

// run runs a command bounded by commandTimeout and returns its trimmed
// output; a failure fails the test.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := output(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// output runs a command bounded by commandTimeout and returns its trimmed
// combined output.
func output(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return strings.TrimSpace(buf.String()), err
}
