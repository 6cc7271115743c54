package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// TestMinionCannotTouchOthers has accepted minion a try everything that would
// let it read b's jobs or forge b's messages. Each attempt must come back as a
// permission violation in a's error handler, and nothing may reach anyone.
func TestMinionCannotTouchOthers(t *testing.T) {
	f := newFixture(t, "")
	if err := PublishJob(f.ctx, f.js, f.bID, []byte("secret job for b"), time.Minute); err != nil {
		t.Fatal(err)
	}
	a := mustConnect(t, f.srv, f.aID, f.aKey, true)

	// Master-side listeners for everything a might forge.
	master := subscribe(t, f.admin.nc, "brine.>")

	t.Run("subscribe", func(t *testing.T) {
		for _, subject := range []string{
			DeliverSubject(f.bID),
			AllJobs,
			AllReturns,
			InboxPrefix(f.bID) + ".>",
			">",
			"brine.deliver.*",
			"$JS.API.>",
		} {
			in := subscribe(t, a.nc, subject)
			a.errs.waitViolation(t, subject)
			in.quiet(t, 50*time.Millisecond)
		}
	})

	t.Run("publish", func(t *testing.T) {
		for _, subject := range []string{
			ReturnSubject("J1", f.bID),
			GrainsSubject(f.bID),
			EventSubject(f.bID, "minion.start"),
			FileSubject(f.bID),
			JobSubject(f.bID),
			JobSubject(f.aID),
			DeliverSubject(f.bID),
			"brine.event.master.key.accepted",
			AuthSubject(f.aID),
			"$JS.ACK." + JobStream + "." + ConsumerName(f.bID) + ".1.1.1.1700000000000000000.0",
		} {
			if err := a.nc.Publish(subject, []byte("forged")); err != nil {
				t.Fatal(err)
			}
			a.errs.waitViolation(t, subject)
		}
		master.quiet(t, 200*time.Millisecond)
	})

	t.Run("jetstream api", func(t *testing.T) {
		calls := []struct {
			subject string
			body    any
		}{
			{"$JS.API.CONSUMER.MSG.NEXT." + JobStream + "." + ConsumerName(f.bID), map[string]any{"batch": 1}},
			{"$JS.API.STREAM.MSG.GET." + JobStream, map[string]any{"last_by_subj": JobSubject(f.bID)}},
			{"$JS.API.DIRECT.GET." + JobStream, map[string]any{"last_by_subj": JobSubject(f.bID)}},
			{"$JS.API.CONSUMER.CREATE." + JobStream + ".spy." + JobSubject(f.bID), map[string]any{
				"stream_name": JobStream,
				"config":      map[string]any{"name": "spy", "filter_subject": JobSubject(f.bID), "deliver_subject": DeliverSubject(f.aID)},
			}},
			{"$JS.API.CONSUMER.DURABLE.CREATE." + JobStream + ".spy", map[string]any{
				"stream_name": JobStream,
				"config":      map[string]any{"durable_name": "spy", "deliver_subject": DeliverSubject(f.aID)},
			}},
			{"$JS.API.CONSUMER.DELETE." + JobStream + "." + ConsumerName(f.bID), nil},
			{"$JS.API.STREAM.PURGE." + JobStream, nil},
			{"$JS.API.STREAM.INFO." + JobStream, nil},
			{"$JS.API.INFO", nil},
		}
		for _, c := range calls {
			body, err := json.Marshal(c.body)
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.nc.Request(c.subject, body, 300*time.Millisecond)
			if err == nil {
				t.Fatalf("%s answered", c.subject)
			}
			a.errs.waitViolation(t, c.subject)
		}
		// The JetStream client library fails the same way.
		js, err := jetstream.New(a.nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(f.ctx, 500*time.Millisecond)
		defer cancel()
		if _, err := js.Stream(ctx, JobStream); err == nil {
			t.Fatal("minion read the jobs stream")
		}
	})

	// b's job is intact and no consumer was created or removed.
	waitConsumer(t, f, f.bID, func(ci *jetstream.ConsumerInfo) bool { return ci.NumPending == 1 && ci.NumAckPending == 0 })
	st, err := f.js.Stream(f.ctx, JobStream)
	if err != nil {
		t.Fatal(err)
	}
	names := st.ConsumerNames(f.ctx)
	var got []string
	for n := range names.Name() {
		got = append(got, n)
	}
	if len(got) != 2 {
		t.Fatalf("consumers %v, want only the two minions'", got)
	}
	master.quiet(t, 100*time.Millisecond)

	// b still gets its job, untouched.
	b := mustConnect(t, f.srv, f.bID, f.bKey, true)
	if m := subscribe(t, b.nc, DeliverSubject(f.bID)).next(t, 3*time.Second); string(m.Data) != "secret job for b" {
		t.Fatalf("b got %q", m.Data)
	}
}

// TestPendingKeyCanOnlyAsk: a key the master does not know may publish its
// key request under the name it claims, and nothing else.
func TestPendingKeyCanOnlyAsk(t *testing.T) {
	f := newFixture(t, "")
	kp, pub := newKey(t)
	requests := subscribe(t, f.admin.nc, AllAuth)
	everything := subscribe(t, f.admin.nc, "brine.>")

	p := mustConnect(t, f.srv, "new1.example.com", kp, true)
	if err := p.nc.Publish(AuthSubject("new1.example.com"), []byte(pub)); err != nil {
		t.Fatal(err)
	}
	m := requests.next(t, 2*time.Second)
	if id, ok := SubjectID(m.Subject); !ok || id != "new1.example.com" || string(m.Data) != pub {
		t.Fatalf("key request %s %q", m.Subject, m.Data)
	}
	everything.next(t, 2*time.Second) // the same request

	for _, subject := range []string{
		AuthSubject(f.aID),
		ReturnSubject("J1", "new1.example.com"),
		GrainsSubject("new1.example.com"),
		EventSubject("new1.example.com", "minion.start"),
		FileSubject("new1.example.com"),
		"$JS.API.INFO",
	} {
		if err := p.nc.Publish(subject, []byte("x")); err != nil {
			t.Fatal(err)
		}
		p.errs.waitViolation(t, subject)
	}
	for _, subject := range []string{
		DeliverSubject("new1.example.com"),
		InboxPrefix("new1.example.com") + ".>",
		AllAuth,
	} {
		subscribe(t, p.nc, subject)
		p.errs.waitViolation(t, subject)
	}
	everything.quiet(t, 200*time.Millisecond)
	requests.quiet(t, 10*time.Millisecond)
}

// TestRefusedConnections: keys that may not connect, and clients that cannot
// prove they own the key they present, are refused.
//
// Over TCP: an in-process client that the server refuses waits for the
// server's write deadline before it sees the refusal.
func TestRefusedConnections(t *testing.T) {
	f := newFixture(t, "127.0.0.1:0")
	rejected, rejectedPub := newKey(t)
	f.keys.set(rejectedPub, RoleNone, "")
	minionWithBadID, badPub := newKey(t)
	f.keys.set(badPub, RoleMinion, "bad.*.id")
	thief, _ := newKey(t)

	tests := []struct {
		name string
		opts []nats.Option
	}{
		{"rejected key", []nats.Option{nats.Nkey(rejectedPub, rejected.Sign)}},
		{"key signed by another key", []nats.Option{nats.Nkey(f.aPub, thief.Sign)}},
		{"garbage signature", []nats.Option{nats.Nkey(f.aPub, func([]byte) ([]byte, error) { return []byte("not a signature"), nil })}},
		{"no key", nil},
		{"user and password", []nats.Option{nats.UserInfo(f.aPub, "x")}},
		{"accepted key with an unusable id", []nats.Option{nats.Nkey(badPub, minionWithBadID.Sign)}},
		{"pending key claiming an unusable name", []nats.Option{nats.Nkey(mustPub(t, thief), thief.Sign), nats.Name("a>")}},
		{"pending key claiming the master's name", []nats.Option{nats.Nkey(mustPub(t, thief), thief.Sign), nats.Name(MasterID)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]nats.Option{nats.Name(f.aID), nats.NoReconnect()}, tc.opts...)
			nc, err := nats.Connect(f.srv.ClientURL(), opts...)
			if err == nil {
				nc.Close()
				t.Fatal("connected")
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("err = %v, want an authorization violation", err)
			}
		})
	}
	if f.srv.Connected(rejectedPub) || f.srv.Connected(f.aPub) {
		t.Fatal("a refused key counts as connected")
	}

	// Connect gives up at once on a refused key.
	start := time.Now()
	ctx, cancel := context.WithTimeout(f.ctx, 5*time.Second)
	defer cancel()
	_, err := Connect(ctx, ClientConfig{URLs: []string{f.srv.ClientURL()}, Name: "rejected", Key: rejected, Minion: true})
	if !errors.Is(err, nats.ErrAuthorization) || time.Since(start) > 2*time.Second {
		t.Fatalf("Connect with a rejected key: %v after %s", err, time.Since(start))
	}
}

