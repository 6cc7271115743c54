package drift

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nlSubscriptions follows links, addresses and routes through netlink
// subscriptions (RTNLGRP_LINK, IPV4/IPV6_IFADDR, IPV4/IPV6_ROUTE), one
// set per network namespace that targets live in.
type nlSubscriptions struct{}

// linkInfo is what the net states manage of a link.
type linkInfo struct {
	name   string
	up     bool
	mtu    int
	master int
}

// nsWatch is the subscriptions of one namespace.
type nsWatch struct {
	w       *Watcher
	ns      string
	targets []Target
	links   map[int]linkInfo // by index
	linkCh  chan netlink.LinkUpdate
	addrCh  chan netlink.AddrUpdate
	routeCh chan netlink.RouteUpdate
}

func startNetlink(ctx context.Context, w *Watcher, g *generation, ts []Target) (source, error) {
	byNS := map[string][]Target{}
	for _, t := range ts {
		byNS[t.Netns] = append(byNS[t.Netns], t)
	}
	names := make([]string, 0, len(byNS))
	for ns := range byNS {
		names = append(names, ns)
	}
	sort.Strings(names)
	var errs []error
	for _, ns := range names {
		nw := &nsWatch{w: w, ns: ns, targets: byNS[ns], links: map[int]linkInfo{},
			linkCh: make(chan netlink.LinkUpdate, 256), addrCh: make(chan netlink.AddrUpdate, 256),
			routeCh: make(chan netlink.RouteUpdate, 256)}
		if err := nw.subscribe(ctx, g); err != nil {
			errs = append(errs, err)
		}
	}
	return nlSubscriptions{}, errors.Join(errs...)
}

// subscribe seeds the link table and opens the three subscriptions.
func (nw *nsWatch) subscribe(ctx context.Context, g *generation) error {
	where := "the host's network namespace"
	h, err := netlink.NewHandle()
	var nsh *netns.NsHandle
	if nw.ns != "" {
		where = "network namespace " + nw.ns
		fd, ferr := netns.GetFromName(nw.ns)
		if ferr != nil {
			return fmt.Errorf("open %s: %w", where, ferr)
		}
		nsh = &fd
		h, err = netlink.NewHandleAt(fd)
	}
	closeNS := func() {
		if nsh != nil {
			nsh.Close()
		}
	}
	if err != nil {
		closeNS()
		return fmt.Errorf("open netlink in %s: %w", where, err)
	}
	defer h.Close()
	done := make(chan struct{})
	onErr := func(err error) { nw.w.log.Warn("netlink subscription error", "netns", nw.ns, "err", err) }
	errs := []error{
		netlink.LinkSubscribeWithOptions(nw.linkCh, done, netlink.LinkSubscribeOptions{Namespace: nsh, ErrorCallback: onErr}),
		netlink.AddrSubscribeWithOptions(nw.addrCh, done, netlink.AddrSubscribeOptions{Namespace: nsh, ErrorCallback: onErr}),
		netlink.RouteSubscribeWithOptions(nw.routeCh, done, netlink.RouteSubscribeOptions{Namespace: nsh, ErrorCallback: onErr}),
	}
	links, lerr := h.LinkList()
	if err := errors.Join(append(errs, lerr)...); err != nil {
		close(done)
		closeNS()
		return fmt.Errorf("subscribe to netlink in %s: %w", where, err)
	}
	for _, l := range links {
		nw.links[l.Attrs().Index] = info(l)
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer closeNS()
		defer close(done)
		nw.run(ctx)
	}()
	return nil
}

func info(l netlink.Link) linkInfo {
	a := l.Attrs()
	return linkInfo{name: a.Name, up: a.Flags&net.FlagUp != 0, mtu: a.MTU, master: a.MasterIndex}
}

func (nw *nsWatch) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-nw.linkCh:
			if !ok {
				return
			}
			nw.link(u)
		case u, ok := <-nw.addrCh:
			if !ok {
				return
			}
			nw.addr(u)
		case u, ok := <-nw.routeCh:
			if !ok {
				return
			}
			nw.route(u)
		}
	}
}

// emit passes a change on to the targets of kind k that match.
func (nw *nsWatch) emit(k Kind, match func(Target) bool, reason string) {
	at := time.Now()
	for _, t := range nw.targets {
		if t.Kind == k && match(t) {
			nw.w.hit(hit{id: t.ID, reason: reason + in(nw.ns), at: at, settle: netlinkSettle})
		}
	}
}

func in(ns string) string {
	if ns == "" {
		return ""
	}
	return " in network namespace " + ns
}

