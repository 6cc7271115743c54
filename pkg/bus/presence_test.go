package bus

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// TestExternalPresence: on a nats-server configured by ExternalConfig, the
// callout account sees which keys are connected: a minion connected
// before the watch started (from the servers' connection lists), one that
// connects later and one that leaves (from the connection events); a
// second connection with the same key keeps it connected until both are
// gone; a resynchronization forgets a connection no server lists.
func TestExternalPresence(t *testing.T) {
	kt := newKeyTable()
	_, co := startExternal(t, kt, time.Hour)
	url := co.nc.ConnectedUrl()
	a, aPub := newKey(t)
	b, bPub := newKey(t)
	_, cPub := newKey(t)
	kt.set(aPub, RoleMinion, "a")
	kt.set(bPub, RoleMinion, "b")
	kt.set(cPub, RoleMinion, "c")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := func(key nkeys.KeyPair, name string) *nats.Conn {
		t.Helper()
		nc, err := Connect(ctx, ClientConfig{URLs: []string{url}, Name: name, Key: key, Minion: true})
		if err != nil {
			t.Fatalf("connect %s: %v", name, err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	a1 := connect(a, "a")

	p, err := WatchPresence(ctx, co.nc, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if !p.Connected(aPub) {
		t.Error("a, connected before the watch, is not seen connected")
	}
	for key, name := range map[string]string{bPub: "b", cPub: "c"} {
		if p.Connected(key) {
			t.Errorf("%s is seen connected before it connects", name)
		}
	}
	// The callout's own connection and the masters' are not minions.
	if n := len(p.perKey); n != 1 {
		t.Errorf("%d keys seen connected, want 1 (a): %v", n, p.perKey)
	}

	b1 := connect(b, "b")
	waitFor(t, "b seen connected", func() bool { return p.Connected(bPub) })
	a2 := connect(a, "a")
	waitFor(t, "a's second connection seen", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.perKey[aPub] == 2
	})
	a1.Close()
	waitFor(t, "a's first connection seen closed", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.perKey[aPub] == 1
	})
	if !p.Connected(aPub) {
		t.Error("a, still connected once, is seen disconnected")
	}
	a2.Close()
	b1.Close()
	waitFor(t, "a and b seen disconnected", func() bool { return !p.Connected(aPub) && !p.Connected(bPub) })

	// A connection whose server died unannounced: only a resync forgets it.
	p.mu.Lock()
	p.seq++
	p.add(connID{server: "NGONE", cid: 7}, cPub, p.seq)
	p.mu.Unlock()
	if !p.Connected(cPub) {
		t.Fatal("c's recorded connection is not seen")
	}
	b2 := connect(b, "b")
	waitFor(t, "b seen connected again", func() bool { return p.Connected(bPub) })
	if err := p.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if p.Connected(cPub) {
		t.Error("after a resync, c's connection that no server lists is still seen")
	}
	if !p.Connected(bPub) {
		t.Error("after a resync, b's open connection is not seen")
	}
	b2.Close()
}

// TestExternalStatusOneServer: a lone server describes itself: its name,
// JetStream on, not clustered.
func TestExternalStatusOneServer(t *testing.T) {
	_, co := startExternal(t, newKeyTable(), time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := ExternalStatus(ctx, co.nc)
	if err != nil {
		t.Fatal(err)
	}
	name := co.nc.ConnectedServerName()
	if st.Server != name || st.Clustered || len(st.Servers) != 1 {
		t.Fatalf("status %+v, want server %s alone, not clustered", st, name)
	}
	if s := st.Servers[0]; s.Name != name || !s.JetStream || !s.Current || s.Offline {
		t.Errorf("server %+v, want %s current with JetStream", s, name)
	}
}

// BenchmarkPresenceEvent is what a master spends on one minion's
// connection and disconnection: decoding and applying both events.
func BenchmarkPresenceEvent(b *testing.B) {
	p := &Presence{log: testLog(b), conns: map[connID]string{}, opened: map[connID]uint64{},
		perKey: map[string]int{}, closed: map[connID]uint64{}}
	_, pub := newKey(b)
	now := time.Now()
	ev := server.ConnectEventMsg{Server: server.ServerInfo{Name: "n1", ID: "NSERVER"},
		Client: server.ClientInfo{Start: &now, Host: "127.0.0.1", ID: 42, Account: minionAccountName, User: pub,
			Name: "web1", Lang: "go", Version: "1.55.0", Kind: "Client", ClientType: "nats"}}
	data, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	connect, disconnect := &nats.Msg{Subject: minionConnectEvents, Data: data}, &nats.Msg{Subject: minionDisconnectEvents, Data: data}
	b.ReportAllocs()
	for b.Loop() {
		p.event(connect, true)
		p.event(disconnect, false)
	}
	if p.Connected(pub) {
		b.Fatal("still connected after its disconnection")
	}
}
