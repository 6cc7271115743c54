package net

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/netx/nettest"
	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

func apply(t *testing.T, fun, name string, args map[string]any, test bool) states.Outcome {
	t.Helper()
	o := statetest.Apply(t, fun, args, &states.Call{ID: name, Name: name, Test: test})
	t.Logf("%s %s test=%v: result=%s comment=%q changes=%v", fun, name, test, states.ResultString(o.Result), o.Comment, o.Changes)
	return o
}

func expect(t *testing.T, o states.Outcome, result string, changed bool) {
	t.Helper()
	if got := states.ResultString(o.Result); got != result || o.Changed() != changed {
		t.Fatalf("result %s changed %v, want %s changed %v: %s %v", got, o.Changed(), result, changed, o.Comment, o.Changes)
	}
}

// ensure applies a state in test mode (which must change nothing the
// check sees), then for real, then again (which must change nothing).
func ensure(t *testing.T, fun, name string, args map[string]any, check func() bool) {
	t.Helper()
	before := check()
	expect(t, apply(t, fun, name, args, true), "None", true)
	if check() != before {
		t.Fatalf("test mode of %s %s changed the system", fun, name)
	}
	expect(t, apply(t, fun, name, args, false), "True", true)
	if !check() {
		t.Fatalf("%s %s: not as wanted after apply", fun, name)
	}
	expect(t, apply(t, fun, name, args, false), "True", false)
}

var ifindexRE = regexp.MustCompile(`^(\d+):`)

func ifindex(t *testing.T, ns, link string) string {
	t.Helper()
	m := ifindexRE.FindStringSubmatch(nettest.MustIP(t, ns, "-o", "link", "show", "dev", link))
	if m == nil {
		t.Fatalf("no ifindex for %s", link)
	}
	return m[1]
}

