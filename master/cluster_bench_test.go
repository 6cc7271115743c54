package master_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/brinecm/brine/master"
	"github.com/brinecm/brine/minion"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/proto/brinepb"
)

// clusterMember is one master of a benchmark cluster.
type clusterMember struct {
	m       *master.Master
	dataDir string
	cancel  context.CancelFunc
	done    chan error
}

// stop stops the master (as its process dying would: its server closes
// every connection) and waits until it is down.
func (c *clusterMember) stop() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
		c.cancel = nil
	}
}

func loopbackAddr(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startCluster starts n clustered masters on loopback (the first makes the
// fleet, the others join with a token) serving tree, and waits until all
// are ready.
func startCluster(b *testing.B, n int, tree string) []*clusterMember {
	b.Helper()
	quiet := slog.New(slog.DiscardHandler)
	var ms []*clusterMember
	for i := range n {
		dir := b.TempDir()
		cfg := config.Master{DataDir: filepath.Join(dir, "master"), Socket: filepath.Join(dir, "master.sock"),
			Listen: loopbackAddr(b), ClusterListen: loopbackAddr(b), AutoAccept: true,
			FileRoots: config.Roots{tree}, PillarRoots: config.Roots{filepath.Join(dir, "pillar")}}
		var token string
		if i > 0 {
			cfg.Join = ms[0].m.BusURL()
			deadline := time.Now().Add(time.Minute)
			for {
				tok, _, err := master.JoinToken(ms[0].dataDir, 0)
				if err == nil {
					token = tok
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("no join token from the first master: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		m, err := master.New(master.Options{Master: cfg, Log: quiet, JoinToken: token})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		c := &clusterMember{m: m, dataDir: cfg.DataDir, cancel: cancel, done: make(chan error, 1)}
		go func() { c.done <- m.Run(ctx) }()
		b.Cleanup(c.stop)
		ms = append(ms, c)
		if i == 0 {
			waitBus(b, m)
		}
	}
	for _, c := range ms {
		select {
		case <-c.m.Ready():
		case err := <-c.done:
			c.cancel = nil
			b.Fatalf("master: %v", err)
		case <-time.After(2 * time.Minute):
			b.Fatal("master not ready after two minutes")
		}
	}
	return ms
}

// waitBus waits until m's bus takes connections.
func waitBus(b *testing.B, m *master.Master) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for m.Bus() == nil || m.BusURL() == "" {
		if time.Now().After(deadline) {
			b.Fatal("bus not up after a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkClusterFailover measures, over 50 minions connected to master 1
// of three, the time from master 1's end until each minion answers a
// test.ping asked of master 2: reconnection to a surviving server,
// JetStream leader elections, and redelivery of the job from the
// replicated stream. Run with -benchtime=1x; it reports p50 and p99.
func BenchmarkClusterFailover(b *testing.B) {
	const n = 50
	b.StopTimer()
	for range b.N {
		tree := b.TempDir()
		ms := startCluster(b, 3, tree)
		urls := []string{ms[0].m.BusURL(), ms[1].m.BusURL(), ms[2].m.BusURL()}
		quiet := slog.New(slog.DiscardHandler)
		parent := minionParent(b)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		ids := make([]string, n)
		for i := range n {
			ids[i] = fmt.Sprintf("f%03d", i)
			// Master 1 first and no shuffling: every minion starts on it.
			mn, err := minion.New(minion.Config{ID: ids[i], DataDir: filepath.Join(parent, ids[i]), Masters: urls,
				Extra: []nats.Option{nats.DontRandomize()}, Log: quiet})
			if err != nil {
				b.Fatal(err)
			}
			wg.Go(func() { _ = mn.Run(ctx) })
		}
		b.Cleanup(func() { cancel(); wg.Wait() })
		if err := pingAll(ctx, ms[0].m, ids, time.Minute); err != nil {
			b.Fatal(err)
		}

		b.StartTimer()
		killed := time.Now()
		ms[0].stop()
		took := map[string]time.Duration{}
		deadline := killed.Add(2 * time.Minute)
		for len(took) < n && time.Now().Before(deadline) {
			req := &brinepb.RunRequest{Target: "*", Fun: "test.ping", TimeoutMs: 30_000}
			err := ms[1].m.Publish(ctx, req, func(ev *brinepb.RunEvent) error {
				if r, ok := ev.Event.(*brinepb.RunEvent_Ret); ok && r.Ret.Success {
					if _, seen := took[r.Ret.Minion]; !seen {
						took[r.Ret.Minion] = time.Since(killed)
					}
				}
				return nil
			})
			if err != nil {
				// The cluster may be electing leaders: ask again shortly.
				time.Sleep(50 * time.Millisecond)
			}
		}
		b.StopTimer()
		if len(took) < n {
			b.Fatalf("%d of %d minions answered after master 1 died", len(took), n)
		}
		ds := make([]time.Duration, 0, n)
		for _, d := range took {
			ds = append(ds, d)
		}
		slices.Sort(ds)
		b.ReportMetric(ds[len(ds)/2].Seconds(), "p50-s")
		b.ReportMetric(ds[(len(ds)*99+99)/100-1].Seconds(), "p99-s")
		b.ReportMetric(ds[len(ds)-1].Seconds(), "max-s")
	}
}

// pingAll waits until every minion answers test.ping through m.
func pingAll(ctx context.Context, m *master.Master, ids []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got := 0
		req := &brinepb.RunRequest{Target: "*", Fun: "test.ping", TimeoutMs: 5000}
		err := m.Publish(ctx, req, func(ev *brinepb.RunEvent) error {
			if r, ok := ev.Event.(*brinepb.RunEvent_Ret); ok && r.Ret.Success {
				got++
			}
			return nil
		})
		if err == nil && got == len(ids) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d minions answer test.ping (%v)", got, len(ids), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// clusterMinions is how many in-process minions BenchmarkClusterHighstate
// runs.
var clusterMinions = flag.Int("cluster.minions", 1000, "minions of BenchmarkClusterHighstate")

// BenchmarkClusterHighstate is the cost of replication: state.highstate of
// fleetStates file.managed states to -cluster.minions in-process minions of
// one master alone, then of master 1 of three (every stream and bucket on
// three replicas, the three servers in this process). Run with
// -benchtime=1x or 3x; it reports ms/highstate.
func BenchmarkClusterHighstate(b *testing.B) {
	for _, masters := range []int{1, 3} {
		b.Run(fmt.Sprintf("masters=%d", masters), func(b *testing.B) {
			var f *fleet
			if masters == 1 {
				f = startFleet(b, b, *clusterMinions)
			} else {
				tree := b.TempDir()
				for name, text := range fleetTree {
					if err := os.WriteFile(filepath.Join(tree, name), []byte(text), 0o600); err != nil {
						b.Fatal(err)
					}
				}
				ms := startCluster(b, masters, tree)
				f = startMinionsOn(b, ms[0].m, *clusterMinions)
			}
			benchHighstate(b, f, 5*time.Minute)
		})
	}
}

// startMinionsOn runs n in-process minions on m's server, as startFleet
// does for a master of its own, and waits until all are accepted.
func startMinionsOn(b *testing.B, m *master.Master, n int) *fleet {
	b.Helper()
	quiet := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	f := &fleet{m: m, cancel: cancel}
	b.Cleanup(f.stop)
	parent := minionParent(b)
	inProcess := []nats.Option{m.Bus().InProcess()}
	f.ids, f.dirs, f.roots = make([]string, n), make([]string, n), make([]string, n)
	for i := range n {
		id := fmt.Sprintf("m%05d", i)
		dir := filepath.Join(parent, id)
		root := filepath.Join(dir, "root")
		mn, err := minion.New(minion.Config{ID: id, DataDir: dir, Extra: inProcess, Log: quiet,
			Grains: map[string]any{"fleet_root": root}})
		if err != nil {
			b.Fatal(err)
		}
		f.ids[i], f.dirs[i], f.roots[i] = id, dir, root
		f.done.Go(func() { _ = mn.Run(ctx) })
	}
	f.waitAccepted(b, 5*time.Minute)
	return f
}
