// Package ovsbridge provides the ovs_bridge state module:
// ovs_bridge.present and ovs_bridge.absent manage Open vSwitch bridges
// through pkg/ovsx.
package ovsbridge

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/brinecm/brine/pkg/ovsx"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("ovs_bridge.present", states.Func[PresentArgs]{
		Doc: "Ensures the Open vSwitch bridge name exists with datapath_type (system, or netdev: " +
			"the userspace datapath, needed without the kernel module), fail_mode (standalone or " +
			"secure), stp, and the given other_config and external_ids keys (other keys are kept). " +
			"Unset arguments leave an existing bridge's value alone.",
		Apply: present,
	})
	states.Register("ovs_bridge.absent", states.Func[AbsentArgs]{
		Doc:   "Ensures the Open vSwitch bridge name does not exist, removing its ports with it.",
		Apply: absent,
	})
}

// PresentArgs are ovs_bridge.present's arguments; the bridge is the state's name.
type PresentArgs struct {
	DatapathType string            `arg:"datapath_type"`
	FailMode     string            `arg:"fail_mode"`
	STP          *bool             `arg:"stp"`
	OtherConfig  map[string]string `arg:"other_config"`
	ExternalIDs  map[string]string `arg:"external_ids"`
}

// AbsentArgs are ovs_bridge.absent's arguments (none besides the name).
type AbsentArgs struct{}

func present(ctx context.Context, c *states.Call, a *PresentArgs) states.Outcome {
	spec := ovsx.BridgeSpec{
		Name:         c.Name,
		DatapathType: a.DatapathType,
		FailMode:     a.FailMode,
		STP:          a.STP,
		OtherConfig:  a.OtherConfig,
		ExternalIDs:  a.ExternalIDs,
	}
	if err := spec.Check(); err != nil {
		return states.Failed(err.Error(), nil)
	}
	sw := ovsx.New()
	st, err := sw.Read(ctx)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	have := st.Bridges[c.Name]
	changes := spec.Diff(have)
	if len(changes) == 0 {
		if err := have.SetUp(); err != nil {
			return states.Failed(err.Error(), nil)
		}
		return states.Succeeded(fmt.Sprintf("Bridge %s is present and up to date", c.Name), nil)
	}
	what := "created"
	if have != nil {
		what = fmt.Sprintf("updated (%s differed)", strings.Join(slices.Sorted(maps.Keys(changes)), ", "))
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Bridge %s would be %s", c.Name, what), changes)
	}
	if _, err := sw.EnsureBridge(ctx, spec); err != nil {
		return states.Failed(err.Error(), changes)
	}
	return states.Succeeded(fmt.Sprintf("Bridge %s %s", c.Name, what), changes)
}

func absent(ctx context.Context, c *states.Call, _ *AbsentArgs) states.Outcome {
	if err := ovsx.CheckName(c.Name); err != nil {
		return states.Failed(err.Error(), nil)
	}
	sw := ovsx.New()
	st, err := sw.Read(ctx)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	have := st.Bridges[c.Name]
	if have == nil {
		return states.Succeeded(fmt.Sprintf("Bridge %s does not exist", c.Name), nil)
	}
	changes := map[string]any{"bridge": map[string]any{"old": c.Name, "new": nil}}
	if ports := st.PortsOf(c.Name); len(ports) > 0 {
		names := make([]string, len(ports))
		for i, p := range ports {
			names[i] = p.Name
		}
		changes["ports"] = map[string]any{"old": names, "new": nil}
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Bridge %s would be removed", c.Name), changes)
	}
	if err := sw.RemoveBridge(ctx, c.Name); err != nil {
		return states.Failed(err.Error(), nil)
	}
	return states.Succeeded(fmt.Sprintf("Bridge %s removed", c.Name), changes)
}
