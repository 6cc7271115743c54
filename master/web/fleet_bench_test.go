package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/brinecm/brine/proto/brinepb"
)

// fleetClient answers the fleet's listings for n minions from memory: the
// benchmark measures the web view, not the job cache.
type fleetClient struct {
	brinepb.MasterClient
	minions *brinepb.ListMinionsResponse
}

func (f *fleetClient) ListMinions(context.Context, *brinepb.ListMinionsRequest, ...grpc.CallOption) (*brinepb.ListMinionsResponse, error) {
	return f.minions, nil
}

func (f *fleetClient) ListJobs(context.Context, *brinepb.ListJobsRequest, ...grpc.CallOption) (*brinepb.ListJobsResponse, error) {
	return &brinepb.ListJobsResponse{}, nil
}

func (f *fleetClient) Drift(context.Context, *brinepb.DriftRequest, ...grpc.CallOption) (*brinepb.DriftResponse, error) {
	out := &brinepb.DriftResponse{}
	for _, m := range f.minions.Minions {
		out.Minions = append(out.Minions, &brinepb.MinionDrift{Minion: m.Id})
	}
	return out, nil
}

// BenchmarkFleetPage10k renders one page (100 rows) of a 10,000 minion
// fleet: with the index fresh (refresh interval not over) and rebuilt for
// every request.
func BenchmarkFleetPage10k(b *testing.B) {
	c := &fleetClient{minions: &brinepb.ListMinionsResponse{}}
	for i := range 10000 {
		g, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("m%05d", i), "os": "Debian", "osrelease": "13", "kernel": "Linux"})
		c.minions.Minions = append(c.minions.Minions, &brinepb.MinionInfo{Id: fmt.Sprintf("m%05d", i), GrainsJson: g, Connected: i%7 != 0})
	}
	dir := b.TempDir()
	tok, err := NewToken(dir, false)
	if err != nil {
		b.Fatal(err)
	}
	for _, c2 := range []struct {
		name    string
		refresh time.Duration
	}{{"cached", time.Hour}, {"rebuilt", time.Nanosecond}} {
		b.Run(c2.name, func(b *testing.B) {
			s, err := New(Config{DataDir: dir, Client: c, Refresh: c2.refresh})
			if err != nil {
				b.Fatal(err)
			}
			h := s.Handler()
			var bytes int
			for b.Loop() {
				req := httptest.NewRequest("GET", "/?page=50", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
				bytes = w.Body.Len()
			}
			b.ReportMetric(float64(bytes), "bytes/page")
		})
	}
}
