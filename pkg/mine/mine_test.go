package mine

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/brinecm/brine/pkg/target"
)

func TestAddress(t *testing.T) {
	grains := map[string]any{
		"ipv4":           []any{"127.0.0.1", "169.254.1.1", "10.0.0.5"},
		"ipv6":           []any{"::1", "fd00::2"},
		"underlay_ip":    "192.168.7.3/24",
		"net":            map[string]any{"mesh": "10.9.0.1"},
		"empty":          []any{"127.0.0.1"},
		"ip4_interfaces": map[string]any{"eth1": []any{"172.16.0.9"}, "lo": []any{"127.0.0.1"}},
		"ip6_interfaces": map[string]any{"eth2": []any{"fe80::1", "2001:db8::7"}},
	}
	tests := []struct {
		key, want string
		err       bool
	}{
		{"", "10.0.0.5", false},
		{"ipv4", "10.0.0.5", false},
		{"ipv6", "fd00::2", false},
		{"underlay_ip", "192.168.7.3", false},
		{"net:mesh", "10.9.0.1", false},
		{"eth1", "172.16.0.9", false},
		{"eth2", "2001:db8::7", false},
		{"empty", "", true},
		{"lo", "", true},
		{"eth9", "", true},
	}
	for _, tc := range tests {
		a, err := Address(grains, tc.key)
		if tc.err {
			if err == nil {
				t.Errorf("Address(%q) = %v, want an error", tc.key, a)
			}
			continue
		}
		if err != nil || a.String() != tc.want {
			t.Errorf("Address(%q) = %v, %v; want %s", tc.key, a, err, tc.want)
		}
	}
}

func fleet() Static {
	return Static{
		"h1": {"id": "h1", "role": "docker", "underlay_ip": "10.1.0.1"},
		"h2": {"id": "h2", "role": "docker", "underlay_ip": "10.1.0.2"},
		"h3": {"id": "h3", "role": "docker"},
		"db": {"id": "db", "role": "db", "underlay_ip": "10.1.0.9"},
	}
}

func TestResolveArgs(t *testing.T) {
	ctx := context.Background()
	m := fleet()
	raw := map[string]any{"peers": "G@role:docker", "peer_ip": "underlay_ip"}
	if err := ResolveArgs(ctx, m, "h1", m["h1"], raw); err != nil {
		t.Fatal(err)
	}
	ips := raw[PeerIPsArg].(map[string]any)
	if len(ips) != 1 || ips["h2"] != "10.1.0.2" {
		t.Errorf("peer_ips = %v, want only h2 (h1 is self, h3 has no address, db is not targeted)", ips)
	}
	if missing := raw[MissingArg].([]any); len(missing) != 1 || missing[0] != "h3 (no grain and no interface named underlay_ip)" {
		t.Errorf("peers_missing = %v", missing)
	}
	if raw["local_ip"] != "10.1.0.1" {
		t.Errorf("local_ip = %v, want h1's own 10.1.0.1", raw["local_ip"])
	}

	explicit := map[string]any{"peers": map[string]any{"h1": "10.1.0.1", "x": "10.2.0.01"}, "local_ip": "10.5.5.5"}
	if err := ResolveArgs(ctx, m, "h1", m["h1"], explicit); err == nil {
		t.Errorf("10.2.0.01 accepted as an address")
	}
	explicit["peers"] = map[string]any{"h1": "10.1.0.1", "x": "10.2.0.1"}
	if err := ResolveArgs(ctx, m, "h1", m["h1"], explicit); err != nil {
		t.Fatal(err)
	}
	if ips := explicit[PeerIPsArg].(map[string]any); !maps.Equal(ips, map[string]any{"x": "10.2.0.1"}) {
		t.Errorf("explicit peer_ips = %v", ips)
	}
	if explicit["local_ip"] != "10.5.5.5" {
		t.Errorf("a given local_ip was replaced: %v", explicit["local_ip"])
	}

	for _, bad := range []map[string]any{
		{},
		{"peers": 3},
		{"peers": "G@role:docker", "peer_ip": 7},
		{"peers": "G@role:docker", "tgt_type": ""},
		{"peers": "G@role:docker and (", "peer_ip": "underlay_ip"},
	} {
		if err := ResolveArgs(ctx, m, "h1", m["h1"], bad); err == nil {
			t.Errorf("ResolveArgs(%v) succeeded", bad)
		}
	}
}

func TestMines(t *testing.T) {
	ctx := context.Background()
	m := fleet()
	got, err := m.Get(ctx, "G@role:docker", target.Compound, "underlay_ip")
	if err != nil {
		t.Fatal(err)
	}
	if ids := slices.Sorted(maps.Keys(got)); !slices.Equal(ids, []string{"h1", "h2"}) {
		t.Errorf("static mine: %v", got)
	}
	l := Local{ID: "h1", Grains: m["h1"]}
	for _, tc := range []struct {
		tgt  string
		kind target.Kind
		fun  string
		n    int
	}{
		{"h*", "", "grains.items", 1},
		{"db", target.Glob, "grains.items", 0},
		{"role:docker", target.Grain, "grains.get:underlay_ip", 1},
		{"*", "", "nonexistent", 0},
	} {
		got, err := l.Get(ctx, tc.tgt, tc.kind, tc.fun)
		if err != nil || len(got) != tc.n {
			t.Errorf("Local.Get(%q, %q, %q) = %v, %v; want %d", tc.tgt, tc.kind, tc.fun, got, err, tc.n)
		}
	}
}
