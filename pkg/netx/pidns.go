package netx

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"unsafe"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// OpenPID returns a handle in the network namespace of process pid
// (/proc/PID/ns/net), e.g. a container's first process. Its Name is that
// path. Close it when done.
func OpenPID(pid int) (*NS, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("open network namespace of process %d: not a process ID", pid)
	}
	path := fmt.Sprintf("/proc/%d/ns/net", pid)
	fd, err := netns.GetFromPath(path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("open network namespace %s: process %d does not exist", path, pid)
		}
		return nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("open netlink in network namespace %s: %w", path, err)
	}
	return &NS{Name: path, h: h, fd: fd}, nil
}

// VethPeerIn returns the name of the other end of veth name when that end
// lives in the namespace peer, and "" when name does not exist, is not a
// veth, or has its other end elsewhere (e.g. in the namespace of a
// container that was restarted, which the kernel has not torn down yet).
func (n *NS) VethPeerIn(name string, peer *NS) (string, error) {
	if peer.fd < 0 {
		return "", errors.New("find the peer of a veth: the peer's namespace must be opened by name or by process")
	}
	l, err := n.Link(name)
	if err != nil || l == nil {
		return "", err
	}
	v, ok := l.(*netlink.Veth)
	if !ok {
		return "", nil
	}
	id, err := n.h.GetNetNsIdByFd(int(peer.fd))
	if err != nil {
		return "", fmt.Errorf("look up the id of network namespace %s%s: %w", peer.Name, n.where(), err)
	}
	if id < 0 || v.Attrs().NetNsID != id {
		return "", nil
	}
	other, err := peer.h.LinkByIndex(v.Attrs().ParentIndex)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) || errors.Is(err, unix.ENODEV) {
			return "", nil
		}
		return "", fmt.Errorf("look up the peer of %s%s: %w", name, peer.where(), err)
	}
	// The other end must point back: link indexes repeat across namespaces.
	if other.Attrs().ParentIndex != v.Attrs().Index {
		return "", nil
	}
	return other.Attrs().Name, nil
}

// AddVethTo creates a veth pair: name in n, and its other end peerName
// created directly in the namespace peer with the MAC address peerMAC (nil:
// one the kernel picks). A link called name in n is deleted first, which
// takes its own peer with it.
func (n *NS) AddVethTo(name string, peer *NS, peerName string, peerMAC net.HardwareAddr) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := checkName(peerName); err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	if peer.fd < 0 {
		return fmt.Errorf("add veth %s: the peer's namespace must be opened by name or by process", name)
	}
	if err := n.DeleteLink(name); err != nil {
		return err
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	v := &netlink.Veth{LinkAttrs: attrs, PeerName: peerName, PeerHardwareAddr: peerMAC, PeerNamespace: netlink.NsFd(peer.fd)}
	if err := n.h.LinkAdd(v); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add veth %s%s with peer %s%s: a link of one of these names exists", name, n.where(), peerName, peer.where())
		}
		return fmt.Errorf("add veth %s%s with peer %s%s: %w", name, n.where(), peerName, peer.where(), err)
	}
	return nil
}

// Iface is the state of one link: its MAC address, whether it is up,
// and its addresses.
type Iface struct {
	MAC net.HardwareAddr
	Up  bool
	// Addrs are sorted, without IPv6 link-local addresses (the kernel
	// makes those itself).
	Addrs []netip.Prefix
}

// Iface returns the state of link name, or nil when there is none.
func (n *NS) Iface(name string) (*Iface, error) {
	l, err := n.Link(name)
	if err != nil || l == nil {
		return nil, err
	}
	addrs, err := n.linkAddrs(l)
	if err != nil {
		return nil, err
	}
	out := &Iface{MAC: l.Attrs().HardwareAddr, Up: l.Attrs().Flags&net.FlagUp != 0}
	for _, a := range addrs {
		if !a.Addr().IsLinkLocalUnicast() || a.Addr().Is4() {
			out.Addrs = append(out.Addrs, a)
		}
	}
	slices.SortFunc(out.Addrs, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out, nil
}

// SetMAC gives link name the MAC address mac, taking the link down for
// the change when its driver needs that.
func (n *NS) SetMAC(name string, mac net.HardwareAddr) error {
	l, err := n.mustLink(name)
	if err != nil {
		return err
	}
	err = n.h.LinkSetHardwareAddr(l, mac)
	if errors.Is(err, unix.EBUSY) && l.Attrs().Flags&net.FlagUp != 0 {
		if err = n.h.LinkSetDown(l); err == nil {
			err = n.h.LinkSetHardwareAddr(l, mac)
			if uerr := n.h.LinkSetUp(l); err == nil {
				err = uerr
			}
		}
	}
	if err != nil {
		return fmt.Errorf("set MAC address of %s to %s%s: %w", name, mac, n.where(), err)
	}
	return nil
}

// SetUp sets link name up.
func (n *NS) SetUp(name string) error {
	l, err := n.mustLink(name)
	if err != nil {
		return err
	}
	if err := n.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up%s: %w", name, n.where(), err)
	}
	return nil
}

