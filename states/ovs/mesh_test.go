package ovs

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/mine"
	"github.com/brinecm/brine/pkg/ovsx/ovstest"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

// fleet is a mine of hosts with underlay addresses in TEST-NET-1: the
// tunnels are configured, never used.
func fleet(ids ...string) mine.Static {
	addrs := map[string]string{"h1": "192.0.2.1", "h2": "192.0.2.2", "h3": "192.0.2.3", "h4": "192.0.2.4"}
	m := mine.Static{"db1": {"id": "db1", "role": "db", "underlay_ip": "192.0.2.99"}}
	for _, id := range ids {
		m[id] = map[string]any{"id": id, "role": "docker", "underlay_ip": addrs[id]}
	}
	return m
}

// compileAndApply resolves the mesh state for minion self against m the way
// a master does when it compiles, then applies it.
func compileAndApply(t *testing.T, self string, m mine.Static, args map[string]any, test bool) states.Outcome {
	t.Helper()
	lows := []sls.Low{{ID: "mesh", Name: "mesh", Module: "ovs", Fun: "mesh", Args: maps.Clone(args)}}
	if err := states.Resolve(context.Background(), lows, &states.Compiling{ID: self, Grains: m[self], Mine: m}); err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if _, err := states.Prepare(lows, nil); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	o := statetest.Apply(t, "ovs.mesh", lows[0].Args, &states.Call{ID: "mesh", Name: "mesh", Test: test})
	t.Logf("%s test=%v: %s %q %v", self, test, states.ResultString(o.Result), o.Comment, o.Changes)
	return o
}

func expect(t *testing.T, o states.Outcome, result string, changed bool) {
	t.Helper()
	if got := states.ResultString(o.Result); got != result || o.Changed() != changed {
		t.Fatalf("result %s changed %v, want %s changed %v: %s %v", got, o.Changed(), result, changed, o.Comment, o.Changes)
	}
}

// tunnels reads, with ovs-vsctl, the remote_ip of every port on bridge that
// carries a brine-peer mark, by peer.
func tunnels(t *testing.T, bridge string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, port := range strings.Fields(ovstest.Vsctl(t, "list-ports", bridge)) {
		peer := ovstest.Get(t, "Port", port, "external_ids:brine-peer")
		if peer == "" {
			continue
		}
		if got := ovstest.Get(t, "Port", port, "protected"); got != "true" {
			t.Errorf("port %s: protected = %s, want true", port, got)
		}
		if got := ovstest.Get(t, "Interface", port, "type"); got != "vxlan" {
			t.Errorf("port %s: type = %s, want vxlan", port, got)
		}
		out[peer] = ovstest.Get(t, "Interface", port, "options:remote_ip")
	}
	return out
}

