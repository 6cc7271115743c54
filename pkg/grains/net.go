package grains

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// nic is one network interface and its addresses.
type nic struct {
	name  string
	mac   string // "" when the interface has none (loopback)
	addrs []netip.Addr
}

// hostNICs lists this host's interfaces from the kernel, with no network
// traffic.
func hostNICs() ([]nic, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	nics := make([]nic, 0, len(ifs))
	for _, ifc := range ifs {
		n := nic{name: ifc.Name, mac: ifc.HardwareAddr.String()}
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", ifc.Name, err)
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
					n.addrs = append(n.addrs, ip.Unmap())
				}
			}
		}
		nics = append(nics, n)
	}
	return nics, nil
}

// netGrains builds ipv4, ipv6, ip_interfaces, ip4_interfaces,
// ip6_interfaces and hwaddr_interfaces. Lists are []any of strings, sorted,
// loopback included, as Salt reports them.
func netGrains(nics []nic) map[string]any {
	var v4, v6 []netip.Addr
	ipIf := make(map[string]any, len(nics))
	ip4If := make(map[string]any, len(nics))
	ip6If := make(map[string]any, len(nics))
	hw := make(map[string]any, len(nics))
	for _, n := range nics {
		all, four, six := []any{}, []any{}, []any{}
		for _, a := range n.addrs {
			s := a.String()
			all = append(all, s)
			if a.Is4() {
				four = append(four, s)
				v4 = append(v4, a)
			} else {
				six = append(six, s)
				v6 = append(v6, a)
			}
		}
		ipIf[n.name], ip4If[n.name], ip6If[n.name] = all, four, six
		mac := n.mac
		if mac == "" {
			mac = "00:00:00:00:00:00"
		}
		hw[n.name] = mac
	}
	return map[string]any{
		"ipv4":              sortedStrings(v4),
		"ipv6":              sortedStrings(v6),
		"ip_interfaces":     ipIf,
		"ip4_interfaces":    ip4If,
		"ip6_interfaces":    ip6If,
		"hwaddr_interfaces": hw,
	}
}

// sortedStrings returns the distinct addresses in order, as strings.
func sortedStrings(addrs []netip.Addr) []any {
	slices.SortFunc(addrs, netip.Addr.Compare)
	addrs = slices.Compact(addrs)
	out := make([]any, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}