// Two namespaces joined by a veth underlay, a VXLAN overlay across it
// (one end on a bridge), and a ping between the overlay addresses.
func TestVXLANBetweenNamespaces(t *testing.T) {
	systest.RequireCommands(t, "ping")
	a := nettest.Namespace(t, "brine-t-a")
	b := nettest.Namespace(t, "brine-t-b")
	has := func(ns string, args ...string) func() bool {
		return func() bool { _, ok := nettest.IP(t, ns, args...); return ok }
	}
	contains := func(ns, want string, args ...string) func() bool {
		return func() bool { out, _ := nettest.IP(t, ns, args...); return strings.Contains(out, want) }
	}

	// The underlay: a veth pair with one end in each namespace.
	ensure(t, "net.link", "brtest-ua", map[string]any{"kind": "veth", "peer": "brtest-ub", "netns": a, "peer_netns": b},
		has(b, "link", "show", "brtest-ub"))
	if out := nettest.MustIP(t, a, "-d", "link", "show", "brtest-ua"); !strings.Contains(out, "veth") || !strings.Contains(out, "UP") {
		t.Fatalf("brtest-ua: %s", out)
	}
	// The other end, seen from its own namespace, is the same pair: only brought up.
	o := apply(t, "net.link", "brtest-ub", map[string]any{"kind": "veth", "peer": "brtest-ua", "netns": b, "peer_netns": a}, false)
	expect(t, o, "True", true)
	if len(o.Changes) != 1 || o.Changes["up"] == nil {
		t.Fatalf("changes %v, want only up", o.Changes)
	}
	ensure(t, "net.address", "10.231.0.1/24", map[string]any{"dev": "brtest-ua", "netns": a},
		contains(a, "10.231.0.1/24", "addr", "show", "dev", "brtest-ua"))
	ensure(t, "net.address", "10.231.0.2/24", map[string]any{"dev": "brtest-ub", "netns": b},
		contains(b, "10.231.0.2/24", "addr", "show", "dev", "brtest-ub"))

	// The overlay: in a, the vxlan is a port of a bridge that holds the address.
	ensure(t, "net.link", "brtest-bra", map[string]any{"kind": "bridge", "netns": a}, has(a, "link", "show", "brtest-bra"))
	vx := func(local, remote, dev, ns string) map[string]any {
		return map[string]any{"kind": "vxlan", "id": 42, "local": local, "remote": remote, "dev": dev,
			"dstport": 4789, "learning": false, "netns": ns, "mtu": 1400}
	}
	xa := vx("10.231.0.1", "10.231.0.2", "brtest-ua", a)
	xa["master"] = "brtest-bra"
	ensure(t, "net.link", "brtest-xa", xa, contains(a, "master brtest-bra", "link", "show", "brtest-xa"))
	details := nettest.MustIP(t, a, "-d", "link", "show", "brtest-xa")
	for _, want := range []string{"vxlan id 42", "remote 10.231.0.2", "local 10.231.0.1", "dev brtest-ua", "dstport 4789", "nolearning", "mtu 1400"} {
		if !strings.Contains(details, want) {
			t.Errorf("brtest-xa lacks %q: %s", want, details)
		}
	}
	ensure(t, "net.link", "brtest-xb", vx("10.231.0.2", "10.231.0.1", "brtest-ub", b), has(b, "link", "show", "brtest-xb"))
	ensure(t, "net.address", "10.232.0.1/24", map[string]any{"dev": "brtest-bra", "netns": a},
		contains(a, "10.232.0.1/24", "addr", "show", "dev", "brtest-bra"))
	ensure(t, "net.address", "10.232.0.2/24", map[string]any{"dev": "brtest-xb", "netns": b},
		contains(b, "10.232.0.2/24", "addr", "show", "dev", "brtest-xb"))

	ping := func() {
		t.Helper()
		out, err := exec.Command("ip", "netns", "exec", a, "ping", "-c", "2", "-i", "0.2", "-W", "2", "10.232.0.2").CombinedOutput()
		if err != nil {
			t.Fatalf("ping over the overlay: %v\n%s", err, out)
		}
	}
	ping()

	// mtu changes in place; a new VNI needs a new link, which keeps its master.
	idx := ifindex(t, a, "brtest-xa")
	xa["mtu"] = 1350
	o = apply(t, "net.link", "brtest-xa", xa, false)
	expect(t, o, "True", true)
	if ifindex(t, a, "brtest-xa") != idx || !contains(a, "mtu 1350", "link", "show", "brtest-xa")() {
		t.Fatalf("mtu not changed in place: %s", nettest.MustIP(t, a, "link", "show", "brtest-xa"))
	}
	xa["id"] = 43
	o = apply(t, "net.link", "brtest-xa", xa, false)
	expect(t, o, "True", true)
	if !strings.Contains(o.Comment, "recreated") || ifindex(t, a, "brtest-xa") == idx {
		t.Fatalf("VNI change: %q", o.Comment)
	}
	if !contains(a, "vxlan id 43", "-d", "link", "show", "brtest-xa")() || !contains(a, "master brtest-bra", "link", "show", "brtest-xa")() {
		t.Fatalf("after recreate: %s", nettest.MustIP(t, a, "-d", "link", "show", "brtest-xa"))
	}
	ensure(t, "net.link", "brtest-xb", map[string]any{"kind": "vxlan", "id": 43, "local": "10.231.0.2", "remote": "10.231.0.1",
		"dev": "brtest-ub", "netns": b, "mtu": 1350}, contains(b, "vxlan id 43", "-d", "link", "show", "brtest-xb"))
	ensure(t, "net.address", "10.232.0.2/24", map[string]any{"dev": "brtest-xb", "netns": b},
		contains(b, "10.232.0.2/24", "addr", "show", "dev", "brtest-xb"))
	ping()

	// Routes: added, replaced in place when the gateway changes; the default route.
	ensure(t, "net.route", "10.233.0.0/24", map[string]any{"gateway": "10.231.0.2", "dev": "brtest-ua", "netns": a},
		contains(a, "10.233.0.0/24 via 10.231.0.2 dev brtest-ua", "route", "show"))
	ensure(t, "net.route", "10.233.0.0/24", map[string]any{"gateway": "10.232.0.2", "netns": a},
		contains(a, "10.233.0.0/24 via 10.232.0.2 dev brtest-bra", "route", "show"))
	if n := strings.Count(nettest.MustIP(t, a, "route", "show", "10.233.0.0/24"), "\n"); n != 0 {
		t.Errorf("route not replaced: %s", nettest.MustIP(t, a, "route", "show"))
	}
	ensure(t, "net.route", "default", map[string]any{"gateway": "10.231.0.2", "metric": 50, "netns": a},
		contains(a, "default via 10.231.0.2 dev brtest-ua metric 50", "route", "show"))
	ensure(t, "net.route", "10.234.0.0/24", map[string]any{"dev": "brtest-bra", "netns": a},
		contains(a, "10.234.0.0/24 dev brtest-bra scope link", "route", "show"))

	// An address with another prefix length is replaced.
	o = apply(t, "net.address", "10.232.0.1/16", map[string]any{"dev": "brtest-bra", "netns": a}, false)
	expect(t, o, "True", true)
	if out := nettest.MustIP(t, a, "addr", "show", "dev", "brtest-bra"); !strings.Contains(out, "10.232.0.1/16") || strings.Contains(out, "10.232.0.1/24") {
		t.Fatalf("address not replaced: %s", out)
	}

	ensure(t, "net.absent", "brtest-xa", map[string]any{"netns": a}, func() bool {
		_, ok := nettest.IP(t, a, "link", "show", "brtest-xa")
		return !ok
	})
	// Deleting one end of a veth takes the other with it.
	expect(t, apply(t, "net.absent", "brtest-ua", map[string]any{"netns": a}, false), "True", true)
	if _, ok := nettest.IP(t, b, "link", "show", "brtest-ub"); ok {
		t.Fatal("veth peer survived")
	}
}

