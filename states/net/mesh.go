package net

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/brinecm/brine/pkg/mine"
	"github.com/brinecm/brine/pkg/netx"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("net.vxlan_mesh", states.Func[MeshArgs]{
		Doc: "Ensures the Linux VXLAN device name (VNI id, UDP port dstport, default 4789) in network " +
			"namespace netns joins a full mesh: one device, and one head-end replication forwarding " +
			"entry (00:00:00:00:00:00 dst PEER, self, permanent) per peer, so every peer gets its own " +
			"unicast tunnel; entries for addresses that are no longer peers are removed, a peer whose " +
			"address changed is moved. peers is a target expression (of kind tgt_type, default compound, " +
			"e.g. G@role:mesh) resolved when the recipe is compiled against the master's mine, the grains " +
			"of its accepted minions (masterless: the local minion alone), or an explicit map of minion " +
			"id to address; the minion itself is left out. Each peer's address is the grain peer_ip " +
			"names (default ipv4; nested keys joined by ':'), or failing that the address of the " +
			"interface it names; peers without one are skipped and named in the comment. local_ip " +
			"(default: this minion's own address by the same peer_ip) is the tunnels' source; dev pins " +
			"the underlay link. bridge enslaves the device to a Linux bridge, which must exist or be " +
			"made by a net.link state (it is never created here). mtu, up (default True) and learning " +
			"(default True) are set on the device. Frames received from the mesh are never flooded back " +
			"into it, so a full mesh has no loops.",
		Apply:   vxlanMesh,
		Resolve: resolveMesh,
	})
}

// MeshArgs are net.vxlan_mesh's arguments; the VXLAN device is the
// state's name. PeerIPs and PeersMissing are set by the compiler from
// Peers, TgtType and PeerIP.
type MeshArgs struct {
	mine.PeerArgs
	ID       int    `arg:"id,required"`
	DstPort  int    `arg:"dstport"`
	Dev      string `arg:"dev"`
	Bridge   string `arg:"bridge"`
	MTU      int    `arg:"mtu"`
	Up       *bool  `arg:"up"`
	Learning *bool  `arg:"learning"`
	Netns    string `arg:"netns"`
}

// resolveMesh turns peers into peer_ips and peers_missing when the
// recipe is compiled.
func resolveMesh(ctx context.Context, c *states.Compiling, raw map[string]any) error {
	return mine.ResolveArgs(ctx, c.Mine, c.ID, c.Grains, raw)
}

// meshPlan is what a mesh state wants: the device and the peers to flood
// to, by minion id.
type meshPlan struct {
	spec    *netx.LinkSpec
	peers   map[string]netip.Addr
	skipped []string // peers left out, each with why
}

// planMesh checks the arguments of mesh device name.
func planMesh(name string, a *MeshArgs) (*meshPlan, error) {
	if a.PeerIPs == nil {
		return nil, fmt.Errorf("peers were not resolved: net.vxlan_mesh needs its recipe compiled " +
			"(state.apply resolves peers into peer_ips from the mine), not raw arguments")
	}
	p := &meshPlan{peers: map[string]netip.Addr{}}
	local, err := parseAddr("local_ip", a.LocalIP)
	if err != nil {
		return nil, err
	}
	p.spec = &netx.LinkSpec{
		Name: name, Kind: "vxlan", MTU: a.MTU, Up: a.Up == nil || *a.Up, Master: a.Bridge,
		ID: a.ID, Local: local, DstPort: a.DstPort, Dev: a.Dev,
		Learning: new(a.Learning == nil || *a.Learning),
	}
	if err := p.spec.Check(); err != nil {
		return nil, err
	}
	for _, id := range slices.Sorted(maps.Keys(a.PeerIPs)) {
		ip, err := netip.ParseAddr(a.PeerIPs[id])
		if err != nil {
			return nil, fmt.Errorf("peer_ips: %s: %q is not an IP address", id, a.PeerIPs[id])
		}
		ip = ip.Unmap()
		switch {
		case ip == local:
			p.skipped = append(p.skipped, fmt.Sprintf("%s (its address %s is local_ip)", id, ip))
			continue
		case local.IsValid() && ip.Is4() != local.Is4():
			return nil, fmt.Errorf("peer %s: address %s and local_ip %s are of different IP versions", id, ip, local)
		case !local.IsValid() && ip.Is6():
			return nil, fmt.Errorf("peer %s: IPv6 address %s needs an IPv6 local_ip", id, ip)
		}
		p.peers[id] = ip
	}
	p.skipped = append(p.skipped, a.PeersMissing...)
	slices.Sort(p.skipped)
	return p, nil
}

