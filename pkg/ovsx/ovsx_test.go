package ovsx_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/ovsx"
	"github.com/brinecm/brine/pkg/ovsx/ovstest"
)

// What a mesh of tunnels needs: one tunnel port per peer, ensured and
// removed idempotently, listed with their options.
func TestTunnelPortsPerPeer(t *testing.T) {
	c := ovstest.Switch(t)
	ctx := context.Background()
	const br = "brtest-x0"
	ovstest.RemoveBridges(t, br)
	bridge := &ovsx.BridgeSpec{Name: br, DatapathType: "netdev"}
	peers := []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}
	for i, ip := range peers {
		spec := ovsx.PortSpec{Name: fmt.Sprintf("brtest-t%d", i), Bridge: br, Type: "geneve",
			Options: map[string]string{"remote_ip": ip, "key": "100"}}
		p, err := c.EnsurePort(ctx, spec, bridge)
		if err != nil {
			t.Fatal(err)
		}
		if p.OFPort <= 0 || p.Options["remote_ip"] != ip {
			t.Fatalf("port %+v", p)
		}
		if got := ovstest.Get(t, "Interface", spec.Name, "options:remote_ip"); got != ip {
			t.Errorf("ovs-vsctl sees remote_ip %q, want %s", got, ip)
		}
	}
	st, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range st.PortsOf(br) {
		names = append(names, p.Name+"="+p.Options["remote_ip"])
	}
	if want := "brtest-t0=127.0.0.11 brtest-t1=127.0.0.12 brtest-t2=127.0.0.13"; strings.Join(names, " ") != want {
		t.Errorf("ports %v, want %s", names, want)
	}
	if b := st.Bridges[br]; !slices.Contains(b.Ports, br) || len(b.Ports) != 4 || b.DatapathType != "netdev" {
		t.Errorf("bridge %+v", b)
	}

	for range 2 { // removing is idempotent
		if err := c.RemovePort(ctx, br, "brtest-t1"); err != nil {
			t.Fatal(err)
		}
	}
	if ports := ovstest.Vsctl(t, "list-ports", br); ports != "brtest-t0\nbrtest-t2" {
		t.Errorf("after removal: %q", ports)
	}
	// A bridge that does not exist is not created without being asked.
	if _, err := c.EnsurePort(ctx, ovsx.PortSpec{Name: "brtest-t9", Bridge: "brtest-x9", Type: "internal"}, nil); err == nil ||
		ovstest.BridgeExists(t, "brtest-x9") {
		t.Errorf("EnsurePort on a missing bridge: %v", err)
	}
}

func TestGrains(t *testing.T) {
	ovstest.Switch(t)
	const br = "brtest-g0"
	ovstest.RemoveBridges(t, br)
	ovstest.Vsctl(t, "add-br", br, "--", "set", "Bridge", br, "datapath_type=netdev")
	g, ok := ovsx.Grains(context.Background())["ovs"].(map[string]any)
	if !ok {
		t.Fatal("no ovs grain")
	}
	if v := ovstest.Vsctl(t, "get", "Open_vSwitch", ".", "ovs_version"); fmt.Sprintf("%q", g["version"]) != v {
		t.Errorf("version %v, ovs-vsctl says %s", g["version"], v)
	}
	var want []any // ovs-vsctl list-br: every bridge, sorted
	for _, b := range strings.Fields(ovstest.Vsctl(t, "list-br")) {
		want = append(want, b)
	}
	if !slices.Contains(g["bridges"].([]any), any(br)) || !reflect.DeepEqual(g["bridges"], want) {
		t.Errorf("bridges %v, ovs-vsctl list-br says %v (with %s)", g["bridges"], want, br)
	}
}

func TestNoSwitch(t *testing.T) {
	t.Setenv("OVS_RUNDIR", t.TempDir())
	start := time.Now()
	if g := ovsx.Grains(context.Background()); len(g) != 0 {
		t.Errorf("grains without a switch: %v", g)
	}
	if _, err := ovsx.New().Read(context.Background()); err == nil || !strings.Contains(err.Error(), "connect to OVSDB") {
		t.Errorf("Read without a switch: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s", d)
	}
}
