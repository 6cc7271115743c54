package ovsport

import (
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/ovsx/ovstest"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

func apply(t *testing.T, fun, name string, args map[string]any, test bool) states.Outcome {
	t.Helper()
	o := statetest.Apply(t, fun, args, &states.Call{ID: name, Name: name, Test: test})
	t.Logf("%s %s test=%v: result=%s comment=%q changes=%v", fun, name, test, states.ResultString(o.Result), o.Comment, o.Changes)
	return o
}

func expect(t *testing.T, o states.Outcome, result string, changed bool) {
	t.Helper()
	if got := states.ResultString(o.Result); got != result || o.Changed() != changed {
		t.Fatalf("result %s changed %v, want %s changed %v: %s %v", got, o.Changed(), result, changed, o.Comment, o.Changes)
	}
}

// iface reads columns of an interface and its port independently of brine.
func iface(t *testing.T, name string) map[string]string {
	t.Helper()
	errCol := ovstest.Get(t, "Interface", name, "error")
	if errCol == "[]" {
		errCol = ""
	}
	return map[string]string{
		"bridge":    ovstest.Vsctl(t, "port-to-br", name),
		"type":      ovstest.Get(t, "Interface", name, "type"),
		"options":   ovstest.Get(t, "Interface", name, "options"),
		"tag":       ovstest.Get(t, "Port", name, "tag"),
		"uuid":      ovstest.Get(t, "Interface", name, "_uuid"),
		"error":     errCol,
		"port_uuid": ovstest.Get(t, "Port", name, "_uuid"),
	}
}

func portExists(t *testing.T, bridge, port string) bool {
	t.Helper()
	for _, p := range strings.Fields(ovstest.Vsctl(t, "list-ports", bridge)) {
		if p == port {
			return true
		}
	}
	return false
}

func TestTunnelPort(t *testing.T) {
	ovstest.Switch(t)
	const br, port = "brtest-p0", "brtest-vx0"
	ovstest.RemoveBridges(t, br)
	args := map[string]any{
		"bridge": br, "type": "vxlan", "remote_ip": "127.0.0.2", "local_ip": "127.0.0.1",
		"key": 42, "dst_port": 4790, "tag": 10,
	}

	// The bridge is never created silently.
	o := apply(t, "ovs_port.present", port, args, false)
	expect(t, o, "False", false)
	if !strings.Contains(o.Comment, "create_bridge") || ovstest.BridgeExists(t, br) {
		t.Fatalf("missing bridge: %q", o.Comment)
	}
	args["create_bridge"], args["datapath_type"] = true, "netdev"

	expect(t, apply(t, "ovs_port.present", port, args, true), "None", true)
	if ovstest.BridgeExists(t, br) {
		t.Fatal("test mode created the bridge")
	}

	o = apply(t, "ovs_port.present", port, args, false)
	expect(t, o, "True", true)
	if o.Changes["bridge_created"] != br {
		t.Errorf("changes %v", o.Changes)
	}
	if got := ovstest.Get(t, "Bridge", br, "datapath_type"); got != "netdev" {
		t.Errorf("bridge datapath_type %q", got)
	}
	first := iface(t, port)
	want := map[string]string{
		"bridge": br, "type": "vxlan", "tag": "10", "error": "",
		"options": `{dst_port="4790", key="42", local_ip="127.0.0.1", remote_ip="127.0.0.2"}`,
	}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s = %q, want %q", k, first[k], v)
		}
	}

	expect(t, apply(t, "ovs_port.present", port, args, false), "True", false)

	// Same values written differently: nothing to change.
	same := map[string]any{
		"bridge": br, "type": "vxlan", "vni": "0x2a", "tag": "10",
		"options": map[string]any{"remote_ip": "127.0.0.2", "local_ip": "127.0.0.1", "dst_port": "4790"},
	}
	expect(t, apply(t, "ovs_port.present", port, same, false), "True", false)

	// Other options: updated in place, the interface record kept.
	args["remote_ip"], args["key"] = "127.0.0.3", 43
	delete(args, "tag")
	expect(t, apply(t, "ovs_port.present", port, args, true), "None", true)
	if now := iface(t, port); now["options"] != first["options"] || now["tag"] != "10" {
		t.Fatalf("test mode changed the port: %v", now)
	}
	o = apply(t, "ovs_port.present", port, args, false)
	expect(t, o, "True", true)
	if !strings.Contains(o.Comment, "updated (options, tag differed)") {
		t.Errorf("comment %q", o.Comment)
	}
	now := iface(t, port)
	if now["uuid"] != first["uuid"] || now["port_uuid"] != first["port_uuid"] {
		t.Errorf("port recreated, want it updated in place: %v, was %v", now, first)
	}
	if now["options"] != `{dst_port="4790", key="43", local_ip="127.0.0.1", remote_ip="127.0.0.3"}` || now["tag"] != "[]" {
		t.Errorf("after update: %v", now)
	}
	expect(t, apply(t, "ovs_port.present", port, args, false), "True", false)

	// A change of tunnel type is in place too.
	args["type"] = "geneve"
	expect(t, apply(t, "ovs_port.present", port, args, false), "True", true)
	if now := iface(t, port); now["type"] != "geneve" || now["uuid"] != first["uuid"] || now["error"] != "" {
		t.Errorf("after type change: %v", now)
	}

	expect(t, apply(t, "ovs_port.absent", port, nil, true), "None", true)
	if !portExists(t, br, port) {
		t.Fatal("test mode removed the port")
	}
	expect(t, apply(t, "ovs_port.absent", port, map[string]any{"bridge": br}, false), "True", true)
	if portExists(t, br, port) {
		t.Fatal("port still exists")
	}
	expect(t, apply(t, "ovs_port.absent", port, nil, false), "True", false)
}

