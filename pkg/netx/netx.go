// Package netx is brine's Linux networking layer over netlink
// (github.com/vishvananda/netlink): links (bridge, veth, vxlan, dummy,
// vlan), addresses and routes, in the host's network namespace or in a
// named one (/run/netns/NAME, as `ip netns` makes them).
//
// Work inside a namespace goes through a netlink handle opened in it
// (netlink.NewHandleAt), never by switching the calling thread into it.
package netx

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// dumpRetries bounds the retries of a netlink dump the kernel interrupted
// because the table changed meanwhile.
const dumpRetries = 5

// NS is a netlink handle in one network namespace.
type NS struct {
	// Name is the namespace's name, "" for the host's.
	Name string
	h    *netlink.Handle
	fd   netns.NsHandle // -1 for the host's namespace
}

// Open returns a handle in the named network namespace ("" for the
// host's). Close it when done.
func Open(name string) (*NS, error) {
	if name == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("open netlink: %w", err)
		}
		return &NS{h: h, fd: -1}, nil
	}
	fd, err := netns.GetFromName(name)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("network namespace %s does not exist", name)
		}
		return nil, fmt.Errorf("open network namespace %s: %w", name, err)
	}
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("open netlink in network namespace %s: %w", name, err)
	}
	return &NS{Name: name, h: h, fd: fd}, nil
}

// Close releases the handle.
func (n *NS) Close() {
	n.h.Close()
	if n.fd >= 0 {
		n.fd.Close()
	}
}

// where names the namespace for messages.
func (n *NS) where() string {
	if n.Name == "" {
		return ""
	}
	return " in network namespace " + n.Name
}

// Link returns the link called name, or nil when there is none.
func (n *NS) Link(name string) (netlink.Link, error) {
	l, err := n.h.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) || errors.Is(err, unix.ENODEV) {
			return nil, nil
		}
		return nil, fmt.Errorf("look up link %s%s: %w", name, n.where(), err)
	}
	return l, nil
}

// mustLink returns the link called name, or an error when there is none.
func (n *NS) mustLink(name string) (netlink.Link, error) {
	l, err := n.Link(name)
	if err == nil && l == nil {
		err = fmt.Errorf("link %s does not exist%s", name, n.where())
	}
	return l, err
}

// retry runs a netlink dump again while the kernel reports it interrupted.
func retry[T any](dump func() (T, error)) (T, error) {
	var v T
	var err error
	for range dumpRetries {
		v, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}

// LinkInfo describes one link for listings.
type LinkInfo struct {
	Name   string
	Index  int
	Kind   string
	MTU    int
	Up     bool
	MAC    string
	Master string
	Addrs  []string
}

// Links lists the namespace's links with their addresses, by name.
func (n *NS) Links() (map[string]LinkInfo, error) {
	links, err := retry(n.h.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links%s: %w", n.where(), err)
	}
	addrs, err := n.Addresses()
	if err != nil {
		return nil, err
	}
	byIndex := map[int]string{}
	for _, l := range links {
		byIndex[l.Attrs().Index] = l.Attrs().Name
	}
	out := make(map[string]LinkInfo, len(links))
	for _, l := range links {
		a := l.Attrs()
		info := LinkInfo{
			Name: a.Name, Index: a.Index, Kind: l.Type(), MTU: a.MTU,
			Up: a.Flags&net.FlagUp != 0, Master: byIndex[a.MasterIndex], Addrs: addrs[a.Name],
		}
		if info.Addrs == nil {
			info.Addrs = []string{}
		}
		if len(a.HardwareAddr) > 0 {
			info.MAC = a.HardwareAddr.String()
		}
		out[a.Name] = info
	}
	return out, nil
}

// Addresses lists the namespace's IPv4 and IPv6 addresses as CIDRs,
// sorted, by link name.
func (n *NS) Addresses() (map[string][]string, error) {
	links, err := retry(n.h.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links%s: %w", n.where(), err)
	}
	out := map[string][]string{}
	for _, l := range links {
		addrs, err := retry(func() ([]netlink.Addr, error) { return n.h.AddrList(l, netlink.FAMILY_ALL) })
		if err != nil {
			return nil, fmt.Errorf("list addresses of %s%s: %w", l.Attrs().Name, n.where(), err)
		}
		for _, a := range addrs {
			if p, ok := prefixOf(a.IPNet); ok {
				out[l.Attrs().Name] = append(out[l.Attrs().Name], p.String())
			}
		}
		sort.Strings(out[l.Attrs().Name])
	}
	return out, nil
}

// prefixOf converts an address with its mask, keeping the host bits.
func prefixOf(ipn *net.IPNet) (netip.Prefix, bool) {
	if ipn == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(ipn.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := ipn.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// ipNet converts a prefix, keeping the host bits (an interface address).
func ipNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}
