package web

import (
	"fmt"
	"html"
	"html/template"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
)

// Network is the overlay as the master knows it: hosts (minions with Open
// vSwitch bridges or mesh states), their bridges, the tunnels between them
// and the containers on them.
type Network struct {
	Hosts   []Host   `json:"hosts"`
	Tunnels []Tunnel `json:"tunnels"`
}

// Host is one minion of the overlay.
type Host struct {
	ID         string      `json:"id"`
	Online     bool        `json:"online"`
	UnderlayIP string      `json:"underlay_ip,omitempty"`
	Bridges    []string    `json:"bridges"`
	Containers []Container `json:"containers"`
	Meshes     []string    `json:"meshes"` // the mesh states it applied (state ID)
}

// Container is a container a host's highstate runs on one of its bridges.
type Container struct {
	Name   string `json:"name"`
	Bridge string `json:"bridge,omitempty"`
}

// Tunnel joins two hosts of one mesh.
type Tunnel struct {
	Mesh string `json:"mesh"`
	A    string `json:"a"`
	B    string `json:"b"`
}

// networkOf draws the overlay from the grains (ovs bridges, underlay
// address: what the mine hands to mesh states) and each host's last
// highstate (its ovs.mesh / net.vxlan_mesh states, its bridges and its
// containers). Hosts that applied the same mesh state are joined by a
// tunnel each way, as ovs.mesh builds them.
func networkOf(snap *snapshot) Network {
	n := Network{Hosts: []Host{}, Tunnels: []Tunnel{}}
	members := map[string][]string{}
	for _, m := range snap.minions {
		h := Host{ID: m.ID, Online: m.Online, Bridges: []string{}, Containers: []Container{}, Meshes: []string{}}
		h.UnderlayIP, _ = m.grains["underlay_ip"].(string)
		if ovs, ok := m.grains["ovs"].(map[string]any); ok {
			bs, _ := ovs["bridges"].([]any)
			for _, b := range bs {
				if s, ok := b.(string); ok {
					h.Bridges = append(h.Bridges, s)
				}
			}
		}
		var stateBridges []string
		if hs := lastHighstate(snap.runs[m.ID]); hs != nil {
			for _, st := range hs.states {
				if st.Result == nil || !*st.Result {
					continue
				}
				switch st.Function() {
				case "ovs.mesh", "net.vxlan_mesh":
					h.Meshes = append(h.Meshes, st.ID)
					members[st.ID] = append(members[st.ID], m.ID)
				case "ovs_bridge.present":
					stateBridges = append(stateBridges, st.Name)
				case "docker_container.running":
					h.Containers = append(h.Containers, Container{Name: st.Name})
				}
			}
		}
		for _, b := range stateBridges {
			if !slices.Contains(h.Bridges, b) {
				h.Bridges = append(h.Bridges, b)
			}
		}
		if len(stateBridges) > 0 {
			for i := range h.Containers {
				h.Containers[i].Bridge = stateBridges[0]
			}
		}
		if len(h.Bridges) == 0 && len(h.Meshes) == 0 {
			continue
		}
		n.Hosts = append(n.Hosts, h)
	}
	for _, mesh := range slices.Sorted(maps.Keys(members)) {
		ids := members[mesh]
		for i := range ids {
			for j := i + 1; j < len(ids); j++ {
				n.Tunnels = append(n.Tunnels, Tunnel{Mesh: mesh, A: ids[i], B: ids[j]})
			}
		}
	}
	return n
}

func (s *Server) network(w http.ResponseWriter, r *http.Request) (Network, bool) {
	snap, err := s.store.get(r.Context())
	if err != nil {
		s.apiError(w, "read the fleet", err)
		return Network{}, false
	}
	return networkOf(snap), true
}

func (s *Server) apiNetwork(w http.ResponseWriter, r *http.Request) {
	if n, ok := s.network(w, r); ok {
		writeJSON(w, n)
	}
}

func (s *Server) networkPage(w http.ResponseWriter, r *http.Request) {
	if n, ok := s.network(w, r); ok {
		s.render(w, r, "network", struct {
			Network
			SVG template.HTML
		}{n, template.HTML(drawNetwork(n))}) // drawNetwork escapes every text it writes
	}
}

func (s *Server) networkSVG(w http.ResponseWriter, r *http.Request) {
	n, ok := s.network(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	_, _ = w.Write([]byte(drawNetwork(n)))
}

// drawNetwork lays the hosts on a circle, their bridges and containers
// outside it, and the tunnels as chords. Every text is XML-escaped.
func drawNetwork(n Network) string {
	const size, r = 800.0, 250.0
	c := size / 2
	pos := map[string][2]float64{}
	for i, h := range n.Hosts {
		a := 2*math.Pi*float64(i)/float64(max(1, len(n.Hosts))) - math.Pi/2
		pos[h.ID] = [2]float64{c + r*math.Cos(a), c + r*math.Sin(a)}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`, size, size, size, size)
	b.WriteString("\n<title>brine overlay network</title>\n")
	for _, t := range n.Tunnels {
		p, q := pos[t.A], pos[t.B]
		fmt.Fprintf(&b, `<line class="tunnel" data-a="%s" data-b="%s" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#2a7" stroke-width="2" stroke-dasharray="6 3"><title>%s: %s ⇄ %s (VXLAN)</title></line>`+"\n",
			esc(t.A), esc(t.B), p[0], p[1], q[0], q[1], esc(t.Mesh), esc(t.A), esc(t.B))
	}
	for _, h := range n.Hosts {
		p := pos[h.ID]
		out := [2]float64{(p[0] - c) / r, (p[1] - c) / r}
		fill := "#4a78c2"
		if !h.Online {
			fill = "#999"
		}
		fmt.Fprintf(&b, `<g class="host" data-id="%s"><circle cx="%.1f" cy="%.1f" r="28" fill="%s"/><text x="%.1f" y="%.1f" text-anchor="middle" fill="#fff" font-weight="bold">%s</text><text x="%.1f" y="%.1f" text-anchor="middle" fill="#333">%s</text></g>`+"\n",
			esc(h.ID), p[0], p[1], fill, p[0], p[1]+4, esc(h.ID), p[0], p[1]+44, esc(h.UnderlayIP))
		for j, br := range h.Bridges {
			bx, by := p[0]+out[0]*(70+float64(j)*30), p[1]+out[1]*(70+float64(j)*30)+float64(j)*14
			fmt.Fprintf(&b, `<g class="bridge" data-host="%s"><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888"/><rect x="%.1f" y="%.1f" width="64" height="18" rx="4" fill="#f3c04a"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text></g>`+"\n",
				esc(h.ID), p[0], p[1], bx, by, bx-32, by-9, bx, by+4, esc(br))
			for k, ct := range h.Containers {
				if ct.Bridge != br {
					continue
				}
				cx, cy := bx+out[0]*50, by+out[1]*50+float64(k)*20
				fmt.Fprintf(&b, `<g class="container" data-host="%s"><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888"/><rect x="%.1f" y="%.1f" width="90" height="16" rx="3" fill="#ddd"/><text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text></g>`+"\n",
					esc(h.ID), bx, by, cx, cy, cx-45, cy-8, cx, cy+4, esc(ct.Name))
			}
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func esc(s string) string { return html.EscapeString(s) }
