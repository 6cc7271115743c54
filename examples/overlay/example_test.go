// The overlay example compiled the way a master compiles it for each of
// three docker hosts: every host's mesh gets the two others as peers.
package overlayexample_test

import (
	"fmt"
	"maps"
	"testing"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/modules/state"
	"github.com/brinecm/brine/pkg/mine"
	_ "github.com/brinecm/brine/states/all"
)

func TestOverlayCompilesForEachHost(t *testing.T) {
	fleet := mine.Static{}
	for i, ip := range []string{"192.168.10.21", "192.168.10.22", "192.168.10.23"} {
		id := []string{"dock1", "dock2", "dock3"}[i]
		fleet[id] = map[string]any{"id": id, "role": "docker", "underlay_ip": ip, "overlay_index": i + 1}
	}
	fleet["db1"] = map[string]any{"id": "db1", "role": "db", "underlay_ip": "192.168.10.30"}
	for id, grains := range fleet {
		if id == "db1" {
			continue
		}
		rt := &modules.Runtime{ID: id, Grains: grains, FileRoots: []string{"states"}, Mine: fleet}
		lows, _, err := state.CompileFor(t.Context(), rt, "state.highstate", nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		want := map[string]any{}
		for peer, g := range fleet {
			if peer != id && g["role"] == "docker" {
				want[peer] = g["underlay_ip"]
			}
		}
		var found bool
		for _, l := range lows {
			switch l.Function() {
			case "ovs.mesh":
				found = true
				if got, _ := l.Args[mine.PeerIPsArg].(map[string]any); !maps.Equal(got, want) {
					t.Errorf("%s: peers %v, want %v", id, got, want)
				}
				if l.Args["local_ip"] != grains["underlay_ip"] {
					t.Errorf("%s: local_ip %v", id, l.Args["local_ip"])
				}
			case "docker_container.running":
				if want := fmt.Sprintf("10.88.0.%d/24", 10+grains["overlay_index"].(int)); l.Args["ip"] != want {
					t.Errorf("%s: container ip %v, want %s", id, l.Args["ip"], want)
				}
			}
		}
		if !found {
			t.Errorf("%s: no ovs.mesh state compiled", id)
		}
	}
}
