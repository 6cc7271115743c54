// Package net provides the net state module: net.link, net.address,
// net.route and net.absent manage Linux links (bridge, veth, vxlan, dummy,
// vlan), addresses and routes over netlink, in the host's network
// namespace or a named one (netns); net.vxlan_mesh keeps a VXLAN device
// in a full mesh with the peers the master's mine resolves.
package net

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/brinecm/brine/pkg/netx"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("net.link", states.Func[LinkArgs]{
		Doc: "Ensures link name exists in network namespace netns (default: the host's) as kind " +
			"(bridge, dummy, veth with peer and peer_netns, vxlan with id, remote, local, dstport " +
			"(default 4789), learning and dev, vlan with id and dev), with mtu, master (a bridge) and " +
			"up (default True). A link whose kind or kind settings differ is deleted and made again; " +
			"mtu, master and up are changed in place.",
		Apply: link,
	})
	states.Register("net.address", states.Func[AddressArgs]{
		Doc: "Ensures the address name (CIDR, e.g. 10.0.0.1/24) is on link dev in network namespace " +
			"netns; the same address with another prefix length is replaced.",
		Apply: address,
	})
	states.Register("net.route", states.Func[RouteArgs]{
		Doc: "Ensures the route to name (a CIDR, or default) via gateway and/or dev, with metric and " +
			"table (default main), in network namespace netns; a route with the same destination, " +
			"metric and table is replaced.",
		Apply: route,
	})
	states.Register("net.absent", states.Func[AbsentArgs]{
		Doc:   "Ensures link name does not exist in network namespace netns (a veth takes its peer with it).",
		Apply: absent,
	})
}

// LinkArgs are net.link's arguments; the link is the state's name.
type LinkArgs struct {
	Kind      string `arg:"kind,required"`
	MTU       int    `arg:"mtu"`
	Up        *bool  `arg:"up"`
	Master    string `arg:"master"`
	Netns     string `arg:"netns"`
	Peer      string `arg:"peer"`
	PeerNetns string `arg:"peer_netns"`
	ID        int    `arg:"id"`
	Remote    string `arg:"remote"`
	Local     string `arg:"local"`
	DstPort   int    `arg:"dstport"`
	Learning  *bool  `arg:"learning"`
	Dev       string `arg:"dev"`
}

// AddressArgs are net.address's arguments; the address is the state's name.
type AddressArgs struct {
	Dev   string `arg:"dev,required"`
	Netns string `arg:"netns"`
}

// RouteArgs are net.route's arguments; the destination is the state's name.
type RouteArgs struct {
	Gateway string `arg:"gateway"`
	Dev     string `arg:"dev"`
	Metric  int    `arg:"metric"`
	Table   int    `arg:"table"`
	Netns   string `arg:"netns"`
}

// AbsentArgs are net.absent's arguments.
type AbsentArgs struct {
	Netns string `arg:"netns"`
}

// in names the namespace for comments.
func in(ns string) string {
	if ns == "" {
		return ""
	}
	return " in network namespace " + ns
}

func parseAddr(what, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, fmt.Errorf("%s %q is not an IP address", what, s)
	}
	return a, nil
}

func link(_ context.Context, c *states.Call, a *LinkArgs) states.Outcome {
	spec := &netx.LinkSpec{
		Name: c.Name, Kind: a.Kind, MTU: a.MTU, Up: a.Up == nil || *a.Up, Master: a.Master,
		Peer: a.Peer, PeerNetns: a.PeerNetns, ID: a.ID, DstPort: a.DstPort, Learning: a.Learning, Dev: a.Dev,
	}
	var err error
	if spec.Remote, err = parseAddr("remote", a.Remote); err != nil {
		return states.Failed(err.Error(), nil)
	}
	if spec.Local, err = parseAddr("local", a.Local); err != nil {
		return states.Failed(err.Error(), nil)
	}
	if err := spec.Check(); err != nil {
		if !slices.Contains(netx.Kinds, a.Kind) {
			if s := states.Suggest(a.Kind, netx.Kinds); s != "" {
				return states.Failed(fmt.Sprintf("%v (did you mean %q?)", err, s), nil)
			}
		}
		return states.Failed(err.Error(), nil)
	}
	ns, err := netx.Open(a.Netns)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	defer ns.Close()
	plan, err := ns.PlanLink(spec)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	if len(plan.Changes) == 0 {
		return states.Succeeded(fmt.Sprintf("Link %s%s is up to date", c.Name, in(a.Netns)), nil)
	}
	_, recreate := plan.Changes["recreated"]
	delete(plan.Changes, "recreated")
	what := "updated"
	if recreate {
		what = "recreated"
	}
	what += " (" + strings.Join(slices.Sorted(maps.Keys(plan.Changes)), ", ") + " differed)"
	if plan.Create && !recreate {
		what = "created"
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Link %s%s would be %s", c.Name, in(a.Netns), what), plan.Changes)
	}
	if err := ns.EnsureLink(spec, plan); err != nil {
		return states.Failed(err.Error(), nil)
	}
	return states.Succeeded(fmt.Sprintf("Link %s%s %s", c.Name, in(a.Netns), what), plan.Changes)
}

