package net

import (
	"context"
	"reflect"
	"testing"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/netx/nettest"
)

func call(t *testing.T, fun string, args ...any) map[string]any {
	t.Helper()
	out, err := modules.Call(context.Background(), &modules.Runtime{}, fun, args, nil)
	if err != nil {
		t.Fatalf("%s %v: %v", fun, args, err)
	}
	return out.(map[string]any)
}

func TestLinksAddresses(t *testing.T) {
	ns := nettest.Namespace(t, "brine-t-m")
	// Made with ip, so the module is checked against something it did not write.
	nettest.MustIP(t, ns, "link", "add", "brtest-br", "type", "bridge")
	nettest.MustIP(t, ns, "link", "add", "brtest-v0", "mtu", "1400", "type", "veth", "peer", "name", "brtest-v1")
	nettest.MustIP(t, ns, "link", "set", "brtest-v0", "master", "brtest-br", "up")
	nettest.MustIP(t, ns, "addr", "add", "10.235.0.1/24", "dev", "brtest-br")
	nettest.MustIP(t, ns, "addr", "add", "fd00:235::1/64", "dev", "brtest-br")

	links := call(t, "net.links", ns)
	if len(links) != 4 { // lo, the bridge, the veth pair
		t.Errorf("net.links: %v", links)
	}
	v0, _ := links["brtest-v0"].(map[string]any)
	for k, want := range map[string]any{"kind": "veth", "mtu": 1400, "up": true, "master": "brtest-br", "addresses": []any{}} {
		if !reflect.DeepEqual(v0[k], want) {
			t.Errorf("brtest-v0 %s = %#v, want %#v", k, v0[k], want)
		}
	}
	br, _ := links["brtest-br"].(map[string]any)
	if br["kind"] != "bridge" || br["up"] != false {
		t.Errorf("brtest-br = %v", br)
	}

	addrs := call(t, "net.addresses", ns)
	// The kernel adds a link-local IPv6 address only to links that are up; the bridge is down.
	if want := []any{"10.235.0.1/24", "fd00:235::1/64"}; !reflect.DeepEqual(addrs["brtest-br"], want) {
		t.Errorf("net.addresses brtest-br = %v, want %v", addrs["brtest-br"], want)
	}

	if _, err := modules.Call(context.Background(), &modules.Runtime{}, "net.links", []any{"brine-t-missing"}, nil); err == nil {
		t.Error("net.links in a missing namespace: no error")
	}
}
