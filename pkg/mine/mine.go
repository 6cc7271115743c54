// Package mine is brine's equivalent of Salt's mine: what a recipe may know
// of the other minions of its fleet when it is compiled. brine's mine is
// the master's cache of every accepted minion's grains, so nothing needs
// to be configured on the minions: mine.get(target, fun) returns, for each
// minion the target selects, the value fun names in its grains.
//
// It also resolves the peers of a mesh (ovs.mesh, net.vxlan_mesh): the
// minions a target selects, each with the underlay address a grain or an
// interface name gives.
package mine

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/brinecm/brine/pkg/dict"
	"github.com/brinecm/brine/pkg/target"
)

// Mine answers mine.get: for every minion target (an expression of kind,
// "glob" when empty) selects, the value fun names in its grains (see
// Value). Minions without that value are left out, as Salt leaves out
// minions that have no mine data.
type Mine interface {
	Get(ctx context.Context, tgt string, kind target.Kind, fun string) (map[string]any, error)
}

// AllGrains is the fun that returns each minion's whole grains.
const AllGrains = "grains.items"

// Value returns what fun names in grains: the whole grains for
// "grains.items", otherwise the grain fun names, nested keys joined by ':'
// ("ipv4", "ip4_interfaces:eth0"); "grains.get:KEY" and "grains.item:KEY"
// are accepted for the same.
func Value(grains map[string]any, fun string) (any, bool) {
	if fun == AllGrains {
		return grains, grains != nil
	}
	for _, prefix := range []string{"grains.get:", "grains.item:"} {
		if rest, ok := strings.CutPrefix(fun, prefix); ok {
			fun = rest
			break
		}
	}
	return dict.Traverse(grains, fun, dict.DefaultDelimiter)
}

// Local is the mine of a masterless run: the local minion alone, as
// salt-call --local sees its own mine.
type Local struct {
	ID     string
	Grains map[string]any
}

// Get answers for the local minion, when the target selects it.
func (l Local) Get(ctx context.Context, tgt string, kind target.Kind, fun string) (map[string]any, error) {
	return Static{l.ID: l.Grains}.Get(ctx, tgt, kind, fun)
}

