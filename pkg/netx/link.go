package netx

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Link kinds LinkSpec supports.
var Kinds = []string{"bridge", "dummy", "veth", "vlan", "vxlan"}

// DefaultVXLANPort is the IANA VXLAN port, used when a spec gives none
// (the kernel's own default, 8472, predates it).
const DefaultVXLANPort = 4789

// LinkSpec is a wanted link. Zero values leave what exists alone, except
// for the attributes that define the link (kind, veth peer, vxlan and vlan
// settings): a link that differs there is deleted and made again.
type LinkSpec struct {
	Name   string
	Kind   string
	MTU    int
	Up     bool
	Master string // a bridge in the same namespace

	Peer      string // veth: the other end
	PeerNetns string // veth: the other end's namespace ("" = the link's)

	ID       int        // vxlan: VNI; vlan: VLAN id
	Remote   netip.Addr // vxlan
	Local    netip.Addr // vxlan
	DstPort  int        // vxlan, default DefaultVXLANPort
	Learning *bool      // vxlan; nil: the kernel's default (on) when created, else unmanaged
	Dev      string     // vxlan: underlay link; vlan: parent link
}

// Check validates the spec.
func (s *LinkSpec) Check() error {
	if err := checkName(s.Name); err != nil {
		return err
	}
	if !slices.Contains(Kinds, s.Kind) {
		return fmt.Errorf("kind %q: want one of %s", s.Kind, strings.Join(Kinds, ", "))
	}
	if s.MTU < 0 || s.MTU > 65535 {
		return fmt.Errorf("mtu %d out of range", s.MTU)
	}
	set := map[string]bool{
		"peer": s.Peer != "", "peer_netns": s.PeerNetns != "", "id": s.ID != 0,
		"remote": s.Remote.IsValid(), "local": s.Local.IsValid(), "dstport": s.DstPort != 0,
		"learning": s.Learning != nil, "dev": s.Dev != "",
	}
	allowed := map[string][]string{
		"veth":  {"peer", "peer_netns"},
		"vxlan": {"id", "remote", "local", "dstport", "learning", "dev"},
		"vlan":  {"id", "dev"},
	}[s.Kind]
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if set[k] && !slices.Contains(allowed, k) {
			return fmt.Errorf("%s does not apply to a %s link", k, s.Kind)
		}
	}
	switch s.Kind {
	case "veth":
		if s.Peer == "" {
			return fmt.Errorf("a veth link needs peer")
		}
		if err := checkName(s.Peer); err != nil {
			return fmt.Errorf("peer: %w", err)
		}
	case "vxlan":
		if s.ID < 1 || s.ID > 1<<24-1 {
			return fmt.Errorf("a vxlan link needs id, a VNI from 1 to 16777215")
		}
		if s.DstPort == 0 {
			s.DstPort = DefaultVXLANPort
		}
		if s.DstPort < 1 || s.DstPort > 65535 {
			return fmt.Errorf("dstport %d: want 1 to 65535", s.DstPort)
		}
		if s.Remote.IsValid() && s.Local.IsValid() && s.Remote.Is4() != s.Local.Is4() {
			return fmt.Errorf("remote %s and local %s are of different IP versions", s.Remote, s.Local)
		}
	case "vlan":
		if s.ID < 1 || s.ID > 4094 {
			return fmt.Errorf("a vlan link needs id, from 1 to 4094")
		}
		if s.Dev == "" {
			return fmt.Errorf("a vlan link needs dev, its parent link")
		}
	}
	return nil
}

func checkName(name string) error {
	if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t\n:") || name == "." || name == ".." {
		return fmt.Errorf("invalid link name %q: 1 to 15 characters, no '/', ':' or spaces", name)
	}
	return nil
}

// LinkPlan is what EnsureLink would do: the changes in Salt's shape, and
// whether the link must be (re)created.
type LinkPlan struct {
	Changes map[string]any
	Create  bool // the link is missing, or differs in what defines it
}

