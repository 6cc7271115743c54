package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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

// eventsFleet is how many minions return in BenchmarkEventsPage.
const eventsFleet = 1000

// sseCounter reads an /api/events stream as the events page does and
// counts what it delivers: events per tag and jid, their arrival times,
// and the events the view said it skipped.
type sseCounter struct {
	mu      sync.Mutex
	byJob   map[string]map[string]int // jid -> tag -> events
	times   map[string][]time.Time    // jid -> arrival of each event
	skipped int
	maxLag  time.Duration // the longest from an event's time to its arrival
	changed chan struct{}
}

func (c *sseCounter) read(body io.Reader) error {
	rd := bufio.NewReaderSize(body, 64<<10)
	kind := ""
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "event: skipped":
			kind = "skipped"
		case strings.HasPrefix(line, "data: "):
			now := time.Now()
			var ev struct {
				Tag     string
				Time    time.Time
				Skipped int
				Data    struct{ JID string }
			}
			if err := json.Unmarshal([]byte(line[6:]), &ev); err != nil {
				return fmt.Errorf("event %.200q: %w", line, err)
			}
			c.mu.Lock()
			if kind == "skipped" {
				c.skipped += ev.Skipped
			} else if ev.Data.JID != "" {
				if c.byJob[ev.Data.JID] == nil {
					c.byJob[ev.Data.JID] = map[string]int{}
				}
				c.byJob[ev.Data.JID][ev.Tag]++
				c.times[ev.Data.JID] = append(c.times[ev.Data.JID], now)
				c.maxLag = max(c.maxLag, now.Sub(ev.Time))
			}
			c.mu.Unlock()
			kind = ""
			select {
			case c.changed <- struct{}{}:
			default:
			}
		}
	}
}

// wait waits until the stream delivered want[tag] events of job jid, or
// nothing came for quiet; it returns what was delivered.
func (c *sseCounter) wait(ctx context.Context, jid string, want map[string]int, quiet time.Duration) (map[string]int, []time.Time) {
	for {
		c.mu.Lock()
		got := map[string]int{}
		for k, v := range c.byJob[jid] {
			got[k] = v
		}
		times := c.times[jid]
		c.mu.Unlock()
		done := true
		for k, v := range want {
			done = done && got[k] >= v
		}
		if done {
			return got, times
		}
		select {
		case <-c.changed:
		case <-time.After(quiet):
			return got, times
		case <-ctx.Done():
			return got, times
		}
	}
}

// peakPerSecond is the most events that arrived within any one second.
func peakPerSecond(times []time.Time) int {
	peak, lo := 0, 0
	for hi, t := range times {
		for t.Sub(times[lo]) >= time.Second {
			lo++
		}
		peak = max(peak, hi-lo+1)
	}
	return peak
}

// BenchmarkEventsPage measures the events page with 1,000 minions
// returning: one embedded master with 1,000 real minions connected
// in-process, the web view over HTTPS, and one client following
// /api/events with a read token as the browser's EventSource does. Each
// iteration runs test.ping and then state.apply of a three-file state on
// every minion through the master's CLI API, and counts what the stream
// delivers of each job: the master's job.new and every minion's
// job.started. It reports events per second delivered (the peak within
// any 1 s and the average from a job's first event to its last), events
// lost (what the minions and the master emitted, as the job's returns
// prove, less what arrived) and events the view skipped for a slow client.
func BenchmarkEventsPage(b *testing.B) {
	e := startEventsFleet(b, eventsFleet)
	ctx := b.Context()

	srv := httptest.NewTLSServer(e.web.Handler())
	defer srv.Close()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.read)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("events: %d", resp.StatusCode)
	}
	c := &sseCounter{byJob: map[string]map[string]int{}, times: map[string][]time.Time{}, changed: make(chan struct{}, 1)}
	readErr := make(chan error, 1)
	go func() { readErr <- c.read(resp.Body) }()

	jobs := []struct{ fun, args string }{{"test.ping", "[]"}, {"state.apply", `["small"]`}}
	var events, lost, jobsRun int
	var active time.Duration
	var peak int
	var cpu, runTime time.Duration
	for b.Loop() {
		for _, j := range jobs {
			before, start := cpuTime(), time.Now()
			jid, rets := e.run(b, j.fun, j.args)
			runTime += time.Since(start)
			if rets != eventsFleet {
				b.Fatalf("%s: %d of %d minions returned", j.fun, rets, eventsFleet)
			}
			want := map[string]int{"job.new": 1, "job.started": eventsFleet}
			got, times := c.wait(ctx, jid, want, 10*time.Second)
			cpu += cpuTime() - before
			for tag, n := range want {
				if got[tag] < n {
					b.Logf("%s %s: %d of %d %s events delivered", j.fun, jid, got[tag], n, tag)
					lost += n - got[tag]
				}
			}
			events += len(times)
			jobsRun++
			if len(times) > 1 {
				active += times[len(times)-1].Sub(times[0])
			}
			peak = max(peak, peakPerSecond(times))
		}
	}
	select {
	case err := <-readErr:
		b.Fatalf("the event stream ended: %v", err)
	default:
	}
	b.ReportMetric(float64(peak), "peak-events/s")
	b.ReportMetric(float64(events)/active.Seconds(), "avg-events/s")
	b.ReportMetric(float64(events)/float64(jobsRun), "events/job")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(c.skipped), "skipped")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(jobsRun), "process-cpu-ms/job")
	b.ReportMetric(float64(runTime.Milliseconds())/float64(jobsRun), "run-ms/job")
	b.ReportMetric(float64(c.maxLag.Milliseconds()), "max-lag-ms")
}

