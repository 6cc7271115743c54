package ovs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/mine"
	"github.com/brinecm/brine/pkg/netx/nettest"
	"github.com/brinecm/brine/pkg/ovsx"
	"github.com/brinecm/brine/pkg/ovsx/ovstest"
	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
)

// The data-plane lab: hosts (network namespaces, each with a private Open
// vSwitch) on one underlay Linux bridge in a namespace of its own, joined
// by ovs.mesh into a full mesh of VXLAN tunnels between their integration
// bridges, compiled for each host against a mine of the lab's hosts.
const (
	dpHostCount = 3
	// dpUnderlayNet is the underlay's /24, dpOverlayNet the overlay's.
	dpUnderlayNet = "192.168.77"
	dpOverlayNet  = "10.77.0"
	dpVNI         = "5001"
	// dpMarkKey marks, in external_ids, the bridges and ports a lab made,
	// with the lab's random suffix as value.
	dpMarkKey = "brine-dataplane-test"
	// dpPingDeadline bounds how long a pair of hosts may take to reach each
	// other after the mesh is configured (OVS resolves its tunnel
	// neighbours on the first packets).
	dpPingDeadline = 30 * time.Second
)

func dpUnderlayIP(n int) string { return fmt.Sprintf("%s.%d", dpUnderlayNet, n) }
func dpOverlayIP(n int) string  { return fmt.Sprintf("%s.%d", dpOverlayNet, n) }
func dpHostID(n int) string     { return fmt.Sprintf("h%d", n) }
func dpTunnelName(n int) string { return portName("vx", "br-int", "vxlan:"+dpVNI, dpHostID(n)) }

// dpHost is one host of the lab.
type dpHost struct {
	n  int
	ns string
	sw *ovstest.Isolated
}

// newDPHost makes host n: its namespace, a veth from its eth0 to the
// underlay bridge, a private Open vSwitch, and through ovsx a br-phy
// netdev bridge holding eth0 with the underlay address on br-phy's
// internal interface (userspace tunnels route and ARP through it; eth0
// itself has no address), and a br-int netdev bridge whose internal port
// ovl0 has the overlay address.
func newDPHost(t *testing.T, underlay, sfx string, n int) *dpHost {
	t.Helper()
	h := &dpHost{n: n, ns: nettest.Namespace(t, fmt.Sprintf("brine-t-dp%s-h%d", sfx, n))}
	uplink := fmt.Sprintf("to-h%d", n)
	nettest.MustIP(t, underlay, "link", "add", uplink, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
	nettest.MustIP(t, underlay, "link", "set", uplink, "master", "br0", "up")
	nettest.MustIP(t, h.ns, "link", "set", "lo", "up")
	nettest.MustIP(t, h.ns, "link", "set", "eth0", "up")
	h.sw = ovstest.StartIsolated(t, h.ns)

	ctx := t.Context()
	mark := map[string]string{dpMarkKey: sfx}
	for _, c := range []struct {
		port    ovsx.PortSpec
		bridge  ovsx.BridgeSpec
		address string
	}{
		{ovsx.PortSpec{Name: "eth0", Bridge: "br-phy"}, ovsx.BridgeSpec{Name: "br-phy"}, dpUnderlayIP(n)},
		{ovsx.PortSpec{Name: "ovl0", Bridge: "br-int", Type: "internal"}, ovsx.BridgeSpec{Name: "br-int"}, dpOverlayIP(n)},
	} {
		c.bridge.DatapathType, c.bridge.ExternalIDs, c.port.ExternalIDs = "netdev", mark, mark
		if _, err := h.sw.Client.EnsurePort(ctx, c.port, &c.bridge); err != nil {
			t.Fatalf("host %d: %v", n, err)
		}
		dev := c.bridge.Name
		if c.port.Type == "internal" {
			dev = c.port.Name
		}
		nettest.MustIP(t, h.ns, "addr", "add", c.address+"/24", "dev", dev)
		nettest.MustIP(t, h.ns, "link", "set", dev, "up")
	}
	return h
}

// dpMine is the mine of a lab: each host's grains, its underlay address
// among them.
func dpMine(hosts []*dpHost) mine.Static {
	m := mine.Static{}
	for _, h := range hosts {
		m[dpHostID(h.n)] = map[string]any{"id": dpHostID(h.n), "role": "docker", "underlay_ip": dpUnderlayIP(h.n)}
	}
	return m
}

// mesh applies ovs.mesh on h, compiled against the mine of hosts, through
// h's private switch (OVS_RUNDIR, as a minion on that host has it).
func (h *dpHost) mesh(t *testing.T, hosts []*dpHost) states.Outcome {
	t.Helper()
	t.Setenv("OVS_RUNDIR", h.sw.RunDir)
	m := dpMine(hosts)
	o := compileAndApply(t, dpHostID(h.n), m, map[string]any{"bridge": "br-int", "peers": "G@role:docker",
		"peer_ip": "underlay_ip", "key": dpVNI}, false)
	if o.Result == nil || !*o.Result {
		t.Fatalf("host %d: ovs.mesh failed: %s", h.n, o.Comment)
	}
	return o
}

// mac returns the MAC address of dev in the host's namespace, as ip sees it.
func (h *dpHost) mac(t *testing.T, dev string) string {
	t.Helper()
	f := strings.Fields(nettest.MustIP(t, h.ns, "-br", "link", "show", "dev", dev))
	if len(f) < 3 {
		t.Fatalf("host %d: ip -br link show %s: %v", h.n, dev, f)
	}
	return f[2]
}

// ping pings the overlay address of to from h until a ping of three
// packets gets an answer, or dpPingDeadline passes.
func (h *dpHost) ping(ctx context.Context, to *dpHost) error {
	deadline := time.Now().Add(dpPingDeadline)
	for {
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", h.ns,
			"ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", dpOverlayIP(to.n)).CombinedOutput()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("ping %s from host %d: %w: %s", dpOverlayIP(to.n), h.n, err, out)
		}
	}
}

