package ovsx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// BridgeSpec is the wanted configuration of a bridge. Empty fields and nil
// pointers leave what exists alone; the keys of OtherConfig and ExternalIDs
// are set, other keys are kept (other tools write there too).
type BridgeSpec struct {
	Name         string
	DatapathType string // "system", "netdev"
	FailMode     string // "standalone", "secure"
	STP          *bool
	OtherConfig  map[string]string
	ExternalIDs  map[string]string
}

// Check validates the spec.
func (s BridgeSpec) Check() error {
	if err := CheckName(s.Name); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	switch s.FailMode {
	case "", "standalone", "secure":
	default:
		return fmt.Errorf("fail_mode %q: want standalone or secure", s.FailMode)
	}
	if s.DatapathType != "" && CheckName(s.DatapathType) != nil {
		return fmt.Errorf("invalid datapath_type %q", s.DatapathType)
	}
	return nil
}

// Diff lists what differs between have (nil: the bridge does not exist)
// and the spec, as Salt-style {"old": …, "new": …} changes.
func (s BridgeSpec) Diff(have *Bridge) map[string]any {
	out := map[string]any{}
	if have == nil {
		out["bridge"] = change(nil, s.Name)
		have = &Bridge{}
	}
	if s.DatapathType != "" && normDatapath(have.DatapathType) != normDatapath(s.DatapathType) {
		out["datapath_type"] = change(have.DatapathType, s.DatapathType)
	}
	if s.FailMode != "" && have.FailMode != s.FailMode {
		out["fail_mode"] = change(have.FailMode, s.FailMode)
	}
	if s.STP != nil && have.STP != *s.STP {
		out["stp"] = change(have.STP, *s.STP)
	}
	if d := mapDiff(have.OtherConfig, s.OtherConfig); d != nil {
		out["other_config"] = d
	}
	if d := mapDiff(have.ExternalIDs, s.ExternalIDs); d != nil {
		out["external_ids"] = d
	}
	return out
}

