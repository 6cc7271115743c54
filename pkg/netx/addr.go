package netx

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// AddrPlan is what EnsureAddr would do on a link: add the address, and
// first delete the same IP with another prefix length (Replaced).
type AddrPlan struct {
	Add      bool
	Replaced netip.Prefix // invalid when none
}

// PlanAddr compares the addresses of link dev with want (an address with
// its prefix length, e.g. 10.0.0.1/24).
func (n *NS) PlanAddr(dev string, want netip.Prefix) (AddrPlan, error) {
	var plan AddrPlan
	l, err := n.mustLink(dev)
	if err != nil {
		return plan, err
	}
	have, err := n.linkAddrs(l)
	if err != nil {
		return plan, err
	}
	for _, p := range have {
		if p == want {
			return plan, nil
		}
		if p.Addr() == want.Addr() {
			plan.Replaced = p
		}
	}
	plan.Add = true
	return plan, nil
}

// EnsureAddr applies a plan made by PlanAddr.
func (n *NS) EnsureAddr(dev string, want netip.Prefix, plan AddrPlan) error {
	l, err := n.mustLink(dev)
	if err != nil {
		return err
	}
	if plan.Replaced.IsValid() {
		if err := n.h.AddrDel(l, &netlink.Addr{IPNet: ipNet(plan.Replaced)}); err != nil {
			return fmt.Errorf("delete address %s from %s%s: %w", plan.Replaced, dev, n.where(), err)
		}
	}
	if plan.Add {
		if err := n.h.AddrAdd(l, &netlink.Addr{IPNet: ipNet(want)}); err != nil {
			return fmt.Errorf("add address %s to %s%s: %w", want, dev, n.where(), err)
		}
	}
	return nil
}

func (n *NS) linkAddrs(l netlink.Link) ([]netip.Prefix, error) {
	addrs, err := retry(func() ([]netlink.Addr, error) { return n.h.AddrList(l, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s%s: %w", l.Attrs().Name, n.where(), err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok {
			out = append(out, p)
		}
	}
	return out, nil
}
