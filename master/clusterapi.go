package master

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/proto/brinepb"
)

// ClusterStatus reports the cluster as this master's server sees it.
func (a *api) ClusterStatus(ctx context.Context, _ *brinepb.ClusterStatusRequest) (*brinepb.ClusterStatusResponse, error) {
	st, err := a.m.ClusterStatus(ctx)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return clusterStatusPB(st), nil
}

// clusterStatusPB is st on the wire.
func clusterStatusPB(st bus.ClusterStatus) *brinepb.ClusterStatusResponse {
	out := &brinepb.ClusterStatusResponse{
		Server:     st.Server,
		Cluster:    st.Cluster,
		Routes:     int32(st.Routes),
		MetaLeader: st.Leader,
		Clustered:  st.Clustered,
		Servers:    peersPB(st.Servers),
	}
	for _, s := range st.Streams {
		out.Streams = append(out.Streams, &brinepb.ClusterStream{
			Name:     s.Name,
			Replicas: int32(s.Replicas),
			Leader:   s.Leader,
			Messages: s.Messages,
			Bytes:    s.Bytes,
			Peers:    peersPB(s.Peers),
		})
	}
	return out
}

func peersPB(ps []bus.PeerStatus) []*brinepb.ClusterPeer {
	out := make([]*brinepb.ClusterPeer, 0, len(ps))
	for _, p := range ps {
		out = append(out, &brinepb.ClusterPeer{
			Name:      p.Name,
			Cluster:   p.Cluster,
			Jetstream: p.JetStream,
			Leader:    p.Leader,
			Current:   p.Current,
			Offline:   p.Offline,
			ActiveNs:  int64(p.Active),
			Lag:       p.Lag,
		})
	}
	return out
}