// setArgs are the ovs-vsctl column assignments for the spec.
func (s BridgeSpec) setArgs() []string {
	var out []string
	if s.DatapathType != "" {
		out = append(out, "datapath_type="+quote(s.DatapathType))
	}
	if s.FailMode != "" {
		out = append(out, "fail_mode="+s.FailMode)
	}
	if s.STP != nil {
		out = append(out, fmt.Sprintf("stp_enable=%t", *s.STP))
	}
	for _, k := range slices.Sorted(maps.Keys(s.OtherConfig)) {
		out = append(out, "other_config:"+quote(k)+"="+quote(s.OtherConfig[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(s.ExternalIDs)) {
		out = append(out, "external_ids:"+quote(k)+"="+quote(s.ExternalIDs[k]))
	}
	return out
}

// bridgeCommands is the part of a transaction that creates the bridge if
// it is missing and sets its columns.
func (s BridgeSpec) bridgeCommands() []string {
	cmd := []string{"--", "--may-exist", "add-br", s.Name}
	if set := s.setArgs(); len(set) > 0 {
		cmd = append(cmd, "--", "set", "Bridge", s.Name)
		cmd = append(cmd, set...)
	}
	return cmd
}

// EnsureBridge creates or updates the bridge in one ovs-vsctl transaction,
// then reads it back and checks that it matches and that ovs-vswitchd set
// it up. It returns the bridge as it now is.
func (c *Client) EnsureBridge(ctx context.Context, s BridgeSpec) (*Bridge, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	if _, err := c.vsctl(ctx, s.bridgeCommands()...); err != nil {
		return nil, fmt.Errorf("set up bridge %s: %w", s.Name, err)
	}
	st, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	return st.Bridges[s.Name], verifyBridge(s, st.Bridges[s.Name])
}

func verifyBridge(s BridgeSpec, b *Bridge) error {
	if b == nil {
		return fmt.Errorf("bridge %s is missing after it was added", s.Name)
	}
	if d := s.Diff(b); len(d) > 0 {
		return fmt.Errorf("bridge %s still differs after it was set: %v", s.Name, d)
	}
	return b.SetUp()
}

// SetUp returns an error when ovs-vswitchd could not set the bridge up
// (it has no OpenFlow port), e.g. the system datapath without the
// openvswitch kernel module.
func (b *Bridge) SetUp() error {
	if b.OFPort <= 0 {
		return fmt.Errorf("ovs-vswitchd could not set up bridge %s with datapath_type %s "+
			"(the system datapath needs the openvswitch kernel module; datapath_type netdev does not)",
			b.Name, normDatapath(b.DatapathType))
	}
	return nil
}

// PortSpec is the wanted configuration of a port and its interface of the
// same name. Options is the interface's whole options column: keys not in
// it are removed. Tag nil means untagged.
type PortSpec struct {
	Name    string
	Bridge  string
	Type    string // "system" (or ""), "internal", "vxlan", "geneve", "gre", "patch", …
	Tag     *int
	Options map[string]string
	// ExternalIDs are set on the port's external_ids; other keys are kept.
	ExternalIDs map[string]string
	// Protected, when not nil, sets the port's protected column.
	Protected *bool
}

// Port types that need a remote_ip option.
var tunnelTypes = map[string]bool{"vxlan": true, "geneve": true, "gre": true}

// Check validates the spec.
func (s PortSpec) Check() error {
	if err := CheckName(s.Name); err != nil {
		return fmt.Errorf("port: %w", err)
	}
	if err := CheckName(s.Bridge); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	if s.Name == s.Bridge {
		return fmt.Errorf("port %s has the name of its bridge", s.Name)
	}
	if s.Type != "" && CheckName(s.Type) != nil {
		return fmt.Errorf("invalid port type %q", s.Type)
	}
	if s.Tag != nil && (*s.Tag < 0 || *s.Tag > 4095) {
		return fmt.Errorf("tag %d: a VLAN tag is 0 to 4095", *s.Tag)
	}
	t := normType(s.Type)
	if tunnelTypes[t] && s.Options["remote_ip"] == "" {
		return fmt.Errorf("a %s port needs remote_ip", t)
	}
	if t == "patch" && s.Options["peer"] == "" {
		return fmt.Errorf("a patch port needs peer")
	}
	for _, k := range []string{"remote_ip", "local_ip"} {
		if v, ok := s.Options[k]; ok && v != "flow" {
			if _, err := netip.ParseAddr(v); err != nil {
				return fmt.Errorf("%s %q is not an IP address", k, v)
			}
		}
	}
	for _, k := range []string{"key", "in_key", "out_key", "dst_port"} {
		if v, ok := s.Options[k]; ok && v != "flow" {
			if _, err := strconv.ParseUint(v, 0, 64); err != nil {
				return fmt.Errorf("%s %q is not a number", k, v)
			}
		}
	}
	return nil
}

// Diff lists what differs between have (nil: the port does not exist) and
// the spec. Options are compared by parsed value: remote_ip 10.0.0.01 is
// 10.0.0.1, key 0x2a is 42, "True" is "true".
func (s PortSpec) Diff(have *Port) map[string]any {
	out := map[string]any{}
	if have == nil {
		out["port"] = change(nil, s.Name)
		if t := normType(s.Type); t != "system" {
			out["type"] = change(nil, t)
		}
		if s.Tag != nil {
			out["tag"] = change(nil, *s.Tag)
		}
		if len(s.Options) > 0 {
			out["options"] = change(nil, canonical(s.Options))
		}
		if s.Protected != nil && *s.Protected {
			out["protected"] = change(nil, true)
		}
		return out
	}
	if d := mapDiff(have.ExternalIDs, s.ExternalIDs); d != nil {
		out["external_ids"] = d
	}
	if s.Protected != nil && have.Protected != *s.Protected {
		out["protected"] = change(have.Protected, *s.Protected)
	}
	if have.Bridge != s.Bridge {
		out["bridge"] = change(have.Bridge, s.Bridge)
	}
	if normType(have.Type) != normType(s.Type) {
		out["type"] = change(have.Type, normType(s.Type))
	}
	if !sameTag(have.Tag, s.Tag) {
		out["tag"] = change(tagValue(have.Tag), tagValue(s.Tag))
	}
	if !OptionsEqual(have.Options, s.Options) {
		out["options"] = change(canonical(have.Options), canonical(s.Options))
	}
	return out
}

// portCommands is the part of a transaction that creates or updates the
// port: moved to s.Bridge if it is on another, its interface type and
// whole options column set, its tag set or cleared.
func (s PortSpec) portCommands(have *Port) []string {
	var cmd []string
	if have != nil && have.Bridge != s.Bridge {
		cmd = append(cmd, "--", "del-port", have.Bridge, s.Name)
	}
	cmd = append(cmd, "--", "--may-exist", "add-port", s.Bridge, s.Name,
		"--", "set", "Interface", s.Name, "type="+quote(ovsType(s.Type)), "options="+mapLiteral(canonical(s.Options)))
	if s.Tag != nil {
		cmd = append(cmd, "--", "set", "Port", s.Name, fmt.Sprintf("tag=%d", *s.Tag))
	} else {
		cmd = append(cmd, "--", "clear", "Port", s.Name, "tag")
	}
	var set []string
	for _, k := range slices.Sorted(maps.Keys(s.ExternalIDs)) {
		set = append(set, "external_ids:"+quote(k)+"="+quote(s.ExternalIDs[k]))
	}
	if s.Protected != nil {
		set = append(set, fmt.Sprintf("protected=%t", *s.Protected))
	}
	if len(set) > 0 {
		cmd = append(append(cmd, "--", "set", "Port", s.Name), set...)
	}
	return cmd
}

// EnsurePort creates or updates the port in one ovs-vsctl transaction; when
// bridge is not nil, the same transaction creates or updates that bridge
// first. It then reads the port back and checks that it matches and that
// ovs-vswitchd set its interface up (a tunnel with a bad option or a
// system port without a device is an error here). It returns the port as
// it now is.
func (c *Client) EnsurePort(ctx context.Context, s PortSpec, bridge *BridgeSpec) (*Port, error) {
	st, err := c.ApplyPorts(ctx, s.Bridge, bridge, []PortSpec{s}, nil)
	if st == nil {
		return nil, err
	}
	return st.Ports[s.Name], err
}

// PortSetUp returns an error when ovs-vswitchd could not set up port name
// (its interface's error column). A patch port whose peer does not exist
// yet is not an error: its pair is usually made one port at a time.
func (s *State) PortSetUp(name string) error {
	p := s.Ports[name]
	if p == nil || p.Error == "" {
		return nil
	}
	if normType(p.Type) == "patch" && s.Ports[p.Options["peer"]] == nil {
		return nil
	}
	return fmt.Errorf("ovs-vswitchd could not set up port %s: %s", name, p.Error)
}

// OptionsEqual compares two options columns by parsed value.
func OptionsEqual(a, b map[string]string) bool {
	return maps.Equal(canonical(a), canonical(b))
}

// canonical returns the options with each value in canonical form; never nil.
func canonical(opts map[string]string) map[string]string {
	out := make(map[string]string, len(opts))
	for k, v := range opts {
		out[k] = canonicalValue(v)
	}
	return out
}

// canonicalValue parses an option value: an IP address, an unsigned
// number (decimal, 0x hex), a boolean, else the trimmed string.
func canonicalValue(v string) string {
	v = strings.TrimSpace(v)
	if a, err := netip.ParseAddr(v); err == nil {
		return a.String()
	}
	if n, err := strconv.ParseUint(v, 0, 64); err == nil {
		return strconv.FormatUint(n, 10)
	}
	switch strings.ToLower(v) {
	case "true", "false":
		return strings.ToLower(v)
	}
	return v
}

// normType maps OVSDB's empty interface type to its meaning, "system".
func normType(t string) string {
	if t == "" {
		return "system"
	}
	return t
}

// ovsType is the interface type as written to OVSDB ("" for system).
func ovsType(t string) string {
	if t == "system" {
		return ""
	}
	return t
}

func normDatapath(t string) string {
	if t == "" {
		return "system"
	}
	return t
}

func sameTag(a, b *int) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func tagValue(t *int) any {
	if t == nil {
		return nil
	}
	return *t
}

// mapDiff returns the changes needed to set want's keys in have, or nil.
func mapDiff(have, want map[string]string) map[string]any {
	old, neu := map[string]string{}, map[string]string{}
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			if ok {
				old[k] = hv
			}
			neu[k] = v
		}
	}
	if len(neu) == 0 {
		return nil
	}
	return change(old, neu)
}

func change(old, neu any) map[string]any { return map[string]any{"old": old, "new": neu} }

// quote writes s as an OVSDB string in ovs-vsctl syntax (JSON quoting).
func quote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// mapLiteral writes m as an ovs-vsctl map value: {"k"="v", …}.
func mapLiteral(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, quote(k)+"="+quote(m[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// ApplyPorts makes the ports of bridge bridgeName what the caller wants in
// ONE ovs-vsctl transaction: it removes the ports named in remove, then
// creates or updates every port in ensure (all on bridgeName); when bridge
// is not nil, the transaction creates or updates that bridge first, else
// bridgeName must exist. It then
// reads the switch back and checks every port, as EnsurePort does.
func (c *Client) ApplyPorts(ctx context.Context, bridgeName string, bridge *BridgeSpec, ensure []PortSpec, remove []string) (*State, error) {
	for _, s := range ensure {
		if err := s.Check(); err != nil {
			return nil, err
		}
		if s.Bridge != bridgeName {
			return nil, fmt.Errorf("port %s is for bridge %s, not %s", s.Name, s.Bridge, bridgeName)
		}
	}
	for _, name := range remove {
		if err := CheckName(name); err != nil {
			return nil, err
		}
	}
	if bridge != nil {
		if bridge.Name != bridgeName {
			return nil, fmt.Errorf("bridge %s is not %s", bridge.Name, bridgeName)
		}
		if err := bridge.Check(); err != nil {
			return nil, err
		}
	}
	st, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if bridge == nil && st.Bridges[bridgeName] == nil {
		return nil, fmt.Errorf("bridge %s does not exist", bridgeName)
	}
	var cmd []string
	if bridge != nil {
		cmd = bridge.bridgeCommands()
	}
	for _, name := range remove {
		cmd = append(cmd, "--", "--if-exists", "del-port", name)
	}
	for _, s := range ensure {
		cmd = append(cmd, s.portCommands(st.Ports[s.Name])...)
	}
	if len(cmd) == 0 {
		return st, nil
	}
	if _, err := c.vsctl(ctx, cmd...); err != nil {
		return nil, fmt.Errorf("set up ports: %w", err)
	}
	if st, err = c.Read(ctx); err != nil {
		return nil, err
	}
	var errs []error
	for _, name := range remove {
		if st.Ports[name] != nil {
			errs = append(errs, fmt.Errorf("port %s is still there after it was removed", name))
		}
	}
	for _, s := range ensure {
		switch p := st.Ports[s.Name]; {
		case p == nil:
			errs = append(errs, fmt.Errorf("port %s is missing after it was added", s.Name))
		case len(s.Diff(p)) > 0:
			errs = append(errs, fmt.Errorf("port %s still differs after it was set: %v", s.Name, s.Diff(p)))
		default:
			if err := st.PortSetUp(s.Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if bridge != nil {
		if err := verifyBridge(*bridge, st.Bridges[bridge.Name]); err != nil {
			errs = append(errs, err)
		}
	}
	return st, errors.Join(errs...)
}
