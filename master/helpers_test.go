package master

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/config"
)

// testLog discards the master's log unless BRINE_TEST_LOG is set.
func testLog() *slog.Logger {
	if os.Getenv("BRINE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testMinion is a minion's authenticated bus connection, as a real minion
// makes it: its own NKey, its id as name, its own inbox prefix.
type testMinion struct {
	id   string
	key  nkeys.KeyPair
	nc   *nats.Conn
	js   jetstream.JetStream
	errs *asyncErrors
}

// asyncErrors records a connection's asynchronous errors (permission
// violations arrive there, not from Publish).
type asyncErrors struct {
	mu   sync.Mutex
	errs []error
}

func (e *asyncErrors) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
}

func (e *asyncErrors) all() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

// testMaster is a real master with its embedded bus listening on a free
// loopback port, running until the end of the test (or stop).
type testMaster struct {
	*Master
	dir    string
	cfg    config.Master
	cancel context.CancelFunc
	done   chan error
}

// startTestMaster runs a real master on dir ("" = a new temporary
// directory, which a later startTestMaster may reuse as the same master's
// data). cfg may set file roots and options; the data directory, listener
// and socket are the test's.
func startTestMaster(t *testing.T, cfg config.Master, dir string) *testMaster {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg.DataDir = filepath.Join(dir, "master")
	cfg.Socket = filepath.Join(dir, "master.sock")
	cfg.Listen = "127.0.0.1:0"
	if len(cfg.FileRoots) == 0 {
		cfg.FileRoots = config.Roots{filepath.Join(dir, "srv")}
	}
	if len(cfg.PillarRoots) == 0 {
		cfg.PillarRoots = config.Roots{filepath.Join(dir, "pillar")}
	}
	m, err := New(Options{Master: cfg, Log: testLog()})
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
	case <-m.Ready():
	case err := <-tm.done:
		tm.cancel = nil
		t.Fatalf("master did not start: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("master not ready after a minute")
	}
	return tm
}

// stop stops the master and waits for it; later calls do nothing.
func (tm *testMaster) stop() error {
	if tm.cancel == nil {
		return nil
	}
	tm.cancel()
	tm.cancel = nil
	return <-tm.done
}

// minions accepts a key for each id and connects each minion.
func (tm *testMaster) minions(t *testing.T, ids ...string) map[string]*testMinion {
	t.Helper()
	out := map[string]*testMinion{}
	for _, id := range ids {
		out[id] = tm.acceptedMinion(t, id)
	}
	return out
}

// acceptedMinion accepts a new key as id, connects with it over the
// loopback listener as a real minion does, and waits for its job consumer.
func (tm *testMaster) acceptedMinion(t *testing.T, id string) *testMinion {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Keys().Submit(id, pub); err != nil {
		t.Fatal(err)
	}
	if err := tm.Keys().Accept(id); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitFor(t, "job consumer of "+id, func() bool {
		_, err := tm.js.PushConsumer(ctx, bus.JobStream, bus.ConsumerName(id))
		return err == nil
	})
	mn := &testMinion{id: id, key: kp, errs: &asyncErrors{}}
	nc, err := bus.Connect(ctx, bus.ClientConfig{URLs: []string{tm.BusURL()}, Name: id, Key: kp,
		Minion: true, Log: testLog(), OnError: mn.errs.add})
	if err != nil {
		t.Fatalf("connect minion %s: %v", id, err)
	}
	t.Cleanup(nc.Close)
	mn.nc = nc
	if mn.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return mn
}

// publish publishes data on subject with an optional reply subject and
// headers, and flushes.
func (mn *testMinion) publish(t *testing.T, subject, reply string, data []byte, hdr nats.Header) {
	t.Helper()
	if err := mn.nc.PublishMsg(&nats.Msg{Subject: subject, Reply: reply, Data: data, Header: hdr}); err != nil {
		t.Fatal(err)
	}
	if err := mn.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to a minute: long enough for a clustered
// bus to settle on a loaded machine (replicated consumers are created
// with retries); it is a wait, not a speed check.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// copyTree copies a testdata tree into a new temporary directory and
// returns that directory, where a test may add what git cannot hold (such
// as symlinks to absolute paths).
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	return dst
}

// symlink makes link point to target.
func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
}

// startFileMaster starts a master with cfg and the minions ids.
func startFileMaster(t *testing.T, cfg config.Master, ids ...string) (*testMaster, map[string]*testMinion) {
	t.Helper()
	tm := startTestMaster(t, cfg, "")
	return tm, tm.minions(t, ids...)
}