// Address picks a minion's underlay address from its grains. key names a
// grain ("ipv4", a custom "underlay_ip", nested "a:b"), whose value is an
// address, a CIDR or a list of them; failing that, key is an interface
// name looked up in ip4_interfaces, then ip6_interfaces. From a list the
// first address that is not loopback, link-local or unspecified wins,
// IPv4 before IPv6.
func Address(grains map[string]any, key string) (netip.Addr, error) {
	if key == "" {
		key = "ipv4"
	}
	if v, ok := dict.Traverse(grains, key, dict.DefaultDelimiter); ok {
		if a, ok := pick(v); ok {
			return a, nil
		}
		return netip.Addr{}, fmt.Errorf("grain %s holds no usable address (%v)", key, v)
	}
	for _, g := range []string{"ip4_interfaces", "ip6_interfaces"} {
		if ifs, ok := grains[g].(map[string]any); ok {
			if v, ok := ifs[key]; ok {
				if a, ok := pick(v); ok {
					return a, nil
				}
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("no grain and no interface named %s", key)
}

// pick returns the best address in v: a string or a list of strings.
func pick(v any) (netip.Addr, bool) {
	var cands []netip.Addr
	add := func(s string) {
		if p, err := netip.ParsePrefix(s); err == nil {
			cands = append(cands, p.Addr())
		} else if a, err := netip.ParseAddr(s); err == nil {
			cands = append(cands, a)
		}
	}
	switch v := v.(type) {
	case string:
		add(v)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				add(s)
			}
		}
	case []string:
		for _, s := range v {
			add(s)
		}
	}
	usable := func(a netip.Addr) bool {
		return !a.IsLoopback() && !a.IsLinkLocalUnicast() && !a.IsUnspecified() && !a.IsMulticast()
	}
	for _, want4 := range []bool{true, false} {
		for _, a := range cands {
			if a.Unmap().Is4() == want4 && usable(a) {
				return a.Unmap(), true
			}
		}
	}
	return netip.Addr{}, false
}

// Peers is a mesh's view of the fleet for one minion.
type Peers struct {
	// IPs maps each peer's minion id to its underlay address.
	IPs map[string]string
	// Missing lists, sorted, the peers the target selects whose address
	// could not be found, each with why.
	Missing []string
}

// Resolve finds the peers of self: every other minion tgt (of kind)
// selects in m, with the address ipKey gives (see Address).
func Resolve(ctx context.Context, m Mine, self, tgt string, kind target.Kind, ipKey string) (Peers, error) {
	all, err := m.Get(ctx, tgt, kind, AllGrains)
	if err != nil {
		return Peers{}, fmt.Errorf("peers %q: %w", tgt, err)
	}
	p := Peers{IPs: map[string]string{}}
	for id, v := range all {
		if id == self {
			continue
		}
		grains, _ := v.(map[string]any)
		a, err := Address(grains, ipKey)
		if err != nil {
			p.Missing = append(p.Missing, fmt.Sprintf("%s (%v)", id, err))
			continue
		}
		p.IPs[id] = a.String()
	}
	slices.Sort(p.Missing)
	return p, nil
}

// PeerArgs are the arguments every mesh state takes (embed it in the
// state's argument struct): the peers as given, and as the compiler
// resolved them (ResolveArgs).
type PeerArgs struct {
	Peers        any               `arg:"peers,required"`
	TgtType      string            `arg:"tgt_type"`
	PeerIP       string            `arg:"peer_ip"`
	PeerIPs      map[string]string `arg:"peer_ips"`
	PeersMissing []string          `arg:"peers_missing"`
	LocalIP      string            `arg:"local_ip"`
}

// Arguments a mesh state is given once its peers are resolved.
const (
	// PeerIPsArg maps each peer's id to its underlay address.
	PeerIPsArg = "peer_ips"
	// MissingArg lists the peers left out for want of an address.
	MissingArg = "peers_missing"
)

// ResolveArgs resolves a mesh state's raw arguments in place for minion
// self (with grains selfGrains): peers, a target expression (of kind
// tgt_type, default compound) or a map of minion id to address, becomes
// peer_ips, an id to address map without self; peers_missing lists those
// left out; local_ip, when not given, is self's own address by the same
// peer_ip key, when it has one.
func ResolveArgs(ctx context.Context, m Mine, self string, selfGrains map[string]any, raw map[string]any) error {
	ipKey, _ := raw["peer_ip"].(string)
	if v, ok := raw["peer_ip"]; ok && ipKey == "" {
		return fmt.Errorf("peer_ip: want a grain or interface name, not %v", v)
	}
	var peers Peers
	switch v := raw["peers"].(type) {
	case string:
		kind := target.Compound
		if k, ok := raw["tgt_type"]; ok {
			s, _ := k.(string)
			if s == "" {
				return fmt.Errorf("tgt_type: want a target type such as compound or grain, not %v", k)
			}
			kind = target.Kind(s)
		}
		var err error
		if peers, err = Resolve(ctx, m, self, v, kind, ipKey); err != nil {
			return err
		}
	case map[string]any:
		peers.IPs = map[string]string{}
		for id, ip := range v {
			s, _ := ip.(string)
			a, err := netip.ParseAddr(s)
			if err != nil {
				return fmt.Errorf("peers: %s: %v is not an IP address", id, ip)
			}
			if id != self {
				peers.IPs[id] = a.String()
			}
		}
	case nil:
		return fmt.Errorf("peers is required: a target expression (G@role:docker) or a map of minion id to address")
	default:
		return fmt.Errorf("peers: want a target expression or a map of minion id to address, not %T", v)
	}
	ips := make(map[string]any, len(peers.IPs))
	for id, ip := range peers.IPs {
		ips[id] = ip
	}
	raw[PeerIPsArg] = ips
	missing := make([]any, len(peers.Missing))
	for i, s := range peers.Missing {
		missing[i] = s
	}
	raw[MissingArg] = missing
	if _, ok := raw["local_ip"]; !ok {
		if a, err := Address(selfGrains, ipKey); err == nil {
			raw["local_ip"] = a.String()
		}
	}
	return nil
}
