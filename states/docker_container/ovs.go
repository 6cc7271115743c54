package dockercontainer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/brinecm/brine/pkg/netx"
	"github.com/brinecm/brine/pkg/ovsx"
)

// Plugging a container into Open vSwitch, as pipework does: a veth pair
// whose container end (ovs_iface, default eth1) is created in the
// container's network namespace with the wanted MAC and address, and whose
// host end (vb + a hash of the container's name) is a system port of the
// bridge, with the VLAN access tag, marked in its external_ids with
// OVSContainerKey=<container name>. The plug dies with the container's
// namespace (a restart, a recreation): the next run makes it again.

// OVSContainerKey marks, in a port's external_ids, the container whose
// veth the port is.
const OVSContainerKey = "brine-container"

// DefaultOVSIface is the container's end of the veth when ovs_iface is not
// given.
const DefaultOVSIface = "eth1"

// ovsConfig is the validated Open vSwitch plug of a running state.
type ovsConfig struct {
	bridge  string
	iface   string
	addrs   []netip.Prefix   // one per container (replica i gets ip+i-1); nil: addresses unmanaged
	mac     net.HardwareAddr // nil: derived from each container's name
	vlan    *int
	gateway netip.Addr // invalid: routes unmanaged
}

// ifaceRE is what a link name inside the container may be.
var ifaceRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$`) })

// newOVSConfig validates the ovs_bridge arguments; nil when the container
// is not plugged.
func newOVSConfig(a *RunningArgs) (*ovsConfig, error) {
	if a.OVSBridge == "" {
		var given []string
		for _, f := range []struct {
			name string
			set  bool
		}{{"ip", a.IP != ""}, {"mac", a.MAC != ""}, {"vlan", a.VLAN != nil}, {"ovs_iface", a.OVSIface != ""}, {"gateway", a.Gateway != ""}} {
			if f.set {
				given = append(given, f.name)
			}
		}
		if len(given) > 0 {
			return nil, fmt.Errorf("%s given without ovs_bridge, the Open vSwitch bridge to plug the container into", strings.Join(given, ", "))
		}
		return nil, nil
	}
	if err := ovsx.CheckName(a.OVSBridge); err != nil {
		return nil, fmt.Errorf("ovs_bridge: %w", err)
	}
	o := &ovsConfig{bridge: a.OVSBridge, iface: or(a.OVSIface, DefaultOVSIface), vlan: a.VLAN}
	if !ifaceRE().MatchString(o.iface) || o.iface == "lo" {
		return nil, fmt.Errorf("ovs_iface %q: want a link name of 1 to 15 letters, digits or _.- characters, not lo", o.iface)
	}
	if o.vlan != nil && (*o.vlan < 1 || *o.vlan > 4094) {
		return nil, fmt.Errorf("vlan %d: a VLAN access tag is 1 to 4094", *o.vlan)
	}
	count := max(a.Replicas, 1)
	if a.MAC != "" {
		mac, err := net.ParseMAC(a.MAC)
		if err != nil || len(mac) != 6 {
			return nil, fmt.Errorf("mac %q: want an Ethernet address like 02:42:0a:58:00:0a", a.MAC)
		}
		if mac[0]&1 != 0 {
			return nil, fmt.Errorf("mac %s is a multicast address", mac)
		}
		if count > 1 {
			return nil, fmt.Errorf("mac cannot be shared by %d replicas (without it, each gets its own, derived from its name)", count)
		}
		o.mac = mac
	}
	if a.IP != "" {
		first, err := netip.ParsePrefix(a.IP)
		if err != nil {
			return nil, fmt.Errorf("ip %q: want an address with its prefix length, e.g. 10.88.0.10/24", a.IP)
		}
		for i := range count {
			p, err := nthAddr(first, i)
			if err != nil {
				return nil, fmt.Errorf("ip %s: %w", a.IP, err)
			}
			o.addrs = append(o.addrs, p)
		}
	}
	if a.Gateway != "" {
		gw, err := netip.ParseAddr(a.Gateway)
		if err != nil {
			return nil, fmt.Errorf("gateway %q: %w", a.Gateway, err)
		}
		if o.addrs == nil {
			return nil, fmt.Errorf("gateway %s needs ip, an address in its network", gw)
		}
		if !o.addrs[0].Masked().Contains(gw) {
			return nil, fmt.Errorf("gateway %s is not in the network of ip %s", gw, o.addrs[0])
		}
		for _, p := range o.addrs {
			if p.Addr() == gw {
				return nil, fmt.Errorf("gateway %s is the container's own address", gw)
			}
		}
		o.gateway = gw
	}
	return o, nil
}

// nthAddr returns first+i, with first's prefix length; an address out of
// the network, or its network or IPv4 broadcast address, is an error.
func nthAddr(first netip.Prefix, i int) (netip.Prefix, error) {
	bits := first.Addr().BitLen()
	nw := first.Masked()
	n := new(big.Int).SetBytes(first.Addr().AsSlice())
	n.Add(n, big.NewInt(int64(i)))
	if n.BitLen() > bits {
		return netip.Prefix{}, fmt.Errorf("address %d of the replicas is out of network %s", i+1, nw)
	}
	a, _ := netip.AddrFromSlice(n.FillBytes(make([]byte, bits/8)))
	host := bits - first.Bits()
	switch {
	case !nw.Contains(a):
		return netip.Prefix{}, fmt.Errorf("address %d of the replicas is out of network %s", i+1, nw)
	case host >= 2 && a == nw.Addr():
		return netip.Prefix{}, fmt.Errorf("%s is the address of the network itself", a)
	case host >= 2 && a.Is4() && a == lastAddr(nw):
		return netip.Prefix{}, fmt.Errorf("%s is the broadcast address of network %s", a, nw)
	}
	return netip.PrefixFrom(a, first.Bits()), nil
}

// lastAddr is the highest address of an IPv4 network.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	for i := range b {
		host := max(0, min(8, (i+1)*8-p.Bits()))
		b[i] |= byte(1<<host - 1)
	}
	return netip.AddrFrom4(b)
}

// ovsPlug is the plug of one container.
type ovsPlug struct {
	container string
	bridge    string
	iface     string
	hostEnd   string
	addr      netip.Prefix // invalid: unmanaged
	mac       net.HardwareAddr
	vlan      *int
	gateway   netip.Addr
}

// plug is the plug of container name, the i-th (from 0) of the state.
func (o *ovsConfig) plug(name string, i int) ovsPlug {
	p := ovsPlug{container: name, bridge: o.bridge, iface: o.iface, hostEnd: ovsHostEnd(name),
		mac: o.mac, vlan: o.vlan, gateway: o.gateway}
	if p.mac == nil {
		p.mac = ovsMAC(name)
	}
	if i < len(o.addrs) {
		p.addr = o.addrs[i]
	}
	return p
}

// ovsHostEnd names the host end of a container's veth: "vb" and 13 hex
// digits of a hash of the container's name (15 characters, the limit).
func ovsHostEnd(container string) string {
	sum := sha256.Sum256([]byte(container))
	return "vb" + hex.EncodeToString(sum[:])[:13]
}

// ovsMAC derives a stable, locally administered unicast MAC address from a
// container's name, so a recreated container keeps it (and its peers'
// neighbour caches stay right).
func ovsMAC(container string) net.HardwareAddr {
	sum := sha256.Sum256([]byte("mac:" + container))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^1 | 2
	return mac
}

// portSpec is the Open vSwitch port of the plug.
func (p ovsPlug) portSpec() ovsx.PortSpec {
	return ovsx.PortSpec{Name: p.hostEnd, Bridge: p.bridge, Type: "system", Tag: p.vlan,
		ExternalIDs: map[string]string{OVSContainerKey: p.container}}
}

// defaultRoute is the container's default route through the plug.
func (p ovsPlug) defaultRoute() netx.RouteSpec {
	dst := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	if p.gateway.Is6() {
		dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	return netx.RouteSpec{Dst: dst, Gateway: p.gateway, Dev: p.iface}
}

// veth describes the pair for changes.
func (p ovsPlug) veth(iface string) string {
	return p.hostEnd + " <-> " + iface
}

// describe is the plug in one line for comments.
func (p ovsPlug) describe() string {
	var parts []string
	if p.addr.IsValid() {
		parts = append(parts, p.addr.String())
	}
	if p.vlan != nil {
		parts = append(parts, fmt.Sprintf("vlan %d", *p.vlan))
	}
	s := fmt.Sprintf("bridge %s as %s", p.bridge, p.iface)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// newPlugChanges are the changes of a plug made from nothing.
func (p ovsPlug) newPlugChanges() map[string]any {
	ch := map[string]any{
		"veth": oldNew(nil, p.veth(p.iface)),
		"mac":  oldNew(nil, p.mac.String()),
		"port": oldNew(nil, p.hostEnd),
	}
	if p.addr.IsValid() {
		ch["ip"] = oldNew(nil, p.addr.String())
	}
	if p.vlan != nil {
		ch["vlan"] = oldNew(nil, *p.vlan)
	}
	if p.gateway.IsValid() {
		ch["gateway"] = oldNew(nil, p.gateway.String()+" dev "+p.iface)
	}
	return ch
}

// oldNew is one Salt-style change.
func oldNew(old, neu any) map[string]any { return map[string]any{"old": old, "new": neu} }

// plugOVS checks the plug of container p.container and makes what differs
// (in test mode, only reports it). fresh says the container would be
// created, recreated or started (test mode): it would have a new network
// namespace, so the whole plug would be made.
func (r *run) plugOVS(ctx context.Context, p ovsPlug, fresh bool) (map[string]any, string, error) {
	sw := ovsx.New()
	st, err := sw.Read(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("plug container %s into bridge %s: %w", p.container, p.bridge, err)
	}
	br := st.Bridges[p.bridge]
	if br == nil {
		err := fmt.Errorf("plug container %s: bridge %s does not exist in Open vSwitch "+
			"(brine does not create it here: declare it with ovs_bridge.present and require it)", p.container, p.bridge)
		if !r.c.Test {
			return nil, "", err
		}
		// An earlier state may create it.
		return p.newPlugChanges(), fmt.Sprintf("Container %s would be plugged into %s, which does not exist yet", p.container, p.describe()), nil
	}
	netdev := br.DatapathType == "netdev"
	if r.c.Test && fresh {
		return p.newPlugChanges(), fmt.Sprintf("Container %s would be plugged into %s", p.container, p.describe()), nil
	}
	have, err := r.inspect(ctx, p.container)
	if err != nil {
		return nil, "", err
	}
	if have == nil || have.State == nil || !have.State.Running || have.State.Pid <= 0 {
		return nil, "", fmt.Errorf("plug container %s into bridge %s: the container is not running", p.container, p.bridge)
	}
	host, err := netx.Open("")
	if err != nil {
		return nil, "", err
	}
	defer host.Close()
	ctr, err := netx.OpenPID(have.State.Pid)
	if err != nil {
		return nil, "", fmt.Errorf("plug container %s: %w", p.container, err)
	}
	defer ctr.Close()

	pl, err := observePlug(p, st, host, ctr, netdev)
	if err != nil {
		return nil, "", fmt.Errorf("plug container %s: %w", p.container, err)
	}
	if len(pl.changes) == 0 {
		return nil, "", nil
	}
	done := map[bool]string{false: "", true: "would be "}[r.c.Test]
	comment := fmt.Sprintf("Container %s %splugged into %s", p.container, done, p.describe())
	if !pl.newVeth {
		comment = fmt.Sprintf("Open vSwitch plug of container %s %scorrected: %s",
			p.container, done, strings.Join(slices.Sorted(maps.Keys(pl.changes)), ", "))
	}
	if r.c.Test {
		return pl.changes, comment, nil
	}
	if err := pl.apply(ctx, p, sw, host, ctr, netdev); err != nil {
		return nil, "", fmt.Errorf("plug container %s into bridge %s: %w", p.container, p.bridge, err)
	}
	return pl.changes, comment, nil
}

// plugPlan is what differs in one container's plug.
type plugPlan struct {
	changes  map[string]any
	newVeth  bool // the veth pair is (re)made
	readd    bool // the port exists but must be deleted and added again
	havePort *ovsx.Port
	fix      struct{ mac, addr, up, route, txOff bool }
}

// observePlug compares the plug with the container's namespace, the
// host's and the switch.
func observePlug(p ovsPlug, st *ovsx.State, host, ctr *netx.NS, netdev bool) (*plugPlan, error) {
	pl := &plugPlan{changes: map[string]any{}, havePort: st.Ports[p.hostEnd]}
	peer, err := host.VethPeerIn(p.hostEnd, ctr)
	if err != nil {
		return nil, err
	}
	if peer != p.iface {
		// Missing (the container's namespace is new) or renamed: made again.
		if l, err := ctr.Link(p.iface); err != nil {
			return nil, err
		} else if l != nil {
			return nil, fmt.Errorf("the container already has an interface %s that is not its Open vSwitch veth: set ovs_iface to another name", p.iface)
		}
		pl.newVeth = true
		pl.readd = pl.havePort != nil
		old := any(nil)
		if peer != "" {
			old = p.veth(peer)
		}
		maps.Copy(pl.changes, p.newPlugChanges())
		pl.changes["veth"] = oldNew(old, p.veth(p.iface))
		delete(pl.changes, "port")
		delete(pl.changes, "vlan")
		pl.fix.addr, pl.fix.up, pl.fix.route, pl.fix.txOff = p.addr.IsValid(), true, p.gateway.IsValid(), netdev
	} else {
		in, err := ctr.Iface(p.iface)
		if err != nil {
			return nil, err
		}
		out, err := host.Iface(p.hostEnd)
		if err != nil {
			return nil, err
		}
		if in == nil || out == nil {
			return nil, fmt.Errorf("veth %s vanished while it was read", p.veth(p.iface))
		}
		if in.MAC.String() != p.mac.String() {
			pl.changes["mac"] = oldNew(in.MAC.String(), p.mac.String())
			pl.fix.mac = true
		}
		if p.addr.IsValid() && !slices.Equal(in.Addrs, []netip.Prefix{p.addr}) {
			old := make([]string, len(in.Addrs))
			for i, a := range in.Addrs {
				old[i] = a.String()
			}
			pl.changes["ip"] = oldNew(old, p.addr.String())
			pl.fix.addr = true
		}
		if !in.Up || !out.Up {
			pl.changes["up"] = oldNew(false, true)
			pl.fix.up = true
		}
		if p.gateway.IsValid() {
			rs := p.defaultRoute()
			ri, err := ctr.FindRoute(rs)
			if err != nil {
				return nil, err
			}
			if len(rs.Diff(ri)) > 0 {
				old := any(nil)
				if ri != nil && ri.Gateway.IsValid() {
					old = ri.Gateway.String() + " dev " + ri.Dev
				}
				pl.changes["gateway"] = oldNew(old, p.gateway.String()+" dev "+p.iface)
				pl.fix.route = true
			}
		}
		if netdev {
			on, err := ctr.TxChecksum(p.iface)
			if err != nil {
				return nil, err
			}
			if on {
				pl.changes["tx_checksum"] = oldNew(true, false)
				pl.fix.txOff = true
			}
		}
		// Deleting an address, or taking the link down, takes the routes
		// through it along.
		pl.fix.route = pl.fix.route || (p.gateway.IsValid() && (pl.fix.addr || pl.fix.up || pl.fix.mac))
		if pl.havePort != nil && (pl.havePort.Error != "" || pl.havePort.Bridge != p.bridge) {
			// A port whose device ovs-vswitchd lost is only set up again
			// when it is deleted and added back.
			pl.readd = true
			if pl.havePort.Error != "" {
				pl.changes["port"] = oldNew(fmt.Sprintf("%s (%s)", p.hostEnd, pl.havePort.Error), p.hostEnd)
			}
		}
	}
	spec := p.portSpec()
	for k, v := range spec.Diff(pl.havePort) {
		switch k {
		case "tag":
			pl.changes["vlan"] = v
		case "bridge":
			pl.changes["ovs_bridge"] = v
		default:
			pl.changes[k] = v
		}
	}
	return pl, nil
}

// apply makes the plan: the veth, its MAC, address, state and route in the
// container, then the port. A port that must be added again is deleted in
// a transaction of its own: in one transaction ovs-vswitchd would keep the
// lost device.
func (pl *plugPlan) apply(ctx context.Context, p ovsPlug, sw *ovsx.Client, host, ctr *netx.NS, netdev bool) error {
	if pl.newVeth {
		if err := host.AddVethTo(p.hostEnd, ctr, p.iface, p.mac); err != nil {
			return err
		}
	} else if pl.fix.mac {
		if err := ctr.SetMAC(p.iface, p.mac); err != nil {
			return err
		}
	}
	if pl.fix.txOff {
		if err := ctr.SetTxChecksum(p.iface, false); err != nil {
			return err
		}
	}
	if pl.fix.addr {
		if err := ctr.SetAddrs(p.iface, []netip.Prefix{p.addr}); err != nil {
			return err
		}
	}
	if pl.fix.up {
		if err := errors.Join(ctr.SetUp(p.iface), host.SetUp(p.hostEnd)); err != nil {
			return err
		}
	}
	if pl.fix.route {
		if err := ctr.EnsureRoute(p.defaultRoute()); err != nil {
			return err
		}
	}
	if pl.readd {
		if err := sw.RemovePort(ctx, pl.havePort.Bridge, p.hostEnd); err != nil {
			return err
		}
	}
	_, err := sw.EnsurePort(ctx, p.portSpec(), nil)
	return err
}

// ovsFamily reports whether container is the state's own container or
// one of its replicas (state-N).
func ovsFamily(state, container string) bool {
	if container == state {
		return true
	}
	n, ok := strings.CutPrefix(container, state+"-")
	return ok && n != "" && strings.Trim(n, "0123456789") == ""
}

// sweepOVS deletes the ports marked for containers of the state (itself
// or its replicas) other than those in keep, whose container no longer
// exists or whose device is gone: they were left by a removed or scaled
// down container, or one that is stopped (running plugs it again).
func (r *run) sweepOVS(ctx context.Context, state string, keep []string) error {
	sw := ovsx.New()
	st, err := sw.Read(ctx)
	if err != nil {
		return fmt.Errorf("list the Open vSwitch ports of %s: %w", state, err)
	}
	host, err := netx.Open("")
	if err != nil {
		return err
	}
	defer host.Close()
	for _, name := range slices.Sorted(maps.Keys(st.Ports)) {
		port := st.Ports[name]
		owner := port.ExternalIDs[OVSContainerKey]
		if owner == "" || !ovsFamily(state, owner) || slices.Contains(keep, owner) {
			continue
		}
		stale := port.Error != ""
		if !stale {
			l, err := host.Link(name)
			if err != nil {
				return err
			}
			stale = l == nil
		}
		if !stale {
			have, err := r.inspect(ctx, owner)
			if err != nil {
				return err
			}
			stale = have == nil
		}
		if !stale {
			continue
		}
		r.recordUnplug(owner, name, port.Bridge)
		if r.c.Test {
			r.comments = append(r.comments, fmt.Sprintf("Port %s of container %s would be removed from bridge %s", name, owner, port.Bridge))
			continue
		}
		if err := unplugOVS(ctx, []*ovsx.Port{port}); err != nil {
			return err
		}
		r.comments = append(r.comments, fmt.Sprintf("Port %s of container %s removed from bridge %s", name, owner, port.Bridge))
	}
	return nil
}

// recordUnplug adds the removal of a container's port to the changes,
// under the container's name.
func (r *run) recordUnplug(owner, port, bridge string) {
	entry, _ := r.changes[owner].(map[string]any)
	if entry == nil {
		entry = map[string]any{}
		r.changes[owner] = entry
	}
	entry["ovs"] = map[string]any{"port": oldNew(port+" on "+bridge, nil)}
}

// ovsPortsOf lists the Open vSwitch ports marked for each of the named
// containers; none when Open vSwitch does not run here.
func ovsPortsOf(ctx context.Context, names []string) (map[string][]*ovsx.Port, error) {
	sw := ovsx.New()
	if !sw.Available() {
		return nil, nil
	}
	st, err := sw.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the Open vSwitch ports of containers: %w", err)
	}
	out := map[string][]*ovsx.Port{}
	for _, name := range slices.Sorted(maps.Keys(st.Ports)) {
		if owner := st.Ports[name].ExternalIDs[OVSContainerKey]; slices.Contains(names, owner) {
			out[owner] = append(out[owner], st.Ports[name])
		}
	}
	return out, nil
}

// unplugOVS removes the given ports of a removed container, and their
// devices (the host ends of its veths), which the kernel would otherwise
// delete only once it has torn the container's namespace down.
func unplugOVS(ctx context.Context, ports []*ovsx.Port) error {
	if len(ports) == 0 {
		return nil
	}
	sw := ovsx.New()
	host, err := netx.Open("")
	if err != nil {
		return err
	}
	defer host.Close()
	for _, p := range ports {
		if err := sw.RemovePort(ctx, p.Bridge, p.Name); err != nil {
			return err
		}
		if err := host.DeleteLink(p.Name); err != nil && !errors.Is(err, unix.ENODEV) {
			return err
		}
	}
	return nil
}

// portNames describes ports for changes.
func portNames(ports []*ovsx.Port) []string {
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = p.Name + " on " + p.Bridge
	}
	return out
}