func address(_ context.Context, c *states.Call, a *AddressArgs) states.Outcome {
	want, err := netip.ParsePrefix(c.Name)
	if err != nil {
		return states.Failed(fmt.Sprintf("address %q: want an address with its prefix length, like 10.0.0.1/24", c.Name), nil)
	}
	ns, err := netx.Open(a.Netns)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	defer ns.Close()
	plan, err := ns.PlanAddr(a.Dev, want)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	if !plan.Add {
		return states.Succeeded(fmt.Sprintf("Address %s is on %s%s", want, a.Dev, in(a.Netns)), nil)
	}
	var old any
	if plan.Replaced.IsValid() {
		old = plan.Replaced.String()
	}
	changes := map[string]any{"address": map[string]any{"old": old, "new": want.String()}}
	what := "added to"
	if plan.Replaced.IsValid() {
		what = fmt.Sprintf("in place of %s on", plan.Replaced)
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Address %s would be %s %s%s", want, what, a.Dev, in(a.Netns)), changes)
	}
	if err := ns.EnsureAddr(a.Dev, want, plan); err != nil {
		return states.Failed(err.Error(), nil)
	}
	return states.Succeeded(fmt.Sprintf("Address %s %s %s%s", want, what, a.Dev, in(a.Netns)), changes)
}

func route(_ context.Context, c *states.Call, a *RouteArgs) states.Outcome {
	spec := netx.RouteSpec{Dev: a.Dev, Metric: a.Metric, Table: a.Table}
	var err error
	if spec.Gateway, err = parseAddr("gateway", a.Gateway); err != nil {
		return states.Failed(err.Error(), nil)
	}
	switch c.Name {
	case "default":
		spec.Dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if spec.Gateway.Is6() {
			spec.Dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
	default:
		if spec.Dst, err = netip.ParsePrefix(c.Name); err != nil {
			return states.Failed(fmt.Sprintf("destination %q: want a CIDR like 10.1.0.0/16, or default", c.Name), nil)
		}
	}
	if err := spec.Check(); err != nil {
		return states.Failed(err.Error(), nil)
	}
	ns, err := netx.Open(a.Netns)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	defer ns.Close()
	have, err := ns.FindRoute(spec)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	changes := spec.Diff(have)
	if len(changes) == 0 {
		return states.Succeeded(fmt.Sprintf("Route to %s%s is up to date", spec.Dst, in(a.Netns)), nil)
	}
	what := "added"
	if have != nil {
		what = "replaced"
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Route to %s%s would be %s", spec.Dst, in(a.Netns), what), changes)
	}
	if err := ns.EnsureRoute(spec); err != nil {
		return states.Failed(err.Error(), nil)
	}
	return states.Succeeded(fmt.Sprintf("Route to %s%s %s", spec.Dst, in(a.Netns), what), changes)
}

func absent(_ context.Context, c *states.Call, a *AbsentArgs) states.Outcome {
	ns, err := netx.Open(a.Netns)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	defer ns.Close()
	have, err := ns.Link(c.Name)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	if have == nil {
		return states.Succeeded(fmt.Sprintf("Link %s%s does not exist", c.Name, in(a.Netns)), nil)
	}
	changes := map[string]any{"link": map[string]any{"old": c.Name, "new": nil}, "kind": have.Type()}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Link %s%s would be deleted", c.Name, in(a.Netns)), changes)
	}
	if err := ns.DeleteLink(c.Name); err != nil {
		return states.Failed(err.Error(), nil)
	}
	return states.Succeeded(fmt.Sprintf("Link %s%s deleted", c.Name, in(a.Netns)), changes)
}
