package bus

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// keyTable is an Authorizer backed by a map, standing in for the key store.
type keyTable struct {
	mu    sync.Mutex
	roles map[string]Role
	ids   map[string]string
}

func newKeyTable() *keyTable {
	return &keyTable{roles: map[string]Role{}, ids: map[string]string{}}
}

func (k *keyTable) set(pub string, role Role, id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.roles[pub], k.ids[pub] = role, id
}

// Authorize treats unknown keys as pending, as the key store does.
func (k *keyTable) Authorize(pub, _ string) (Role, string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	role, ok := k.roles[pub]
	if !ok {
		return RolePending, ""
	}
	return role, k.ids[pub]
}

func testLog(t testing.TB) *slog.Logger {
	if os.Getenv("BRINE_BUS_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newKey(t testing.TB) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return kp, pub
}

func startServer(t testing.TB, cfg ServerConfig) *Server {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Log == nil {
		cfg.Log = testLog(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv, err := StartServer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// errLog records a connection's asynchronous errors.
type errLog struct {
	mu   sync.Mutex
	errs []error
}

func (e *errLog) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
}

func (e *errLog) find(subject string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, err := range e.errs {
		if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
			return err
		}
	}
	return nil
}

// waitViolation waits for the permission violation on subject.
func (e *errLog) waitViolation(t testing.TB, subject string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if e.find(subject) != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t.Fatalf("no permission violation for %q; errors seen: %v", subject, e.errs)
}

func (e *errLog) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.errs)
}

// client is a test connection with its error log.
type client struct {
	nc   *nats.Conn
	errs *errLog
}

func connectIn(t testing.TB, srv *Server, name string, kp nkeys.KeyPair, minion bool, extra ...nats.Option) (*client, error) {
	t.Helper()
	el := &errLog{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := Connect(ctx, ClientConfig{
		Name:    name,
		Key:     kp,
		Minion:  minion,
		Extra:   append([]nats.Option{srv.InProcess()}, extra...),
		Log:     testLog(t),
		OnError: el.add,
	})
	if err != nil {
		return nil, err
	}
	t.Cleanup(nc.Close)
	return &client{nc: nc, errs: el}, nil
}

func mustConnect(t testing.TB, srv *Server, name string, kp nkeys.KeyPair, minion bool, extra ...nats.Option) *client {
	t.Helper()
	c, err := connectIn(t, srv, name, kp, minion, extra...)
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	return c
}

// fixture is a running bus with its streams, an admin connection and two
// accepted minions, a and b.
type fixture struct {
	srv    *Server
	keys   *keyTable
	admin  *client
	js     jetstream.JetStream
	aKey   nkeys.KeyPair
	bKey   nkeys.KeyPair
	aPub   string
	bPub   string
	aID    string
	bID    string
	ctx    context.Context
	cancel context.CancelFunc
}

// newFixture starts the bus; listen "" keeps it in-process only.
func newFixture(t *testing.T, listen string) *fixture {
	t.Helper()
	f := &fixture{keys: newKeyTable(), aID: "web1.example.com", bID: "db1"}
	f.ctx, f.cancel = context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(f.cancel)
	adminKey, adminPub := newKey(t)
	f.keys.set(adminPub, RoleAdmin, "")
	f.aKey, f.aPub = newKey(t)
	f.bKey, f.bPub = newKey(t)
	f.keys.set(f.aPub, RoleMinion, f.aID)
	f.keys.set(f.bPub, RoleMinion, f.bID)
	f.srv = startServer(t, ServerConfig{Auth: f.keys, Listen: listen})
	f.admin = mustConnect(t, f.srv, MasterID, adminKey, false)
	js, err := jetstream.New(f.admin.nc)
	if err != nil {
		t.Fatal(err)
	}
	f.js = js
	if err := SetupStreams(f.ctx, js, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{f.aID, f.bID} {
		if err := EnsureMinionConsumer(f.ctx, js, id); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// inbox collects the messages of a subscription.
type inbox struct {
	ch  chan *nats.Msg
	sub *nats.Subscription
}

func subscribe(t testing.TB, nc *nats.Conn, subject string) *inbox {
	t.Helper()
	in := &inbox{ch: make(chan *nats.Msg, 64)}
	sub, err := nc.ChanSubscribe(subject, in.ch)
	if err != nil {
		t.Fatalf("subscribe %s: %v", subject, err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	in.sub = sub
	return in
}

func (in *inbox) next(t testing.TB, within time.Duration) *nats.Msg {
	t.Helper()
	select {
	case m := <-in.ch:
		return m
	case <-time.After(within):
		t.Fatalf("no message on %s within %s", in.sub.Subject, within)
		return nil
	}
}

// quiet fails if a message arrives within d.
func (in *inbox) quiet(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case m := <-in.ch:
		t.Fatalf("unexpected message on %s: subject %s, data %q", in.sub.Subject, m.Subject, m.Data)
	case <-time.After(d):
	}
}