func TestPortKinds(t *testing.T) {
	ovstest.Switch(t)
	const br0, br1 = "brtest-p1", "brtest-p2"
	ovstest.RemoveBridges(t, br0, br1)
	netdev := map[string]any{"create_bridge": true, "datapath_type": "netdev"}
	with := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range netdev {
			out[k] = v
		}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	for _, tc := range []struct {
		port string
		args map[string]any
		want map[string]string
	}{
		{"brtest-pa", with(map[string]any{"bridge": br0, "type": "patch", "peer": "brtest-pb"}),
			map[string]string{"type": "patch", "options": `{peer=brtest-pb}`}},
		{"brtest-pb", with(map[string]any{"bridge": br1, "type": "patch", "peer": "brtest-pa"}),
			map[string]string{"type": "patch", "options": `{peer=brtest-pa}`}},
		{"brtest-gre", map[string]any{"bridge": br0, "type": "gre", "remote_ip": "127.0.0.4", "key": "flow"},
			map[string]string{"type": "gre", "options": `{key=flow, remote_ip="127.0.0.4"}`}},
		{"brtest-int", map[string]any{"bridge": br0, "type": "internal", "tag": 100},
			map[string]string{"type": "internal", "tag": "100", "options": "{}"}},
	} {
		expect(t, apply(t, "ovs_port.present", tc.port, tc.args, false), "True", true)
		got := iface(t, tc.port)
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", tc.port, k, got[k], v)
			}
		}
		if got["error"] != "" && tc.port != "brtest-pa" { // its peer comes next
			t.Errorf("%s: interface error %q", tc.port, got["error"])
		}
		expect(t, apply(t, "ovs_port.present", tc.port, tc.args, false), "True", false)
	}

	if e := iface(t, "brtest-pa")["error"]; e != "" {
		t.Errorf("brtest-pa: interface error %q once its peer exists", e)
	}

	// A port on another bridge moves.
	o := apply(t, "ovs_port.present", "brtest-int", map[string]any{"bridge": br1, "type": "internal", "tag": 100}, false)
	expect(t, o, "True", true)
	if got := ovstest.Vsctl(t, "port-to-br", "brtest-int"); got != br1 {
		t.Errorf("port on %s, want %s", got, br1)
	}
	// ovs_port.absent with another bridge leaves the port alone.
	expect(t, apply(t, "ovs_port.absent", "brtest-int", map[string]any{"bridge": br0}, false), "True", false)
	if !portExists(t, br1, "brtest-int") {
		t.Fatal("absent for another bridge removed the port")
	}
}

// ovs-vsctl accepts a port that ovs-vswitchd cannot set up; the state
// reads the interface's error back and fails, this run and the next.
func TestPortThatCannotBeSetUp(t *testing.T) {
	ovstest.Switch(t)
	const br = "brtest-p3"
	ovstest.RemoveBridges(t, br)
	args := map[string]any{"bridge": br, "create_bridge": true, "datapath_type": "netdev"}
	for range 2 {
		o := apply(t, "ovs_port.present", "brtest-nodev", args, false)
		expect(t, o, "False", o.Changed())
		if !strings.Contains(o.Comment, "No such device") {
			t.Errorf("comment %q", o.Comment)
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		args map[string]any
		msg  string
	}{
		{map[string]any{"bridge": "brtest-x", "type": "vxlan"}, "needs remote_ip"},
		{map[string]any{"bridge": "brtest-x", "type": "vxln", "remote_ip": "127.0.0.2"}, `did you mean "vxlan"`},
		{map[string]any{"bridge": "brtest-x", "type": "vxlan", "remote_ip": "127.0.0.300"}, "not an IP address"},
		{map[string]any{"bridge": "brtest-x", "type": "vxlan", "remote_ip": "127.0.0.2", "key": "ab"}, "not a number"},
		{map[string]any{"bridge": "brtest-x", "type": "vxlan", "remote_ip": "127.0.0.2", "key": 1, "vni": 2}, "disagree"},
		{map[string]any{"bridge": "brtest-x", "type": "vxlan", "remote_ip": "127.0.0.2",
			"options": map[string]any{"remote_ip": "127.0.0.3"}}, "disagree"},
		{map[string]any{"bridge": "brtest-x", "type": "patch"}, "needs peer"},
		{map[string]any{"bridge": "brtest-x", "peer": "p"}, "peer is for patch ports"},
		{map[string]any{"bridge": "brtest-x", "remote_ip": "127.0.0.2"}, "for tunnel ports"},
		{map[string]any{"bridge": "brtest-x", "tag": 4096}, "VLAN tag"},
		{map[string]any{"bridge": "brtest-x", "type": "vxlan", "remote_ip": "127.0.0.2", "dst_port": 70000}, "dst_port"},
		{map[string]any{"bridge": "brtest-x", "datapath_type": "netdev"}, "create_bridge"},
		{map[string]any{"bridge": "--help"}, "invalid name"},
	} {
		o := apply(t, "ovs_port.present", "brtest-bad", tc.args, false)
		expect(t, o, "False", false)
		if !strings.Contains(o.Comment, tc.msg) {
			t.Errorf("%v: comment %q, want %q", tc.args, o.Comment, tc.msg)
		}
	}
}
