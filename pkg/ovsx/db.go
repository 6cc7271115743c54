package ovsx

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/digitalocean/go-openvswitch/ovsdb"
)

// Bridge is one Open vSwitch bridge as OVSDB describes it.
type Bridge struct {
	Name         string
	DatapathType string // "" means OVS's default, system
	FailMode     string // "", "standalone" or "secure"
	STP          bool
	OtherConfig  map[string]string
	ExternalIDs  map[string]string
	Ports        []string // sorted, the bridge's own internal port included
	// OFPort is the OpenFlow port number of the bridge's local interface;
	// 0 when ovs-vswitchd could not set the bridge up (e.g. the system
	// datapath without the kernel module).
	OFPort int
}

// Port is one Open vSwitch port and its interface of the same name.
type Port struct {
	Name    string
	Bridge  string
	Type    string // "system" when OVSDB has ""
	Tag     *int   // nil: untagged
	Options map[string]string
	// Error is the interface's error column: why ovs-vswitchd could not set
	// it up, "" when it could.
	Error  string
	OFPort int // -1 or 0 when not set up
	// ExternalIDs is the port's external_ids column: brine marks the ports
	// it owns there (a mesh's tunnels, a container's veth).
	ExternalIDs map[string]string
	// Protected ports do not forward flooded or learned traffic to each
	// other (split horizon), only to unprotected ports.
	Protected bool
}

// State is a snapshot of the switch: its version, bridges and ports.
type State struct {
	Version string
	Bridges map[string]*Bridge
	Ports   map[string]*Port
}

// BridgeNames lists the bridges, sorted.
func (s *State) BridgeNames() []string {
	return slices.Sorted(maps.Keys(s.Bridges))
}