func mustPub(t testing.TB, kp nkeys.KeyPair) string {
	t.Helper()
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestKickAppliesNewRole: a pending minion is accepted and kicked; it
// reconnects by itself and now has a minion's rights. Then it is rejected
// and kicked; it cannot come back.
func TestKickAppliesNewRole(t *testing.T) {
	f := newFixture(t, "127.0.0.1:0")
	kp, pub := newKey(t)
	const id = "late.example.com"
	reconnected := make(chan struct{}, 4)
	m := &client{errs: &errLog{}}
	nc, err := Connect(f.ctx, ClientConfig{
		URLs:    []string{f.srv.ClientURL()},
		Name:    id,
		Key:     kp,
		Minion:  true,
		Extra:   []nats.Option{nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} })},
		Log:     testLog(t),
		OnError: m.errs.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	m.nc = nc
	if !f.srv.Connected(pub) {
		t.Fatal("pending minion not seen as connected")
	}
	// Subscribing while pending is refused, but the client keeps the
	// subscription and sends it again when it reconnects.
	jobs := subscribe(t, m.nc, DeliverSubject(id))
	m.errs.waitViolation(t, DeliverSubject(id))

	// Accept: consumer, job, new role, kick.
	if err := EnsureMinionConsumer(f.ctx, f.js, id); err != nil {
		t.Fatal(err)
	}
	if err := PublishJob(f.ctx, f.js, id, []byte("welcome"), time.Minute); err != nil {
		t.Fatal(err)
	}
	f.keys.set(pub, RoleMinion, id)
	if n := f.srv.Kick(pub); n != 1 {
		t.Fatalf("Kick closed %d connections, want 1", n)
	}
	select {
	case <-reconnected:
	case <-time.After(5 * time.Second):
		t.Fatal("minion did not reconnect after the kick")
	}
	waitFor(t, "presence after reconnect", func() bool { return f.srv.Connected(pub) })
	if msg := jobs.next(t, 3*time.Second); string(msg.Data) != "welcome" {
		t.Fatalf("got %q", msg.Data)
	}

	// Reject: kicked, and every reconnection is refused.
	f.keys.set(pub, RoleNone, "")
	if n := f.srv.Kick(pub); n != 1 {
		t.Fatalf("Kick closed %d connections, want 1", n)
	}
	time.Sleep(time.Second)
	if f.srv.Connected(pub) || m.nc.IsConnected() {
		t.Fatal("rejected minion is connected again")
	}
	if n := f.srv.Kick(pub); n != 0 {
		t.Fatalf("second Kick closed %d connections", n)
	}
}

