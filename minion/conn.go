package minion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/keys"
	"github.com/brinecm/brine/pkg/version"
	"github.com/brinecm/brine/pkg/wire"
)

// Waits of the connection to the master.
const (
	// authRequestTimeout bounds the master key request that tells whether
	// the key is accepted yet (a pending key's request is refused silently).
	authRequestTimeout = 2 * time.Second
	// fileRequestTimeout bounds one file server request.
	fileRequestTimeout = 15 * time.Second
	// ackTimeout bounds the acknowledgement of a delivered job.
	ackTimeout = 5 * time.Second
)

// connectLoop keeps a connection to the master until ctx is done. bus.Connect
// itself retries until it connects; it gives up only on a refused key or a
// bus CA that differs from the pinned one, which an operator may fix while
// the minion keeps trying.
func (m *Minion) connectLoop(ctx context.Context) {
	b := backoff{lo: time.Second, hi: 30 * time.Second}
	var started sync.Once
	for ctx.Err() == nil {
		nc, err := bus.Connect(ctx, bus.ClientConfig{
			URLs:    m.cfg.Masters,
			Name:    m.cfg.ID,
			Key:     m.kp,
			Minion:  true,
			PinFile: m.pinFile,
			Extra:   m.cfg.Extra,
			Log:     m.log,
			// A master whose host vanished is left within about two
			// intervals, not the NATS default of minutes.
			AliveInterval: m.cfg.AliveInterval,
			OnError:       m.onBusError,
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait := b.next()
			m.log.Error("cannot connect to the master", "err", err, "retry_in", wait)
			sleep(ctx, wait, nil)
			continue
		}
		b.reset()
		m.session(ctx, nc, &started)
		if ctx.Err() != nil {
			return // Run closes the connection
		}
		nc.Close()
	}
}

// session serves one connection until it is closed or ctx is done: it
// waits for the key to be accepted, subscribes to the job deliveries, sends
// grains, and checks acceptance again after every reconnection.
func (m *Minion) session(ctx context.Context, nc *nats.Conn, started *sync.Once) {
	closed := make(chan struct{})
	reconnects := make(chan struct{}, 1)
	var closeOnce sync.Once
	prevClosed, prevReconnected := nc.Opts.ClosedCB, nc.Opts.ReconnectedCB
	nc.SetClosedHandler(func(c *nats.Conn) {
		if prevClosed != nil {
			prevClosed(c)
		}
		closeOnce.Do(func() { close(closed) })
		m.changed.fire()
	})
	nc.SetReconnectHandler(func(c *nats.Conn) {
		if prevReconnected != nil {
			prevReconnected(c)
		}
		m.accepted.Store(false)
		m.changed.fire()
		select {
		case reconnects <- struct{}{}:
		default:
		}
	})
	if nc.IsClosed() {
		return
	}
	m.accepted.Store(false)
	m.conn.Store(nc)
	m.changed.fire()

	ticker := time.NewTicker(m.cfg.GrainsInterval)
	defer ticker.Stop()
	var sub *nats.Subscription
	for {
		if !m.awaitAcceptance(ctx, nc, closed, reconnects) {
			return
		}
		if sub == nil {
			// Made once the connection has minion rights; the client
			// subscribes again by itself after every reconnection.
			var err error
			sub, err = nc.Subscribe(bus.DeliverSubject(m.cfg.ID), func(msg *nats.Msg) { m.deliver(ctx, msg) })
			if err != nil {
				m.log.Error("cannot subscribe to job deliveries", "err", err)
				return
			}
		}
		started.Do(func() { m.event(wire.TagStart, map[string]any{"version": version.Version}) })
		m.publishGrains(nc)
		for accepted := true; accepted; {
			select {
			case <-ctx.Done():
				return
			case <-closed:
				return
			case <-reconnects:
				accepted = false // the key may have changed state meanwhile
			case <-ticker.C:
				if m.refreshGrains(ctx) {
					m.publishGrains(nc)
				}
			}
		}
	}
}

// awaitAcceptance returns once the connection has minion rights (the master
// answers the master key request), asking the master to accept the key
// meanwhile; false when ctx is done or the connection closed.
func (m *Minion) awaitAcceptance(ctx context.Context, nc *nats.Conn, closed, reconnects <-chan struct{}) bool {
	b := backoff{lo: time.Second, hi: 30 * time.Second}
	waiting := false
	for {
		select {
		case <-reconnects: // this attempt is on the new connection anyway
		default:
		}
		// A reconnection (the master accepted the key and cut the pending
		// connection) or the server refusing the request ends the wait
		// for an answer at once.
		wake, refused := m.changed.wait(), m.refused.wait()
		rctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-wake:
			case <-refused:
			case <-rctx.Done():
			}
			cancel()
		}()
		key, err := m.fetchMasterKey(rctx, nc)
		cancel()
		if err == nil {
			if err := m.pinMasterKey(key); err != nil {
				m.log.Error("refusing the master's job signing key", "err", err)
			}
			if waiting {
				m.log.Info("the master accepted this minion's key")
			}
			m.accepted.Store(true)
			m.wakeRelease()
			m.changed.fire()
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-closed:
			return false
		case <-wake:
			continue // a new connection: ask again
		case <-refused:
			err = errors.New("the bus refuses this key's requests: not accepted yet")
		default:
		}
		if !waiting {
			m.log.Info("waiting for the master to accept this minion's key",
				"fingerprint", m.Fingerprint(), "reason", err)
			waiting = true
		} else {
			m.log.Debug("key not accepted yet", "reason", err)
		}
		if err := m.requestAcceptance(nc); err != nil {
			m.log.Warn("cannot send the key request", "err", err)
		}
		if !sleep(ctx, b.next(), wake) {
			return false
		}
	}
}

