package minion

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/brinecm/brine/modules"
	_ "github.com/brinecm/brine/modules/all"
	"github.com/brinecm/brine/modules/state"
	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/keys"
	"github.com/brinecm/brine/pkg/wire"
	_ "github.com/brinecm/brine/states/all"
)

// testLog logs to the test's output at debug level.
func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// master stands in for the brine master: a real embedded bus, a real key
// store, a file server over testdata/tree, signed jobs and the job cache.
type master struct {
	t      testing.TB
	dir    string
	listen string // "" for in-process connections only
	store  *keys.Store
	kp     nkeys.KeyPair
	pub    string
	auto   bool // accept every key request at once

	filesSilent  atomic.Bool  // the file server takes read requests but never answers them
	filesLimited atomic.Int32 // how many more read requests the file server refuses for the minion's rate

	mu     sync.Mutex
	srv    *bus.Server
	nc     *nats.Conn
	files  *nats.Subscription // the file server's
	js     jetstream.JetStream
	events []wire.Event
	grains map[string]map[string]any // latest grains by minion id
}

// newMaster starts a master; with tcp, its bus listens on a loopback port
// (so that it can be restarted on the same address) instead of in-process only.
func newMaster(t testing.TB, tcp bool) *master {
	t.Helper()
	dir := t.TempDir()
	store, err := keys.OpenStore(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := keys.LoadOrCreate(filepath.Join(dir, "master.nk"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	m := &master{t: t, dir: dir, store: store, kp: kp, pub: pub}
	if tcp {
		m.listen = freeLoopback(t)
	}
	m.start()
	t.Cleanup(m.stop)
	return m
}

// freeLoopback returns a loopback address with a port free right now.
func freeLoopback(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Authorize maps keys to bus roles from the key store.
func (m *master) Authorize(publicKey, name string) (bus.Role, string) {
	if publicKey == m.pub {
		return bus.RoleAdmin, bus.MasterID
	}
	k, ok := m.store.Lookup(publicKey)
	if !ok {
		return bus.RolePending, name
	}
	switch k.State {
	case keys.Accepted:
		return bus.RoleMinion, k.ID
	case keys.Pending:
		return bus.RolePending, k.ID
	}
	return bus.RoleNone, ""
}

// start starts the bus and the master's services on it.
func (m *master) start() {
	t := m.t
	t.Helper()
	ctx := t.Context()
	srv, err := bus.StartServer(ctx, bus.ServerConfig{DataDir: m.dir, Listen: m.listen, Auth: m, Log: testLog(t).With("side", "bus")})
	if err != nil {
		t.Fatal(err)
	}
	cc := bus.ClientConfig{Name: bus.MasterID, Key: m.kp, Log: testLog(t).With("side", "master")}
	if m.listen == "" {
		cc.Extra = []nats.Option{srv.InProcess()}
	} else {
		cc.URLs = []string{srv.ClientURL()}
	}
	nc, err := bus.Connect(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.SetupStreams(ctx, js, time.Hour); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	m.srv, m.nc, m.js = srv, nc, js
	m.mu.Unlock()
	for subj, h := range map[string]nats.MsgHandler{bus.AllAuth: m.onAuth, bus.AllFiles: m.onFile, bus.AllEvents: m.onEvent, bus.AllGrains: m.onGrains} {
		sub, err := nc.Subscribe(subj, h)
		if err != nil {
			t.Fatal(err)
		}
		if subj == bus.AllFiles {
			m.mu.Lock()
			m.files = sub
			m.mu.Unlock()
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// stop shuts the bus down.
func (m *master) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nc != nil {
		m.nc.Close()
		m.srv.Shutdown()
		m.nc, m.srv = nil, nil
	}
}

// minionConfig configures minion id to reach this master: over TCP, or in-process.
func (m *master) minionConfig(id, dataDir string) Config {
	cfg := Config{ID: id, DataDir: dataDir, Log: testLog(m.t).With("side", "minion"), Grains: map[string]any{"role": "test"}}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listen == "" {
		cfg.Extra = []nats.Option{m.srv.InProcess()}
	} else {
		cfg.Masters = []string{"nats://" + m.listen}
	}
	return cfg
}

func (m *master) onAuth(msg *nats.Msg) {
	id, ok := bus.SubjectID(msg.Subject)
	var req wire.AuthRequest
	if !ok || json.Unmarshal(msg.Data, &req) != nil || req.Verify(id) != nil {
		m.t.Errorf("bad key request on %s: %s", msg.Subject, msg.Data)
		return
	}
	if _, err := m.store.Submit(id, req.PublicKey); err != nil {
		m.t.Errorf("submit %s: %v", id, err)
		return
	}
	if m.auto {
		m.accept(id)
	}
}

// accept does what `brine key accept` does: accept, create the consumer,
// and cut the pending connection so the minion comes back with its rights.
func (m *master) accept(id string) {
	k, ok := m.store.Get(id)
	if !ok {
		m.t.Errorf("accept %s: no key", id)
		return
	}
	if k.State != keys.Accepted {
		if err := m.store.Accept(id); err != nil {
			m.t.Errorf("accept %s: %v", id, err)
			return
		}
	}
	m.mu.Lock()
	js, srv := m.js, m.srv
	m.mu.Unlock()
	if err := bus.EnsureMinionConsumer(context.Background(), js, id); err != nil {
		m.t.Errorf("consumer for %s: %v", id, err)
		return
	}
	srv.Kick(k.PublicKey)
}

// preAccept registers and accepts a minion's key before it ever connects.
func (m *master) preAccept(mn *Minion, id string) {
	if _, err := m.store.Submit(id, mn.PublicKey()); err != nil {
		m.t.Fatal(err)
	}
	m.accept(id)
}

func (m *master) onFile(msg *nats.Msg) {
	var req wire.FileRequest
	var resp wire.FileResponse
	switch err := json.Unmarshal(msg.Data, &req); {
	case err != nil:
		resp.Error = err.Error()
	case req.Op == wire.OpMasterKey:
		resp.PublicKey = m.pub
	case req.Op == wire.OpRead && m.filesSilent.Load():
		return
	case req.Op == wire.OpRead && m.filesLimited.Add(-1) >= 0:
		resp.Error = wire.RateLimited + "more than 1000 requests a second from this minion; retry later"
	case req.Op == wire.OpRead && fs.ValidPath(req.Path):
		data, err := os.ReadFile(filepath.Join("testdata/tree", path.Clean(req.Path)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			resp.NotFound = true
		case err != nil:
			resp.Error = err.Error()
		}
		resp.Data = data
	default:
		resp.Error = "bad request"
	}
	out, _ := json.Marshal(resp)
	if err := msg.Respond(out); err != nil {
		m.t.Errorf("file server: %v", err)
	}
}

func (m *master) onGrains(msg *nats.Msg) {
	id, _ := bus.SubjectID(msg.Subject)
	var g map[string]any
	if err := json.Unmarshal(msg.Data, &g); err != nil {
		m.t.Errorf("bad grains on %s: %v", msg.Subject, err)
		return
	}
	m.mu.Lock()
	if m.grains == nil {
		m.grains = map[string]map[string]any{}
	}
	m.grains[id] = g
	m.mu.Unlock()
}

// grainsOf returns the latest grains minion id sent.
func (m *master) grainsOf(id string) map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.grains[id]
}

func (m *master) onEvent(msg *nats.Msg) {
	var e wire.Event
	if err := json.Unmarshal(msg.Data, &e); err != nil {
		m.t.Errorf("bad event on %s: %v", msg.Subject, err)
		return
	}
	m.mu.Lock()
	m.events = append(m.events, e)
	m.mu.Unlock()
}

// waitEvent waits for an event with tag whose data has jid (any when "").
func (m *master) waitEvent(tag, jid string) wire.Event {
	m.t.Helper()
	var found wire.Event
	waitFor(m.t, 20*time.Second, "event "+tag+" "+jid, func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, e := range m.events {
			if e.Tag == tag && (jid == "" || e.Data["jid"] == jid) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// hasEvent reports whether an event with tag about jid arrived.
func (m *master) hasEvent(tag, jid string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.events {
		if e.Tag == tag && e.Data["jid"] == jid {
			return true
		}
	}
	return false
}

// newJob makes a job for minion id valid for an hour.
func (m *master) newJob(id, fun string, args []any, kwargs map[string]any) *job.Job {
	now := time.Now().UTC()
	return &job.Job{JID: job.NewJID(now), Minion: id, Fun: fun, Args: args, Kwargs: kwargs, Issued: now, Expires: now.Add(time.Hour)}
}

// stateJob compiles fun (a state run) for minion id as the master does,
// with extra pillar, and returns the job carrying the compiled states.
func (m *master) stateJob(id, fun string, args []any, pillar map[string]any) *job.Job {
	m.t.Helper()
	rt := &modules.Runtime{ID: id, Grains: map[string]any{"id": id}, FileRoots: []string{"testdata/tree"}, PillarRoots: []string{"testdata/pillar"}}
	kwargs := map[string]any{"pillar": pillar}
	lows, pil, err := state.CompileFor(context.Background(), rt, fun, args, kwargs)
	if err != nil {
		m.t.Fatalf("compile %s: %v", fun, err)
	}
	raw, err := json.Marshal(lows)
	if err != nil {
		m.t.Fatal(err)
	}
	j := m.newJob(id, fun, args, kwargs)
	j.Lows, j.Pillar = raw, pil
	return j
}

// publish signs j with the master's key and publishes it.
func (m *master) publish(j *job.Job) {
	m.t.Helper()
	signed, err := job.Sign(m.kp, j)
	if err != nil {
		m.t.Fatal(err)
	}
	m.publishRaw(j.Minion, signed)
}

// publishRaw publishes data on minion id's job subject.
func (m *master) publishRaw(id string, data []byte) {
	m.t.Helper()
	m.mu.Lock()
	js := m.js
	m.mu.Unlock()
	if err := bus.PublishJob(context.Background(), js, id, data, time.Hour); err != nil {
		m.t.Fatal(err)
	}
}

// lookupReturn returns the return of minion id for jid from the job cache.
func (m *master) lookupReturn(jid, id string) (*job.Return, bool) {
	m.mu.Lock()
	js := m.js
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, bus.ReturnStream)
	if err != nil {
		return nil, false
	}
	msg, err := s.GetLastMsgForSubject(ctx, bus.ReturnSubject(jid, id))
	if err != nil {
		return nil, false
	}
	var r job.Return
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		m.t.Errorf("bad return for %s: %v", jid, err)
		return nil, false
	}
	return &r, true
}

// waitReturn waits for minion id's return for jid in the job cache.
func (m *master) waitReturn(jid, id string) *job.Return {
	m.t.Helper()
	var r *job.Return
	waitFor(m.t, 30*time.Second, "return of "+jid, func() bool {
		var ok bool
		r, ok = m.lookupReturn(jid, id)
		return ok
	})
	return r
}

// returnCount counts the returns stored in the job cache.
func (m *master) returnCount() uint64 {
	m.mu.Lock()
	js := m.js
	m.mu.Unlock()
	s, err := js.Stream(context.Background(), bus.ReturnStream)
	if err != nil {
		m.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		m.t.Fatal(err)
	}
	return info.State.Msgs
}

// running is a minion running in the background.
type running struct {
	*Minion
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // what Run returned
}

// stop stops the minion and waits for Run to return.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Errorf("Run: %v", r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("minion did not stop")
	}
}

// runMinion starts a minion with cfg and stops it at the end of the test.
func runMinion(t testing.TB, cfg Config) *running {
	t.Helper()
	mn, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return runIt(t, mn)
}

// runIt runs mn in the background until stopped or the end of the test.
func runIt(t testing.TB, mn *Minion) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Minion: mn, cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = mn.Run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// waitFor polls cond until it holds or within passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// decodeHighstate decodes a state run's return into result by key.
func decodeHighstate(t testing.TB, r *job.Return) map[string]map[string]any {
	t.Helper()
	var out map[string]map[string]any
	if err := json.Unmarshal(r.Return, &out); err != nil {
		t.Fatalf("return of %s is not a highstate: %v: %s", r.JID, err, r.Return)
	}
	return out
}