func TestPresence(t *testing.T) {
	f := newFixture(t, "")
	if f.srv.Connected(f.aPub) {
		t.Fatal("connected before connecting")
	}
	a1 := mustConnect(t, f.srv, f.aID, f.aKey, true)
	a2 := mustConnect(t, f.srv, f.aID, f.aKey, true)
	if !f.srv.Connected(f.aPub) || f.srv.Connected(f.bPub) {
		t.Fatal("presence wrong after connecting a")
	}
	a1.nc.Close()
	time.Sleep(100 * time.Millisecond)
	if !f.srv.Connected(f.aPub) {
		t.Fatal("a has a second connection open")
	}
	a2.nc.Close()
	waitFor(t, "a disconnected", func() bool { return !f.srv.Connected(f.aPub) })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestPendingFloodIsLimited: one address opening connections with ever new
// keys gets its burst, then is refused, while an accepted key still
// connects from the same address.
func TestPendingFloodIsLimited(t *testing.T) {
	keys := newKeyTable()
	srv := startServer(t, ServerConfig{Listen: "127.0.0.1:0", Auth: keys})
	accepted, acceptedPub := newKey(t)
	keys.set(acceptedPub, RoleMinion, "good1")
	connect := func(kp nkeys.KeyPair, pub, name string) (*nats.Conn, error) {
		return nats.Connect(srv.ClientURL(), nats.Name(name), nats.Nkey(pub, kp.Sign), nats.NoReconnect())
	}
	var conns []*nats.Conn
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	refused := 0
	for i := range pendingBurst + 20 {
		kp, pub := newKey(t)
		nc, err := connect(kp, pub, fmt.Sprintf("flood%d", i))
		if err != nil {
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("connection %d: %v, want an authorization error", i, err)
			}
			refused++
			continue
		}
		conns = append(conns, nc)
	}
	if len(conns) < pendingBurst || refused == 0 {
		t.Fatalf("%d pending connections admitted, %d refused; want at least the burst of %d admitted and the rest refused",
			len(conns), refused, pendingBurst)
	}
	nc, err := connect(accepted, acceptedPub, "good1")
	if err != nil {
		t.Fatalf("an accepted key from the flooding address: %v", err)
	}
	nc.Close()

	// Connections in process (a simulated fleet in the master's own
	// process) have no address to limit.
	for i := range pendingBurst + 20 {
		kp, pub := newKey(t)
		nc, err := nats.Connect("", srv.InProcess(), nats.Name(fmt.Sprintf("local%d", i)), nats.Nkey(pub, kp.Sign), nats.NoReconnect())
		if err != nil {
			t.Fatalf("in-process pending connection %d: %v", i, err)
		}
		conns = append(conns, nc)
	}
}