// kindSupported reports whether the kernel can make the link that
// `ip link add brtest-probe spec…` makes (some kernels are built without
// the dummy or 8021q modules).
func kindSupported(t *testing.T, ns string, spec ...string) bool {
	t.Helper()
	if _, ok := nettest.IP(t, ns, append([]string{"link", "add", "brtest-probe"}, spec...)...); !ok {
		return false
	}
	nettest.MustIP(t, ns, "link", "del", "brtest-probe")
	return true
}

func TestDummy(t *testing.T) {
	ns := nettest.Namespace(t, "brine-t-c")
	if !kindSupported(t, ns, "type", "dummy") {
		// The state must say so, not pretend.
		o := apply(t, "net.link", "brtest-d0", map[string]any{"kind": "dummy", "netns": ns}, false)
		expect(t, o, "False", false)
		if !strings.Contains(o.Comment, "this kernel has no dummy links") {
			t.Errorf("comment %q", o.Comment)
		}
		t.Log("this kernel has no dummy links: checked that the state says so instead")
		return
	}
	ensure(t, "net.link", "brtest-d0", map[string]any{"kind": "dummy", "netns": ns, "up": false, "mtu": 9000},
		func() bool {
			out, _ := nettest.IP(t, ns, "link", "show", "brtest-d0")
			return strings.Contains(out, "mtu 9000")
		})
	if out := nettest.MustIP(t, ns, "link", "show", "brtest-d0"); strings.Contains(out, ",UP") {
		t.Fatalf("up: False brought it up: %s", out)
	}
	// A link of another kind under the same name is replaced.
	o := apply(t, "net.link", "brtest-d0", map[string]any{"kind": "bridge", "netns": ns}, false)
	expect(t, o, "True", true)
	if out := nettest.MustIP(t, ns, "-d", "link", "show", "brtest-d0"); !strings.Contains(out, "bridge") {
		t.Fatalf("kind not changed: %s", out)
	}
}

