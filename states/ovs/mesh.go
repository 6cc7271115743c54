// Package ovs provides ovs.mesh, a self-maintaining mesh of Open vSwitch
// tunnels: one tunnel port per peer, where the peers are the minions a
// target expression selects in the master's mine, resolved when the
// recipe is compiled.
package ovs

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/brinecm/brine/pkg/mine"
	"github.com/brinecm/brine/pkg/ovsx"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("ovs.mesh", states.Func[MeshArgs]{
		Doc: "Keeps exactly one tunnel port (type vxlan, geneve or gre; key, dst_port, options) on " +
			"bridge (default: the name) for every peer: the minions peers selects (a target " +
			"expression of tgt_type, default compound, e.g. G@role:docker; or a map of minion id " +
			"to address), each reached at the address peer_ip names in its grains (a grain such " +
			"as ipv4 or a custom underlay_ip, or an interface name; default ipv4). The master " +
			"resolves the peers from its mine when it compiles the recipe; this minion is never " +
			"its own peer. Tunnel ports of the mesh whose peer left are removed; a peer whose " +
			"address changed is updated in place. Tunnel ports are protected (they do not " +
			"forward to each other), so a full mesh has no loops. local_ip defaults to this " +
			"minion's own peer_ip address. A missing bridge is an error unless create_bridge is " +
			"True (then made with datapath_type).",
		Apply:   mesh,
		Resolve: resolve,
	})
}

// MeshArgs are ovs.mesh's arguments.
type MeshArgs struct {
	mine.PeerArgs
	Bridge       string            `arg:"bridge"`
	Type         string            `arg:"type"`
	Key          string            `arg:"key"`
	VNI          string            `arg:"vni"`
	DstPort      int               `arg:"dst_port"`
	Options      map[string]string `arg:"options"`
	PortPrefix   string            `arg:"port_prefix"`
	CreateBridge bool              `arg:"create_bridge"`
	DatapathType string            `arg:"datapath_type"`
}

// External ids marking the ports a mesh owns.
const (
	meshIDKey = "brine-mesh"
	peerIDKey = "brine-peer"
)

func resolve(ctx context.Context, c *states.Compiling, raw map[string]any) error {
	return mine.ResolveArgs(ctx, c.Mine, c.ID, c.Grains, raw)
}

// plan is a mesh's wanted ports.
type plan struct {
	bridge string
	id     string // the mesh's mark: type and key
	ports  map[string]ovsx.PortSpec
	create *ovsx.BridgeSpec
}

// tunnelTypes are the port types a mesh is made of, with the default
// prefix of their port names.
var tunnelTypes = map[string]string{"vxlan": "vx", "geneve": "gnv", "gre": "gre"}

