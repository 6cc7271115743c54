// Package ovstest helps tests that need a running Open vSwitch: it finds
// the switch (skipping, or failing in CI, when there is none), checks
// results independently with ovs-vsctl, and removes test bridges.
package ovstest

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/ovsx"
	"github.com/brinecm/brine/pkg/systest"
)

// Switch returns a client for the local Open vSwitch, or skips (fails
// when BRINE_REQUIRE_SYSTEM=1) when none runs.
func Switch(t testing.TB) *ovsx.Client {
	t.Helper()
	systest.RequireRoot(t)
	systest.RequireCommands(t, "ovs-vsctl")
	c := ovsx.New()
	_, err := c.Read(context.Background())
	systest.Require(t, err == nil, "Open vSwitch does not answer (run scripts/start-ovs.sh)")
	return c
}

// Vsctl runs ovs-vsctl with args and returns its trimmed output; a failure
// fails the test.
func Vsctl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ovs-vsctl", append([]string{"--timeout=10"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ovs-vsctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Get returns one column (or map key, "options:remote_ip") of a record,
// as ovs-vsctl prints it, or "" when the record or key does not exist.
func Get(t testing.TB, table, record, column string) string {
	t.Helper()
	out, err := exec.Command("ovs-vsctl", "--timeout=10", "--if-exists", "get", table, record, column).CombinedOutput()
	if err != nil {
		t.Fatalf("ovs-vsctl get %s %s %s: %v: %s", table, record, column, err, out)
	}
	return strings.Trim(strings.TrimSpace(string(out)), `"`)
}

// BridgeExists reports, through ovs-vsctl, whether bridge name exists.
func BridgeExists(t testing.TB, name string) bool {
	t.Helper()
	return exec.Command("ovs-vsctl", "--timeout=10", "br-exists", name).Run() == nil
}

// RemoveBridges deletes the named bridges now and again when the test ends.
func RemoveBridges(t testing.TB, names ...string) {
	t.Helper()
	remove := func() {
		for _, n := range names {
			if out, err := exec.Command("ovs-vsctl", "--timeout=10", "--if-exists", "del-br", n).CombinedOutput(); err != nil {
				t.Errorf("remove bridge %s: %v: %s", n, err, out)
			}
		}
	}
	remove()
	t.Cleanup(remove)
}
