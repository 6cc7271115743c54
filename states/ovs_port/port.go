// Package ovsport provides the ovs_port state module: ovs_port.present and
// ovs_port.absent manage Open vSwitch ports (system, internal, vxlan,
// geneve and gre tunnels, patch ports) through pkg/ovsx.
package ovsport

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/brinecm/brine/pkg/ovsx"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("ovs_port.present", states.Func[PresentArgs]{
		Doc: "Ensures port name is on bridge with type (system, internal, vxlan, geneve, gre, patch), " +
			"remote_ip, local_ip, key (or vni), dst_port, tag (VLAN; unset: untagged), peer (patch " +
			"ports) and further options; together these are the interface's whole options. A port " +
			"that differs is updated in place. A missing bridge is an error unless create_bridge " +
			"is True; it is then created with datapath_type.",
		Apply: present,
	})
	states.Register("ovs_port.absent", states.Func[AbsentArgs]{
		Doc:   "Ensures port name is on no bridge (or, with bridge, not on that bridge).",
		Apply: absent,
	})
}

// Port types ovs_port.present manages.
var portTypes = []string{"system", "internal", "vxlan", "geneve", "gre", "patch"}

// PresentArgs are ovs_port.present's arguments; the port is the state's name.
type PresentArgs struct {
	Bridge       string            `arg:"bridge,required"`
	Type         string            `arg:"type"`
	RemoteIP     string            `arg:"remote_ip"`
	LocalIP      string            `arg:"local_ip"`
	Key          string            `arg:"key"`
	VNI          string            `arg:"vni"`
	DstPort      int               `arg:"dst_port"`
	Tag          *int              `arg:"tag"`
	Peer         string            `arg:"peer"`
	Options      map[string]string `arg:"options"`
	CreateBridge bool              `arg:"create_bridge"`
	DatapathType string            `arg:"datapath_type"`
}

// AbsentArgs are ovs_port.absent's arguments.
type AbsentArgs struct {
	Bridge string `arg:"bridge"`
}

// spec turns the arguments into the wanted port, and the bridge to create
// when create_bridge is set.
func spec(name string, a *PresentArgs) (ovsx.PortSpec, *ovsx.BridgeSpec, error) {
	s := ovsx.PortSpec{Name: name, Bridge: a.Bridge, Type: a.Type, Tag: a.Tag, Options: map[string]string{}}
	if s.Type == "" {
		s.Type = "system"
	}
	if !slices.Contains(portTypes, s.Type) {
		msg := fmt.Sprintf("type %q: want one of %s", s.Type, strings.Join(portTypes, ", "))
		if sug := states.Suggest(s.Type, portTypes); sug != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", sug)
		}
		return s, nil, fmt.Errorf("%s", msg)
	}
	maps.Copy(s.Options, a.Options)
	if a.Key != "" && a.VNI != "" && a.Key != a.VNI {
		return s, nil, fmt.Errorf("key %s and vni %s disagree: give one", a.Key, a.VNI)
	}
	key := a.Key
	if key == "" {
		key = a.VNI
	}
	named := map[string]string{"remote_ip": a.RemoteIP, "local_ip": a.LocalIP, "key": key, "peer": a.Peer}
	if a.DstPort != 0 {
		if a.DstPort < 1 || a.DstPort > 65535 {
			return s, nil, fmt.Errorf("dst_port %d: want 1 to 65535", a.DstPort)
		}
		named["dst_port"] = strconv.Itoa(a.DstPort)
	}
	tunnel := s.Type == "vxlan" || s.Type == "geneve" || s.Type == "gre"
	for _, k := range slices.Sorted(maps.Keys(named)) {
		v := named[k]
		if v == "" {
			continue
		}
		switch {
		case k == "peer" && s.Type != "patch":
			return s, nil, fmt.Errorf("peer is for patch ports, not %s", s.Type)
		case k != "peer" && !tunnel:
			return s, nil, fmt.Errorf("%s is for tunnel ports (vxlan, geneve, gre), not %s", k, s.Type)
		}
		if old, ok := s.Options[k]; ok && !ovsx.OptionsEqual(map[string]string{k: old}, map[string]string{k: v}) {
			return s, nil, fmt.Errorf("%s %s and options %s=%s disagree", k, v, k, old)
		}
		s.Options[k] = v
	}
	if err := s.Check(); err != nil {
		return s, nil, err
	}
	if a.DatapathType != "" && !a.CreateBridge {
		return s, nil, fmt.Errorf("datapath_type is for a bridge created with create_bridge: True")
	}
	if !a.CreateBridge {
		return s, nil, nil
	}
	return s, &ovsx.BridgeSpec{Name: a.Bridge, DatapathType: a.DatapathType}, nil
}

func present(ctx context.Context, c *states.Call, a *PresentArgs) states.Outcome {
	want, bridge, err := spec(c.Name, a)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	sw := ovsx.New()
	st, err := sw.Read(ctx)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	changes := map[string]any{}
	if st.Bridges[a.Bridge] == nil {
		if bridge == nil {
			return states.Failed(fmt.Sprintf("Bridge %s does not exist; set create_bridge: True to create it", a.Bridge), nil)
		}
		changes["bridge_created"] = a.Bridge
	} else {
		bridge = nil // exists: leave it as it is
	}
	have := st.Ports[c.Name]
	maps.Copy(changes, want.Diff(have))
	if len(changes) == 0 {
		if err := st.PortSetUp(c.Name); err != nil {
			return states.Failed(fmt.Sprintf("Port %s is on bridge %s as configured, but %v", c.Name, a.Bridge, err), nil)
		}
		return states.Succeeded(fmt.Sprintf("Port %s is present on bridge %s and up to date", c.Name, a.Bridge), nil)
	}
	what := "created"
	if have != nil {
		what = fmt.Sprintf("updated (%s differed)", strings.Join(slices.Sorted(maps.Keys(changes)), ", "))
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Port %s on bridge %s would be %s", c.Name, a.Bridge, what), changes)
	}
	if _, err := sw.EnsurePort(ctx, want, bridge); err != nil {
		return states.Failed(err.Error(), changes)
	}
	return states.Succeeded(fmt.Sprintf("Port %s on bridge %s %s", c.Name, a.Bridge, what), changes)
}

func absent(ctx context.Context, c *states.Call, a *AbsentArgs) states.Outcome {
	if err := ovsx.CheckName(c.Name); err != nil {
		return states.Failed(err.Error(), nil)
	}
	sw := ovsx.New()
	st, err := sw.Read(ctx)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	have := st.Ports[c.Name]
	if have == nil || have.Name == have.Bridge || (a.Bridge != "" && have.Bridge != a.Bridge) {
		where := "any bridge"
		if a.Bridge != "" {
			where = "bridge " + a.Bridge
		}
		return states.Succeeded(fmt.Sprintf("Port %s is not on %s", c.Name, where), nil)
	}
	changes := map[string]any{"port": map[string]any{"old": c.Name, "new": nil}, "bridge": have.Bridge}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Port %s would be removed from bridge %s", c.Name, have.Bridge), changes)
	}
	if err := sw.RemovePort(ctx, have.Bridge, c.Name); err != nil {
		return states.Failed(err.Error(), nil)
	}
	return states.Succeeded(fmt.Sprintf("Port %s removed from bridge %s", c.Name, have.Bridge), changes)
}
