// Package net provides the net execution module: net.links and
// net.addresses list Linux links and addresses over netlink, in the host's
// network namespace or a named one.
package net

import (
	"context"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/netx"
)

type nsArgs struct {
	Netns string `arg:"netns"`
}

func init() {
	modules.Register("net.links", modules.Func[nsArgs]{
		ReadOnly: true,
		Doc: "Return the links of network namespace netns (default: the host's), keyed by name: " +
			"index, kind, mtu, up, mac, master and addresses.",
		Params: []string{"netns"},
		Call:   links,
	})
	modules.Register("net.addresses", modules.Func[nsArgs]{
		ReadOnly: true,
		Doc:      "Return the IPv4 and IPv6 addresses (CIDR) of network namespace netns (default: the host's), keyed by link.",
		Params:   []string{"netns"},
		Call:     addresses,
	})
}

func links(_ context.Context, _ *modules.Runtime, a *nsArgs) (any, error) {
	ns, err := netx.Open(a.Netns)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	ls, err := ns.Links()
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(ls))
	for name, l := range ls {
		out[name] = map[string]any{
			"index": l.Index, "kind": l.Kind, "mtu": l.MTU, "up": l.Up,
			"mac": l.MAC, "master": l.Master, "addresses": anyList(l.Addrs),
		}
	}
	return out, nil
}

func addresses(_ context.Context, _ *modules.Runtime, a *nsArgs) (any, error) {
	ns, err := netx.Open(a.Netns)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	addrs, err := ns.Addresses()
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(addrs))
	for name, l := range addrs {
		out[name] = anyList(l)
	}
	return out, nil
}

// anyList converts for output: lists are []any, as YAML decodes them.
func anyList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