// onBusError watches the connection's asynchronous errors: the server
// refusing the file server request means the key is not accepted (yet).
func (m *Minion) onBusError(err error) {
	if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+bus.FileSubject(m.cfg.ID)+`"`) {
		m.refused.fire()
	}
}

// requestAcceptance publishes the minion's signed key request.
func (m *Minion) requestAcceptance(nc *nats.Conn) error {
	data, err := wire.NewAuthRequest(m.cfg.ID, m.kp)
	if err != nil {
		return err
	}
	if err := nc.Publish(bus.AuthSubject(m.cfg.ID), data); err != nil {
		return fmt.Errorf("publish key request: %w", err)
	}
	return nil
}

// fileRequest asks the master's file server.
func (m *Minion) fileRequest(ctx context.Context, nc *nats.Conn, req wire.FileRequest, timeout time.Duration) (*wire.FileResponse, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("file request %s: %w", req.Op, err)
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	what := req.Op
	if req.Path != "" {
		what += " " + req.Path
	}
	msg, err := nc.RequestWithContext(rctx, bus.FileSubject(m.cfg.ID), data)
	if err != nil {
		return nil, fmt.Errorf("file request %s: %w", what, err)
	}
	var resp wire.FileResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, fmt.Errorf("file request %s: bad answer: %w", what, err)
	}
	return &resp, nil
}

// fetchMasterKey asks the master for its job signing key; it succeeds only
// on a connection with minion rights.
func (m *Minion) fetchMasterKey(ctx context.Context, nc *nats.Conn) (string, error) {
	resp, err := m.fileRequest(ctx, nc, wire.FileRequest{Op: wire.OpMasterKey}, authRequestTimeout)
	if err != nil {
		return "", err
	}
	if resp.Error != "" {
		return "", fmt.Errorf("master key: %s", resp.Error)
	}
	if _, err := nkeys.FromPublicKey(resp.PublicKey); err != nil {
		return "", fmt.Errorf("master key %q: %w", resp.PublicKey, err)
	}
	return resp.PublicKey, nil
}

// pinMasterKey pins the first master key the minion learns (trust on first
// use, as Salt's minion_master.pub). A different key later is refused: the
// pinned one stays, and jobs signed by the other fail verification.
func (m *Minion) pinMasterKey(offered string) error {
	path := filepath.Join(m.cfg.DataDir, masterKeyFile)
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.masterKey {
	case offered:
		return nil
	case "":
		m.masterKey = offered
		m.log.Info("pinned the master's job signing key", "key", offered, "fingerprint", keys.Fingerprint(offered))
		if err := writeFileAtomic(path, []byte(offered+"\n")); err != nil {
			return fmt.Errorf("pin master key: %w", err)
		}
		return nil
	}
	return fmt.Errorf("the master offers job signing key %s (fingerprint %s) but %s pins %s (fingerprint %s); "+
		"if the master's key was replaced on purpose, remove %s and restart the minion",
		offered, keys.Fingerprint(offered), path, m.masterKey, keys.Fingerprint(m.masterKey), path)
}

// readMasterKey reads the pinned master key; "" when none is pinned yet.
func readMasterKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read pinned master key: %w", err)
	}
	key := strings.TrimSpace(string(data))
	if _, err := nkeys.FromPublicKey(key); err != nil {
		return "", fmt.Errorf("pinned master key %s: %w (remove the file to pin the master's key again)", path, err)
	}
	return key, nil
}

// publishGrains sends the latest grains.
func (m *Minion) publishGrains(nc *nats.Conn) {
	data, err := json.Marshal(m.currentGrains())
	if err != nil {
		m.log.Warn("cannot encode grains", "err", err)
		return
	}
	if err := nc.Publish(bus.GrainsSubject(m.cfg.ID), data); err != nil {
		m.log.Warn("cannot send grains", "err", err)
	}
}

// event publishes an event; events are best effort (returns are not).
func (m *Minion) event(tag string, data map[string]any) {
	nc := m.conn.Load()
	if nc == nil {
		m.log.Debug("event not sent: no bus connection yet", "tag", tag)
		return
	}
	b, err := json.Marshal(wire.Event{Tag: tag, Source: m.cfg.ID, Time: time.Now().UTC(), Data: data})
	if err != nil {
		m.log.Warn("cannot encode event", "tag", tag, "err", err)
		return
	}
	if err := nc.Publish(bus.EventSubject(m.cfg.ID, tag), b); err != nil {
		m.log.Debug("event not sent", "tag", tag, "err", err)
	}
}
