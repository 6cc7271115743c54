package bus

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// freePort returns a loopback host:port nothing listens on now.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// logLines is a slog handler that keeps every message, for tests that wait
// for what a server logs.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.Message)
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

// wait waits until a logged line contains every one of parts.
func (l *logLines) wait(t testing.TB, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, line := range l.lines {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				l.mu.Unlock()
				return line
			}
		}
		l.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing logged with %q", parts)
	return ""
}

// clusterNode is one embedded server of a test cluster and its admin
// connection's JetStream.
type clusterNode struct {
	srv   *Server
	js    jetstream.JetStream
	route string
	log   *logLines
}

// startCluster starts n clustered servers sharing one CA (the first
// server's, copied as a joining master receives it) and waits until their
// JetStream has a leader and sees all n.
func startCluster(t *testing.T, n int) []*clusterNode {
	t.Helper()
	keys := newKeyTable()
	adminKey, adminPub := newKey(t)
	keys.set(adminPub, RoleAdmin, "")
	routes := make([]string, n)
	dirs := make([]string, n)
	for i := range n {
		routes[i] = freePort(t)
		dirs[i] = t.TempDir()
	}
	nodes := make([]*clusterNode, n)
	var wg sync.WaitGroup
	for i := range n {
		if i > 0 {
			copyCA(t, dirs[0], dirs[i])
		}
		var peers []string
		for j, r := range routes {
			if j != i {
				peers = append(peers, r)
			}
		}
		lines := &logLines{}
		node := &clusterNode{route: routes[i], log: lines}
		nodes[i] = node
		cfg := ServerConfig{DataDir: dirs[i], Auth: keys, Listen: freePort(t), Log: slog.New(lines),
			Cluster: ClusterConfig{Listen: routes[i], Peers: peers, ServerName: fmt.Sprintf("m%d", i+1)}}
		if i == 0 {
			// The first server makes the CA the others copy.
			node.srv = startServer(t, cfg)
			continue
		}
		wg.Go(func() { node.srv = startServer(t, cfg) })
	}
	wg.Wait()
	for _, node := range nodes {
		c := mustConnect(t, node.srv, MasterID, adminKey, false)
		js, err := jetstream.New(c.nc)
		if err != nil {
			t.Fatal(err)
		}
		node.js = js
	}
	waitLong(t, "a JetStream cluster of all servers", func() bool {
		for _, node := range nodes {
			if node.srv.Replicas() != min(n, MaxReplicas) {
				return false
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := node.js.AccountInfo(ctx)
			cancel()
			if err != nil {
				return false
			}
		}
		return true
	})
	return nodes
}

// copyCA makes dst's bus use the CA of src's, as a joining master does.
func copyCA(t *testing.T, src, dst string) {
	t.Helper()
	if _, _, err := loadOrCreateCA(src + "/tls"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{caCertFile, caKeyFile} {
		b, err := os.ReadFile(src + "/tls/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dst+"/tls", 0o700); err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(dst+"/tls/"+f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// waitLong waits up to 30s for cond: a cluster elects leaders and moves
// replicas in seconds, not milliseconds.
func waitLong(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterReplicatesAndSurvivesAServer: three masters' servers form one
// JetStream cluster; the streams get three replicas; a return stored
// through one server is read through another after the first is gone.
func TestClusterReplicatesAndSurvivesAServer(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := SetupReplicatedStreams(ctx, nodes[0].js, time.Hour, nodes[0].srv.Replicas()); err != nil {
		t.Fatal(err)
	}
	status, err := StreamsStatus(ctx, nodes[2].js)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{JobStream: true, ReturnStream: true, EventStream: true, "KV_" + GrainsBucket: true}
	for _, s := range status {
		if !want[s.Name] {
			continue
		}
		delete(want, s.Name)
		if s.Replicas != 3 || s.Leader == "" || len(s.Peers) != 3 {
			t.Errorf("stream %s: %d replicas, leader %q, peers %+v; want 3 replicas on 3 servers", s.Name, s.Replicas, s.Leader, s.Peers)
		}
	}
	if len(want) > 0 {
		t.Fatalf("streams missing from the status: %v", want)
	}
	// A return stored through m1, then m1 gone: m2 and m3 still have it.
	if err := PublishReturn(ctx, nodes[0].js, "20260101000000000001", "web1", []byte(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	nodes[0].srv.Shutdown()
	for _, node := range nodes[1:] {
		waitLong(t, "the return stream readable without m1", func() bool {
			c, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			s, err := node.js.Stream(c, ReturnStream)
			if err != nil {
				return false
			}
			m, err := s.GetLastMsgForSubject(c, ReturnSubject("20260101000000000001", "web1"))
			return err == nil && string(m.Data) == `{"ok":true}`
		})
	}
	// The survivors elect a new meta leader: the status settles on three
	// servers, m1 not current, and a leader that is not m1.
	var st ClusterStatus
	settled := func() bool {
		var err error
		if st, err = nodes[1].srv.Status(); err != nil {
			return false
		}
		offline := 0
		for _, p := range st.Servers {
			if p.Offline || !p.Current {
				offline++
			}
		}
		return len(st.Servers) == 3 && offline == 1 && st.Leader != "" && st.Leader != "m1"
	}
	deadline := time.Now().Add(time.Minute)
	for !settled() {
		if time.Now().After(deadline) {
			t.Fatalf("status after m1 stopped: %+v; want 3 servers, m1 not current, a leader other than m1", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestForeignServerCannotJoin: a nats-server with a certificate from a CA
// other than the fleet's routes to a fleet server: the handshake fails on
// both sides and it gets no route, so it sees none of the fleet's traffic.
func TestForeignServerCannotJoin(t *testing.T) {
	nodes := startCluster(t, 2)
	foreignTLS, err := routeTLS(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	route, err := RouteURL(nodes[0].route)
	if err != nil {
		t.Fatal(err)
	}
	foreignLog := &logLines{}
	_, port, err := splitListen(freePort(t))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := server.NewServer(&server.Options{
		ServerName: "intruder", Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true,
		Cluster: server.ClusterOpts{Name: DefaultClusterName, Host: "127.0.0.1", Port: port, TLSConfig: foreignTLS, TLSTimeout: 2},
		Routes:  []*url.URL{route},
	})
	if err != nil {
		t.Fatal(err)
	}
	fs.SetLoggerV2(serverLog{log: slog.New(foreignLog)}, false, false, false)
	fs.Start()
	t.Cleanup(fs.Shutdown)
	// The fleet server refuses the intruder's certificate...
	nodes[0].log.wait(t, "TLS route handshake error")
	// ...and the intruder refuses the fleet server's.
	foreignLog.wait(t, "TLS route handshake error")
	if n := fs.NumRoutes(); n != 0 {
		t.Errorf("the foreign server has %d routes; want none", n)
	}
	if n := nodes[0].srv.NumRoutes(); n != nodes[1].srv.NumRoutes() {
		t.Errorf("fleet servers have %d and %d routes; the intruder must not count", n, nodes[1].srv.NumRoutes())
	}
	st, err := nodes[0].srv.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Servers {
		if p.Name == "intruder" {
			t.Fatalf("the intruder is a JetStream peer: %+v", st.Servers)
		}
	}
}
