package master_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/brinecm/brine/master"
	"github.com/brinecm/brine/minion"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/proto/brinepb"
)

// Scheduled fleet: Salt's advice of a highstate every 60 s with splay 30
// scaled down by -sched.scale (10 = every 6 s with splay 3 s).
var (
	schedMinions = flag.Int("sched.minions", 1000, "minions of the scheduled fleet benchmark")
	schedScale   = flag.Int("sched.scale", 10, "the scheduled fleet's 60 s interval and 30 s splay are divided by this")
	schedRounds  = flag.Int("sched.rounds", 3, "intervals the scheduled fleet runs for")
)

// recorder is a slog handler that keeps the jid and time of the records
// with one message.
type recorder struct {
	msg string
	mu  *sync.Mutex
	at  map[string]time.Time
}

func newRecorder(msg string) *recorder {
	return &recorder{msg: msg, mu: &sync.Mutex{}, at: map[string]time.Time{}}
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != r.msg {
		return nil
	}
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "jid" {
			r.mu.Lock()
			r.at[a.Value.String()] = rec.Time
			r.mu.Unlock()
			return false
		}
		return true
	})
	return nil
}

func (r *recorder) jids() map[string]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]time.Time, len(r.at))
	for k, v := range r.at {
		out[k] = v
	}
	return out
}

// BenchmarkScheduledFleet runs 1,000 in-process minions whose schedule
// runs test.ping every 60 s with splay 30 (scaled down), against one
// embedded master, and reports the master's peak rate of jobs filed in its
// job cache (per second) and that every run a minion finished is there.
func BenchmarkScheduledFleet(b *testing.B) {
	n, scale := *schedMinions, time.Duration(*schedScale)
	every, splay := 60*time.Second/scale, 30*time.Second/scale
	for range b.N {
		dir := b.TempDir()
		filed := newRecorder("job cache: filed a job a minion ran on its own")
		m, err := master.New(master.Options{Master: config.Master{
			DataDir: filepath.Join(dir, "master"), Socket: filepath.Join(dir, "master.sock"),
			FileRoots: config.Roots{dir}, PillarRoots: config.Roots{dir}, AutoAccept: true,
		}, Log: slog.New(filed)})
		if err != nil {
			b.Fatal(err)
		}
		mctx, stopMaster := context.WithCancel(context.Background())
		var mdone sync.WaitGroup
		mdone.Go(func() {
			if err := m.Run(mctx); err != nil {
				b.Error(err)
			}
		})
		<-m.Ready()

		cfg := filepath.Join(dir, "minion.yaml")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf("schedule:\n  ping:\n    function: test.ping\n    seconds: %g\n    splay: %g\n",
			every.Seconds(), splay.Seconds())), 0o600); err != nil {
			b.Fatal(err)
		}
		finished := newRecorder("scheduled run finished")
		parent := minionParent(b)
		ctx, stopMinions := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		dirs := make([]string, n)
		for i := range n {
			id := fmt.Sprintf("s%05d", i)
			dirs[i] = filepath.Join(parent, id)
			mn, err := minion.New(minion.Config{ID: id, DataDir: dirs[i], Extra: []nats.Option{m.Bus().InProcess()},
				Log: slog.New(finished), ConfigFile: cfg})
			if err != nil {
				b.Fatal(err)
			}
			wg.Go(func() {
				if err := mn.Run(ctx); err != nil {
					b.Error(err)
				}
			})
		}
		b.ResetTimer()
		time.Sleep(time.Duration(*schedRounds) * every)
		stopMinions() // a run cut short stays queued for a next start: not counted as finished
		wg.Wait()
		b.StopTimer()
		ran := finished.jids()
		// Returns still in an outbox (the minion stopped before the job
		// cache acknowledged them) are sent at the next start: start the
		// minions once more, without schedule, until their outboxes are empty.
		ctx2, stop2 := context.WithCancel(context.Background())
		var wg2 sync.WaitGroup
		for i := range n {
			mn, err := minion.New(minion.Config{ID: fmt.Sprintf("s%05d", i), DataDir: dirs[i],
				Extra: []nats.Option{m.Bus().InProcess()}, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			wg2.Go(func() { _ = mn.Run(ctx2) })
		}
		deadline := time.Now().Add(3 * time.Minute)
		for i := 0; i < n; {
			if entries, _ := os.ReadDir(filepath.Join(dirs[i], "outbox")); len(entries) == 0 {
				i++
				continue
			}
			if time.Now().After(deadline) {
				b.Fatalf("minion %d still has returns in its outbox", i)
			}
			time.Sleep(50 * time.Millisecond)
		}
		stop2()
		wg2.Wait()

		// Every run a minion finished is in the job cache, once, with
		// origin schedule and its return.
		conn, err := grpc.NewClient("unix://"+filepath.Join(dir, "master.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
		if err != nil {
			b.Fatal(err)
		}
		resp, err := brinepb.NewMasterClient(conn).ListJobs(context.Background(), &brinepb.ListJobsRequest{})
		conn.Close()
		if err != nil {
			b.Fatal(err)
		}
		inCache := map[string]bool{}
		for _, j := range resp.Jobs {
			if j.Origin == "schedule" && j.Returned == 1 {
				inCache[j.Jid] = true
			}
		}
		lost := 0
		for jid := range ran {
			if !inCache[jid] {
				lost++
			}
		}
		stopMaster()
		mdone.Wait()
		if lost > 0 {
			b.Errorf("%d of %d scheduled runs are not in the job cache", lost, len(ran))
		}

		// The master's rate: jobs filed per second, and the peak second.
		at := filed.jids()
		var times []time.Time
		for _, t := range at {
			times = append(times, t)
		}
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		perSecond := map[int64]int{}
		peak := 0
		for _, t := range times {
			perSecond[t.Unix()]++
			peak = max(peak, perSecond[t.Unix()])
		}
		b.ReportMetric(float64(len(ran)), "runs")
		b.ReportMetric(float64(len(inCache)), "jobs_in_cache")
		b.ReportMetric(float64(lost), "lost")
		b.ReportMetric(float64(peak), "peak_jobs/s")
		if len(times) > 1 {
			b.ReportMetric(float64(len(times))/times[len(times)-1].Sub(times[0]).Seconds(), "mean_jobs/s")
		}
	}
}