func newPlan(name string, a *MeshArgs) (*plan, error) {
	if a.PeerIPs == nil {
		return nil, fmt.Errorf("peers were not resolved: %v is a target the master resolves when it compiles the recipe", a.Peers)
	}
	p := &plan{bridge: a.Bridge, ports: map[string]ovsx.PortSpec{}}
	if p.bridge == "" {
		p.bridge = name
	}
	typ := a.Type
	if typ == "" {
		typ = "vxlan"
	}
	prefix, ok := tunnelTypes[typ]
	if !ok {
		kinds := slices.Sorted(maps.Keys(tunnelTypes))
		msg := fmt.Sprintf("type %q: want one of %s", typ, strings.Join(kinds, ", "))
		if s := states.Suggest(typ, kinds); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	if a.PortPrefix != "" {
		prefix = a.PortPrefix
	}
	if len(prefix) > 6 {
		return nil, fmt.Errorf("port_prefix %q: at most 6 characters (port names are at most 15)", prefix)
	}
	if a.Key != "" && a.VNI != "" && a.Key != a.VNI {
		return nil, fmt.Errorf("key %s and vni %s disagree: give one", a.Key, a.VNI)
	}
	key := a.Key
	if key == "" {
		key = a.VNI
	}
	if a.DstPort < 0 || a.DstPort > 65535 {
		return nil, fmt.Errorf("dst_port %d: want 1 to 65535", a.DstPort)
	}
	for _, k := range []string{"remote_ip", "local_ip", "key", "dst_port"} {
		if _, ok := a.Options[k]; ok {
			return nil, fmt.Errorf("options: %s is set by the mesh; give it as an argument", k)
		}
	}
	p.id = typ + ":" + key
	protected := true
	for peer, ip := range a.PeerIPs {
		opts := maps.Clone(a.Options)
		if opts == nil {
			opts = map[string]string{}
		}
		opts["remote_ip"] = ip
		if key != "" {
			opts["key"] = key
		}
		if a.DstPort != 0 {
			opts["dst_port"] = strconv.Itoa(a.DstPort)
		}
		if a.LocalIP != "" {
			opts["local_ip"] = a.LocalIP
		}
		s := ovsx.PortSpec{
			Name:        portName(prefix, p.bridge, p.id, peer),
			Bridge:      p.bridge,
			Type:        typ,
			Options:     opts,
			ExternalIDs: map[string]string{meshIDKey: p.id, peerIDKey: peer},
			Protected:   &protected,
		}
		if err := s.Check(); err != nil {
			return nil, fmt.Errorf("peer %s: %w", peer, err)
		}
		p.ports[peer] = s
	}
	if a.DatapathType != "" && !a.CreateBridge {
		return nil, fmt.Errorf("datapath_type is for a bridge created with create_bridge: True")
	}
	if a.CreateBridge {
		p.create = &ovsx.BridgeSpec{Name: p.bridge, DatapathType: a.DatapathType}
		if err := p.create.Check(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// portName names the tunnel to peer: the prefix and a hash of the bridge,
// the mesh and the peer, stable across runs and at most 15 characters.
func portName(prefix, bridge, id, peer string) string {
	h := fnv.New32a()
	h.Write([]byte(bridge + "\x00" + id + "\x00" + peer))
	return fmt.Sprintf("%s-%08x", prefix, h.Sum32())
}

func mesh(ctx context.Context, c *states.Call, a *MeshArgs) states.Outcome {
	p, err := newPlan(c.Name, a)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	sw := ovsx.New()
	st, err := sw.Read(ctx)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	changes := map[string]any{}
	bridge := p.create
	if st.Bridges[p.bridge] == nil {
		if bridge == nil {
			return states.Failed(fmt.Sprintf("Bridge %s does not exist; set create_bridge: True to create it", p.bridge), nil)
		}
		changes["bridge_created"] = p.bridge
	} else {
		bridge = nil // exists: leave it as it is
	}

	added, updated, removed := map[string]any{}, map[string]any{}, map[string]any{}
	var ensure []ovsx.PortSpec
	var remove []string
	wanted := map[string]bool{}
	for _, peer := range slices.Sorted(maps.Keys(p.ports)) {
		s := p.ports[peer]
		wanted[s.Name] = true
		have := st.Ports[s.Name]
		switch d := s.Diff(have); {
		case have == nil:
			added[peer] = s.Options["remote_ip"]
			ensure = append(ensure, s)
		case len(d) > 0:
			updated[peer] = d
			ensure = append(ensure, s)
		}
	}
	for _, port := range st.PortsOf(p.bridge) {
		if port.ExternalIDs[meshIDKey] == p.id && !wanted[port.Name] {
			removed[port.ExternalIDs[peerIDKey]] = port.Options["remote_ip"]
			remove = append(remove, port.Name)
		}
	}
	for k, m := range map[string]map[string]any{"added": added, "updated": updated, "removed": removed} {
		if len(m) > 0 {
			changes[k] = m
		}
	}
	summary := describe(p, a.PeersMissing)
	if len(changes) == 0 {
		for _, s := range p.ports {
			if err := st.PortSetUp(s.Name); err != nil {
				return states.Failed(fmt.Sprintf("%s, but %v", summary, err), nil)
			}
		}
		return states.Succeeded(summary+"; up to date", nil)
	}
	what := fmt.Sprintf("%d added, %d updated, %d removed", len(added), len(updated), len(removed))
	if c.Test {
		return states.WouldChange(fmt.Sprintf("%s; would be changed: %s", summary, what), changes)
	}
	if _, err := sw.ApplyPorts(ctx, p.bridge, bridge, ensure, remove); err != nil {
		return states.Failed(fmt.Sprintf("%s: %v", summary, err), changes)
	}
	return states.Succeeded(fmt.Sprintf("%s; %s", summary, what), changes)
}

// describe says what the mesh is: its bridge, its peers and who was left out.
func describe(p *plan, missing []string) string {
	peers := make([]string, 0, len(p.ports))
	for _, peer := range slices.Sorted(maps.Keys(p.ports)) {
		peers = append(peers, peer+" "+p.ports[peer].Options["remote_ip"])
	}
	s := fmt.Sprintf("Mesh %s on bridge %s: %d peers", p.id, p.bridge, len(peers))
	if len(peers) > 0 {
		s += " (" + strings.Join(peers, ", ") + ")"
	}
	if len(missing) > 0 {
		s += "; skipped for want of an address: " + strings.Join(missing, ", ")
	}
	return s
}
