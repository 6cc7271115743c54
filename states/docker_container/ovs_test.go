package dockercontainer

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/pkg/dockerx/dockertest"
	"github.com/brinecm/brine/pkg/netx/nettest"
	"github.com/brinecm/brine/pkg/ovsx/ovstest"
	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
)

func TestOVSArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  map[string]any
		err  string // "" when valid
	}{
		{"no plug", map[string]any{}, ""},
		{"plug", map[string]any{"ovs_bridge": "br0", "ip": "10.88.0.10/24", "vlan": 10, "gateway": "10.88.0.1", "mac": "02:00:00:00:00:01"}, ""},
		{"plug without address", map[string]any{"ovs_bridge": "br0"}, ""},
		{"ip without bridge", map[string]any{"ip": "10.88.0.10/24"}, "ip given without ovs_bridge"},
		{"several without bridge", map[string]any{"vlan": 3, "ovs_iface": "eth2", "mac": "02:00:00:00:00:01"}, "mac, vlan, ovs_iface given without ovs_bridge"},
		{"bad bridge name", map[string]any{"ovs_bridge": "-br"}, "ovs_bridge: invalid name"},
		{"address without prefix", map[string]any{"ovs_bridge": "br0", "ip": "10.88.0.10"}, "want an address with its prefix length"},
		{"network address", map[string]any{"ovs_bridge": "br0", "ip": "10.88.0.0/24"}, "address of the network itself"},
		{"broadcast address", map[string]any{"ovs_bridge": "br0", "ip": "10.88.0.255/24"}, "broadcast address"},
		{"vlan out of range", map[string]any{"ovs_bridge": "br0", "vlan": 4095}, "1 to 4094"},
		{"bad mac", map[string]any{"ovs_bridge": "br0", "mac": "02:00:00:00:01"}, "want an Ethernet address"},
		{"multicast mac", map[string]any{"ovs_bridge": "br0", "mac": "01:00:5e:00:00:01"}, "multicast"},
		{"gateway outside", map[string]any{"ovs_bridge": "br0", "ip": "10.88.0.10/24", "gateway": "10.89.0.1"}, "not in the network"},
		{"gateway without ip", map[string]any{"ovs_bridge": "br0", "gateway": "10.88.0.1"}, "needs ip"},
		{"gateway is own address", map[string]any{"ovs_bridge": "br0", "ip": "10.88.0.10/24", "gateway": "10.88.0.10"}, "own address"},
		{"bad iface", map[string]any{"ovs_bridge": "br0", "ovs_iface": "much-too-long-name"}, "ovs_iface"},
		{"mac shared by replicas", map[string]any{"ovs_bridge": "br0", "replicas": 2, "mac": "02:00:00:00:00:01"}, "cannot be shared by 2 replicas"},
		{"replicas leave the network", map[string]any{"ovs_bridge": "br0", "replicas": 3, "ip": "10.88.0.4/31"}, "out of network"},
		{"replicas reach broadcast", map[string]any{"ovs_bridge": "br0", "replicas": 3, "ip": "10.88.0.253/24"}, "broadcast"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := map[string]any{"image": "brine-test-ovs-app:1"}
			for k, v := range tc.raw {
				raw[k] = v
			}
			a, err := decode(t, raw)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			_, err = newSpec("web", a)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestOVSPlugNaming(t *testing.T) {
	a, err := decode(t, map[string]any{"image": "brine-test-ovs-app:1", "ovs_bridge": "br0", "ip": "10.88.0.254/23", "replicas": 3})
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSpec("web", a)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	seenMAC, seenEnd := map[string]bool{}, map[string]bool{}
	for i, name := range names("web", 3) {
		p := s.ovs.plug(name, i)
		addrs = append(addrs, p.addr.String())
		if len(p.hostEnd) > 15 || !strings.HasPrefix(p.hostEnd, "vb") || seenEnd[p.hostEnd] {
			t.Errorf("host end %q of %s: want a unique vb… name of at most 15 characters", p.hostEnd, name)
		}
		if p.mac[0]&1 != 0 || p.mac[0]&2 == 0 || seenMAC[p.mac.String()] {
			t.Errorf("MAC %s of %s: want a unique, unicast, locally administered address", p.mac, name)
		}
		seenEnd[p.hostEnd], seenMAC[p.mac.String()] = true, true
		if again := s.ovs.plug(name, i); again.mac.String() != p.mac.String() || again.hostEnd != p.hostEnd {
			t.Errorf("plug of %s is not stable: %v/%s then %v/%s", name, p.mac, p.hostEnd, again.mac, again.hostEnd)
		}
	}
	// Replica i gets ip+i-1, across an octet boundary.
	if want := []string{"10.88.0.254/23", "10.88.0.255/23", "10.88.1.0/23"}; !slices.Equal(addrs, want) {
		t.Errorf("replica addresses %v, want %v", addrs, want)
	}
	for _, tc := range []struct {
		state, container string
		want             bool
	}{
		{"web", "web", true}, {"web", "web-12", true}, {"web", "web-", false}, {"web", "web-x", false}, {"web", "webby", false},
	} {
		if got := ovsFamily(tc.state, tc.container); got != tc.want {
			t.Errorf("ovsFamily(%q, %q) = %v", tc.state, tc.container, got)
		}
	}
}

// ovsFixture is a real engine with the test server's image, a netdev
// bridge of the host's Open vSwitch and a probe: an internal port of the
// bridge moved into a test namespace, with 10.88.0.1/24.
type ovsFixture struct {
	dc     *dockerx.Client
	bridge string
	ns     string
	server string // the test server binary, to fetch from inside namespaces
}

const (
	ovsTestBridge = "brtovsctr"
	ovsTestProbe  = "brtovsprobe"
)

func setupOVS(t *testing.T) ovsFixture {
	t.Helper()
	systest.RequireCommands(t, "nsenter", "ip", "ping")
	ovstest.Switch(t)
	dc := dockertest.Engine(t)
	dir := dockertest.Context(t)
	dockertest.Image(t, dc, dir, "brine-test-ovs-app:1", "1")
	dockertest.RemoveContainers(t, dc, "brine-test-ovs-")
	ovstest.RemoveBridges(t, ovsTestBridge)
	ovstest.Vsctl(t, "add-br", ovsTestBridge, "--", "set", "Bridge", ovsTestBridge, "datapath_type=netdev")
	ovstest.Vsctl(t, "add-port", ovsTestBridge, ovsTestProbe, "--", "set", "Interface", ovsTestProbe, "type=internal")
	ns := nettest.Namespace(t, "brine-t-ovsctr")
	nettest.MustIP(t, "", "link", "set", ovsTestProbe, "netns", ns)
	nettest.MustIP(t, ns, "addr", "add", "10.88.0.1/24", "dev", ovsTestProbe)
	nettest.MustIP(t, ns, "link", "set", ovsTestProbe, "up")
	nettest.MustIP(t, ns, "link", "set", "lo", "up")
	return ovsFixture{dc: dc, bridge: ovsTestBridge, ns: ns, server: filepath.Join(dir, "server")}
}

// pid returns the PID of a running container.
func (f ovsFixture) pid(t *testing.T, name string) int {
	t.Helper()
	res, err := f.dc.API.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Container.State.Running || res.Container.State.Pid <= 0 {
		t.Fatalf("container %s is not running", name)
	}
	return res.Container.State.Pid
}

func (f ovsFixture) id(t *testing.T, name string) string {
	t.Helper()
	res, err := f.dc.API.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Container.ID
}

// inContainer runs a command in the network namespace of container name,
// with nsenter, and returns its output and whether it succeeded.
func (f ovsFixture) inContainer(t *testing.T, name string, args ...string) (string, bool) {
	t.Helper()
	full := append([]string{"-t", strconv.Itoa(f.pid(t, name)), "-n"}, args...)
	out, err := exec.Command("nsenter", full...).CombinedOutput()
	return strings.TrimSpace(string(out)), err == nil
}

// iface describes the container's end as `ip` prints it: its addresses
// (global scope) and MAC address, and whether it is up.
func (f ovsFixture) iface(t *testing.T, container, iface string) (addrs []string, mac string, up bool) {
	t.Helper()
	out, ok := f.inContainer(t, container, "ip", "-o", "-4", "addr", "show", "dev", iface)
	if !ok {
		t.Fatalf("no interface %s in container %s: %s", iface, container, out)
	}
	for line := range strings.Lines(out) {
		fields := strings.Fields(line)
		if i := slices.Index(fields, "inet"); i >= 0 && i+1 < len(fields) {
			addrs = append(addrs, fields[i+1])
		}
	}
	out, ok = f.inContainer(t, container, "ip", "-o", "link", "show", "dev", iface)
	if !ok {
		t.Fatalf("no interface %s in container %s: %s", iface, container, out)
	}
	fields := strings.Fields(out)
	if i := slices.Index(fields, "link/ether"); i >= 0 && i+1 < len(fields) {
		mac = fields[i+1]
	}
	flags := fields[2] // <BROADCAST,MULTICAST,UP,LOWER_UP>
	return addrs, mac, strings.Contains(flags, ",UP") || strings.Contains(flags, "<UP")
}

// port reads a container's port back with ovs-vsctl: its bridge, tag
// ("[]" when untagged) and owner mark; bridge "" when there is no port.
func (f ovsFixture) port(t *testing.T, container string) (bridge, tag, owner string) {
	t.Helper()
	end := ovsHostEnd(container)
	if ovstest.Get(t, "Port", end, "name") == "" {
		return "", "", ""
	}
	return ovstest.Vsctl(t, "port-to-br", end), ovstest.Get(t, "Port", end, "tag"),
		ovstest.Get(t, "Port", end, "external_ids:"+OVSContainerKey)
}

// fetch gets the test server's answer at addr:8080, through the bridge,
// from the probe's namespace (from "") or from container from's, retrying
// while ARP and the switch learn the way. It returns the last answer and
// whether the fetch succeeded.
func (f ovsFixture) fetch(t *testing.T, from, addr string, tries int) (string, bool) {
	t.Helper()
	url := "http://" + addr + ":8080/"
	var out string
	var ok bool
	for range tries {
		if from == "" {
			b, err := exec.Command("ip", "netns", "exec", f.ns, f.server, "-get", url).CombinedOutput()
			out, ok = strings.TrimSpace(string(b)), err == nil
		} else {
			out, ok = f.inContainer(t, from, f.server, "-get", url)
		}
		if ok {
			return out, true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return out, false
}

// ping pings addr from the probe's namespace until it answers.
func (f ovsFixture) ping(t *testing.T, addr string) {
	t.Helper()
	var out []byte
	for range 10 {
		var err error
		out, err = exec.Command("ip", "netns", "exec", f.ns, "ping", "-c", "1", "-W", "1", addr).CombinedOutput()
		if err == nil {
			return
		}
	}
	t.Fatalf("%s does not answer ping through bridge %s: %s", addr, f.bridge, out)
}

func ovsChanges(t *testing.T, o states.Outcome) map[string]any {
	t.Helper()
	ch, _ := o.Changes["ovs"].(map[string]any)
	return ch
}

func TestOVSPlug(t *testing.T) {
	f := setupOVS(t)
	const a, b = "brine-test-ovs-a", "brine-test-ovs-b"
	args := func(msg, ip string, extra ...any) map[string]any {
		m := map[string]any{"image": "brine-test-ovs-app:1", "environment": map[string]any{"MSG": msg},
			"ovs_bridge": f.bridge, "ip": ip}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i].(string)] = extra[i+1]
		}
		return m
	}
	argsA := args("a", "10.88.0.10/24", "gateway", "10.88.0.1")
	argsB := args("b", "10.88.0.11/24")

	// Test mode: reports the plug, makes nothing.
	o := call(t, "docker_container.running", a, argsA, true, false)
	mustBe(t, o, "None", true)
	if ch := ovsChanges(t, o); fmt.Sprint(ch["ip"]) != "map[new:10.88.0.10/24 old:<nil>]" || ch["veth"] == nil {
		t.Fatalf("test mode changes %v, want the plug", o.Changes)
	}
	if br, _, _ := f.port(t, a); br != "" {
		t.Fatal("test mode added a port")
	}

	// Plug two containers.
	for _, c := range []struct {
		name string
		args map[string]any
	}{{a, argsA}, {b, argsB}} {
		o = call(t, "docker_container.running", c.name, c.args, false, false)
		mustBe(t, o, "true", true)
		if ch := ovsChanges(t, o); ch["veth"] == nil || ch["port"] == nil {
			t.Fatalf("changes of %s %v, want the plug", c.name, o.Changes)
		}
	}
	const macA = "02:aa:bb:cc:dd:ee" // a's own MAC, once it is given
	check := func(container, wantIP, wantTag string) {
		t.Helper()
		wantMAC := ovsMAC(container).String()
		if container == a && wantIP == "10.88.0.20/24" {
			wantMAC = macA
		}
		addrs, mac, up := f.iface(t, container, DefaultOVSIface)
		if !slices.Equal(addrs, []string{wantIP}) || mac != wantMAC || !up {
			t.Fatalf("%s in %s: addresses %v, MAC %s, up %v; want [%s], %s, up", DefaultOVSIface, container, addrs, mac, up, wantIP, wantMAC)
		}
		if br, tag, owner := f.port(t, container); br != f.bridge || tag != wantTag || owner != container {
			t.Fatalf("port of %s: bridge %q, tag %q, %s %q; want %s, %s, %s", container, br, tag, OVSContainerKey, owner, f.bridge, wantTag, container)
		}
	}
	check(a, "10.88.0.10/24", "[]")
	check(b, "10.88.0.11/24", "[]")
	if out, _ := f.inContainer(t, a, "ip", "route", "show", "default"); !strings.Contains(out, "via 10.88.0.1 dev eth1") {
		t.Fatalf("default route of %s: %q", a, out)
	}

	// Traffic crosses the bridge: ping and HTTP from the probe, and HTTP
	// from one container to the other.
	f.ping(t, "10.88.0.10")
	for _, tc := range []struct{ from, to, want string }{
		{"", "10.88.0.10", "version=1 msg=a"},
		{"", "10.88.0.11", "version=1 msg=b"},
		{a, "10.88.0.11", "version=1 msg=b"},
		{b, "10.88.0.10", "version=1 msg=a"},
	} {
		if got, ok := f.fetch(t, tc.from, tc.to, 25); !ok || got != tc.want {
			t.Fatalf("fetch %s from %q: %q (ok=%v), want %q", tc.to, tc.from, got, ok, tc.want)
		}
	}

	// Second run: nothing to do.
	mustBe(t, call(t, "docker_container.running", a, argsA, false, false), "true", false)
	mustBe(t, call(t, "docker_container.running", b, argsB, false, false), "true", false)

	// A VLAN tag: test mode reports it and changes nothing, then it is set
	// in place, and a untagged b no longer reaches a.
	idA := f.id(t, a)
	tagged := args("a", "10.88.0.10/24", "gateway", "10.88.0.1", "vlan", 10)
	o = call(t, "docker_container.running", a, tagged, true, false)
	mustBe(t, o, "None", true)
	if fmt.Sprint(o.Changes) != "map[ovs:map[vlan:map[new:10 old:<nil>]]]" {
		t.Fatalf("test mode changes %v, want only the vlan", o.Changes)
	}
	check(a, "10.88.0.10/24", "[]")
	o = call(t, "docker_container.running", a, tagged, false, false)
	mustBe(t, o, "true", true)
	if fmt.Sprint(o.Changes) != "map[ovs:map[vlan:map[new:10 old:<nil>]]]" {
		t.Fatalf("changes %v, want only the vlan", o.Changes)
	}
	if f.id(t, a) != idA {
		t.Fatal("a changed vlan recreated the container")
	}
	check(a, "10.88.0.10/24", "10")
	if got, ok := f.fetch(t, b, "10.88.0.10", 1); ok {
		t.Fatalf("untagged b reached a on vlan 10: %q", got)
	}
	argsB = args("b", "10.88.0.11/24", "vlan", 10)
	mustBe(t, call(t, "docker_container.running", b, argsB, false, false), "true", true)
	check(b, "10.88.0.11/24", "10")
	if got, ok := f.fetch(t, b, "10.88.0.10", 25); !ok || got != "version=1 msg=a" {
		t.Fatalf("b on vlan 10 does not reach a: %q", got)
	}
	mustBe(t, call(t, "docker_container.running", b, argsB, false, false), "true", false)

	// A changed address and MAC are corrected in place.
	moved := args("a", "10.88.0.20/24", "gateway", "10.88.0.1", "vlan", 10, "mac", macA)
	o = call(t, "docker_container.running", a, moved, false, false)
	mustBe(t, o, "true", true)
	ch := ovsChanges(t, o)
	if fmt.Sprint(ch["ip"]) != "map[new:10.88.0.20/24 old:[10.88.0.10/24]]" ||
		fmt.Sprint(ch["mac"]) != fmt.Sprintf("map[new:%s old:%s]", macA, ovsMAC(a)) || len(ch) != 2 {
		t.Fatalf("changes %v, want ip and mac", o.Changes)
	}
	if f.id(t, a) != idA {
		t.Fatal("a changed address recreated the container")
	}
	check(a, "10.88.0.20/24", "10")
	if out, _ := f.inContainer(t, a, "ip", "route", "show", "default"); !strings.Contains(out, "via 10.88.0.1 dev eth1") {
		t.Fatalf("default route of %s after its address changed: %q", a, out)
	}
	if got, ok := f.fetch(t, b, "10.88.0.20", 25); !ok || got != "version=1 msg=a" {
		t.Fatalf("b does not reach a at its new address: %q", got)
	}
	mustBe(t, call(t, "docker_container.running", a, moved, false, false), "true", false)

	// Docker restarts a: its namespace, and the veth with it, are new; the
	// next run plugs it again.
	secs := 1
	if _, err := f.dc.Slow.ContainerRestart(context.Background(), a, client.ContainerRestartOptions{Timeout: &secs}); err != nil {
		t.Fatal(err)
	}
	if out, ok := f.inContainer(t, a, "ip", "link", "show", "dev", DefaultOVSIface); ok {
		t.Fatalf("the restarted container still has %s: %s", DefaultOVSIface, out)
	}
	o = call(t, "docker_container.running", a, moved, false, false)
	mustBe(t, o, "true", true)
	if ch := ovsChanges(t, o); ch["veth"] == nil || fmt.Sprint(ch["ip"]) != "map[new:10.88.0.20/24 old:<nil>]" {
		t.Fatalf("changes after the restart %v, want the plug made again", o.Changes)
	}
	if f.id(t, a) != idA {
		t.Fatal("the restarted container was recreated")
	}
	check(a, "10.88.0.20/24", "10")
	if got, ok := f.fetch(t, b, "10.88.0.20", 25); !ok || got != "version=1 msg=a" {
		t.Fatalf("b does not reach the restarted a: %q", got)
	}
	mustBe(t, call(t, "docker_container.running", a, moved, false, false), "true", false)

	// A changed spec recreates b, which is plugged again, with its MAC.
	idB := f.id(t, b)
	argsB = args("b2", "10.88.0.11/24", "vlan", 10)
	o = call(t, "docker_container.running", b, argsB, false, false)
	mustBe(t, o, "true", true)
	if f.id(t, b) == idB || ovsChanges(t, o)["veth"] == nil {
		t.Fatalf("b not recreated and plugged again: %v", o.Changes)
	}
	check(b, "10.88.0.11/24", "10")
	if got, ok := f.fetch(t, a, "10.88.0.11", 25); !ok || got != "version=1 msg=b2" {
		t.Fatalf("a does not reach the recreated b: %q", got)
	}
	mustBe(t, call(t, "docker_container.running", b, argsB, false, false), "true", false)

	// An interface name the container already uses is refused.
	o = call(t, "docker_container.running", b, args("b2", "10.88.0.11/24", "vlan", 10, "ovs_iface", "eth0"), false, false)
	if result(o) != "false" || !strings.Contains(o.Comment, "already has an interface eth0") {
		t.Fatalf("ovs_iface eth0: result %s, comment %q", result(o), o.Comment)
	}

	// absent removes the container's port with it; test mode keeps both.
	o = call(t, "docker_container.absent", a, map[string]any{"force": true}, true, false)
	mustBe(t, o, "None", true)
	if br, _, _ := f.port(t, a); br != f.bridge {
		t.Fatal("test mode removed the port")
	}
	o = call(t, "docker_container.absent", a, map[string]any{"force": true}, false, false)
	mustBe(t, o, "true", true)
	if fmt.Sprint(ovsChanges(t, o)["port"]) != fmt.Sprintf("map[new:<nil> old:[%s on %s]]", ovsHostEnd(a), f.bridge) {
		t.Fatalf("absent changes %v, want the port", o.Changes)
	}
	if br, _, _ := f.port(t, a); br != "" {
		t.Fatalf("port of removed container %s still on %s", a, br)
	}
	if _, ok := nettest.IP(t, "", "link", "show", "dev", ovsHostEnd(a)); ok {
		t.Fatal("the host end of the removed container's veth remains")
	}
}

func TestOVSReplicasAndStalePorts(t *testing.T) {
	f := setupOVS(t)
	const name = "brine-test-ovs-rep"
	args := func(n int) map[string]any {
		return map[string]any{"image": "brine-test-ovs-app:1", "replicas": n, "ovs_bridge": f.bridge, "ip": "10.88.0.30/24"}
	}
	mustBe(t, call(t, "docker_container.running", name, args(3), false, false), "true", true)
	for i, c := range names(name, 3) {
		want := fmt.Sprintf("10.88.0.%d/24", 30+i)
		if addrs, _, up := f.iface(t, c, DefaultOVSIface); !slices.Equal(addrs, []string{want}) || !up {
			t.Fatalf("replica %s: addresses %v up %v, want [%s]", c, addrs, up, want)
		}
		if got, ok := f.fetch(t, "", strings.TrimSuffix(want, "/24"), 25); !ok || got != "version=1 msg=" {
			t.Fatalf("replica %s does not answer through the bridge: %q", c, got)
		}
	}
	mustBe(t, call(t, "docker_container.running", name, args(3), false, false), "true", false)

	// Replica 3 removed outside brine: its port is left with no device.
	// Scaling down to one removes replica 2 too; the run removes both ports.
	gone := name + "-3"
	if _, err := f.dc.Slow.ContainerRemove(context.Background(), gone, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if br, _, _ := f.port(t, gone); br != f.bridge {
		t.Fatalf("the port of %s went with its container: the stale-port case is not exercised", gone)
	}
	o := call(t, "docker_container.running", name, args(1), false, false)
	mustBe(t, o, "true", true)
	for _, c := range []string{name + "-2", gone} {
		entry, _ := o.Changes[c].(map[string]any)
		ovs, _ := entry["ovs"].(map[string]any)
		if ovs["port"] == nil {
			t.Errorf("changes %v lack the removal of %s's port", o.Changes, c)
		}
		if br, _, _ := f.port(t, c); br != "" {
			t.Errorf("stale port of %s remains on %s", c, br)
		}
	}
	if br, _, owner := f.port(t, name+"-1"); br != f.bridge || owner != name+"-1" {
		t.Fatalf("replica 1 lost its port: %q %q", br, owner)
	}
	mustBe(t, call(t, "docker_container.running", name, args(1), false, false), "true", false)
}

func TestOVSMissingBridge(t *testing.T) {
	ovstest.Switch(t)
	dc := dockertest.Engine(t)
	dockertest.Image(t, dc, dockertest.Context(t), "brine-test-ovs-app:1", "1")
	dockertest.RemoveContainers(t, dc, "brine-test-ovs-nobr")
	ovstest.RemoveBridges(t, "brtovsnone")
	args := map[string]any{"image": "brine-test-ovs-app:1", "ovs_bridge": "brtovsnone", "ip": "10.88.0.40/24"}
	o := call(t, "docker_container.running", "brine-test-ovs-nobr", args, false, false)
	if result(o) != "false" || !strings.Contains(o.Comment, "bridge brtovsnone does not exist") {
		t.Fatalf("result %s, comment %q: want a failure naming the bridge", result(o), o.Comment)
	}
	if ovstest.BridgeExists(t, "brtovsnone") {
		t.Fatal("the bridge was created")
	}
	// In test mode an earlier state may still create it.
	o = call(t, "docker_container.running", "brine-test-ovs-nobr", args, true, false)
	mustBe(t, o, "None", true)
	if !strings.Contains(o.Comment, "does not exist yet") {
		t.Fatalf("test mode comment %q", o.Comment)
	}
}
