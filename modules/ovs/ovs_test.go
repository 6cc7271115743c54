package ovs

import (
	"context"
	"reflect"
	"testing"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/ovsx/ovstest"
)

func call(t *testing.T, fun string, args ...any) any {
	t.Helper()
	out, err := modules.Call(context.Background(), &modules.Runtime{}, fun, args, nil)
	if err != nil {
		t.Fatalf("%s %v: %v", fun, args, err)
	}
	return out
}

func TestBridgesPortsShow(t *testing.T) {
	ovstest.Switch(t)
	const br = "brtest-m0"
	ovstest.RemoveBridges(t, br)
	// Made with ovs-vsctl, so the module is checked against something it did not write.
	ovstest.Vsctl(t, "add-br", br, "--", "set", "Bridge", br, "datapath_type=netdev", "fail_mode=secure",
		"--", "add-port", br, "brtest-m0vx", "tag=7", "--", "set", "Interface", "brtest-m0vx", "type=vxlan",
		"options:remote_ip=127.0.0.2", "options:key=9",
		"--", "add-port", br, "brtest-m0in", "--", "set", "Interface", "brtest-m0in", "type=internal")

	found := false
	for _, b := range call(t, "ovs.bridges").([]any) {
		found = found || b == br
	}
	if !found {
		t.Errorf("ovs.bridges lacks %s", br)
	}

	ports := call(t, "ovs.ports", br).(map[string]any)
	want := map[string]any{
		"brtest-m0vx": map[string]any{"type": "vxlan", "tag": 7, "options": map[string]any{"remote_ip": "127.0.0.2", "key": "9"}},
		"brtest-m0in": map[string]any{"type": "internal", "tag": nil, "options": map[string]any{}},
	}
	if len(ports) != len(want) {
		t.Fatalf("ovs.ports %s = %v", br, ports)
	}
	for name, w := range want {
		got, _ := ports[name].(map[string]any)
		for k, v := range w.(map[string]any) {
			if !reflect.DeepEqual(got[k], v) {
				t.Errorf("port %s %s = %#v, want %#v", name, k, got[k], v)
			}
		}
		if n, _ := got["ofport"].(int); n <= 0 {
			t.Errorf("port %s ofport %v", name, got["ofport"])
		}
	}

	show := call(t, "ovs.show").(map[string]any)
	if v, _ := show["version"].(string); v == "" {
		t.Errorf("ovs.show version %v", show["version"])
	}
	b, _ := show["bridges"].(map[string]any)[br].(map[string]any)
	if b["datapath_type"] != "netdev" || b["fail_mode"] != "secure" || len(b["ports"].(map[string]any)) != 2 {
		t.Errorf("ovs.show %s = %v", br, b)
	}

	if _, err := modules.Call(context.Background(), &modules.Runtime{}, "ovs.ports", []any{"brtest-none"}, nil); err == nil {
		t.Error("ovs.ports of a missing bridge: no error")
	}
}
