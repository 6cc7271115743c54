package ovsx

import (
	"context"
	"time"
)

// grainTimeout keeps grain collection fast when OVSDB hangs.
const grainTimeout = 2 * time.Second

// Grains returns the ovs grain: {"ovs": {"version": "3.1.0", "bridges":
// ["br0", …]}} when an Open vSwitch database answers, and an empty map when
// none does (the grain is then absent, so top files can target switches
// with `ovs:version:*`). Without a database socket it returns at once.
func Grains(ctx context.Context) map[string]any {
	c := New()
	if !c.Available() {
		return map[string]any{}
	}
	c.Timeout = grainTimeout
	st, err := c.Read(ctx)
	if err != nil {
		return map[string]any{}
	}
	bridges := []any{} // lists in grains are []any, as YAML decodes them
	for _, b := range st.BridgeNames() {
		bridges = append(bridges, b)
	}
	return map[string]any{"ovs": map[string]any{"version": st.Version, "bridges": bridges}}
}