// PlanLink compares the namespace's link with the spec (checked first).
func (n *NS) PlanLink(s *LinkSpec) (LinkPlan, error) {
	plan := LinkPlan{Changes: map[string]any{}}
	if err := s.Check(); err != nil {
		return plan, err
	}
	have, err := n.Link(s.Name)
	if err != nil {
		return plan, err
	}
	if have == nil {
		plan.Create = true
		plan.Changes["link"] = change(nil, s.Name)
		plan.Changes["kind"] = change(nil, s.Kind)
		return plan, nil
	}
	defining, err := n.definingDiff(s, have)
	if err != nil {
		return plan, err
	}
	if len(defining) > 0 {
		plan.Create = true
		maps.Copy(plan.Changes, defining)
		plan.Changes["recreated"] = true
		return plan, nil
	}
	a := have.Attrs()
	if s.MTU != 0 && a.MTU != s.MTU {
		plan.Changes["mtu"] = change(a.MTU, s.MTU)
	}
	if up := a.Flags&net.FlagUp != 0; up != s.Up {
		plan.Changes["up"] = change(up, s.Up)
	}
	if s.Master != "" {
		cur := ""
		if a.MasterIndex != 0 {
			if m, err := n.h.LinkByIndex(a.MasterIndex); err == nil {
				cur = m.Attrs().Name
			}
		}
		if cur != s.Master {
			plan.Changes["master"] = change(cur, s.Master)
		}
	}
	return plan, nil
}

// definingDiff lists the differences that need the link made again.
func (n *NS) definingDiff(s *LinkSpec, have netlink.Link) (map[string]any, error) {
	out := map[string]any{}
	if have.Type() != s.Kind {
		out["kind"] = change(have.Type(), s.Kind)
		return out, nil
	}
	switch l := have.(type) {
	case *netlink.Veth:
		peer, err := n.vethPeer(l)
		if err != nil {
			return nil, err
		}
		peerNS := s.PeerNetns
		if peerNS == n.Name {
			peerNS = ""
		}
		if want := s.Peer + nsSuffix(peerNS); peer != want {
			out["peer"] = change(peer, want)
		}
	case *netlink.Vxlan:
		if l.VxlanId != s.ID {
			out["id"] = change(l.VxlanId, s.ID)
		}
		if got := addrOf(l.Group); got != s.Remote {
			out["remote"] = change(addrString(got), addrString(s.Remote))
		}
		if got := addrOf(l.SrcAddr); got != s.Local {
			out["local"] = change(addrString(got), addrString(s.Local))
		}
		if l.Port != s.DstPort {
			out["dstport"] = change(l.Port, s.DstPort)
		}
		if s.Learning != nil && l.Learning != *s.Learning {
			out["learning"] = change(l.Learning, *s.Learning)
		}
		if dev, err := n.nameOf(l.VtepDevIndex); err != nil {
			return nil, err
		} else if dev != s.Dev {
			out["dev"] = change(dev, s.Dev)
		}
	case *netlink.Vlan:
		if l.VlanId != s.ID {
			out["id"] = change(l.VlanId, s.ID)
		}
		if dev, err := n.nameOf(l.ParentIndex); err != nil {
			return nil, err
		} else if dev != s.Dev {
			out["dev"] = change(dev, s.Dev)
		}
	}
	return out, nil
}

// vethPeer names a veth's other end, "name@namespace" when it is in
// another named namespace, "?" when it cannot be found.
func (n *NS) vethPeer(l *netlink.Veth) (string, error) {
	a := l.Attrs()
	if a.NetNsID < 0 { // same namespace
		return n.nameOf(a.ParentIndex)
	}
	names, err := namedNamespaces()
	if err != nil {
		return "", err
	}
	for _, name := range names {
		fd, err := netns.GetFromName(name)
		if err != nil {
			continue
		}
		id, err := n.h.GetNetNsIdByFd(int(fd))
		fd.Close()
		if err != nil || id != a.NetNsID {
			continue
		}
		other, err := Open(name)
		if err != nil {
			return "", err
		}
		defer other.Close()
		peer, err := other.nameOf(a.ParentIndex)
		if err != nil {
			return "", err
		}
		return peer + nsSuffix(name), nil
	}
	return "?", nil
}

// namedNamespaces lists the namespaces `ip netns` knows.
func namedNamespaces() ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network namespaces: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

// netnsDir is where `ip netns add` mounts named namespaces.
const netnsDir = "/run/netns"

func nsSuffix(ns string) string {
	if ns == "" {
		return ""
	}
	return "@" + ns
}

// nameOf names the link with index i, "" for 0.
func (n *NS) nameOf(i int) (string, error) {
	if i == 0 {
		return "", nil
	}
	l, err := n.h.LinkByIndex(i)
	if err != nil {
		return "", fmt.Errorf("look up link %d%s: %w", i, n.where(), err)
	}
	return l.Attrs().Name, nil
}

