package bus

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ExternalStatus is an external cluster's servers as they describe
// themselves: every server answers the VARZ and JSZ requests nc (a
// connection of the masters' callout account) sends, and the JetStream
// meta leader's answer says how current each server is. A server the
// meta group knows but that did not answer is listed offline. Streams are
// the caller's to add.
func ExternalStatus(ctx context.Context, nc *nats.Conn) (ClusterStatus, error) {
	st := ClusterStatus{Server: nc.ConnectedServerName()}
	varz, err := pingServers(ctx, nc, serversVarz, nil)
	if err != nil {
		return st, fmt.Errorf("cluster status: ask the servers for VARZ: %w", err)
	}
	jsz, err := pingServers(ctx, nc, serversJsz, nil)
	if err != nil {
		return st, fmt.Errorf("cluster status: ask the servers for JSZ: %w", err)
	}
	// The meta group as its leader sees it: who is current, and how far behind.
	var meta *server.MetaClusterInfo
	for _, r := range jsz {
		var js server.JSInfo
		if r.decode(&js) != nil || js.Meta == nil {
			continue
		}
		if meta == nil || js.Meta.Leader == r.Server.Name {
			meta = js.Meta
		}
	}
	peers := map[string]*server.PeerInfo{}
	if meta != nil {
		st.Leader = meta.Leader
		for _, p := range meta.Replicas {
			peers[p.Name] = p
		}
	}
	answered := map[string]bool{}
	for _, r := range varz {
		var v server.Varz
		if err := r.decode(&v); err != nil {
			return st, fmt.Errorf("cluster status: %w", err)
		}
		answered[r.Server.Name] = true
		if r.Server.Name == st.Server {
			st.Cluster, st.Routes = r.Server.Cluster, v.Routes
		}
		ps := PeerStatus{Name: r.Server.Name, Cluster: r.Server.Cluster, JetStream: r.Server.JetStream,
			Leader: r.Server.Name == st.Leader, Current: true}
		if p := peers[r.Server.Name]; p != nil {
			ps.Current, ps.Offline, ps.Active, ps.Lag = p.Current, p.Offline, p.Active, p.Lag
		}
		st.Servers = append(st.Servers, ps)
	}
	for name, p := range peers {
		if !answered[name] {
			st.Servers = append(st.Servers, PeerStatus{Name: name, JetStream: true, Offline: true, Active: p.Active, Lag: p.Lag})
		}
	}
	st.Clustered = st.Cluster != "" || len(st.Servers) > 1
	slices.SortFunc(st.Servers, func(a, b PeerStatus) int { return strings.Compare(a.Name, b.Name) })
	return st, nil
}