func TestVXLANMeshCarriesTraffic(t *testing.T) {
	systest.RequireRoot(t)
	systest.RequireCommands(t, "ip", "ping", "ovs-vsctl", "ovs-appctl")
	hostSwitch := ovsx.New() // before OVS_RUNDIR is pointed elsewhere below
	sfx := fmt.Sprintf("%04x", rand.IntN(1<<16))
	underlay := nettest.Namespace(t, "brine-t-dp"+sfx+"-u")
	nettest.MustIP(t, underlay, "link", "add", "br0", "type", "bridge")
	nettest.MustIP(t, underlay, "link", "set", "br0", "up")

	hosts := make([]*dpHost, dpHostCount)
	for i := range hosts {
		hosts[i] = newDPHost(t, underlay, sfx, i+1)
	}
	for _, h := range hosts {
		h.mesh(t, hosts)
	}

	t.Run("configuration", func(t *testing.T) {
		// Checked with ovs-vsctl, independently of ovsx: exactly one
		// tunnel per peer, to its underlay address, set up, protected.
		for _, h := range hosts {
			var want []string
			for _, p := range hosts {
				if p != h {
					want = append(want, dpTunnelName(p.n))
				}
			}
			got := strings.Fields(h.sw.Vsctl(t, "--bare", "--columns=name", "find", "Interface", "type=vxlan"))
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("host %d has vxlan interfaces %v, want %v", h.n, got, want)
			}
			for _, p := range hosts {
				if p == h {
					continue
				}
				name := dpTunnelName(p.n)
				for _, c := range []struct{ table, column, want string }{
					{"Interface", "options:remote_ip", dpUnderlayIP(p.n)},
					{"Interface", "options:key", dpVNI},
					{"Interface", "error", "[]"},
					{"Interface", "link_state", "up"},
					{"Port", "protected", "true"},
					{"Port", "external_ids:" + peerIDKey, dpHostID(p.n)},
				} {
					// ovs-vsctl quotes a string only where it could be
					// read as another type ("5001", not "cf31").
					if got := strings.Trim(h.sw.Vsctl(t, "get", c.table, name, c.column), `"`); got != c.want {
						t.Errorf("host %d: %s %s %s is %s, want %s", h.n, c.table, name, c.column, got, c.want)
					}
				}
			}
			for _, iface := range []string{"eth0", "ovl0", "br-phy", "br-int"} {
				if got := h.sw.Vsctl(t, "get", "Interface", iface, "error"); got != "[]" {
					t.Errorf("host %d: interface %s has error %s", h.n, iface, got)
				}
			}
		}
	})

	// Every host reaches every other over the overlay: six directions.
	t.Run("ping", func(t *testing.T) { dpPingPairs(t, hosts, hosts) })

	t.Run("tunnel neighbours", func(t *testing.T) {
		// Traffic went through OVS's native tunnel code: it routes the
		// underlay through br-phy and learned each peer's br-phy MAC.
		for _, h := range hosts {
			routes := h.sw.Appctl(t, "ovs/route/show")
			if want := dpUnderlayNet + ".0/24 dev br-phy"; !strings.Contains(routes, want) {
				t.Errorf("host %d: OVS route table lacks %q:\n%s", h.n, want, routes)
			}
			arp := map[string][]string{}
			for line := range strings.Lines(h.sw.Appctl(t, "tnl/arp/show")) {
				if f := strings.Fields(line); len(f) == 3 {
					arp[f[0]] = f[1:]
				}
			}
			for _, p := range hosts {
				if p == h {
					continue
				}
				want := []string{p.mac(t, "br-phy"), "br-phy"}
				if got := arp[dpUnderlayIP(p.n)]; !slices.Equal(got, want) {
					t.Errorf("host %d: tunnel neighbour %s is %v, want %v", h.n, dpUnderlayIP(p.n), got, want)
				}
			}
		}
	})

	t.Run("split horizon", func(t *testing.T) {
		// A broadcast from the local port floods into both tunnels; one
		// arriving from a tunnel goes to local ports only, never back
		// into the other tunnel: the full mesh has no loop.
		h := hosts[0]
		fromLocal := dpDatapathActions(t, h.sw.Appctl(t, "ofproto/trace", "br-int",
			"in_port=ovl0,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff"))
		for _, p := range hosts[1:] {
			if want := "dst=" + dpUnderlayIP(p.n) + ","; strings.Count(fromLocal, want) != 1 {
				t.Errorf("broadcast from ovl0 is not sent once to host %d: %s", p.n, fromLocal)
			}
		}
		if n := strings.Count(fromLocal, "tnl_push("); n != dpHostCount-1 {
			t.Errorf("broadcast from ovl0 enters %d tunnels, want %d: %s", n, dpHostCount-1, fromLocal)
		}
		fromTunnel := dpDatapathActions(t, h.sw.Appctl(t, "ofproto/trace", "br-int",
			fmt.Sprintf("in_port=%s,tun_id=%s,tun_src=%s,tun_dst=%s,dl_src=02:00:00:00:00:02,dl_dst=ff:ff:ff:ff:ff:ff",
				dpTunnelName(2), dpVNI, dpUnderlayIP(2), dpUnderlayIP(1))))
		if strings.Contains(fromTunnel, "tnl_push") || fromTunnel == "drop" {
			t.Errorf("broadcast from a tunnel: datapath actions %s, want local ports only", fromTunnel)
		}
	})

	t.Run("OVS_RUNDIR", func(t *testing.T) {
		// A brine process given the private run directory sees that switch.
		t.Setenv("OVS_RUNDIR", hosts[0].sw.RunDir)
		st, err := ovsx.New().Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got := st.BridgeNames(); !slices.Equal(got, []string{"br-int", "br-phy"}) {
			t.Errorf("bridges %v", got)
		}
		var tunnels []string
		for _, p := range st.PortsOf("br-int") {
			if p.Type == "vxlan" && p.Protected {
				tunnels = append(tunnels, p.Name+"="+p.Options["remote_ip"])
			}
		}
		if want := []string{dpTunnelName(2) + "=" + dpUnderlayIP(2), dpTunnelName(3) + "=" + dpUnderlayIP(3)}; !slices.Equal(tunnels, want) {
			t.Errorf("tunnels %v, want %v", tunnels, want)
		}
	})

	t.Run("a fourth host joins", func(t *testing.T) {
		h4 := newDPHost(t, underlay, sfx, 4)
		four := append(slices.Clone(hosts), h4)
		for _, h := range hosts {
			o := h.mesh(t, four)
			if added, _ := o.Changes["added"].(map[string]any); len(o.Changes) != 1 || len(added) != 1 || added["h4"] != dpUnderlayIP(4) {
				t.Errorf("host %d: changes %v, want exactly h4's tunnel added", h.n, o.Changes)
			}
		}
		if o := h4.mesh(t, four); len(o.Changes["added"].(map[string]any)) != 3 {
			t.Errorf("host 4: changes %v, want three tunnels added", o.Changes)
		}
		for _, h := range four {
			if o := h.mesh(t, four); o.Changed() {
				t.Errorf("host %d: a second run changed %v", h.n, o.Changes)
			}
		}
		dpPingPairs(t, []*dpHost{h4}, hosts)
		dpPingPairs(t, hosts, []*dpHost{h4})

		// Host 2 leaves: its tunnels go, the others stay and carry traffic.
		rest := []*dpHost{hosts[0], hosts[2], h4}
		for _, h := range rest {
			o := h.mesh(t, rest)
			if removed, _ := o.Changes["removed"].(map[string]any); len(o.Changes) != 1 || len(removed) != 1 || removed["h2"] != dpUnderlayIP(2) {
				t.Errorf("host %d: changes %v, want exactly h2's tunnel removed", h.n, o.Changes)
			}
			if got := h.sw.Vsctl(t, "--bare", "--columns=name", "find", "Interface", "type=vxlan"); len(strings.Fields(got)) != 2 {
				t.Errorf("host %d: vxlan interfaces %q, want two", h.n, got)
			}
		}
		dpPingPairs(t, rest, rest)
	})

	t.Run("host switch untouched", func(t *testing.T) {
		_, err := hostSwitch.Read(t.Context())
		systest.Require(t, err == nil, "the host's Open vSwitch does not answer at "+hostSwitch.Socket+" (run scripts/start-ovs.sh)")
		for _, table := range []string{"Bridge", "Port"} {
			out, err := exec.CommandContext(t.Context(), "ovs-vsctl", "--db=unix:"+hostSwitch.Socket, "--timeout=10",
				"--bare", "--columns=name", "find", table, "external_ids:"+dpMarkKey+"="+sfx).CombinedOutput()
			if err != nil {
				t.Fatalf("ovs-vsctl find %s on the host's switch: %v: %s", table, err, out)
			}
			if s := strings.TrimSpace(string(out)); s != "" {
				t.Errorf("the host's switch has the lab's %s records: %s", table, s)
			}
		}
	})
}

// dpPingPairs pings, at the same time, from every host of from to every
// other host of to, each pair in its own subtest.
func dpPingPairs(t *testing.T, from, to []*dpHost) {
	t.Helper()
	var wg sync.WaitGroup
	for _, a := range from {
		for _, b := range to {
			if a == b {
				continue
			}
			// t.Run may be called from several goroutines; t.Parallel
			// would be bounded by -parallel.
			wg.Go(func() {
				t.Run(fmt.Sprintf("h%d to h%d", a.n, b.n), func(t *testing.T) {
					if err := a.ping(t.Context(), b); err != nil {
						t.Error(err)
					}
				})
			})
		}
	}
	wg.Wait()
}

// dpDatapathActions returns the "Datapath actions:" of an ofproto/trace.
func dpDatapathActions(t *testing.T, trace string) string {
	t.Helper()
	for line := range strings.Lines(trace) {
		if a, ok := strings.CutPrefix(line, "Datapath actions: "); ok {
			return strings.TrimSpace(a)
		}
	}
	t.Fatalf("no datapath actions in trace:\n%s", trace)
	return ""
}
