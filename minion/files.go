package minion

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/brinecm/brine/pkg/wire"
)

// acceptWait is how long a state run waits for the connection to the
// master before it reads state tree files from the cache alone.
const acceptWait = 10 * time.Second

// remoteFS is the master's state tree as one state run reads it: each file
// comes from the master's file server once per run and is kept under
// DataDir/files, from where it is read when the minion is not connected to
// its master, so a cached highstate can be applied again offline.
type remoteFS struct {
	ctx context.Context // the run's
	m   *Minion
	// noWait reads the cache at once when the minion is not connected,
	// instead of waiting acceptWait for the connection: the minion's own
	// runs (its schedule, drift corrections) while the master is away.
	noWait bool

	mu      sync.Mutex
	fetched map[string]error // files this run already asked for, and how that went
}

// Open opens a state tree file, fetching it first.
func (f *remoteFS) Open(name string) (fs.File, error) {
	if err := f.fetch(name); err != nil {
		return nil, err
	}
	return f.cache().Open(name)
}

// ReadFile reads a state tree file, fetching it first.
func (f *remoteFS) ReadFile(name string) ([]byte, error) {
	if err := f.fetch(name); err != nil {
		return nil, err
	}
	return fs.ReadFile(f.cache(), name)
}

// cache is the local copy of the state tree.
func (f *remoteFS) cache() fs.FS { return os.DirFS(filepath.Join(f.m.cfg.DataDir, filesDir)) }

// fetch brings the cached copy of name up to date with the master, once
// per run. A file the master cannot serve while the minion is connected is
// an error: a stale copy must not make a state look right. Only when the
// minion is not connected at all does it use the cached copy, with a
// warning; when the master no longer has the file, the copy goes too.
func (f *remoteFS) fetch(name string) error {
	if !fs.ValidPath(name) || name == "." {
		return &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fetched == nil {
		f.fetched = map[string]error{}
	}
	if err, done := f.fetched[name]; done {
		return err
	}
	err := f.update(name)
	f.fetched[name] = err
	return err
}

// request asks the master for name, again after a short wait while the
// file server refuses it for this minion's rate, for at most the file
// request timeout in all.
func (f *remoteFS) request(nc *nats.Conn, name string) (*wire.FileResponse, error) {
	deadline := time.Now().Add(f.m.fileTimeout)
	b := backoff{lo: 50 * time.Millisecond, hi: time.Second}
	for {
		resp, err := f.m.fileRequest(f.ctx, nc, wire.FileRequest{Op: wire.OpRead, Path: name}, f.m.fileTimeout)
		if err != nil || !strings.HasPrefix(resp.Error, wire.RateLimited) || time.Now().After(deadline) {
			return resp, err
		}
		if !sleep(f.ctx, b.next(), nil) {
			return resp, nil
		}
	}
}

func (f *remoteFS) update(name string) error {
	local := filepath.Join(f.m.cfg.DataDir, filesDir, filepath.FromSlash(name))
	nc := f.m.conn.Load()
	if (nc == nil || !f.m.accepted.Load()) && !f.noWait {
		wctx, cancel := context.WithTimeout(f.ctx, acceptWait)
		f.m.waitAccepted(wctx)
		cancel()
		nc = f.m.conn.Load()
	}
	if nc == nil || !f.m.accepted.Load() || (f.noWait && !nc.IsConnected()) {
		if _, err := os.Stat(local); err != nil {
			return fmt.Errorf("cannot fetch salt://%s: not connected to the master (and no cached copy)", name)
		}
		f.m.log.Warn("not connected to the master: using the cached copy, which may be out of date", "file", "salt://"+name)
		return nil
	}
	resp, err := f.request(nc, name)
	switch {
	case err != nil:
		return fmt.Errorf("cannot fetch salt://%s from the master: %s", name, fetchFailure(err, f.m.fileTimeout))
	case resp.NotFound:
		if err := os.Remove(local); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.m.log.Warn("cannot remove stale cached file", "file", name, "err", err)
		}
		return &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case resp.Error != "":
		return fmt.Errorf("cannot fetch salt://%s from the master: %s", name, resp.Error)
	}
	if err := os.MkdirAll(filepath.Dir(local), 0o700); err != nil {
		return fmt.Errorf("cache %s: %w", name, err)
	}
	if err := writeFileAtomic(local, resp.Data); err != nil {
		return fmt.Errorf("cache %s: %w", name, err)
	}
	return nil
}

// fetchFailure says why a file server request failed.
func fetchFailure(err error, timeout time.Duration) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return fmt.Sprintf("timeout after %s", timeout)
	case errors.Is(err, nats.ErrNoResponders):
		return "no file server answers on the bus (is the master running?)"
	}
	return err.Error()
}

// waitAccepted waits until the connection has minion rights or ctx is done.
func (m *Minion) waitAccepted(ctx context.Context) {
	for {
		wake := m.changed.wait()
		if m.conn.Load() != nil && m.accepted.Load() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
	}
}
