package sysctl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
	"golang.org/x/sys/unix"
)

// TestPresentInNetns sets net.ipv4.ip_forward in a network namespace of
// the test's own (the host's value is never touched) and writes a
// temporary config file: test mode changes nothing, the apply sets both,
// the second apply changes nothing.
func TestPresentInNetns(t *testing.T) {
	systest.RequireRoot(t)
	config := filepath.Join(t.TempDir(), "sysctl.d", "99-test.conf")
	if err := os.MkdirAll(filepath.Dir(config), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, []byte("# kept\nvm.swappiness = 10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostBefore, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with its namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare a network namespace: %v", err)
			return
		}
		read := func() string {
			b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
			if err != nil {
				t.Error(err)
			}
			return strings.TrimSpace(string(b))
		}
		before := read()
		want := map[string]string{"0": "1", "1": "0"}[before]
		raw := map[string]any{"value": want, "config": config}
		apply := func(test bool) states.Outcome {
			e, _ := states.Lookup("sysctl.present")
			a, err := e.Decode(raw)
			if err != nil {
				t.Error(err)
				return states.Outcome{}
			}
			return present(context.Background(), "/proc/sys", &states.Call{ID: "fwd", Name: "net.ipv4.ip_forward", Test: test}, a.(*PresentArgs))
		}
		expect(t, apply(true), "None", true)
		if read() != before {
			t.Errorf("test mode changed ip_forward")
		}
		expect(t, apply(false), "true", true)
		if got := read(); got != want {
			t.Errorf("ip_forward = %s in the namespace, want %s", got, want)
		}
		b, _ := os.ReadFile(config)
		if string(b) != "# kept\nvm.swappiness = 10\nnet.ipv4.ip_forward = "+want+"\n" {
			t.Errorf("config file is %q", b)
		}
		expect(t, apply(false), "true", false)
	}()
	<-done
	if hostAfter, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(hostAfter) != string(hostBefore) {
		t.Errorf("the host's ip_forward changed from %q to %q", hostBefore, hostAfter)
	}
}

func TestConfigLines(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		content, want string
		ok            bool
	}{
		{"", "a.b = 1\n", false},
		{"a.b = 1\n", "a.b = 1\n", true},
		{"a.b=1\n", "a.b = 1\n", true},
		{"x = 2\na.b = 0\n# a.b = 9\na.b = 1\n", "x = 2\na.b = 1\n# a.b = 9\n", false},
	}
	for i, tc := range tests {
		p := filepath.Join(dir, "c")
		if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		lines, ok, err := configLines(p, "a.b", "1")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(lines, "\n") + "\n"; got != tc.want || ok != tc.ok {
			t.Errorf("%d: got %q %v, want %q %v", i, got, ok, tc.want, tc.ok)
		}
	}
}

// expect is statetest.Expect for the namespace's goroutine, where a test
// may not stop: it reports with Errorf.
func expect(t *testing.T, o states.Outcome, result string, changed bool) {
	t.Helper()
	got := "None"
	if o.Result != nil {
		got = fmt.Sprint(*o.Result)
	}
	if got != result || o.Changed() != changed {
		t.Errorf("result %s changed=%v, want %s changed=%v; comment: %s", got, o.Changed(), result, changed, o.Comment)
	}
}
