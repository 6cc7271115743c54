package bus

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// scaleResult is what connecting many minions to one server measured.
type scaleResult struct {
	conns       int           // connections open and authenticated at the end
	elapsed     time.Duration // time to connect them all
	bytesPerCon float64       // heap growth per connection, server and client sides together
	srv         *Server
	pubs        []string
	clients     []*nats.Conn
}

// connectMany connects n accepted minions in-process, concurrently, and
// checks that every one is authenticated, present and able to receive.
func connectMany(tb testing.TB, n int) scaleResult {
	tb.Helper()
	keys := newKeyTable()
	kps := make([]nkeys.KeyPair, n)
	pubs := make([]string, n)
	for i := range kps {
		kp, pub := newKey(tb)
		kps[i], pubs[i] = kp, pub
		keys.set(pub, RoleMinion, fmt.Sprintf("sim%05d.example.com", i))
	}
	srv := startServer(tb, ServerConfig{Auth: keys})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	conns := make([]*nats.Conn, n)
	errs := make(chan error, n)
	work := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range work {
				id := fmt.Sprintf("sim%05d.example.com", i)
				nc, err := Connect(ctx, ClientConfig{Name: id, Key: kps[i], Minion: true, Extra: []nats.Option{srv.InProcess()}})
				if err == nil {
					_, err = nc.Subscribe(DeliverSubject(id), func(*nats.Msg) {})
				}
				if err != nil {
					errs <- fmt.Errorf("minion %d: %w", i, err)
					continue
				}
				conns[i] = nc
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	tb.Cleanup(func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	})
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	for i, nc := range conns {
		if err := nc.Flush(); err != nil {
			tb.Fatalf("minion %d: %v", i, err)
		}
		if !srv.Connected(pubs[i]) {
			tb.Fatalf("minion %d not present", i)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return scaleResult{
		conns:       srv.ns.NumClients() - 1, // less the presence monitor
		elapsed:     elapsed,
		bytesPerCon: float64(after.HeapInuse-min(before.HeapInuse, after.HeapInuse)) / float64(n),
		srv:         srv,
		pubs:        pubs,
		clients:     conns,
	}
}

func TestConnectMany(t *testing.T) {
	const n = 200
	r := connectMany(t, n)
	if r.conns != n {
		t.Fatalf("server holds %d connections, want %d", r.conns, n)
	}
	t.Logf("%d minions connected in %s", r.conns, r.elapsed)

	// Presence follows a mass disconnection.
	for _, nc := range r.clients {
		nc.Close()
	}
	waitFor(t, "every minion gone", func() bool {
		for _, pub := range r.pubs {
			if r.srv.Connected(pub) {
				return false
			}
		}
		return true
	})
}

func TestMaxConnBelowFileLimit(t *testing.T) {
	got := maxConnFromLimit()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if got <= 0 || uint64(got) >= rl.Cur {
		t.Fatalf("MaxConn %d with a file limit of %d", got, rl.Cur)
	}
	if rl.Cur != rl.Max {
		t.Fatalf("soft limit %d not raised to the hard limit %d", rl.Cur, rl.Max)
	}
}

// BenchmarkConnect10k connects 10,000 authenticated minions to one embedded
// server; run it with -bench=Connect10k -benchtime=1x.
func BenchmarkConnect10k(b *testing.B) {
	const n = 10000
	for b.Loop() {
		r := connectMany(b, n)
		if r.conns != n {
			b.Fatalf("server holds %d connections, want %d", r.conns, n)
		}
		b.ReportMetric(float64(r.conns), "conns")
		b.ReportMetric(r.elapsed.Seconds(), "s/10k-connect")
		b.ReportMetric(r.bytesPerCon, "heap-B/conn")
	}
}
