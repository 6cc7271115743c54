package initsys

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/pkgmgr/debtest"
	"github.com/brinecm/brine/pkg/systest"
)

// waitLog waits for the daemon's log to contain a line starting with prefix.
func waitLog(t *testing.T, prefix string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(debtest.DaemonLog)
		for line := range strings.Lines(string(b)) {
			if strings.HasPrefix(line, prefix) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(debtest.DaemonLog)
	t.Fatalf("no %q in the daemon log:\n%s", prefix, b)
}

func pid(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/run/" + debtest.DaemonName + ".pid")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestSysvPackagedDaemon drives the init script of a real package,
// installed with dpkg, through the sysv provider.
func TestSysvPackagedDaemon(t *testing.T) {
	systest.RequireCommands(t, "start-stop-daemon", "update-rc.d")
	debtest.InstallDeb(t, debtest.Daemon(t, "1.0-1"))
	p := NewSysv()
	ctx := context.Background()
	name := debtest.DaemonName

	if err := p.Available(ctx, name); err != nil {
		t.Fatal(err)
	}
	var na *NotAvailableError
	if err := p.Available(ctx, "brine-test-nope"); !errors.As(err, &na) || na.Reason != "stat /etc/init.d/brine-test-nope: no such file or directory" {
		t.Errorf("Available(nope) = %v", err)
	}
	services, err := p.List(ctx)
	if err != nil || !slices.Contains(services, name) || slices.Contains(services, "README") {
		t.Errorf("List = %v, %v", services, err)
	}
	running := func(want bool) {
		t.Helper()
		if got, err := p.Running(ctx, name); err != nil || got != want {
			t.Fatalf("Running = %v, %v; want %v", got, err, want)
		}
	}
	running(false)
	if err := p.Control(ctx, name, Start); err != nil {
		t.Fatal(err)
	}
	running(true)
	waitLog(t, "start "+pid(t)+" version=1.0-1")

	if err := p.Control(ctx, name, Reload); err != nil {
		t.Fatal(err)
	}
	waitLog(t, "reload "+pid(t))

	before := pid(t)
	if err := p.Control(ctx, name, Restart); err != nil {
		t.Fatal(err)
	}
	running(true)
	if after := pid(t); after == before {
		t.Errorf("restart kept pid %s", after)
	}
	waitLog(t, "stop "+before)

	if err := p.Control(ctx, name, Stop); err != nil {
		t.Fatal(err)
	}
	running(false)

	enabled := func(want bool) {
		t.Helper()
		if got, err := p.Enabled(ctx, name); err != nil || got != want {
			t.Fatalf("Enabled = %v, %v; want %v", got, err, want)
		}
	}
	enabled(true) // the package's postinst ran update-rc.d defaults
	if err := p.SetEnabled(ctx, name, false); err != nil {
		t.Fatal(err)
	}
	enabled(false)
	if links, _ := filepath.Glob("/etc/rc2.d/K??" + name); len(links) != 1 {
		t.Errorf("stop links after disable: %v", links)
	}
	if err := p.SetEnabled(ctx, name, true); err != nil {
		t.Fatal(err)
	}
	enabled(true)
}

// TestSysvScriptErrors runs scripts in a temporary init directory: a
// failing action reports what the script said.
func TestSysvScriptErrors(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\ncase \"$1\" in\nstatus) exit 3;;\nstart) echo 'cannot bind to port 80' >&2; exit 1;;\nstop) echo stopped; exit 7;;\nesac\n"
	if err := os.WriteFile(filepath.Join(dir, "web"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not a service"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plain"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &Sysv{Runner: ExecRunner{}, InitDir: dir, RCRoot: dir}
	ctx := context.Background()
	if r, err := p.Running(ctx, "web"); err != nil || r {
		t.Errorf("Running = %v, %v", r, err)
	}
	err := p.Control(ctx, "web", Start)
	if err == nil || err.Error() != filepath.Join(dir, "web")+" start: cannot bind to port 80" {
		t.Errorf("start: %v", err)
	}
	if err := p.Control(ctx, "web", Stop); err == nil || !strings.HasSuffix(err.Error(), "stop: stopped") {
		t.Errorf("stop: %v", err)
	}
	var na *NotAvailableError
	if err := p.Available(ctx, "plain"); !errors.As(err, &na) {
		t.Errorf("non-executable script available: %v", err)
	}
	if err := p.Available(ctx, "../web"); err == nil || !strings.Contains(err.Error(), "invalid service name") {
		t.Errorf("path as name: %v", err)
	}
	if got, _ := p.List(ctx); !slices.Equal(got, []string{"web"}) {
		t.Errorf("List = %v", got)
	}
}
