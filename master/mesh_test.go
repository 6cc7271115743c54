package master

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"testing"

	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/mine"
	"github.com/brinecm/brine/pkg/sls"
)

// meshLow is a mesh state as the compiler leaves it, with its peers resolved.
func meshLow(file string, peers map[string]any) sls.Low {
	return sls.Low{ID: "mesh", Name: "mesh", Module: "ovs", Fun: "mesh", SLS: file, Args: map[string]any{
		"peers": "G@role:docker", "peer_ip": "underlay_ip", mine.PeerIPsArg: peers}}
}

func docker(ip string) map[string]any { return map[string]any{"role": "docker", "underlay_ip": ip} }

func TestMeshReactions(t *testing.T) {
	ctx := context.Background()
	newWatch := func() *meshes {
		m := &Master{log: slog.New(slog.DiscardHandler), grains: newGrainsCache(),
			opts: Options{Master: config.Master{FileRoots: config.Roots{"testdata/mesh"}}}}
		ms := newMeshes(m, m.opts.Master)
		ms.stopped = true // keep what is scheduled for the test to see
		ms.compiled("a", true, []sls.Low{meshLow("mesh", map[string]any{"b": "10.0.0.2"}),
			{ID: "motd", Module: "file", Fun: "managed", SLS: "motd", Args: map[string]any{}}})
		ms.compiled("b", true, []sls.Low{meshLow("mesh", map[string]any{"a": "10.0.0.1"})})
		return ms
	}
	pending := func(ms *meshes) map[string][]string {
		out := map[string][]string{}
		for id, files := range ms.pending {
			out[id] = slices.Sorted(maps.Keys(files))
		}
		return out
	}
	tests := []struct {
		name  string
		react func(ms *meshes)
		want  map[string][]string
	}{
		{"a new docker host: both re-apply, and it gets the mesh its top assigns",
			func(ms *meshes) { ms.grainsChanged(ctx, "c", docker("10.0.0.3")) },
			map[string][]string{"a": {"mesh"}, "b": {"mesh"}, "c": {"mesh"}}},
		{"a host that is not a peer changes nothing",
			func(ms *meshes) { ms.grainsChanged(ctx, "db", map[string]any{"role": "db", "underlay_ip": "10.0.0.9"}) },
			map[string][]string{}},
		{"a peer's grains change, not its address",
			func(ms *meshes) {
				ms.grainsChanged(ctx, "b", map[string]any{"role": "docker", "underlay_ip": "10.0.0.2", "x": 1})
			},
			map[string][]string{}},
		{"a peer moves",
			func(ms *meshes) { ms.grainsChanged(ctx, "b", docker("10.0.0.22")) },
			map[string][]string{"a": {"mesh"}}},
		{"a peer stops being a docker host",
			func(ms *meshes) { ms.grainsChanged(ctx, "b", map[string]any{"role": "db", "underlay_ip": "10.0.0.2"}) },
			map[string][]string{"a": {"mesh"}}},
		{"a peer leaves",
			func(ms *meshes) { ms.left("b") },
			map[string][]string{"a": {"mesh"}}},
		{"a minion that is nobody's peer leaves",
			func(ms *meshes) { ms.left("db") },
			map[string][]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms := newWatch()
			tc.react(ms)
			if got := pending(ms); !maps.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("scheduled %v, want %v", got, tc.want)
			}
		})
	}

	// A run of other SLS files keeps the mesh known; a highstate without it forgets it.
	ms := newWatch()
	ms.compiled("a", false, []sls.Low{{ID: "motd", Module: "file", Fun: "managed", SLS: "motd"}})
	if len(ms.uses["a"]) != 1 {
		t.Errorf("state.sls motd forgot a's mesh: %v", ms.uses["a"])
	}
	ms.compiled("a", true, []sls.Low{{ID: "motd", Module: "file", Fun: "managed", SLS: "motd"}})
	if _, ok := ms.uses["a"]; ok {
		t.Errorf("a highstate without the mesh kept it: %v", ms.uses["a"])
	}

	off := false
	if newMeshes(&Master{}, config.Master{MeshReapply: &off}) != nil {
		t.Error("mesh_reapply: false still reacts")
	}
}
