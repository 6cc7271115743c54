package net

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/brinecm/brine/pkg/mine"
	"github.com/brinecm/brine/pkg/netx/nettest"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

func TestPlanMesh(t *testing.T) {
	no := false
	tests := []struct {
		name    string
		args    MeshArgs
		err     string
		peers   map[string]string
		skipped []string
		check   func(t *testing.T, p *meshPlan)
	}{
		{
			name: "unresolved",
			args: MeshArgs{PeerArgs: mine.PeerArgs{Peers: "G@role:mesh"}, ID: 7},
			err:  "peers were not resolved",
		},
		{
			name:  "defaults",
			args:  MeshArgs{PeerArgs: mine.PeerArgs{PeerIPs: map[string]string{"h2": "10.0.0.2", "h3": "10.0.0.3"}, LocalIP: "10.0.0.1"}, ID: 7},
			peers: map[string]string{"h2": "10.0.0.2", "h3": "10.0.0.3"},
			check: func(t *testing.T, p *meshPlan) {
				s := p.spec
				if s.Kind != "vxlan" || s.DstPort != 4789 || !s.Up || s.Learning == nil || !*s.Learning ||
					s.Local != netip.MustParseAddr("10.0.0.1") || s.Remote.IsValid() || s.Master != "" {
					t.Errorf("spec %+v: want vxlan, port 4789, up, learning, local 10.0.0.1, no remote", s)
				}
			},
		},
		{
			name:  "settings",
			args:  MeshArgs{PeerArgs: mine.PeerArgs{PeerIPs: map[string]string{}}, ID: 99, DstPort: 8472, Dev: "eth1", Bridge: "br0", MTU: 1400, Up: &no, Learning: &no},
			peers: map[string]string{},
			check: func(t *testing.T, p *meshPlan) {
				s := p.spec
				if s.ID != 99 || s.DstPort != 8472 || s.Dev != "eth1" || s.Master != "br0" || s.MTU != 1400 ||
					s.Up || *s.Learning || s.Local.IsValid() {
					t.Errorf("spec %+v does not carry the arguments", s)
				}
			},
		},
		{
			name:    "missing and self",
			args:    MeshArgs{PeerArgs: mine.PeerArgs{LocalIP: "10.0.0.1", PeerIPs: map[string]string{"h2": "10.0.0.2", "twin": "10.0.0.1"}, PeersMissing: []string{"h9 (no grain underlay_ip)"}}, ID: 7},
			peers:   map[string]string{"h2": "10.0.0.2"},
			skipped: []string{"h9 (no grain underlay_ip)", "twin (its address 10.0.0.1 is local_ip)"},
		},
		{
			name:  "ipv6",
			args:  MeshArgs{PeerArgs: mine.PeerArgs{LocalIP: "fd00::1", PeerIPs: map[string]string{"h2": "fd00::2"}}, ID: 7},
			peers: map[string]string{"h2": "fd00::2"},
		},
		{
			name: "bad peer address",
			args: MeshArgs{PeerArgs: mine.PeerArgs{PeerIPs: map[string]string{"h2": "10.0.0.300"}}, ID: 7},
			err:  `peer_ips: h2: "10.0.0.300" is not an IP address`,
		},
		{
			name: "bad local_ip",
			args: MeshArgs{PeerArgs: mine.PeerArgs{LocalIP: "here", PeerIPs: map[string]string{}}, ID: 7},
			err:  `local_ip "here" is not an IP address`,
		},
		{
			name: "mixed versions",
			args: MeshArgs{PeerArgs: mine.PeerArgs{LocalIP: "10.0.0.1", PeerIPs: map[string]string{"h2": "fd00::2"}}, ID: 7},
			err:  "of different IP versions",
		},
		{
			name: "ipv6 without local_ip",
			args: MeshArgs{PeerArgs: mine.PeerArgs{PeerIPs: map[string]string{"h2": "fd00::2"}}, ID: 7},
			err:  "needs an IPv6 local_ip",
		},
		{
			name: "vni out of range",
			args: MeshArgs{PeerArgs: mine.PeerArgs{PeerIPs: map[string]string{}}, ID: 1 << 24},
			err:  "VNI from 1 to 16777215",
		},
		{
			name: "bad port",
			args: MeshArgs{PeerArgs: mine.PeerArgs{PeerIPs: map[string]string{}}, ID: 7, DstPort: 70000},
			err:  "dstport 70000",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := planMesh("vxm0", &tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for id, ip := range p.peers {
				got[id] = ip.String()
			}
			if !maps.Equal(got, tc.peers) {
				t.Errorf("peers %v, want %v", got, tc.peers)
			}
			if !slices.Equal(p.skipped, tc.skipped) {
				t.Errorf("skipped %q, want %q", p.skipped, tc.skipped)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

func TestFloodDiff(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name    string
		have    []netip.Addr
		want    map[string]netip.Addr
		added   map[string]netip.Addr
		removed []netip.Addr
	}{
		{"empty", nil, map[string]netip.Addr{}, map[string]netip.Addr{}, nil},
		{"new device", nil, map[string]netip.Addr{"h2": a("10.0.0.2"), "h3": a("10.0.0.3")},
			map[string]netip.Addr{"h2": a("10.0.0.2"), "h3": a("10.0.0.3")}, nil},
		{"in sync", []netip.Addr{a("10.0.0.2"), a("10.0.0.3")}, map[string]netip.Addr{"h2": a("10.0.0.2"), "h3": a("10.0.0.3")},
			map[string]netip.Addr{}, nil},
		{"peer joined", []netip.Addr{a("10.0.0.2")}, map[string]netip.Addr{"h2": a("10.0.0.2"), "h4": a("10.0.0.4")},
			map[string]netip.Addr{"h4": a("10.0.0.4")}, nil},
		{"peers left", []netip.Addr{a("10.0.0.2"), a("10.0.0.3"), a("10.0.0.4")}, map[string]netip.Addr{"h3": a("10.0.0.3")},
			map[string]netip.Addr{}, []netip.Addr{a("10.0.0.2"), a("10.0.0.4")}},
		{"peer moved", []netip.Addr{a("10.0.0.2"), a("10.0.0.3")}, map[string]netip.Addr{"h2": a("10.0.0.2"), "h3": a("10.0.0.33")},
			map[string]netip.Addr{"h3": a("10.0.0.33")}, []netip.Addr{a("10.0.0.3")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			added, removed := floodDiff(tc.have, tc.want)
			if !maps.Equal(added, tc.added) || !slices.Equal(removed, tc.removed) {
				t.Errorf("added %v removed %v, want added %v removed %v", added, removed, tc.added, tc.removed)
			}
		})
	}
}

// TestMeshResolve compiles mesh states against a mine the way the master
// does, then decodes and plans them as the minion does.
func TestMeshResolve(t *testing.T) {
	fleet := mine.Static{
		"h1": {"id": "h1", "role": "mesh", "underlay_ip": "192.0.2.1"},
		"h2": {"id": "h2", "role": "mesh", "underlay_ip": "192.0.2.2"},
		"h3": {"id": "h3", "role": "mesh"},
		"db": {"id": "db", "role": "db", "underlay_ip": "192.0.2.9"},
	}
	tests := []struct {
		name    string
		mine    mine.Mine
		args    map[string]any
		err     string
		peers   map[string]string
		local   string
		skipped []string
	}{
		{
			name:    "target",
			mine:    fleet,
			args:    map[string]any{"peers": "G@role:mesh", "peer_ip": "underlay_ip", "id": 4242},
			peers:   map[string]string{"h2": "192.0.2.2"},
			local:   "192.0.2.1",
			skipped: []string{"h3 (no grain and no interface named underlay_ip)"},
		},
		{
			name:  "grain target type",
			mine:  fleet,
			args:  map[string]any{"peers": "role:db", "tgt_type": "grain", "peer_ip": "underlay_ip", "id": 1},
			peers: map[string]string{"db": "192.0.2.9"},
			local: "192.0.2.1",
		},
		{
			name:  "explicit map",
			mine:  fleet,
			args:  map[string]any{"peers": map[string]any{"h1": "192.0.2.1", "x": "192.0.2.77"}, "peer_ip": "underlay_ip", "id": 1},
			peers: map[string]string{"x": "192.0.2.77"},
			local: "192.0.2.1",
		},
		{
			name:  "masterless",
			args:  map[string]any{"peers": "*", "peer_ip": "underlay_ip", "id": 1},
			peers: map[string]string{},
			local: "192.0.2.1",
		},
		{
			name: "no peers",
			mine: fleet,
			args: map[string]any{"id": 1},
			err:  "peers is required",
		},
		{
			name: "bad target type",
			mine: fleet,
			args: map[string]any{"peers": "x", "tgt_type": "", "id": 1},
			err:  "tgt_type",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lows := []sls.Low{{ID: "mesh", Name: "vxm0", Module: "net", Fun: "vxlan_mesh", Args: tc.args}}
			err := states.Resolve(t.Context(), lows, &states.Compiling{ID: "h1", Grains: fleet["h1"], Mine: tc.mine})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e, _ := states.Lookup("net.vxlan_mesh")
			args, err := e.Decode(lows[0].Args)
			if err != nil {
				t.Fatalf("resolved arguments %v do not decode: %v", lows[0].Args, err)
			}
			a := args.(*MeshArgs)
			if a.LocalIP != tc.local {
				t.Errorf("local_ip %q, want %q", a.LocalIP, tc.local)
			}
			p, err := planMesh("vxm0", a)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for id, ip := range p.peers {
				got[id] = ip.String()
			}
			if !maps.Equal(got, tc.peers) || !slices.Equal(p.skipped, tc.skipped) {
				t.Errorf("peers %v skipped %q, want %v and %q", got, p.skipped, tc.peers, tc.skipped)
			}
		})
	}
}

func TestMeshUnresolvedFails(t *testing.T) {
	o := statetest.Apply(t, "net.vxlan_mesh", map[string]any{"peers": "G@role:mesh", "id": 5},
		&states.Call{ID: "mesh", Name: "vxm0"})
	if o.OK() || !strings.Contains(o.Comment, "peers were not resolved") || o.Changed() {
		t.Fatalf("result %s %q %v, want a failure saying the peers were not resolved", states.ResultString(o.Result), o.Comment, o.Changes)
	}
	e, _ := states.Lookup("net.vxlan_mesh")
	if !strings.Contains(e.Doc, "mine") || !strings.Contains(e.Doc, "bridge") {
		t.Errorf("doc does not explain peers from the mine and bridge: %s", e.Doc)
	}
}

// meshRecipe is rendered per host from its grains: the mesh device, on
// hosts with mesh_bridge enslaved to a bridge a net.link state makes, and
// the overlay address on the device (or the bridge).
const meshRecipe = `{% set ns = grains['netns'] %}
{% set dev = grains['mesh_dev'] %}
{% set br = grains.get('mesh_bridge', '') %}
{% if br %}
mesh-bridge:
  net.link:
    - name: {{ br }}
    - kind: bridge
    - netns: {{ ns }}
{% endif %}
mesh:
  net.vxlan_mesh:
    - name: {{ dev }}
    - peers: 'G@role:mesh'
    - peer_ip: underlay_ip
    - id: 4242
    - netns: {{ ns }}
{% if br %}
    - bridge: {{ br }}
    - require:
      - net: mesh-bridge
{% endif %}
overlay:
  net.address:
    - name: {{ grains['overlay'] }}
    - dev: {{ br or dev }}
    - netns: {{ ns }}
    - require:
      - net: mesh
`

// meshLab is a set of hosts (network namespaces) on one underlay bridge,
// each a minion of a fleet whose grains the mine holds.
type meshLab struct {
	t     *testing.T
	sfx   string
	under string // the underlay's namespace
	dev   string // the mesh device in every host
	fleet mine.Static
	ns    map[string]string // host id -> namespace
}

func newMeshLab(t *testing.T) *meshLab {
	systest.RequireCommands(t, "ping", "bridge")
	sfx := fmt.Sprintf("%04x", rand.IntN(1<<16))
	l := &meshLab{t: t, sfx: sfx, dev: "vxm" + sfx, ns: map[string]string{},
		// A mesh member without an address, never a peer, never applied.
		fleet: mine.Static{"h9": {"id": "h9", "role": "mesh"}, "db": {"id": "db", "role": "db", "underlay_ip": "192.168.78.9"}}}
	l.under = nettest.Namespace(t, "brine-t-m"+sfx+"u")
	nettest.MustIP(t, l.under, "link", "add", "bru"+sfx, "type", "bridge")
	nettest.MustIP(t, l.under, "link", "set", "bru"+sfx, "up")
	return l
}

func (l *meshLab) underIP(n int) string   { return fmt.Sprintf("192.168.78.%d", n) }
func (l *meshLab) overlayIP(n int) string { return fmt.Sprintf("10.78.0.%d", n) }

// addHost makes host hN: a namespace with a veth to the underlay bridge,
// addressed 192.168.78.N, and puts its grains in the mine.
func (l *meshLab) addHost(n int, bridge bool) string {
	t := l.t
	id := fmt.Sprintf("h%d", n)
	ns := nettest.Namespace(t, "brine-t-m"+l.sfx+id)
	port, ul := "u"+l.sfx+id, "ul"+l.sfx
	nettest.MustIP(t, l.under, "link", "add", port, "type", "veth", "peer", "name", ul, "netns", ns)
	nettest.MustIP(t, l.under, "link", "set", port, "master", "bru"+l.sfx, "up")
	nettest.MustIP(t, ns, "addr", "add", l.underIP(n)+"/24", "dev", ul)
	nettest.MustIP(t, ns, "link", "set", ul, "up")
	nettest.MustIP(t, ns, "link", "set", "lo", "up")
	g := map[string]any{"id": id, "role": "mesh", "underlay_ip": l.underIP(n), "netns": ns,
		"overlay": l.overlayIP(n) + "/24", "mesh_dev": l.dev}
	if bridge {
		g["mesh_bridge"] = "brm" + l.sfx
	}
	l.fleet[id] = g
	l.ns[id] = ns
	return id
}

// apply compiles the recipe for minion id through the real compile path
// (render, resolve against the mine, plan) and runs it.
func (l *meshLab) apply(id string, test bool) result.Highstate {
	t := l.t
	t.Helper()
	ctx := t.Context()
	c := sls.New(sls.Config{Files: fstest.MapFS{"mesh.sls": {Data: []byte(meshRecipe)}}, ID: id, Grains: l.fleet[id]})
	lows, err := c.SLS(ctx, "mesh")
	if err == nil {
		err = states.Resolve(ctx, lows, &states.Compiling{ID: id, Grains: l.fleet[id], Mine: l.fleet})
	}
	plan, err := states.Prepare(lows, err)
	if err != nil {
		t.Fatalf("compile the mesh recipe for %s: %v", id, err)
	}
	hs := plan.Run(ctx, states.RunOptions{Test: test})
	for _, r := range hs {
		t.Logf("%s test=%v %s: result=%s comment=%q changes=%v", id, test, r.Function(), states.ResultString(r.Result), r.Comment, r.Changes)
	}
	return hs
}

// mesh returns the net.vxlan_mesh result of a run.
func (l *meshLab) mesh(hs result.Highstate) result.State {
	l.t.Helper()
	for _, r := range hs {
		if r.Function() == "net.vxlan_mesh" {
			return r
		}
	}
	l.t.Fatalf("no net.vxlan_mesh result in %v", hs)
	return result.State{}
}

// converge applies the recipe on id, checks every state succeeded and the
// mesh state changed as want says (nil: no change), then applies again,
// which must change nothing.
func (l *meshLab) converge(id string, want func(map[string]any) bool) {
	t := l.t
	t.Helper()
	hs := l.apply(id, false)
	if hs.Failed() {
		t.Fatalf("apply on %s failed: %v", id, hs)
	}
	if m := l.mesh(hs); !want(m.Changes) {
		t.Fatalf("mesh on %s changed %v, not as wanted (%s)", id, m.Changes, m.Comment)
	}
	for _, r := range l.apply(id, false) {
		if !r.Succeeded() || len(r.Changes) > 0 {
			t.Fatalf("second run on %s: %s result %s changes %v: %s", id, r.Function(), states.ResultString(r.Result), r.Changes, r.Comment)
		}
	}
}

// peersChanged wants the mesh state to change only its peers, by exactly
// added (id -> address) and removed.
func peersChanged(added map[string]any, removed ...any) func(map[string]any) bool {
	want := map[string]any{}
	if len(added) > 0 {
		want["added"] = added
	}
	if len(removed) > 0 {
		want["removed"] = removed
	}
	return func(c map[string]any) bool { return reflect.DeepEqual(c, map[string]any{"peers": want}) }
}

// flood lists, as `bridge fdb` shows them, the addresses of the all-zero
// entries of the mesh device on host id, sorted, repeats kept.
func (l *meshLab) flood(id string) []string {
	t := l.t
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", l.ns[id], "bridge", "fdb", "show", "dev", l.dev).CombinedOutput()
	if err != nil {
		t.Fatalf("bridge fdb show on %s: %v: %s", id, err, out)
	}
	var dsts []string
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(line, "00:00:00:00:00:00 dst "); ok {
			dsts = append(dsts, strings.Fields(rest)[0])
		}
	}
	slices.Sort(dsts)
	return dsts
}

// wantFlood checks the mesh device of host id floods to exactly addrs,
// once each.
func (l *meshLab) wantFlood(id string, addrs ...string) {
	l.t.Helper()
	slices.Sort(addrs)
	if got := l.flood(id); !slices.Equal(got, addrs) {
		l.t.Fatalf("flood entries of %s on %s: %q, want %q", l.dev, id, got, addrs)
	}
}

// ping pings the overlay address of host n from host id.
func (l *meshLab) ping(id string, n int) {
	l.t.Helper()
	out, err := exec.Command("ip", "netns", "exec", l.ns[id], "ping", "-c", "2", "-i", "0.2", "-W", "2", l.overlayIP(n)).CombinedOutput()
	if err != nil {
		for _, h := range []string{id, fmt.Sprintf("h%d", n)} {
			fdb, _ := exec.Command("ip", "netns", "exec", l.ns[h], "bridge", "fdb", "show", "dev", l.dev).CombinedOutput()
			neigh, _ := nettest.IP(l.t, l.ns[h], "neigh", "show")
			l.t.Logf("%s forwarding entries:\n%s\nneighbours:\n%s", h, fdb, neigh)
		}
		l.t.Fatalf("ping %s from %s over the mesh: %v\n%s", l.overlayIP(n), id, err, out)
	}
}

// Three, then four hosts on an underlay bridge join a VXLAN mesh whose
// peers come from the mine; hosts leave and move, and every host's
// forwarding entries follow.
func TestVXLANMeshAcrossNamespaces(t *testing.T) {
	l := newMeshLab(t)
	for n := 1; n <= 3; n++ {
		l.addHost(n, false)
	}

	// Test mode reports the device and both peers, and makes nothing.
	m := l.mesh(l.apply("h1", true))
	peers, _ := m.Changes["peers"].(map[string]any)
	added, _ := peers["added"].(map[string]any)
	if m.Result != nil || m.Changes["device"] == nil || !reflect.DeepEqual(added, map[string]any{"h2": l.underIP(2), "h3": l.underIP(3)}) {
		t.Fatalf("test mode on h1: result %s changes %v", states.ResultString(m.Result), m.Changes)
	}
	if !strings.Contains(m.Comment, "skipped h9 (no grain and no interface named underlay_ip)") {
		t.Errorf("comment does not name the peer without an address: %q", m.Comment)
	}
	if out, ok := nettest.IP(t, l.ns["h1"], "link", "show", l.dev); ok {
		t.Fatalf("test mode made %s: %s", l.dev, out)
	}

	for n := 1; n <= 3; n++ {
		id := fmt.Sprintf("h%d", n)
		l.converge(id, func(c map[string]any) bool {
			want := map[string]any{}
			for p := 1; p <= 3; p++ {
				if p != n {
					want[fmt.Sprintf("h%d", p)] = l.underIP(p)
				}
			}
			return c["device"] != nil && reflect.DeepEqual(c["peers"], map[string]any{"added": want})
		})
	}
	for n := 1; n <= 3; n++ {
		var want []string
		for p := 1; p <= 3; p++ {
			if p != n {
				want = append(want, l.underIP(p))
			}
		}
		l.wantFlood(fmt.Sprintf("h%d", n), want...)
	}
	if out := nettest.MustIP(t, l.ns["h1"], "-d", "link", "show", l.dev); !strings.Contains(out, "vxlan id 4242") ||
		!strings.Contains(out, "local 192.168.78.1") || strings.Contains(out, "remote") || !strings.Contains(out, "dstport 4789") {
		t.Fatalf("%s on h1: %s", l.dev, out)
	}
	for a := 1; a <= 3; a++ {
		for b := 1; b <= 3; b++ {
			if a != b {
				l.ping(fmt.Sprintf("h%d", a), b)
			}
		}
	}

	// A fourth host joins, its device enslaved to a bridge: each old host
	// gains exactly its entry; test mode first reports it and adds nothing.
	l.addHost(4, true)
	m = l.mesh(l.apply("h2", true))
	if m.Result != nil || !peersChanged(map[string]any{"h4": l.underIP(4)})(m.Changes) {
		t.Fatalf("test mode on h2 after h4 joined: result %s changes %v", states.ResultString(m.Result), m.Changes)
	}
	l.wantFlood("h2", l.underIP(1), l.underIP(3))
	l.converge("h4", func(c map[string]any) bool {
		return c["device"] != nil && reflect.DeepEqual(c["peers"],
			map[string]any{"added": map[string]any{"h1": l.underIP(1), "h2": l.underIP(2), "h3": l.underIP(3)}})
	})
	for _, id := range []string{"h1", "h2", "h3"} {
		l.converge(id, peersChanged(map[string]any{"h4": l.underIP(4)}))
	}
	l.wantFlood("h1", l.underIP(2), l.underIP(3), l.underIP(4))
	l.wantFlood("h2", l.underIP(1), l.underIP(3), l.underIP(4))
	l.wantFlood("h3", l.underIP(1), l.underIP(2), l.underIP(4))
	l.wantFlood("h4", l.underIP(1), l.underIP(2), l.underIP(3))
	if out := nettest.MustIP(t, l.ns["h4"], "link", "show", l.dev); !strings.Contains(out, "master brm"+l.sfx) {
		t.Fatalf("%s on h4 is not on its bridge: %s", l.dev, out)
	}
	for n := 1; n <= 3; n++ {
		l.ping("h4", n)
		l.ping(fmt.Sprintf("h%d", n), 4)
	}

	// h2 leaves the fleet: its entries go everywhere, the others stay.
	delete(l.fleet, "h2")
	for _, id := range []string{"h1", "h3", "h4"} {
		l.converge(id, peersChanged(nil, l.underIP(2)))
	}
	l.wantFlood("h1", l.underIP(3), l.underIP(4))
	l.wantFlood("h3", l.underIP(1), l.underIP(4))
	l.wantFlood("h4", l.underIP(1), l.underIP(3))
	l.ping("h1", 3)
	l.ping("h3", 4)

	// h3 moves to another underlay address: its peers move their entry,
	// its own device (whose local address changed) is made again.
	moved := "192.168.78.33"
	nettest.MustIP(t, l.ns["h3"], "addr", "del", l.underIP(3)+"/24", "dev", "ul"+l.sfx)
	nettest.MustIP(t, l.ns["h3"], "addr", "add", moved+"/24", "dev", "ul"+l.sfx)
	l.fleet["h3"]["underlay_ip"] = moved
	for _, id := range []string{"h1", "h4"} {
		l.converge(id, peersChanged(map[string]any{"h3": moved}, l.underIP(3)))
		// h3's device is about to be made again, with a new MAC: forget the old one.
		nettest.MustIP(t, l.ns[id], "neigh", "flush", "dev", l.dev)
	}
	l.converge("h3", func(c map[string]any) bool {
		d, _ := c["device"].(map[string]any)
		return d["recreated"] == true && reflect.DeepEqual(c["peers"],
			map[string]any{"added": map[string]any{"h1": l.underIP(1), "h4": l.underIP(4)}})
	})
	l.wantFlood("h1", moved, l.underIP(4))
	l.wantFlood("h4", moved, l.underIP(1))
	l.wantFlood("h3", l.underIP(1), l.underIP(4))
	l.ping("h1", 3)
	l.ping("h3", 4)

	// A bridge that does not exist is an error, never made silently.
	o := statetest.Apply(t, "net.vxlan_mesh", map[string]any{"peers": "*", "peer_ips": map[string]any{}, "id": 4243,
		"bridge": "nobr" + l.sfx, "netns": l.ns["h1"]}, &states.Call{ID: "lone", Name: "vxn" + l.sfx})
	if o.OK() || !strings.Contains(o.Comment, "nobr"+l.sfx+" does not exist") {
		t.Fatalf("mesh onto a missing bridge: result %s %q", states.ResultString(o.Result), o.Comment)
	}
	if out, ok := nettest.IP(t, l.ns["h1"], "link", "show", "nobr"+l.sfx); ok {
		t.Fatalf("the missing bridge was made: %s", out)
	}
}
