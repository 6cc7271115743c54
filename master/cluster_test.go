package master

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/keys"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startClusterMaster runs a real clustered master: the first one with no
// join, the others joining with a token.
func startClusterMaster(t *testing.T, join, token string, peers ...string) *testMaster {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Master{DataDir: filepath.Join(dir, "master"), Socket: filepath.Join(dir, "master.sock"),
		Listen: freeAddr(t), ClusterListen: freeAddr(t), Join: join, Peers: peers,
		FileRoots: config.Roots{filepath.Join(dir, "srv")}, PillarRoots: config.Roots{filepath.Join(dir, "pillar")}}
	m, err := New(Options{Master: cfg, Log: testLog(), JoinToken: token})
	if err != nil {
		t.Fatalf("new master: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tm := &testMaster{Master: m, dir: dir, cfg: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { tm.done <- m.Run(ctx) }()
	t.Cleanup(func() {
		if err := tm.stop(); err != nil {
			t.Errorf("master stopped with: %v", err)
		}
	})
	select {
	case <-m.busUp:
	case err := <-tm.done:
		tm.cancel = nil
		t.Fatalf("master did not start: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("master's bus not up after a minute")
	}
	return tm
}

// ready waits until the masters serve.
func ready(t *testing.T, ms ...*testMaster) {
	t.Helper()
	for _, m := range ms {
		select {
		case <-m.Ready():
		case err := <-m.done:
			m.cancel = nil
			t.Fatalf("master did not start: %v", err)
		case <-time.After(time.Minute):
			t.Fatal("master not ready after a minute")
		}
	}
}

func token(t *testing.T, tm *testMaster) string {
	t.Helper()
	tok, _, err := JoinToken(tm.cfg.DataDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestClusterOfThreeMasters: the first master makes the fleet identity, two
// more join it with join tokens (the third with one the second made); the
// three share the signing key and replicate every stream three times; a key
// accepted on one is accepted on all, and a key rejected on another cuts
// its minion off the server it is connected to.
func TestClusterOfThreeMasters(t *testing.T) {
	m1 := startClusterMaster(t, "", "")
	m2 := startClusterMaster(t, m1.BusURL(), token(t, m1))
	ready(t, m1, m2)
	m3 := startClusterMaster(t, m2.BusURL(), token(t, m2))
	ready(t, m3)
	for _, m := range []*testMaster{m2, m3} {
		if m.PublicKey() != m1.PublicKey() {
			t.Fatalf("joined master signs with %s, the fleet with %s", m.PublicKey(), m1.PublicKey())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	waitFor(t, "three servers and every stream on three", func() bool {
		st, err := m3.ClusterStatus(ctx)
		if err != nil || len(st.Servers) != 3 || st.Leader == "" {
			return false
		}
		for _, s := range st.Streams {
			if s.Replicas != 3 {
				return false
			}
		}
		return len(st.Streams) >= 5
	})

	// Accepted on m1: accepted on m3, and the minion connects to m3.
	mn := m1.acceptedMinion(t, "web1")
	pub, err := mn.key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web1 accepted on m3", func() bool {
		k, ok := m3.Keys().Get("web1")
		return ok && k.State == keys.Accepted && k.PublicKey == pub
	})
	mn.nc.Close()
	onM3 := connectAs(t, m3, "web1", mn.key)
	waitFor(t, "web1 on m3's server", func() bool { return m3.Bus().Connected(pub) })

	// Rejected on m2: m3 cuts web1 off and refuses it from then on.
	if err := m2.Keys().Reject("web1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web1 rejected on m1 and m3", func() bool {
		k1, _ := m1.Keys().Get("web1")
		k3, _ := m3.Keys().Get("web1")
		return k1.State == keys.Rejected && k3.State == keys.Rejected
	})
	waitFor(t, "web1 cut off m3", func() bool { return !onM3.IsConnected() && !m3.Bus().Connected(pub) })
	for _, m := range []*testMaster{m1, m2, m3} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := bus.Connect(ctx, bus.ClientConfig{URLs: []string{m.BusURL()}, Name: "web1", Key: mn.key, Minion: true, Log: testLog()})
		cancel()
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("a rejected minion connecting to %s: %v; want refused", m.Bus().ServerName(), err)
		}
	}

	// Deleted on m3: gone from m1.
	if err := m3.Keys().Delete("web1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web1 deleted on m1", func() bool { _, ok := m1.Keys().Get("web1"); return !ok })
}

// connectAs connects a minion's key to a master's bus, as a minion does.
func connectAs(t *testing.T, tm *testMaster, id string, kp nkeys.KeyPair) interface{ IsConnected() bool } {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, bus.ClientConfig{URLs: []string{tm.BusURL()}, Name: id, Key: kp, Minion: true, Log: testLog()})
	if err != nil {
		t.Fatalf("connect %s to %s: %v", id, tm.BusURL(), err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// TestJoinTokens: a join token opens the bus only to its own key, for its
// own time, and only on the fleet that signed it.
func TestJoinTokens(t *testing.T) {
	m1 := startClusterMaster(t, "", "")
	other := startClusterMaster(t, "", "")
	good, _, err := m1.ClusterToken(0)
	if err != nil {
		t.Fatal(err)
	}
	jt, kp, err := parseToken(good)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	name := joinNamePrefix + itoa(jt.Expires) + ":" + jt.Sig
	stranger, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	strangerPub, _ := stranger.PublicKey()
	cases := []struct {
		name string
		m    *testMaster
		pub  string
		conn string
		role bus.Role
	}{
		{"its own key", m1, pub, name, bus.RoleJoin},
		{"another key with its ticket", m1, strangerPub, name, bus.RoleNone},
		{"expired", m1, pub, joinNamePrefix + itoa(time.Now().Unix()-1) + ":" + jt.Sig, bus.RoleNone},
		{"later expiry", m1, pub, joinNamePrefix + itoa(jt.Expires+3600) + ":" + jt.Sig, bus.RoleNone},
		{"another fleet", other, pub, name, bus.RoleNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if role, _ := (authorizer{tc.m.Master}).Authorize(tc.pub, tc.conn); role != tc.role {
				t.Errorf("role %s, want %s", role, tc.role)
			}
		})
	}
	// Joining the other fleet with m1's token fails and leaves no identity.
	dir := t.TempDir()
	m, err := New(Options{Master: config.Master{DataDir: filepath.Join(dir, "m"), Socket: filepath.Join(dir, "s"),
		Listen: freeAddr(t), ClusterListen: freeAddr(t), Join: other.BusURL()}, Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.join(ctx, good); err == nil {
		t.Fatal("joined another fleet with m1's token")
	}
	if m.joined() {
		t.Fatal("a failed join left a fleet identity")
	}
	for _, bad := range []string{"", "brinejoin1.!!", "hello"} {
		if _, _, err := parseToken(bad); err == nil {
			t.Errorf("token %q parsed", bad)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