// PortsOf lists the ports of bridge, sorted by name, without the bridge's
// own internal port.
func (s *State) PortsOf(bridge string) []*Port {
	var out []*Port
	for _, p := range s.Ports {
		if p.Bridge == bridge && p.Name != bridge {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Read takes a snapshot of the switch configuration from OVSDB.
func (c *Client) Read(ctx context.Context) (*State, error) {
	var st *State
	err := c.session(ctx, func(ctx context.Context, db *ovsdb.Client) error {
		var err error
		st, err = readState(ctx, db)
		return err
	})
	return st, err
}

// session connects to OVSDB and runs fn, bounded by the client's timeout.
func (c *Client) session(ctx context.Context, fn func(context.Context, *ovsdb.Client) error) (err error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	db, err := ovsdb.Dial("unix", c.Socket)
	if err != nil {
		return fmt.Errorf("connect to OVSDB at %s: %w", c.Socket, err)
	}
	defer db.Close()
	defer func() { // the library panics on some protocol violations
		if r := recover(); r != nil {
			err = fmt.Errorf("read OVSDB: %v", r)
		}
	}()
	return fn(ctx, db)
}

// readState reads the bridges, ports and interfaces from db.
func readState(ctx context.Context, db *ovsdb.Client) (*State, error) {
	ifaces, root, err := selectTable(ctx, db, "Interface")
	if err != nil {
		return nil, err
	}
	st := &State{Version: str(root["ovs_version"]), Bridges: map[string]*Bridge{}, Ports: map[string]*Port{}}
	ifaceByUUID := map[string]ovsdb.Row{}
	for _, r := range ifaces {
		ifaceByUUID[uuid(r["_uuid"])] = r
	}
	ports, _, err := selectTable(ctx, db, "Port")
	if err != nil {
		return nil, err
	}
	portByUUID := map[string]ovsdb.Row{}
	for _, r := range ports {
		portByUUID[uuid(r["_uuid"])] = r
	}
	bridges, _, err := selectTable(ctx, db, "Bridge")
	if err != nil {
		return nil, err
	}
	for _, r := range bridges {
		b := &Bridge{
			Name:         str(r["name"]),
			DatapathType: str(r["datapath_type"]),
			FailMode:     str(r["fail_mode"]),
			STP:          boolean(r["stp_enable"]),
			OtherConfig:  strMap(r["other_config"]),
			ExternalIDs:  strMap(r["external_ids"]),
		}
		for _, pu := range uuids(r["ports"]) {
			pr, ok := portByUUID[pu]
			if !ok {
				continue
			}
			p := &Port{Name: str(pr["name"]), Bridge: b.Name, Tag: optInt(pr["tag"]),
				ExternalIDs: strMap(pr["external_ids"]), Protected: boolean(pr["protected"])}
			for _, iu := range uuids(pr["interfaces"]) {
				ir, ok := ifaceByUUID[iu]
				if !ok || str(ir["name"]) != p.Name {
					continue
				}
				p.Type = str(ir["type"])
				p.Options = strMap(ir["options"])
				p.Error = str(ir["error"])
				if n := optInt(ir["ofport"]); n != nil {
					p.OFPort = *n
				}
			}
			if p.Type == "" {
				p.Type = "system"
			}
			if p.Name == b.Name {
				b.OFPort = p.OFPort
			}
			b.Ports = append(b.Ports, p.Name)
			st.Ports[p.Name] = p
		}
		sort.Strings(b.Ports)
		st.Bridges[b.Name] = b
	}
	return st, nil
}

// selectTable reads every row of table, and the root table's row.
// go-openvswitch flattens the rows of a transaction's operations and drops
// a failed operation's error, so each table is read with a canary select of
// the root table after it: the server stops at a failed operation, and a
// missing canary row means the first select failed.
func selectTable(ctx context.Context, db *ovsdb.Client, table string) (rows []ovsdb.Row, root ovsdb.Row, err error) {
	rows, err = db.Transact(ctx, "Open_vSwitch", []ovsdb.TransactOp{
		ovsdb.Select{Table: table},
		ovsdb.Select{Table: "Open_vSwitch"},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read OVSDB table %s: %w", table, err)
	}
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("read OVSDB table %s: %w", table, errNoCanary)
	}
	root = rows[len(rows)-1]
	if _, ok := root["ovs_version"]; !ok {
		return nil, nil, fmt.Errorf("read OVSDB table %s: %w", table, errNoCanary)
	}
	return rows[:len(rows)-1], root, nil
}

var errNoCanary = errors.New("the server answered with an error")

// OVSDB's JSON notation (RFC 7047): an atom, ["uuid", id], ["set", [atoms]]
// or ["map", [[key, value]...]]. An optional column is a set of 0 or 1 atoms.

// str returns a string atom, or the single element of a set, or "".
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		if set := setItems(x); len(set) == 1 {
			return str(set[0])
		}
	}
	return ""
}

func boolean(v any) bool {
	b, _ := v.(bool)
	return b
}

// optInt returns an integer atom or the single integer of a set, else nil.
func optInt(v any) *int {
	switch x := v.(type) {
	case float64:
		n := int(x)
		return &n
	case []any:
		if set := setItems(x); len(set) == 1 {
			return optInt(set[0])
		}
	}
	return nil
}

// setItems returns the atoms of ["set", [...]]; nil for anything else.
func setItems(v []any) []any {
	if len(v) == 2 && v[0] == "set" {
		items, _ := v[1].([]any)
		return items
	}
	return nil
}

// uuid returns the id of ["uuid", id].
func uuid(v any) string {
	if x, ok := v.([]any); ok && len(x) == 2 && x[0] == "uuid" {
		s, _ := x[1].(string)
		return s
	}
	return ""
}

// uuids returns the ids of a uuid or a set of uuids.
func uuids(v any) []string {
	x, ok := v.([]any)
	if !ok {
		return nil
	}
	if id := uuid(x); id != "" {
		return []string{id}
	}
	var out []string
	for _, it := range setItems(x) {
		if id := uuid(it); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// strMap returns a ["map", [[k, v]...]] of strings; never nil.
func strMap(v any) map[string]string {
	out := map[string]string{}
	x, ok := v.([]any)
	if !ok || len(x) != 2 || x[0] != "map" {
		return out
	}
	pairs, _ := x[1].([]any)
	for _, p := range pairs {
		kv, ok := p.([]any)
		if !ok || len(kv) != 2 {
			continue
		}
		k, _ := kv[0].(string)
		out[k] = fmt.Sprint(kv[1])
	}
	return out
}