// SetAddrs makes the addresses of link name exactly want, IPv6
// link-local addresses aside: others are deleted, missing ones added.
func (n *NS) SetAddrs(name string, want []netip.Prefix) error {
	l, err := n.mustLink(name)
	if err != nil {
		return err
	}
	have, err := n.linkAddrs(l)
	if err != nil {
		return err
	}
	for _, p := range have {
		if slices.Contains(want, p) || (p.Addr().Is6() && p.Addr().IsLinkLocalUnicast()) {
			continue
		}
		if err := n.h.AddrDel(l, &netlink.Addr{IPNet: ipNet(p)}); err != nil {
			return fmt.Errorf("delete address %s from %s%s: %w", p, name, n.where(), err)
		}
	}
	for _, p := range want {
		if slices.Contains(have, p) {
			continue
		}
		if err := n.h.AddrAdd(l, &netlink.Addr{IPNet: ipNet(p)}); err != nil {
			return fmt.Errorf("add address %s to %s%s: %w", p, name, n.where(), err)
		}
	}
	return nil
}

// TxChecksum reports whether link name offloads transmit checksums to
// its driver.
func (n *NS) TxChecksum(name string) (bool, error) {
	v, err := n.ethtool(name, unix.ETHTOOL_GTXCSUM, 0)
	if err != nil {
		return false, fmt.Errorf("read transmit checksum offload of %s%s: %w", name, n.where(), err)
	}
	return v != 0, nil
}

// SetTxChecksum turns transmit checksum offload of link name on or off.
// A veth read by a userspace switch (Open vSwitch's netdev datapath)
// needs it off: the switch forwards an offloaded packet with its checksum
// unfinished, and the receiver drops it.
func (n *NS) SetTxChecksum(name string, on bool) error {
	var v uint32
	if on {
		v = 1
	}
	if _, err := n.ethtool(name, unix.ETHTOOL_STXCSUM, v); err != nil {
		return fmt.Errorf("set transmit checksum offload of %s to %v%s: %w", name, on, n.where(), err)
	}
	return nil
}

// ethtoolValue is the kernel's struct ethtool_value.
type ethtoolValue struct {
	cmd, data uint32
}

// ifreqData is the kernel's struct ifreq with a pointer in its union.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [16]byte // the rest of the union
}

// ethtool runs one ethtool get or set command on link name (netlink has
// no message for these) and returns the value the kernel answers.
func (n *NS) ethtool(name string, cmd, data uint32) (uint32, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	fd, err := n.socket()
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	v := ethtoolValue{cmd: cmd, data: data}
	req := ifreqData{data: unsafe.Pointer(&v)}
	copy(req.name[:], name)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&req))); errno != 0 {
		return 0, errno
	}
	runtime.KeepAlive(&v)
	return v.data, nil
}

// socket opens a datagram socket in the namespace, for ioctls. Another
// namespace is entered by a new goroutine on its own locked OS thread,
// which returns to its namespace before it is released (a socket stays in
// the namespace it was made in); a thread that cannot return stays locked,
// so the runtime ends it with the goroutine instead of reusing it.
func (n *NS) socket() (int, error) {
	open := func() (int, error) {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("open a socket%s: %w", n.where(), err)
		}
		return fd, nil
	}
	if n.fd < 0 {
		return open()
	}
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{-1, fmt.Errorf("read the thread's network namespace: %w", err)}
			return
		}
		defer orig.Close()
		if err := netns.Set(n.fd); err != nil {
			runtime.UnlockOSThread()
			done <- result{-1, fmt.Errorf("enter network namespace %s: %w", n.Name, err)}
			return
		}
		fd, err := open()
		if rerr := netns.Set(orig); rerr != nil {
			if err == nil {
				unix.Close(fd)
			}
			done <- result{-1, fmt.Errorf("leave network namespace %s: %w", n.Name, rerr)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{fd, err}
	}()
	r := <-done
	return r.fd, r.err
}