func TestMeshFollowsThePeers(t *testing.T) {
	ovstest.Switch(t)
	const br = "brtest-mesh"
	ovstest.RemoveBridges(t, br)
	args := map[string]any{"bridge": br, "peers": "G@role:docker", "peer_ip": "underlay_ip", "key": 5001,
		"create_bridge": true, "datapath_type": "netdev"}

	// Test mode on a fresh system changes nothing.
	expect(t, compileAndApply(t, "h1", fleet("h1", "h2", "h3"), args, true), "None", true)
	if ovstest.BridgeExists(t, br) {
		t.Fatalf("test mode created bridge %s", br)
	}

	o := compileAndApply(t, "h1", fleet("h1", "h2", "h3"), args, false)
	expect(t, o, "True", true)
	if want := map[string]string{"h2": "192.0.2.2", "h3": "192.0.2.3"}; !maps.Equal(tunnels(t, br), want) {
		t.Fatalf("tunnels = %v, want %v", tunnels(t, br), want)
	}
	if got := ovstest.Get(t, "Bridge", br, "datapath_type"); got != "netdev" {
		t.Errorf("datapath_type = %s", got)
	}
	expect(t, compileAndApply(t, "h1", fleet("h1", "h2", "h3"), args, false), "True", false)

	// A fourth host joins: exactly its tunnel is added, the others keep
	// their ports (same interface records).
	before := map[string]string{}
	for _, p := range strings.Fields(ovstest.Vsctl(t, "list-ports", br)) {
		before[p] = ovstest.Get(t, "Interface", p, "_uuid")
	}
	o = compileAndApply(t, "h1", fleet("h1", "h2", "h3", "h4"), args, false)
	expect(t, o, "True", true)
	if added := o.Changes["added"]; !maps.Equal(added.(map[string]any), map[string]any{"h4": "192.0.2.4"}) {
		t.Errorf("added = %v, want h4 only", added)
	}
	if _, ok := o.Changes["removed"]; ok {
		t.Errorf("removed = %v, want none", o.Changes["removed"])
	}
	for p, id := range before {
		if got := ovstest.Get(t, "Interface", p, "_uuid"); got != id {
			t.Errorf("port %s was recreated (%s -> %s)", p, id, got)
		}
	}
	if got := slices.Sorted(maps.Keys(tunnels(t, br))); !slices.Equal(got, []string{"h2", "h3", "h4"}) {
		t.Fatalf("peers = %v", got)
	}

	// Another mesh on the same bridge (another key) is left alone by this one.
	other := maps.Clone(args)
	other["key"] = 6001
	other["peers"] = map[string]any{"far": "198.51.100.7"}
	expect(t, compileAndApply(t, "h1", fleet("h1"), other, false), "True", true)

	// h2 leaves, h3 moves: h2's tunnel goes, h3's is updated in place.
	moved := fleet("h1", "h3", "h4")
	moved["h3"]["underlay_ip"] = "192.0.2.33"
	h3port := portName("vx", br, "vxlan:5001", "h3")
	h3uuid := ovstest.Get(t, "Interface", h3port, "_uuid")
	expect(t, compileAndApply(t, "h1", moved, args, true), "None", true)
	if got := tunnels(t, br)["h3"]; got != "192.0.2.3" {
		t.Fatalf("test mode changed h3's tunnel to %s", got)
	}
	o = compileAndApply(t, "h1", moved, args, false)
	expect(t, o, "True", true)
	if removed := o.Changes["removed"].(map[string]any); !maps.Equal(removed, map[string]any{"h2": "192.0.2.2"}) {
		t.Errorf("removed = %v", removed)
	}
	if _, ok := o.Changes["updated"].(map[string]any)["h3"]; !ok {
		t.Errorf("updated = %v, want h3", o.Changes["updated"])
	}
	want := map[string]string{"h3": "192.0.2.33", "h4": "192.0.2.4", "far": "198.51.100.7"}
	if got := tunnels(t, br); !maps.Equal(got, want) {
		t.Fatalf("tunnels = %v, want %v", got, want)
	}
	if got := ovstest.Get(t, "Interface", h3port, "_uuid"); got != h3uuid {
		t.Errorf("h3's port was recreated instead of updated in place")
	}
	if got := ovstest.Get(t, "Interface", h3port, "options:local_ip"); got != "192.0.2.1" {
		t.Errorf("local_ip = %q, want h1's own underlay address", got)
	}
	expect(t, compileAndApply(t, "h1", moved, args, false), "True", false)
}

func TestMeshErrors(t *testing.T) {
	ovstest.Switch(t)
	const br = "brtest-mesh2"
	ovstest.RemoveBridges(t, br)
	m := fleet("h1", "h2")
	m["h5"] = map[string]any{"id": "h5", "role": "docker"} // no underlay_ip

	o := compileAndApply(t, "h1", m, map[string]any{"bridge": br, "peers": "G@role:docker", "peer_ip": "underlay_ip"}, false)
	expect(t, o, "False", false)
	if !strings.Contains(o.Comment, "Bridge brtest-mesh2 does not exist; set create_bridge: True") {
		t.Errorf("comment = %q", o.Comment)
	}
	if ovstest.BridgeExists(t, br) {
		t.Fatal("bridge created without create_bridge")
	}
	ovstest.Vsctl(t, "add-br", br, "--", "set", "Bridge", br, "datapath_type=netdev")
	o = compileAndApply(t, "h1", m, map[string]any{"bridge": br, "peers": "G@role:docker", "peer_ip": "underlay_ip"}, false)
	expect(t, o, "True", true)
	if !strings.Contains(o.Comment, "skipped for want of an address: h5 (no grain and no interface named underlay_ip)") {
		t.Errorf("comment does not name the peer without an address: %q", o.Comment)
	}

	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"peers": "G@role:docker", "type": "vxlam"}, `did you mean "vxlan"?`},
		{map[string]any{"peers": "G@role:docker", "options": map[string]any{"remote_ip": "1.2.3.4"}}, "remote_ip is set by the mesh"},
		{map[string]any{"peers": "G@role:docker", "key": 1, "vni": 2}, "disagree"},
		{map[string]any{"peers": "G@role:docker", "port_prefix": "toolong"}, "at most 6"},
	} {
		tc.args["bridge"] = br
		o := compileAndApply(t, "h1", m, tc.args, false)
		expect(t, o, "False", false)
		if !strings.Contains(o.Comment, tc.want) {
			t.Errorf("%v: comment %q does not contain %q", tc.args, o.Comment, tc.want)
		}
	}

	// Without the compiler (no peer_ips), the state says so.
	o = statetest.Apply(t, "ovs.mesh", map[string]any{"bridge": br, "peers": "G@role:docker"}, &states.Call{ID: "m", Name: "m"})
	expect(t, o, "False", false)
	if !strings.Contains(o.Comment, "peers were not resolved") {
		t.Errorf("comment = %q", o.Comment)
	}
}
