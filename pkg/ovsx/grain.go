package ovsx

import (
	"context"
	"slices"
	"time"

	"github.com/digitalocean/go-openvswitch/ovsdb"
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
	version, names, err := c.summary(ctx)
	if err != nil {
		return map[string]any{}
	}
	bridges := []any{} // lists in grains are []any, as YAML decodes them
	for _, b := range names {
		bridges = append(bridges, b)
	}
	return map[string]any{"ovs": map[string]any{"version": version, "bridges": bridges}}
}

// summary reads the Open vSwitch version and the sorted bridge names in one
// OVSDB transaction: each round trip to ovsdb-server costs about 200 µs,
// and grains are collected at every start.
func (c *Client) summary(ctx context.Context) (version string, bridges []string, err error) {
	err = c.session(ctx, func(ctx context.Context, db *ovsdb.Client) error {
		rows, root, err := selectTable(ctx, db, "Bridge")
		if err != nil {
			return err
		}
		version = str(root["ovs_version"])
		for _, r := range rows {
			bridges = append(bridges, str(r["name"]))
		}
		return nil
	})
	slices.Sort(bridges)
	return version, bridges, err
}
