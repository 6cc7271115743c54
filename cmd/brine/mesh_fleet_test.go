package main

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/ovsx/ovstest"
)

// meshTunnels reads, with ovs-vsctl, the remote_ip of each tunnel on bridge.
func meshTunnels(t *testing.T, bridge string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if !ovstest.BridgeExists(t, bridge) {
		return out
	}
	for _, port := range strings.Fields(ovstest.Vsctl(t, "list-ports", bridge)) {
		if peer := ovstest.Get(t, "Port", port, "external_ids:brine-peer"); peer != "" {
			out[peer] = ovstest.Get(t, "Interface", port, "options:remote_ip")
		}
	}
	return out
}

// TestFleetMeshFollowsMembership: three docker hosts get a full mesh from
// one recipe; accepting a fourth gives the three its tunnel (and it theirs)
// without anyone running anything; deleting its key takes the tunnels away.
func TestFleetMeshFollowsMembership(t *testing.T) {
	ovstest.Switch(t)
	hosts := map[string]string{"dk1": "192.0.2.1", "dk2": "192.0.2.2", "dk3": "192.0.2.3", "dk4": "192.0.2.4"}
	for id := range hosts {
		ovstest.RemoveBridges(t, "brm-"+id)
	}
	f := newFleet(t, fleetOptions{})
	for _, id := range []string{"dk1", "dk2", "dk3"} {
		f.startMinionWith(id, map[string]string{"role": "docker", "underlay_ip": hosts[id]})
	}
	waitFor(t, 30*time.Second, "three pending keys", func() bool {
		_, out, _ := f.brine("key", "list")
		return strings.Contains(out, "dk1\ndk2\ndk3\n")
	})
	if code, out, errOut := f.brine("key", "accept", "--all"); code != 0 {
		t.Fatalf("accept: %d %s %s", code, out, errOut)
	}
	f.pingAll("dk1", "dk2", "dk3")
	waitFor(t, 30*time.Second, "grains of the three", func() bool {
		_, out, _ := f.brine("-G", "role:docker", "grains.get", "underlay_ip", "--out", "json")
		return len(returnedIDs(out)) == 3
	})
	if code, out, errOut := f.brine("-G", "role:docker", "state.highstate"); code != 0 {
		t.Fatalf("highstate: %d\n%s\n%s", code, out, errOut)
	}
	want := func(self string, ids ...string) map[string]string {
		m := map[string]string{}
		for _, id := range ids {
			if id != self {
				m[id] = hosts[id]
			}
		}
		return m
	}
	for _, id := range []string{"dk1", "dk2", "dk3"} {
		if got, w := meshTunnels(t, "brm-"+id), want(id, "dk1", "dk2", "dk3"); !maps.Equal(got, w) {
			t.Fatalf("%s: tunnels %v, want %v", id, got, w)
		}
	}

	// A fourth docker host is accepted: nobody edits or runs anything.
	f.startMinionWith("dk4", map[string]string{"role": "docker", "underlay_ip": hosts["dk4"]})
	waitFor(t, 30*time.Second, "dk4's pending key", func() bool {
		_, out, _ := f.brine("key", "list")
		return strings.Contains(out, "Unaccepted Keys:\ndk4\n")
	})
	if code, out, errOut := f.brine("key", "accept", "dk4"); code != 0 {
		t.Fatalf("accept dk4: %d %s %s", code, out, errOut)
	}
	all := []string{"dk1", "dk2", "dk3", "dk4"}
	waitFor(t, 90*time.Second, "every host to have a tunnel to every other", func() bool {
		for _, id := range all {
			if !maps.Equal(meshTunnels(t, "brm-"+id), want(id, all...)) {
				return false
			}
		}
		return true
	})

	// The mine is there for recipes too.
	if code, out, errOut := f.brine("dk1", "state.show_sls", "peers", "--out", "json"); code != 0 ||
		!strings.Contains(out, `dk1 192.0.2.1\ndk2 192.0.2.2\ndk3 192.0.2.3\ndk4 192.0.2.4`) {
		t.Errorf("mine.get in a recipe: %d\n%s\n%s", code, out, errOut)
	}

	// dk4 leaves: its tunnels go from the others.
	if code, out, errOut := f.brine("key", "delete", "dk4"); code != 0 {
		t.Fatalf("delete dk4: %d %s %s", code, out, errOut)
	}
	waitFor(t, 90*time.Second, "the others to drop their tunnels to dk4", func() bool {
		for _, id := range []string{"dk1", "dk2", "dk3"} {
			if !maps.Equal(meshTunnels(t, "brm-"+id), want(id, "dk1", "dk2", "dk3")) {
				return false
			}
		}
		return true
	})
	if out := f.master.output(); !strings.Contains(out, "mesh: re-applying") {
		t.Errorf("the master never said it re-applied a mesh:\n%s", out)
	}
}
