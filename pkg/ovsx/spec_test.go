package ovsx

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestOptionsEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b map[string]string
		want bool
	}{
		{map[string]string{"key": "42"}, map[string]string{"key": "0x2a"}, true},
		{map[string]string{"remote_ip": "10.0.0.1"}, map[string]string{"remote_ip": " 10.0.0.1 "}, true},
		{map[string]string{"remote_ip": "fd00::0:1"}, map[string]string{"remote_ip": "fd00::1"}, true},
		{map[string]string{"csum": "True"}, map[string]string{"csum": "true"}, true},
		{map[string]string{"key": "flow"}, map[string]string{"key": "flow"}, true},
		{nil, map[string]string{}, true},
		{map[string]string{"key": "42"}, map[string]string{"key": "43"}, false},
		{map[string]string{"key": "42"}, map[string]string{"key": "42", "dst_port": "4789"}, false},
		{map[string]string{"peer": "a"}, map[string]string{"peer": "A"}, false},
	} {
		if got := OptionsEqual(tc.a, tc.b); got != tc.want {
			t.Errorf("OptionsEqual(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func tag(n int) *int { return &n }

// The transaction each spec writes: one ovs-vsctl call, values quoted.
func TestCommands(t *testing.T) {
	stp := true
	b := BridgeSpec{Name: "br0", DatapathType: "netdev", FailMode: "secure", STP: &stp,
		OtherConfig: map[string]string{"hwaddr": "02:00:00:00:00:01"}, ExternalIDs: map[string]string{"a b": `x"y`}}
	want := []string{"--", "--may-exist", "add-br", "br0", "--", "set", "Bridge", "br0", `datapath_type="netdev"`,
		"fail_mode=secure", "stp_enable=true", `other_config:"hwaddr"="02:00:00:00:00:01"`, `external_ids:"a b"="x\"y"`}
	if got := b.bridgeCommands(); !reflect.DeepEqual(got, want) {
		t.Errorf("bridge commands\n got %q\nwant %q", got, want)
	}

	p := PortSpec{Name: "vx0", Bridge: "br0", Type: "vxlan", Tag: tag(10), Options: map[string]string{"remote_ip": "10.0.0.2", "key": "0x2a"}}
	want = []string{"--", "--may-exist", "add-port", "br0", "vx0", "--", "set", "Interface", "vx0", `type="vxlan"`,
		`options={"key"="42","remote_ip"="10.0.0.2"}`, "--", "set", "Port", "vx0", "tag=10"}
	if got := p.portCommands(nil); !reflect.DeepEqual(got, want) {
		t.Errorf("new port commands\n got %q\nwant %q", got, want)
	}
	// On another bridge: moved in the same transaction; untagged: tag cleared; system: type "".
	p = PortSpec{Name: "eth1", Bridge: "br0", Type: "system"}
	want = []string{"--", "del-port", "br1", "eth1", "--", "--may-exist", "add-port", "br0", "eth1",
		"--", "set", "Interface", "eth1", `type=""`, "options={}", "--", "clear", "Port", "eth1", "tag"}
	if got := p.portCommands(&Port{Name: "eth1", Bridge: "br1"}); !reflect.DeepEqual(got, want) {
		t.Errorf("moved port commands\n got %q\nwant %q", got, want)
	}
}

func TestPortDiff(t *testing.T) {
	want := PortSpec{Name: "vx0", Bridge: "br0", Type: "vxlan", Options: map[string]string{"remote_ip": "10.0.0.2", "key": "42"}}
	have := &Port{Name: "vx0", Bridge: "br0", Type: "vxlan", Options: map[string]string{"remote_ip": "10.0.0.2", "key": "0x2a"}}
	if d := want.Diff(have); len(d) != 0 {
		t.Errorf("same port differs: %v", d)
	}
	have.Tag = tag(3)
	have.Options["key"] = "7"
	d := want.Diff(have)
	if len(d) != 2 || d["tag"] == nil || d["options"] == nil {
		t.Errorf("diff %v, want tag and options", d)
	}
	if d := want.Diff(nil); d["port"] == nil || d["type"] == nil || d["options"] == nil || d["tag"] != nil {
		t.Errorf("diff of a new port %v", d)
	}
	sys := PortSpec{Name: "eth1", Bridge: "br0"}
	if d := sys.Diff(&Port{Name: "eth1", Bridge: "br0", Type: "system"}); len(d) != 0 {
		t.Errorf("system port differs: %v", d)
	}
}

func TestBridgeDiff(t *testing.T) {
	s := BridgeSpec{Name: "br0", DatapathType: "system", ExternalIDs: map[string]string{"a": "1"}}
	have := &Bridge{Name: "br0", ExternalIDs: map[string]string{"a": "1", "other": "x"}}
	if d := s.Diff(have); len(d) != 0 { // "" is the system datapath; other keys are kept
		t.Errorf("diff %v", d)
	}
	s.ExternalIDs["a"] = "2"
	d := s.Diff(have)
	if got, _ := json.Marshal(d); string(got) != `{"external_ids":{"new":{"a":"2"},"old":{"a":"1"}}}` {
		t.Errorf("diff %s", got)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		spec PortSpec
		msg  string
	}{
		{PortSpec{Name: "vx0", Bridge: "br0", Type: "vxlan"}, "needs remote_ip"},
		{PortSpec{Name: "p0", Bridge: "br0", Type: "patch"}, "needs peer"},
		{PortSpec{Name: "vx0", Bridge: "br0", Type: "gre", Options: map[string]string{"remote_ip": "x"}}, "not an IP"},
		{PortSpec{Name: "vx0", Bridge: "br0", Type: "vxlan", Options: map[string]string{"remote_ip": "flow", "key": "k"}}, "not a number"},
		{PortSpec{Name: "br0", Bridge: "br0"}, "name of its bridge"},
		{PortSpec{Name: "--may-exist", Bridge: "br0"}, "invalid name"},
		{PortSpec{Name: "p0", Bridge: "br0", Tag: tag(4096)}, "VLAN tag"},
	} {
		err := tc.spec.Check()
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: error %v, want %q", tc.spec, err, tc.msg)
		}
	}
	if err := (PortSpec{Name: "vx0", Bridge: "br0", Type: "vxlan", Options: map[string]string{"remote_ip": "flow", "key": "flow"}}).Check(); err != nil {
		t.Errorf("flow-based tunnel: %v", err)
	}
}

// OVSDB's JSON notation, as go-openvswitch hands it over.
func TestNotation(t *testing.T) {
	var row map[string]any
	if err := json.Unmarshal([]byte(`{
		"name": "br0", "fail_mode": ["set", []], "datapath_type": "netdev", "tag": 5, "trunks": ["set", [1, 2]],
		"error": ["set", ["boom"]], "ofport": ["set", []],
		"options": ["map", [["key", "42"], ["remote_ip", "10.0.0.2"]]],
		"ports": ["set", [["uuid", "u1"], ["uuid", "u2"]]], "one": ["uuid", "u3"]}`), &row); err != nil {
		t.Fatal(err)
	}
	if str(row["fail_mode"]) != "" || str(row["datapath_type"]) != "netdev" || str(row["error"]) != "boom" {
		t.Error("str")
	}
	if n := optInt(row["tag"]); n == nil || *n != 5 {
		t.Error("optInt atom")
	}
	if optInt(row["ofport"]) != nil || optInt(row["trunks"]) != nil {
		t.Error("optInt of an empty or long set")
	}
	if got := strMap(row["options"]); !reflect.DeepEqual(got, map[string]string{"key": "42", "remote_ip": "10.0.0.2"}) {
		t.Errorf("strMap %v", got)
	}
	if got := uuids(row["ports"]); !reflect.DeepEqual(got, []string{"u1", "u2"}) {
		t.Errorf("uuids set %v", got)
	}
	if got := uuids(row["one"]); !reflect.DeepEqual(got, []string{"u3"}) {
		t.Errorf("uuids single %v", got)
	}
}
