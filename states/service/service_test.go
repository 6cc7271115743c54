package service

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/pkgmgr/debtest"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
	_ "github.com/brinecm/brine/states/file"
	"github.com/brinecm/brine/states/statetest"
	_ "github.com/brinecm/brine/states/test"
)

const daemon = debtest.DaemonName

// installDaemon installs the packaged test daemon (sysv init script and
// all) with dpkg; it is purged, and its daemon stopped, when the test ends.
func installDaemon(t *testing.T) {
	t.Helper()
	systest.RequireCommands(t, "start-stop-daemon", "update-rc.d")
	debtest.InstallDeb(t, debtest.Daemon(t, "1.0-1"))
}

func apply(t *testing.T, fun, name string, raw map[string]any, test bool) states.Outcome {
	t.Helper()
	return statetest.Apply(t, fun, raw, &states.Call{ID: name, Name: name, Test: test})
}

// pid is the running daemon's pid, "" when it does not run.
func pid(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/run/" + daemon + ".pid")
	if err != nil {
		return ""
	}
	p := strings.TrimSpace(string(b))
	if _, err := os.Stat("/proc/" + p); err != nil {
		return ""
	}
	return p
}

func startLinks(t *testing.T) bool {
	t.Helper()
	_, err := os.Lstat("/etc/rc2.d/S01" + daemon)
	return err == nil
}

func TestServiceLifecycle(t *testing.T) {
	installDaemon(t)
	changed := map[string]any{daemon: true}
	steps := []struct {
		name    string
		fun     string
		args    map[string]any
		test    bool
		result  string
		comment string
		changes map[string]any
		running bool
		enabled bool
	}{
		{"test mode does not start", "service.running", nil, true, "None", "Service brine-test-daemon is set to start", changed, false, true},
		{"start", "service.running", nil, false, "True", "Started service brine-test-daemon", changed, true, true},
		{"disable while running", "service.running", map[string]any{"enable": false}, false, "True",
			"Service brine-test-daemon has been disabled, and is running", changed, true, false},
		{"enabled", "service.enabled", nil, false, "True", "Service brine-test-daemon has been enabled, and is in the desired state", changed, true, true},
		{"test mode does not kill", "service.dead", nil, true, "None", "Service brine-test-daemon is set to be killed", changed, true, true},
		{"dead", "service.dead", map[string]any{"init_delay": 0.1}, false, "True", "Service brine-test-daemon was killed", changed, false, true},
		{"disabled", "service.disabled", nil, false, "True", "Service brine-test-daemon has been disabled, and is in the desired state", changed, false, false},
		{"dead and enabled", "service.dead", map[string]any{"enable": true}, false, "True",
			"Service brine-test-daemon has been enabled, and is dead", changed, false, true},
		{"running with init_delay", "service.running", map[string]any{"init_delay": 0.2, "enable": true}, false, "True",
			"Service brine-test-daemon is already enabled, and is running", changed, true, true},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			o := apply(t, s.fun, daemon, s.args, s.test)
			if states.ResultString(o.Result) != s.result || o.Comment != s.comment || !reflect.DeepEqual(o.Changes, s.changes) {
				t.Errorf("got %s %q %v; want %s %q %v", states.ResultString(o.Result), o.Comment, o.Changes, s.result, s.comment, s.changes)
			}
			if got := pid(t) != ""; got != s.running {
				t.Errorf("running = %v, want %v", got, s.running)
			}
			if got := startLinks(t); got != s.enabled {
				t.Errorf("start links = %v, want %v", got, s.enabled)
			}
			if s.test {
				return
			}
			again := apply(t, s.fun, daemon, s.args, false)
			if states.ResultString(again.Result) != "True" || again.Changed() {
				t.Errorf("second run: %s %q %v", states.ResultString(again.Result), again.Comment, again.Changes)
			}
		})
		if !ok {
			break
		}
	}
}

// runSLS compiles testdata/tree/<name>.sls with the pillar and runs it.
func runSLS(t *testing.T, name string, pillar map[string]any, test bool) result.Highstate {
	t.Helper()
	c := sls.New(sls.Config{FileRoots: []string{"testdata/tree"}, ID: "minion1", Pillar: pillar})
	lows, err := c.SLS(context.Background(), name)
	plan, err := states.Prepare(lows, err)
	if err != nil {
		t.Fatal(err)
	}
	return plan.Run(context.Background(), states.RunOptions{Env: c, Test: test})
}