// EnsureLink applies a plan made by PlanLink: (re)creates the link, then
// sets its mtu, master and up state.
func (n *NS) EnsureLink(s *LinkSpec, plan LinkPlan) error {
	if plan.Create {
		if err := n.create(s); err != nil {
			return err
		}
	}
	l, err := n.mustLink(s.Name)
	if err != nil {
		return err
	}
	if s.MTU != 0 && l.Attrs().MTU != s.MTU {
		if err := n.h.LinkSetMTU(l, s.MTU); err != nil {
			return fmt.Errorf("set mtu of %s to %d%s: %w", s.Name, s.MTU, n.where(), err)
		}
	}
	if s.Master != "" {
		m, err := n.mustLink(s.Master)
		if err != nil {
			return fmt.Errorf("master of %s: %w", s.Name, err)
		}
		if l.Attrs().MasterIndex != m.Attrs().Index {
			if err := n.h.LinkSetMaster(l, m); err != nil {
				return fmt.Errorf("set master of %s to %s%s: %w", s.Name, s.Master, n.where(), err)
			}
		}
	}
	up := l.Attrs().Flags&net.FlagUp != 0
	switch {
	case s.Up && !up:
		err = n.h.LinkSetUp(l)
	case !s.Up && up:
		err = n.h.LinkSetDown(l)
	}
	if err != nil {
		return fmt.Errorf("set %s up=%v%s: %w", s.Name, s.Up, n.where(), err)
	}
	return nil
}

// create deletes the link if it exists, then adds it as the spec says.
func (n *NS) create(s *LinkSpec) error {
	if err := n.DeleteLink(s.Name); err != nil {
		return err
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = s.Name
	attrs.MTU = s.MTU
	var link netlink.Link
	switch s.Kind {
	case "bridge":
		link = &netlink.Bridge{LinkAttrs: attrs}
	case "dummy":
		link = &netlink.Dummy{LinkAttrs: attrs}
	case "veth":
		v := &netlink.Veth{LinkAttrs: attrs, PeerName: s.Peer}
		if s.PeerNetns != "" && s.PeerNetns != n.Name {
			fd, err := netns.GetFromName(s.PeerNetns)
			if err != nil {
				return fmt.Errorf("open network namespace %s for the peer of %s: %w", s.PeerNetns, s.Name, err)
			}
			defer fd.Close()
			v.PeerNamespace = netlink.NsFd(fd)
		}
		link = v
	case "vxlan":
		v := &netlink.Vxlan{LinkAttrs: attrs, VxlanId: s.ID, Port: s.DstPort, Learning: true}
		if s.Learning != nil {
			v.Learning = *s.Learning
		}
		if s.Remote.IsValid() {
			v.Group = s.Remote.AsSlice()
		}
		if s.Local.IsValid() {
			v.SrcAddr = s.Local.AsSlice()
		}
		if s.Dev != "" {
			dev, err := n.mustLink(s.Dev)
			if err != nil {
				return fmt.Errorf("dev of %s: %w", s.Name, err)
			}
			v.VtepDevIndex = dev.Attrs().Index
		}
		link = v
	case "vlan":
		parent, err := n.mustLink(s.Dev)
		if err != nil {
			return fmt.Errorf("dev of %s: %w", s.Name, err)
		}
		attrs.ParentIndex = parent.Attrs().Index
		link = &netlink.Vlan{LinkAttrs: attrs, VlanId: s.ID}
	}
	if err := n.h.LinkAdd(link); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("add %s link %s%s: %w (this kernel has no %s links: module not loaded?)", s.Kind, s.Name, n.where(), err, s.Kind)
		}
		return fmt.Errorf("add %s link %s%s: %w", s.Kind, s.Name, n.where(), err)
	}
	return nil
}

// DeleteLink deletes the link called name (a veth takes its peer with
// it); a missing link is no error.
func (n *NS) DeleteLink(name string) error {
	l, err := n.Link(name)
	if err != nil || l == nil {
		return err
	}
	if err := n.h.LinkDel(l); err != nil {
		return fmt.Errorf("delete link %s%s: %w", name, n.where(), err)
	}
	return nil
}

func addrOf(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok || a.IsUnspecified() {
		return netip.Addr{}
	}
	return a.Unmap()
}

func addrString(a netip.Addr) any {
	if !a.IsValid() {
		return nil
	}
	return a.String()
}

func change(old, neu any) map[string]any { return map[string]any{"old": old, "new": neu} }
