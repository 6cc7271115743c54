// Package nettest helps tests that work in network namespaces: it makes
// named namespaces that are deleted when the test ends, and runs `ip` to
// check results independently of brine.
package nettest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
)

// Namespace creates the named network namespace (`ip netns add`), deleting
// a leftover of that name first, and deletes it when the test ends. Name
// it brine-t-*.
func Namespace(t testing.TB, name string) string {
	t.Helper()
	systest.RequireRoot(t)
	systest.RequireCommands(t, "ip")
	if !strings.HasPrefix(name, "brine-t-") {
		t.Fatalf("test namespace %q must be named brine-t-*", name)
	}
	_ = exec.Command("ip", "netns", "del", name).Run() // a leftover from a killed run
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		systest.Require(t, false, "cannot create network namespaces: "+strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("delete network namespace %s: %v: %s", name, err, out)
		}
	})
	return name
}

// IP runs `ip -n ns args…` (ns "" for the host's namespace) and returns
// its output and whether it succeeded.
func IP(t testing.TB, ns string, args ...string) (string, bool) {
	t.Helper()
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	out, err := exec.Command("ip", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err == nil
}

// MustIP is IP that fails the test when ip fails.
func MustIP(t testing.TB, ns string, args ...string) string {
	t.Helper()
	out, ok := IP(t, ns, args...)
	if !ok {
		t.Fatalf("ip -n %s %s: %s", ns, strings.Join(args, " "), out)
	}
	return out
}