// byID finds a state's result.
func byID(t *testing.T, h result.Highstate, id string) result.State {
	t.Helper()
	for _, r := range h {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no result for %s in %+v", id, h)
	return result.State{}
}

func waitLog(t *testing.T, line string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(debtest.DaemonLog)
		if strings.Contains(string(b), line+"\n") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(debtest.DaemonLog)
	t.Fatalf("no %q in the daemon log:\n%s", line, b)
}

func TestWatchRestartsOrReloads(t *testing.T) {
	installDaemon(t)
	svc := func(h result.Highstate) result.State { return byID(t, h, daemon) }

	h := runSLS(t, "daemon", map[string]any{"conf": "version=brine-1"}, false)
	if r := svc(h); !r.Succeeded() || r.Comment != "Service brine-test-daemon is already enabled, and is running" || len(r.Changes) == 0 {
		t.Fatalf("first run: %+v", h)
	}
	first := pid(t)
	waitLog(t, "start "+first+" version=brine-1")

	h = runSLS(t, "daemon", map[string]any{"conf": "version=brine-1"}, false)
	for _, r := range h {
		if !r.Succeeded() || len(r.Changes) > 0 {
			t.Errorf("second run changed %s: %q %v", r.ID, r.Comment, r.Changes)
		}
	}
	if pid(t) != first {
		t.Errorf("second run restarted the daemon")
	}

	h = runSLS(t, "daemon", map[string]any{"conf": "version=brine-2"}, true)
	if r := svc(h); r.Result != nil || r.Comment != "Service is set to be restarted" {
		t.Errorf("test run: %+v", r)
	}
	if pid(t) != first {
		t.Errorf("test mode restarted the daemon")
	}

	h = runSLS(t, "daemon", map[string]any{"conf": "version=brine-2"}, false)
	if r := svc(h); !r.Succeeded() || r.Comment != "Service restarted" || !reflect.DeepEqual(r.Changes, map[string]any{daemon: true}) {
		t.Errorf("watch run: %+v", r)
	}
	second := pid(t)
	if second == "" || second == first {
		t.Fatalf("pid %q after restart, was %q", second, first)
	}
	waitLog(t, "start "+second+" version=brine-2")

	h = runSLS(t, "daemon", map[string]any{"conf": "version=brine-3", "reload": true}, false)
	if r := svc(h); !r.Succeeded() || r.Comment != "Service reloaded" {
		t.Errorf("reload run: %+v", r)
	}
	if pid(t) != second {
		t.Errorf("reload restarted the daemon")
	}
	waitLog(t, "reload "+second)
}

func TestServiceWithoutInitScript(t *testing.T) {
	tests := []struct {
		fun     string
		ok      bool
		comment string
	}{
		{"service.running", false, "The named service brine-test-nope is not available: stat /etc/init.d/brine-test-nope: no such file or directory"},
		{"service.enabled", false, "The named service brine-test-nope is not available"},
		{"service.dead", true, "The named service brine-test-nope is not available"},
	}
	for _, tt := range tests {
		o := apply(t, tt.fun, "brine-test-nope", nil, false)
		if o.OK() != tt.ok || !strings.HasPrefix(o.Comment, tt.comment) {
			t.Errorf("%s: %s %q; want ok=%v %q", tt.fun, states.ResultString(o.Result), o.Comment, tt.ok, tt.comment)
		}
	}
	// In test mode a missing service may come with a package earlier in
	// the run: None, as in Salt, not a failure.
	for fun, verb := range map[string]string{"service.running": "started", "service.dead": "stopped", "service.enabled": "enabled", "service.disabled": "disabled"} {
		o := apply(t, fun, "brine-test-nope", nil, true)
		want := "Service brine-test-nope not present; if created in this state run, it would have been " + verb
		if o.Result != nil || o.Comment != want {
			t.Errorf("%s test mode: %s %q; want None %q", fun, states.ResultString(o.Result), o.Comment, want)
		}
	}
	h := runSLS(t, "missing", nil, false)
	if len(h) != 2 || h[0].Succeeded() || !h[1].Succeeded() {
		t.Errorf("run = %+v; want the missing service failed and the next state run", h)
	}
}

func TestDecodeErrors(t *testing.T) {
	e, _ := states.Lookup("service.running")
	for raw, want := range map[string]map[string]any{
		"unknown argument 'enabled' (did you mean 'enable'?)": {"enabled": true},
		"argument 'init_delay'":                               {"init_delay": "soon"},
	} {
		if _, err := e.Decode(want); err == nil || !strings.Contains(err.Error(), raw) {
			t.Errorf("Decode(%v) = %v, want %q", want, err, raw)
		}
	}
	if e, _ := states.Lookup("service.enabled"); e != nil {
		if _, err := e.Decode(map[string]any{"enable": true}); err == nil {
			t.Error("service.enabled accepted an argument")
		}
	}
}
