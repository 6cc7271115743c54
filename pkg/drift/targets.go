package drift

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"github.com/brinecm/brine/pkg/sls"
)

// Kind is what a watch target is.
type Kind int

// Target kinds.
const (
	KindFile          Kind = iota // a path (file, symlink or directory itself)
	KindTree                      // a directory and everything below it
	KindBridge                    // an Open vSwitch bridge
	KindPort                      // an Open vSwitch port and its interface
	KindContainer                 // a Docker container
	KindDockerNetwork             // a Docker network
	KindLink                      // a network link
	KindAddress                   // an address on a link
	KindRoute                     // a route
)

var kindNames = [...]string{"file", "tree", "ovs bridge", "ovs port", "container", "docker network", "link", "address", "route"}

// String names the kind for messages.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind %d", int(k))
}

// Target is one object a state manages, watched on behalf of that state.
type Target struct {
	ID   string // the state's ID
	Kind Kind
	// Name is the path, bridge, port, container, network or link name,
	// the address (CIDR) or the route destination (CIDR; "default" is
	// 0.0.0.0/0).
	Name string
	// Netns is the network namespace of a link, address or route; "" is
	// the host's.
	Netns string
	// Dev is the link of an address or route.
	Dev string
	// Table is a route's table (254, main, when not given).
	Table int
	// Gateway is a route's gateway, "" when not given.
	Gateway string
	// MTU is a link's wanted MTU, 0 when not given.
	MTU int
	// Down is set for a link wanted down (up: False); Absent for a link
	// wanted gone (net.absent).
	Down, Absent bool
	// Replicas is set for a container state with replicas: the containers
	// are Name-1..Name-N.
	Replicas bool
}

// mainTable is the kernel's main routing table.
const mainTable = 254

// Targets derives the watch targets of a compiled highstate. States with
// watch_drift: False, and states whose module manages nothing watchable
// (cmd.run, pkg, service...), have none. A watch_drift that is not a
// boolean is an error naming the state's file, line and ID.
func Targets(lows []sls.Low) ([]Target, error) {
	var out []Target
	var errs []error
	for i := range lows {
		l := &lows[i]
		on, err := WatchDrift(l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !on {
			continue
		}
		out = append(out, targetsOf(l)...)
	}
	return out, sortedJoin(errs)
}

// WatchDrift reads a state's watch_drift argument: true when absent.
func WatchDrift(l *sls.Low) (bool, error) {
	v, ok := l.Args["watch_drift"]
	if !ok {
		return true, nil
	}
	b, ok := v.(bool)
	if !ok {
		pos := l.Pos
		if p, ok := l.ArgPos["watch_drift"]; ok {
			pos = p
		}
		return false, fmt.Errorf("%s: state %s: %s: watch_drift must be True or False, not %v", pos, l.ID, l.Function(), v)
	}
	return b, nil
}

// targetsOf is what one state manages.
func targetsOf(l *sls.Low) []Target {
	t := Target{ID: l.ID, Name: l.Name}
	str := func(k string) string { s, _ := l.Args[k].(string); return s }
	switch l.Module {
	case "file":
		if !filepath.IsAbs(l.Name) {
			return nil // the state itself fails on it
		}
		t.Name = filepath.Clean(l.Name)
		t.Kind = KindFile
		if l.Fun == "directory" && (truthy(l.Args["clean"]) || l.Args["recurse"] != nil) {
			t.Kind = KindTree
		}
		return []Target{t}
	case "ovs_bridge":
		t.Kind = KindBridge
		return []Target{t}
	case "ovs_port":
		t.Kind = KindPort
		return []Target{t}
	case "docker_container":
		t.Kind = KindContainer
		t.Replicas = l.Args["replicas"] != nil
		return []Target{t}
	case "docker_network":
		t.Kind = KindDockerNetwork
		return []Target{t}
	case "net":
		t.Netns = str("netns")
		switch l.Fun {
		case "link", "absent", "vxlan_mesh":
			t.Kind = KindLink
			t.Absent = l.Fun == "absent"
			if up, ok := l.Args["up"].(bool); ok && !up {
				t.Down = true
			}
			t.MTU, _ = l.Args["mtu"].(int)
		case "address":
			t.Kind = KindAddress
			t.Dev = str("dev")
			p, err := netip.ParsePrefix(l.Name)
			if err != nil {
				return nil // the state itself fails on it
			}
			t.Name = p.String()
		case "route":
			t.Kind = KindRoute
			t.Dev = str("dev")
			t.Gateway = str("gateway")
			t.Table = mainTable
			if n, ok := l.Args["table"].(int); ok && n != 0 {
				t.Table = n
			}
			dst, ok := routeDst(l.Name)
			if !ok {
				return nil
			}
			t.Name = dst
		default:
			return nil
		}
		return []Target{t}
	}
	return nil
}

// routeDst normalizes a route destination: a masked CIDR, "default" as
// 0.0.0.0/0.
func routeDst(s string) (string, bool) {
	if s == "default" {
		return "0.0.0.0/0", true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return "", false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return p.Masked().String(), true
}

func truthy(v any) bool {
	b, ok := v.(bool)
	return ok && b
}

// byKind splits targets by what watches them.
func byKind(ts []Target, kinds ...Kind) []Target {
	var out []Target
	for _, t := range ts {
		if slices.Contains(kinds, t.Kind) {
			out = append(out, t)
		}
	}
	return out
}

// under reports whether path is dir or below it.
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/") || dir == "/"
}