// floodDiff compares the flood entries a device has with the peers it
// wants: added maps the ids of peers without an entry to their addresses,
// removed lists, sorted, the entries no peer has.
func floodDiff(have []netip.Addr, want map[string]netip.Addr) (added map[string]netip.Addr, removed []netip.Addr) {
	added = map[string]netip.Addr{}
	wanted := map[netip.Addr]bool{}
	for id, ip := range want {
		wanted[ip] = true
		if !slices.Contains(have, ip) {
			added[id] = ip
		}
	}
	for _, ip := range have {
		if !wanted[ip] {
			removed = append(removed, ip)
		}
	}
	slices.SortFunc(removed, netip.Addr.Compare)
	return added, removed
}

// peerList names peers with their addresses, sorted by id.
func peerList(peers map[string]netip.Addr) string {
	if len(peers) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(peers))
	for _, id := range slices.Sorted(maps.Keys(peers)) {
		parts = append(parts, fmt.Sprintf("%s (%s)", id, peers[id]))
	}
	return strings.Join(parts, ", ")
}

func vxlanMesh(ctx context.Context, c *states.Call, a *MeshArgs) states.Outcome {
	p, err := planMesh(c.Name, a)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	ns, err := netx.Open(a.Netns)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	defer ns.Close()
	link, err := ns.PlanLink(p.spec)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	var have []netip.Addr // a device made again starts with no entries
	if !link.Create {
		if have, err = ns.FloodEntries(c.Name); err != nil {
			return states.Failed(err.Error(), nil)
		}
	}
	added, removed := floodDiff(have, p.peers)

	what := fmt.Sprintf("VXLAN mesh %s%s (VNI %d)", c.Name, in(a.Netns), p.spec.ID)
	tail := "; peers: " + peerList(p.peers)
	if len(p.skipped) > 0 {
		tail += "; skipped " + strings.Join(p.skipped, ", ")
	}
	changes := map[string]any{}
	if len(link.Changes) > 0 {
		changes["device"] = link.Changes
	}
	peerChanges := map[string]any{}
	if len(added) > 0 {
		m := map[string]any{}
		for id, ip := range added {
			m[id] = ip.String()
		}
		peerChanges["added"] = m
	}
	if len(removed) > 0 {
		l := make([]any, len(removed))
		for i, ip := range removed {
			l[i] = ip.String()
		}
		peerChanges["removed"] = l
	}
	if len(peerChanges) > 0 {
		changes["peers"] = peerChanges
	}
	if len(changes) == 0 {
		return states.Succeeded(what+" is up to date"+tail, nil)
	}
	summary := summarize(link, len(added), len(removed))
	if c.Test {
		return states.WouldChange(what+" would change: "+summary+tail, changes)
	}

	if len(link.Changes) > 0 {
		if err := ns.EnsureLink(p.spec, link); err != nil {
			return states.Failed(err.Error(), nil)
		}
	}
	for _, ip := range removed {
		if err := ctx.Err(); err != nil {
			return states.Failed(fmt.Sprintf("%s: %v", what, err), nil)
		}
		if err := ns.DeleteFloodEntry(c.Name, ip); err != nil {
			return states.Failed(err.Error(), nil)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(added)) {
		if err := ctx.Err(); err != nil {
			return states.Failed(fmt.Sprintf("%s: %v", what, err), nil)
		}
		if err := ns.AppendFloodEntry(c.Name, added[id]); err != nil {
			return states.Failed(fmt.Sprintf("peer %s: %v", id, err), nil)
		}
	}
	return states.Succeeded(what+" changed: "+summary+tail, changes)
}

// summarize says in words what a mesh state changes.
func summarize(link netx.LinkPlan, added, removed int) string {
	var parts []string
	switch _, recreate := link.Changes["recreated"]; {
	case recreate:
		parts = append(parts, "device recreated")
	case link.Create:
		parts = append(parts, "device created")
	case len(link.Changes) > 0:
		parts = append(parts, "device updated ("+strings.Join(slices.Sorted(maps.Keys(link.Changes)), ", ")+")")
	}
	if added > 0 {
		parts = append(parts, fmt.Sprintf("%d peer(s) added", added))
	}
	if removed > 0 {
		parts = append(parts, fmt.Sprintf("%d stale peer address(es) removed", removed))
	}
	return strings.Join(parts, ", ")
}
