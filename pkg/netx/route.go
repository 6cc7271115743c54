package netx

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteSpec is a wanted route. A route is identified by its destination,
// table and metric, as the kernel identifies it; its gateway and device
// are updated in place.
type RouteSpec struct {
	Dst     netip.Prefix // 0.0.0.0/0 or ::/0 for the default route
	Gateway netip.Addr   // invalid: none (a route on dev only)
	Dev     string       // "": the kernel picks it from the gateway
	Metric  int
	Table   int // 0: main
}

// Check validates the spec.
func (s RouteSpec) Check() error {
	if !s.Dst.IsValid() {
		return fmt.Errorf("a route needs a destination")
	}
	if s.Dst != s.Dst.Masked() {
		return fmt.Errorf("destination %s has host bits set (did you mean %s?)", s.Dst, s.Dst.Masked())
	}
	if !s.Gateway.IsValid() && s.Dev == "" {
		return fmt.Errorf("a route needs gateway or dev")
	}
	if s.Gateway.IsValid() && s.Gateway.Is4() != s.Dst.Addr().Is4() {
		return fmt.Errorf("gateway %s and destination %s are of different IP versions", s.Gateway, s.Dst)
	}
	if s.Metric < 0 || s.Table < 0 {
		return fmt.Errorf("metric and table must not be negative")
	}
	return nil
}

// RouteInfo is an existing route, as PlanRoute found it.
type RouteInfo struct {
	Gateway netip.Addr
	Dev     string
}

// FindRoute returns the route with the spec's destination, table and
// metric, or nil.
func (n *NS) FindRoute(s RouteSpec) (*RouteInfo, error) {
	family := netlink.FAMILY_V4
	if s.Dst.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	table := s.Table
	if table == 0 {
		table = unix.RT_TABLE_MAIN
	}
	routes, err := retry(func() ([]netlink.Route, error) {
		return n.h.RouteListFiltered(family, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("list routes%s: %w", n.where(), err)
	}
	for _, r := range routes {
		dst := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if family == netlink.FAMILY_V6 {
			dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		if p, ok := prefixOf(r.Dst); ok {
			dst = p
		}
		if dst != s.Dst || r.Priority != s.Metric {
			continue
		}
		dev, err := n.nameOf(r.LinkIndex)
		if err != nil {
			return nil, err
		}
		return &RouteInfo{Gateway: addrOf(r.Gw), Dev: dev}, nil
	}
	return nil, nil
}

// Diff lists what differs between have (nil: no such route) and the spec.
func (s RouteSpec) Diff(have *RouteInfo) map[string]any {
	out := map[string]any{}
	if have == nil {
		out["route"] = change(nil, s.Dst.String())
		have = &RouteInfo{}
	}
	if have.Gateway != s.Gateway {
		out["gateway"] = change(addrString(have.Gateway), addrString(s.Gateway))
	}
	if s.Dev != "" && have.Dev != s.Dev {
		out["dev"] = change(have.Dev, s.Dev)
	}
	return out
}

// EnsureRoute adds the route or replaces the one with its destination,
// table and metric.
func (n *NS) EnsureRoute(s RouteSpec) error {
	r := &netlink.Route{Dst: &net.IPNet{IP: s.Dst.Addr().AsSlice(), Mask: net.CIDRMask(s.Dst.Bits(), s.Dst.Addr().BitLen())},
		Priority: s.Metric, Table: s.Table}
	if s.Gateway.IsValid() {
		r.Gw = s.Gateway.AsSlice()
	}
	if s.Dev != "" {
		l, err := n.mustLink(s.Dev)
		if err != nil {
			return err
		}
		r.LinkIndex = l.Attrs().Index
	}
	if !s.Gateway.IsValid() {
		r.Scope = netlink.SCOPE_LINK
	}
	if err := n.h.RouteReplace(r); err != nil {
		return fmt.Errorf("set route %s%s: %w", s.Dst, n.where(), err)
	}
	return nil
}
