package main

import (
	"strings"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/proto/brinepb"
)

// TestPrintClusterStatus: the text form names the meta leader, a dead
// server's state and lag, and each stream's replicas; the API's answer
// turns into the --out json shape without losing a field.
func TestPrintClusterStatus(t *testing.T) {
	resp := &brinepb.ClusterStatusResponse{
		Server: "m2", Cluster: "brine", Routes: 4, MetaLeader: "m1", Clustered: true,
		Servers: []*brinepb.ClusterPeer{
			{Name: "m1", Cluster: "brine", Jetstream: true, Leader: true, Current: true},
			{Name: "m2", Cluster: "brine", Jetstream: true, Current: true},
			{Name: "m3", Cluster: "brine", Offline: true, ActiveNs: int64(90 * time.Second), Lag: 12},
		},
		Streams: []*brinepb.ClusterStream{{Name: "BRINE_RETURNS", Replicas: 3, Leader: "m1", Messages: 41, Bytes: 2944,
			Peers: []*brinepb.ClusterPeer{{Name: "m1", Leader: true, Current: true}, {Name: "m3", Lag: 7}}}},
	}
	st := clusterStatusFromPB(resp)
	if st.Leader != "m1" || st.Routes != 4 || len(st.Servers) != 3 || st.Servers[2].Active != 90*time.Second ||
		st.Servers[2].Lag != 12 || !st.Servers[2].Offline || st.Streams[0].Peers[1].Lag != 7 ||
		st.Servers[0].Cluster != "brine" || !st.Servers[0].JetStream || st.Servers[2].JetStream {
		t.Fatalf("converted status %+v", st)
	}
	cases := []struct {
		name string
		st   bus.ClusterStatus
		want []string
	}{
		{"cluster", st, []string{
			"cluster brine, asked m2 (4 routes), meta leader m1",
			"m1      brine    on         leader   0    -",
			"m3      brine    off        offline  12   1m30s ago",
			"BRINE_RETURNS  3         m1      41        2944   m1:leader/lag 0 m3:catching up/lag 7",
		}},
		{"alone", bus.ClusterStatus{Server: "solo", Servers: []bus.PeerStatus{{Name: "solo", JetStream: true, Leader: true, Current: true}}},
			[]string{"server solo: not clustered", "solo    -        on         leader"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			if err := printClusterStatus(&b, c.st); err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}
