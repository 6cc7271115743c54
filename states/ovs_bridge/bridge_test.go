package ovsbridge

import (
	"os"
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

func TestPresentAbsent(t *testing.T) {
	ovstest.Switch(t)
	const br = "brtest-b0"
	ovstest.RemoveBridges(t, br)
	args := map[string]any{
		"datapath_type": "netdev",
		"fail_mode":     "secure",
		"stp":           true,
		"other_config":  map[string]any{"hwaddr": "02:00:00:00:b0:01"},
		"external_ids":  map[string]any{"owner": "brine", "role": "test bridge"},
	}

	expect(t, apply(t, "ovs_bridge.present", br, args, true), "None", true)
	if ovstest.BridgeExists(t, br) {
		t.Fatal("test mode created the bridge")
	}

	o := apply(t, "ovs_bridge.present", br, args, false)
	expect(t, o, "True", true)
	if _, ok := o.Changes["bridge"]; !ok {
		t.Errorf("changes %v lack the bridge", o.Changes)
	}
	uuid := ovstest.Get(t, "Bridge", br, "_uuid")
	for col, want := range map[string]string{
		"datapath_type":       "netdev",
		"fail_mode":           "secure",
		"stp_enable":          "true",
		"other_config:hwaddr": "02:00:00:00:b0:01",
		"external_ids:owner":  "brine",
		"external_ids:role":   "test bridge",
	} {
		if got := ovstest.Get(t, "Bridge", br, col); got != want {
			t.Errorf("%s = %q, want %q", col, got, want)
		}
	}
	if got := ovstest.Get(t, "Interface", br, "ofport"); got != "65534" {
		t.Errorf("bridge interface ofport %q: not set up", got)
	}

	expect(t, apply(t, "ovs_bridge.present", br, args, false), "True", false)

	// A key set by another tool is kept; a changed value is updated in place.
	ovstest.Vsctl(t, "set", "Bridge", br, "external_ids:other=kept")
	args["fail_mode"] = "standalone"
	args["external_ids"] = map[string]any{"owner": "ops"}
	expect(t, apply(t, "ovs_bridge.present", br, args, true), "None", true)
	if got := ovstest.Get(t, "Bridge", br, "fail_mode"); got != "secure" {
		t.Fatalf("test mode changed fail_mode to %q", got)
	}
	o = apply(t, "ovs_bridge.present", br, args, false)
	expect(t, o, "True", true)
	if !strings.Contains(o.Comment, "external_ids, fail_mode differed") {
		t.Errorf("comment %q", o.Comment)
	}
	if got := ovstest.Get(t, "Bridge", br, "_uuid"); got != uuid {
		t.Errorf("bridge recreated (%s, was %s), want an update in place", got, uuid)
	}
	for col, want := range map[string]string{"fail_mode": "standalone", "external_ids:owner": "ops", "external_ids:other": "kept", "external_ids:role": "test bridge"} {
		if got := ovstest.Get(t, "Bridge", br, col); got != want {
			t.Errorf("%s = %q, want %q", col, got, want)
		}
	}
	expect(t, apply(t, "ovs_bridge.present", br, args, false), "True", false)

	expect(t, apply(t, "ovs_bridge.absent", br, nil, true), "None", true)
	if !ovstest.BridgeExists(t, br) {
		t.Fatal("test mode removed the bridge")
	}
	expect(t, apply(t, "ovs_bridge.absent", br, nil, false), "True", true)
	if ovstest.BridgeExists(t, br) {
		t.Fatal("bridge still exists")
	}
	expect(t, apply(t, "ovs_bridge.absent", br, nil, false), "True", false)
}

// Without the kernel module the system datapath cannot work: the state
// says so instead of reporting a bridge that does nothing, and keeps
// saying so on the next run.
func TestSystemDatapathWithoutKernelModule(t *testing.T) {
	ovstest.Switch(t)
	if _, err := os.Stat("/sys/module/openvswitch"); err == nil {
		t.Skip("the openvswitch kernel module is loaded: the system datapath works here")
	}
	const br = "brtest-b1"
	ovstest.RemoveBridges(t, br)
	for i := range 2 {
		o := apply(t, "ovs_bridge.present", br, map[string]any{"datapath_type": "system"}, false)
		expect(t, o, "False", i == 0) // the first run did add the bridge record
		if !strings.Contains(o.Comment, "netdev") {
			t.Errorf("comment %q does not point to netdev", o.Comment)
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args map[string]any
		msg  string
	}{
		{"brtest-b2", map[string]any{"fail_mode": "open"}, "fail_mode"},
		{"-brtest", nil, "invalid name"},
		{"brtest-name-too-long", nil, "invalid name"},
	} {
		o := apply(t, "ovs_bridge.present", tc.name, tc.args, false)
		expect(t, o, "False", false)
		if !strings.Contains(o.Comment, tc.msg) {
			t.Errorf("%s %v: comment %q", tc.name, tc.args, o.Comment)
		}
	}
}