// eventsEnv is a master, its minions, its CLI API and the web view.
type eventsEnv struct {
	web    *Server
	client brinepb.MasterClient
	read   string
}

// startEventsFleet starts a master whose CLI API is on a unix socket and n
// minions connected to its bus in-process, and waits until every one of
// them answers test.ping and applies the small state.
func startEventsFleet(b *testing.B, n int) *eventsEnv {
	b.Helper()
	dir := b.TempDir()
	root, err := filepath.Abs("testdata/events")
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.Master{DataDir: filepath.Join(dir, "master"), Socket: filepath.Join(dir, "master.sock"),
		FileRoots: config.Roots{root}, PillarRoots: config.Roots{filepath.Join(dir, "pillar")}, AutoAccept: true}
	m, err := master.New(master.Options{Master: cfg, Log: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() })
	errc := make(chan error, 1)
	wg.Go(func() { errc <- m.Run(ctx) })
	select {
	case <-m.Ready():
	case err := <-errc:
		b.Fatalf("master: %v", err)
	}
	parent := dir
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() { // thousands of small files: keep them off the shared disk
		if parent, err = os.MkdirTemp("/dev/shm", "brine-events-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(parent) })
	}
	inProcess := []nats.Option{m.Bus().InProcess()}
	for i := range n {
		id := fmt.Sprintf("m%04d", i)
		mdir := filepath.Join(parent, id)
		mn, err := minion.New(minion.Config{ID: id, DataDir: mdir, Extra: inProcess, Log: quietLog(),
			Grains: map[string]any{"events_root": filepath.Join(mdir, "root")}})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() { _ = mn.Run(ctx) })
	}

	conn, err := grpc.NewClient("unix://"+cfg.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	e := &eventsEnv{client: brinepb.NewMasterClient(conn)}
	if e.web, err = New(Config{DataDir: cfg.DataDir, Client: e.client, Log: quietLog()}); err != nil {
		b.Fatal(err)
	}
	if e.read, err = NewToken(cfg.DataDir, false); err != nil {
		b.Fatal(err)
	}
	// Every minion answers and has its grains at the master (the state
	// compiles for it) before anything is measured.
	deadline := time.Now().Add(3 * time.Minute)
	for _, j := range []struct{ fun, args string }{{"test.ping", "[]"}, {"state.apply", `["small"]`}} {
		for {
			_, rets := e.run(b, j.fun, j.args)
			if rets == n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: %d of %d minions returned successfully after 3 minutes", j.fun, rets, n)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	return e
}

// run runs fun on every minion as `brine '*' fun` does and returns the jid
// and how many minions returned successfully.
func (e *eventsEnv) run(b *testing.B, fun, args string) (string, int) {
	b.Helper()
	stream, err := e.client.Run(b.Context(), &brinepb.RunRequest{Target: "*", Fun: fun, ArgsJson: []byte(args),
		KwargsJson: []byte("{}"), TimeoutMs: time.Minute.Milliseconds()})
	if err != nil {
		b.Fatal(err)
	}
	var jid string
	var ok int
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			return jid, ok
		}
		if err != nil {
			b.Fatalf("run %s: %v", fun, err)
		}
		if s := ev.GetStarted(); s != nil {
			jid = s.Jid
		}
		if r := ev.GetRet(); r != nil && r.Success {
			ok++
		}
	}
}

// cpuTime is the CPU time the process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