func TestVLAN(t *testing.T) {
	ns := nettest.Namespace(t, "brine-t-d")
	ensure(t, "net.link", "brtest-p0", map[string]any{"kind": "veth", "peer": "brtest-p1", "netns": ns},
		func() bool { _, ok := nettest.IP(t, ns, "link", "show", "brtest-p0"); return ok })
	// A peer namespace that is the link's own is the same pair.
	expect(t, apply(t, "net.link", "brtest-p0", map[string]any{"kind": "veth", "peer": "brtest-p1", "netns": ns, "peer_netns": ns}, false), "True", false)
	if !kindSupported(t, ns, "link", "brtest-p0", "type", "vlan", "id", "5") {
		o := apply(t, "net.link", "brtest-p0.10", map[string]any{"kind": "vlan", "id": 10, "dev": "brtest-p0", "netns": ns}, false)
		expect(t, o, "False", false)
		if !strings.Contains(o.Comment, "vlan") {
			t.Errorf("comment %q does not name the missing vlan support", o.Comment)
		}
		t.Log("this kernel has no vlan links: checked that the state says so instead")
		return
	}
	ensure(t, "net.link", "brtest-p0.10", map[string]any{"kind": "vlan", "id": 10, "dev": "brtest-p0", "netns": ns},
		func() bool {
			out, _ := nettest.IP(t, ns, "-d", "link", "show", "brtest-p0.10")
			return strings.Contains(out, "vlan protocol 802.1Q id 10")
		})
	// A kind setting that differs makes the link again.
	o := apply(t, "net.link", "brtest-p0.10", map[string]any{"kind": "vlan", "id": 11, "dev": "brtest-p0", "netns": ns}, false)
	expect(t, o, "True", true)
	if out := nettest.MustIP(t, ns, "-d", "link", "show", "brtest-p0.10"); !strings.Contains(out, "id 11") {
		t.Fatalf("vlan id not changed: %s", out)
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		fun  string
		name string
		args map[string]any
		msg  string
	}{
		{"net.link", "brtest-e0", map[string]any{"kind": "vxaln", "id": 1}, `did you mean "vxlan"`},
		{"net.link", "brtest-e0", map[string]any{"kind": "vxlan"}, "needs id"},
		{"net.link", "brtest-e0", map[string]any{"kind": "veth"}, "needs peer"},
		{"net.link", "brtest-e0", map[string]any{"kind": "dummy", "peer": "x"}, "peer does not apply to a dummy link"},
		{"net.link", "brtest-e0", map[string]any{"kind": "vxlan", "id": 1, "remote": "10.0.0.300"}, "not an IP address"},
		{"net.link", "brtest-e0", map[string]any{"kind": "vlan", "id": 5000, "dev": "x"}, "1 to 4094"},
		{"net.link", "brtest-name-too-long", map[string]any{"kind": "dummy"}, "invalid link name"},
		{"net.link", "brtest-e0", map[string]any{"kind": "dummy", "netns": "brine-t-missing"}, "does not exist"},
		{"net.address", "10.0.0.1", map[string]any{"dev": "lo"}, "prefix length"},
		{"net.route", "10.0.0.1/24", map[string]any{"dev": "lo"}, "host bits"},
		{"net.route", "10.0.0.0/24", nil, "gateway or dev"},
		{"net.route", "10.0.0.0/24", map[string]any{"gateway": "fe80::1"}, "different IP versions"},
	} {
		o := apply(t, tc.fun, tc.name, tc.args, false)
		expect(t, o, "False", false)
		if !strings.Contains(o.Comment, tc.msg) {
			t.Errorf("%s %s %v: comment %q, want %q", tc.fun, tc.name, tc.args, o.Comment, tc.msg)
		}
	}
}