func (nw *nsWatch) link(u netlink.LinkUpdate) {
	idx := int(u.Index)
	old, had := nw.links[idx]
	onDev := func(n string) func(Target) bool { return func(t Target) bool { return t.Dev == n } }
	if u.Header.Type == unix.RTM_DELLINK {
		delete(nw.links, idx)
		name := u.Attrs().Name
		if had {
			name = old.name
		}
		nw.emit(KindLink, func(t Target) bool { return t.Name == name && !t.Absent }, "link "+name+" deleted")
		nw.emit(KindAddress, onDev(name), "link "+name+" deleted")
		nw.emit(KindRoute, onDev(name), "link "+name+" deleted")
		return
	}
	now := info(u.Link)
	nw.links[idx] = now
	if had && old.name != now.name {
		why := fmt.Sprintf("link %s renamed to %s", old.name, now.name)
		nw.emit(KindLink, func(t Target) bool { return t.Name == old.name && !t.Absent }, why)
		nw.emit(KindAddress, onDev(old.name), why)
		nw.emit(KindRoute, onDev(old.name), why)
	}
	if had && old.up && !now.up { // the kernel drops the link's routes without telling
		nw.emit(KindRoute, onDev(now.name), "link "+now.name+" set down")
	}
	for _, t := range nw.targets {
		if t.Kind != KindLink || t.Name != now.name {
			continue
		}
		var what []string
		switch {
		case t.Absent:
			if !had || old.name != now.name {
				what = append(what, "created")
			}
		case !had || old.name != now.name:
			what = append(what, "created") // a link made anew may differ in kind
		default:
			if old.up != now.up && now.up == t.Down {
				what = append(what, map[bool]string{true: "set up", false: "set down"}[now.up])
			}
			if old.mtu != now.mtu && t.MTU != 0 && now.mtu != t.MTU {
				what = append(what, fmt.Sprintf("mtu %d -> %d", old.mtu, now.mtu))
			}
			if old.master != now.master {
				what = append(what, "master changed")
			}
		}
		if len(what) > 0 {
			nw.w.hit(hit{id: t.ID, reason: "link " + now.name + " " + strings.Join(what, ", ") + in(nw.ns),
				at: time.Now(), settle: netlinkSettle})
		}
	}
}

func (nw *nsWatch) addr(u netlink.AddrUpdate) {
	dev, ok := nw.links[u.LinkIndex]
	if !ok {
		return
	}
	ip, ok := netip.AddrFromSlice(u.LinkAddress.IP)
	if !ok {
		return
	}
	ones, _ := u.LinkAddress.Mask.Size()
	got := netip.PrefixFrom(ip.Unmap(), ones)
	nw.emit(KindAddress, func(t Target) bool {
		want, err := netip.ParsePrefix(t.Name)
		if err != nil || t.Dev != dev.name || want.Addr() != got.Addr() {
			return false
		}
		return !u.NewAddr || want.Bits() != got.Bits() // re-adding the wanted address is no drift
	}, fmt.Sprintf("address %s on %s %s", got, dev.name, map[bool]string{true: "added", false: "removed"}[u.NewAddr]))
}

func (nw *nsWatch) route(u netlink.RouteUpdate) {
	if u.Flags&unix.RTM_F_CLONED != 0 {
		return
	}
	dst := "0.0.0.0/0"
	if u.Family == unix.AF_INET6 {
		dst = "::/0"
	}
	if u.Dst != nil {
		if ip, ok := netip.AddrFromSlice(u.Dst.IP); ok {
			ones, _ := u.Dst.Mask.Size()
			dst = netip.PrefixFrom(ip.Unmap(), ones).Masked().String()
		}
	}
	table := u.Table
	if table == 0 {
		table = mainTable
	}
	what := "added or replaced"
	if u.Type == unix.RTM_DELROUTE {
		what = "removed"
	}
	dev := nw.links[u.LinkIndex].name
	gw := ""
	if u.Gw != nil {
		gw = u.Gw.String()
	}
	nw.emit(KindRoute, func(t Target) bool {
		if t.Name != dst || t.Table != table {
			return false
		}
		// The route as wanted, added again, is no drift.
		return u.Type == unix.RTM_DELROUTE || (t.Dev != "" && t.Dev != dev) || (t.Gateway != "" && t.Gateway != gw)
	}, fmt.Sprintf("route %s (table %d) %s", dst, table, what))
}

// barrier has nothing to wait for: the kernel queues a change's
// notification before the call that made it returns, and netlinkSettle
// covers its delivery.
func (nlSubscriptions) barrier(context.Context) error { return nil }
