package netx

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The flood entries of a vxlan device are its all-zero forwarding entries
// (`bridge fdb append 00:00:00:00:00:00 dev DEV dst ADDR self permanent`):
// broadcast, multicast and unknown unicast frames are sent to every one
// of their addresses (head-end replication), one unicast tunnel per entry.

// zeroMAC is the address of a flood entry.
var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// vxlanLink returns the vxlan device called dev, or an error when there
// is none or it is of another kind.
func (n *NS) vxlanLink(dev string) (*netlink.Vxlan, error) {
	l, err := n.mustLink(dev)
	if err != nil {
		return nil, err
	}
	v, ok := l.(*netlink.Vxlan)
	if !ok {
		return nil, fmt.Errorf("link %s%s is a %s link, not vxlan", dev, n.where(), l.Type())
	}
	return v, nil
}

// FloodEntries lists the destination addresses of the flood entries of
// vxlan device dev, sorted and without repeats.
func (n *NS) FloodEntries(dev string) ([]netip.Addr, error) {
	v, err := n.vxlanLink(dev)
	if err != nil {
		return nil, err
	}
	idx := v.Attrs().Index
	neighs, err := retry(func() ([]netlink.Neigh, error) { return n.h.NeighList(idx, unix.AF_BRIDGE) })
	if err != nil {
		return nil, fmt.Errorf("list forwarding entries of %s%s: %w", dev, n.where(), err)
	}
	var out []netip.Addr
	for _, e := range neighs {
		if e.LinkIndex != idx || e.Flags&netlink.NTF_SELF == 0 || !slices.Equal(e.HardwareAddr, zeroMAC) {
			continue
		}
		if a := addrOf(e.IP); a.IsValid() && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out, nil
}

// floodEntry is the forwarding entry that floods to dst on link idx.
func floodEntry(idx int, dst netip.Addr) *netlink.Neigh {
	return &netlink.Neigh{
		LinkIndex:    idx,
		Family:       unix.AF_BRIDGE,
		Flags:        netlink.NTF_SELF,
		State:        netlink.NUD_PERMANENT,
		HardwareAddr: zeroMAC,
		IP:           dst.AsSlice(),
	}
}

// AppendFloodEntry adds a flood entry to dst on vxlan device dev; one
// that exists already is no error.
func (n *NS) AppendFloodEntry(dev string, dst netip.Addr) error {
	v, err := n.vxlanLink(dev)
	if err != nil {
		return err
	}
	if err := n.h.NeighAppend(floodEntry(v.Attrs().Index, dst)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add flood entry to %s on %s%s: %w", dst, dev, n.where(), err)
	}
	return nil
}

// DeleteFloodEntry removes the flood entry to dst from vxlan device dev;
// one that does not exist is no error.
func (n *NS) DeleteFloodEntry(dev string, dst netip.Addr) error {
	v, err := n.vxlanLink(dev)
	if err != nil {
		return err
	}
	if err := n.h.NeighDel(floodEntry(v.Attrs().Index, dst)); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete flood entry to %s from %s%s: %w", dst, dev, n.where(), err)
	}
	return nil
}
