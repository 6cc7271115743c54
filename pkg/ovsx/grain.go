package ovsx

import (
	"context"
	"fmt"
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
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	db, err := ovsdb.Dial("unix", c.Socket)
	if err != nil {
		return "", nil, fmt.Errorf("connect to OVSDB at %s: %w", c.Socket, err)
	}
	defer db.Close()
	defer func() { // the library panics on some protocol violations
		if r := recover(); r != nil {
			err = fmt.Errorf("read OVSDB: %v", r)
		}
	}()
	// The Open_vSwitch row comes last: its select cannot come back empty.
	rows, err := db.Transact(ctx, "Open_vSwitch", []ovsdb.TransactOp{
		ovsdb.Select{Table: "Bridge"},
		ovsdb.Select{Table: "Open_vSwitch"},
	})
	if err != nil {
		return "", nil, fmt.Errorf("read OVSDB: %w", err)
	}
	if len(rows) == 0 {
		return "", nil, fmt.Errorf("read OVSDB: %w", errNoCanary)
	}
	v, ok := rows[len(rows)-1]["ovs_version"]
	if !ok {
		return "", nil, fmt.Errorf("read OVSDB: %w", errNoCanary)
	}
	version = str(v)
	for _, r := range rows[:len(rows)-1] {
		bridges = append(bridges, str(r["name"]))
	}
	slices.Sort(bridges)
	return version, bridges, nil
}
