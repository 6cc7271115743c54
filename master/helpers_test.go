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

// startTestMaster runs a real master with its embedded bus listening on a
// free loopback port, with a key accepted for each of ids before it
// starts (so their job consumers exist once it is ready), and connects
// each of those minions. cfg may set file roots and options; the data
// directory, listener and socket are the test's. Everything stops at the
// end of the test.
func startTestMaster(t *testing.T, cfg config.Master, ids ...string) (*Master, map[string]*testMinion) {
	t.Helper()
	dir := t.TempDir()
	cfg.DataDir = filepath.Join(dir, "master")
	cfg.Listen = "127.0.0.1:0"
	if len(cfg.PillarRoots) == 0 {
		cfg.PillarRoots = config.Roots{filepath.Join(dir, "pillar")}
	}
	m, err := New(Options{Master: cfg, Log: testLog()})
	if err != nil {
		t.Fatalf("new master: %v", err)
	}
	minions := map[string]*testMinion{}
	for _, id := range ids {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		pub, err := kp.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Keys().Submit(id, pub); err != nil {
			t.Fatal(err)
		}
		if err := m.Keys().Accept(id); err != nil {
			t.Fatal(err)
		}
		minions[id] = &testMinion{id: id, key: kp, errs: &asyncErrors{}}
	}

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("master stopped with: %v", err)
		}
	})
	select {
	case <-m.Ready():
	case err := <-errc:
		errc <- err // for the cleanup
		t.Fatalf("master did not start: %v", err)
	}

	for _, id := range ids {
		tm := minions[id]
		cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
		nc, err := bus.Connect(cctx, bus.ClientConfig{URLs: []string{m.BusURL()}, Name: id, Key: tm.key,
			Minion: true, Log: testLog(), OnError: tm.errs.add})
		ccancel()
		if err != nil {
			t.Fatalf("connect minion %s: %v", id, err)
		}
		t.Cleanup(nc.Close)
		tm.nc = nc
	}
	return m, minions
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
