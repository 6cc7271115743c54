package bus

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// blackhole forwards TCP connections to upstream until it is frozen; then
// it keeps every socket open and forwards nothing, as a host that vanished
// from the network does.
type blackhole struct {
	ln     net.Listener
	frozen atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newBlackhole(t *testing.T, upstream string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln}
	t.Cleanup(b.close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			b.mu.Lock()
			b.conns = append(b.conns, c, u)
			b.mu.Unlock()
			go b.pipe(c, u)
			go b.pipe(u, c)
		}
	}()
	return b
}

// pipe copies from src to dst until frozen, then drops what src sends.
func (b *blackhole) pipe(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !b.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (b *blackhole) close() {
	b.ln.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		c.Close()
	}
}

// TestAliveIntervalLeavesAVanishedServer: a client whose server stops
// answering without closing the connection leaves it after its alive
// checks go unanswered and reconnects to the next URL, where it works.
func TestAliveIntervalLeavesAVanishedServer(t *testing.T) {
	keys := newKeyTable()
	kp, pub := newKey(t)
	keys.set(pub, RoleMinion, "m1")
	srv := startServer(t, ServerConfig{Auth: keys, Listen: "127.0.0.1:0"})
	direct := srv.ClientURL()
	hole := newBlackhole(t, strings.TrimPrefix(direct, "nats://"))
	via := "nats://" + hole.ln.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reconnected := make(chan string, 4)
	nc, err := Connect(ctx, ClientConfig{
		URLs: []string{via, direct}, Name: "m1", Key: kp, Minion: true, Log: testLog(t),
		AliveInterval: 100 * time.Millisecond,
		Extra: []nats.Option{nats.DontRandomize(), nats.ReconnectHandler(func(nc *nats.Conn) {
			reconnected <- nc.ConnectedUrl()
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if got := nc.ConnectedUrl(); got != via {
		t.Fatalf("connected to %s, want the first URL %s", got, via)
	}
	hole.frozen.Store(true)
	select {
	case url := <-reconnected:
		if url != direct {
			t.Fatalf("reconnected to %s, want %s", url, direct)
		}
	case <-ctx.Done():
		t.Fatal("the client never left the server that stopped answering")
	}
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		t.Errorf("after the move, the connection does not work: %v", err)
	}
}
