// Package ovs provides the ovs execution module: ovs.bridges, ovs.ports
// and ovs.show read the local Open vSwitch configuration through pkg/ovsx.
package ovs

import (
	"context"
	"fmt"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/ovsx"
)

type noArgs struct{}

type portsArgs struct {
	Bridge string `arg:"bridge,required"`
}

func init() {
	modules.Register("ovs.bridges", modules.Func[noArgs]{
		ReadOnly: true,
		Doc:      "List the Open vSwitch bridges, sorted.",
		Call:     bridges,
	})
	modules.Register("ovs.ports", modules.Func[portsArgs]{
		ReadOnly: true,
		Doc:      "Return the ports of bridge, keyed by name: type, tag, options and ofport (and error when ovs-vswitchd could not set one up).",
		Params:   []string{"bridge"},
		Call:     ports,
	})
	modules.Register("ovs.show", modules.Func[noArgs]{
		ReadOnly: true,
		Doc:      "Return the Open vSwitch version and every bridge with its settings and ports.",
		Call:     show,
	})
}

func bridges(ctx context.Context, _ *modules.Runtime, _ *noArgs) (any, error) {
	st, err := ovsx.New().Read(ctx)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, b := range st.BridgeNames() {
		out = append(out, b)
	}
	return out, nil
}

func ports(ctx context.Context, _ *modules.Runtime, a *portsArgs) (any, error) {
	st, err := ovsx.New().Read(ctx)
	if err != nil {
		return nil, err
	}
	if st.Bridges[a.Bridge] == nil {
		return nil, fmt.Errorf("bridge %s does not exist", a.Bridge)
	}
	return portMap(st.PortsOf(a.Bridge)), nil
}

func portMap(ps []*ovsx.Port) map[string]any {
	out := map[string]any{}
	for _, p := range ps {
		m := map[string]any{"type": p.Type, "tag": nil, "options": stringMap(p.Options), "ofport": p.OFPort}
		if p.Tag != nil {
			m["tag"] = *p.Tag
		}
		if p.Error != "" {
			m["error"] = p.Error
		}
		out[p.Name] = m
	}
	return out
}

func show(ctx context.Context, _ *modules.Runtime, _ *noArgs) (any, error) {
	st, err := ovsx.New().Read(ctx)
	if err != nil {
		return nil, err
	}
	brs := map[string]any{}
	for name, b := range st.Bridges {
		brs[name] = map[string]any{
			"datapath_type": b.DatapathType,
			"fail_mode":     b.FailMode,
			"stp":           b.STP,
			"other_config":  stringMap(b.OtherConfig),
			"external_ids":  stringMap(b.ExternalIDs),
			"ports":         portMap(st.PortsOf(name)),
		}
	}
	return map[string]any{"version": st.Version, "bridges": brs}, nil
}

// stringMap converts for output: map[string]any, as every module returns.
func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
