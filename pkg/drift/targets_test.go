package drift

import (
	"reflect"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/sls"
)

func TestTargets(t *testing.T) {
	cases := []struct {
		name string
		low  sls.Low
		want []Target
	}{
		{"file.managed", low("motd", "file.managed", "/etc//motd", nil),
			[]Target{{ID: "motd", Kind: KindFile, Name: "/etc/motd"}}},
		{"file.directory alone watches the directory itself", low("d", "file.directory", "/srv/app/", nil),
			[]Target{{ID: "d", Kind: KindFile, Name: "/srv/app"}}},
		{"file.directory with recurse watches the tree", low("d", "file.directory", "/srv/app", map[string]any{"recurse": []any{"user"}}),
			[]Target{{ID: "d", Kind: KindTree, Name: "/srv/app"}}},
		{"file.directory with clean watches the tree", low("d", "file.directory", "/srv/app", map[string]any{"clean": true}),
			[]Target{{ID: "d", Kind: KindTree, Name: "/srv/app"}}},
		{"relative path: the state fails on its own", low("r", "file.managed", "etc/motd", nil), nil},
		{"watch_drift: False", low("x", "file.managed", "/etc/x", map[string]any{"watch_drift": false}), nil},
		{"watch_drift: True", low("x", "file.managed", "/etc/x", map[string]any{"watch_drift": true}),
			[]Target{{ID: "x", Kind: KindFile, Name: "/etc/x"}}},
		{"ovs bridge", low("br", "ovs_bridge.present", "br0", nil), []Target{{ID: "br", Kind: KindBridge, Name: "br0"}}},
		{"ovs port", low("p", "ovs_port.absent", "p0", nil), []Target{{ID: "p", Kind: KindPort, Name: "p0"}}},
		{"container with replicas", low("web", "docker_container.running", "web", map[string]any{"replicas": 3}),
			[]Target{{ID: "web", Kind: KindContainer, Name: "web", Replicas: true}}},
		{"docker network", low("n", "docker_network.present", "backend", nil), []Target{{ID: "n", Kind: KindDockerNetwork, Name: "backend"}}},
		{"link wanted down with mtu", low("l", "net.link", "br9", map[string]any{"kind": "bridge", "up": false, "mtu": 9000, "netns": "blue"}),
			[]Target{{ID: "l", Kind: KindLink, Name: "br9", Netns: "blue", Down: true, MTU: 9000}}},
		{"link absent", low("l", "net.absent", "old0", nil), []Target{{ID: "l", Kind: KindLink, Name: "old0", Absent: true}}},
		{"address", low("a", "net.address", "10.0.0.1/24", map[string]any{"dev": "br9"}),
			[]Target{{ID: "a", Kind: KindAddress, Name: "10.0.0.1/24", Dev: "br9"}}},
		{"default route", low("r", "net.route", "default", map[string]any{"gateway": "10.0.0.254"}),
			[]Target{{ID: "r", Kind: KindRoute, Name: "0.0.0.0/0", Gateway: "10.0.0.254", Table: 254}}},
		{"route in a table, unmasked", low("r", "net.route", "10.1.2.3/16", map[string]any{"dev": "br9", "table": 100}),
			[]Target{{ID: "r", Kind: KindRoute, Name: "10.1.0.0/16", Dev: "br9", Table: 100}}},
		{"nothing to watch", low("c", "cmd.run", "true", nil), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Targets([]sls.Low{c.low})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("targets %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestTargetsBadWatchDrift(t *testing.T) {
	l := low("motd", "file.managed", "/etc/motd", map[string]any{"watch_drift": "no"})
	l.ArgPos = map[string]sls.Pos{"watch_drift": {File: "base/motd.sls", Line: 4}}
	ok := low("ok", "file.managed", "/etc/ok", nil)
	got, err := Targets([]sls.Low{l, ok})
	want := "base/motd.sls:4: state motd: file.managed: watch_drift must be True or False, not no"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	if len(got) != 1 || got[0].ID != "ok" {
		t.Errorf("targets %+v: the other states must still be watched", got)
	}
}
