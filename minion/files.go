package minion

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/wire"
)

// acceptWait is how long a state run waits for the connection to the
// master before it reads state tree files from the cache alone.
const acceptWait = 10 * time.Second

// envFilesDir is where, below DataDir, the state trees of environments
// other than base are cached, one directory each (base's is filesDir).
const envFilesDir = "saltenvs"

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
	// saltenv is the environment of the master's state tree this reads
	// ("" is base).
	saltenv string

	mu      sync.Mutex
	fetched map[string]error // files this run already asked for, and how that went
	listed  map[string]listing
}

// listing is a directory this run already listed, and how that went.
type listing struct {
	entries []fs.DirEntry
	err     error
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
func (f *remoteFS) cache() fs.FS { return os.DirFS(f.cacheDir()) }

// cacheDir is where the local copy of the state tree is.
func (f *remoteFS) cacheDir() string {
	if f.saltenv == "" || f.saltenv == sls.Base {
		return filepath.Join(f.m.cfg.DataDir, filesDir)
	}
	return filepath.Join(f.m.cfg.DataDir, envFilesDir, f.saltenv)
}

// Saltenv returns the master's state tree of the environment env, as the
// states of that environment in a run read it.
func (f *remoteFS) Saltenv(env string) fs.FS {
	return &remoteFS{ctx: f.ctx, m: f.m, noWait: f.noWait, saltenv: env}
}

// checkEnv refuses an environment name that is not a plain word: it names
// a cache directory.
func (f *remoteFS) checkEnv() error {
	if f.saltenv == "" || (fs.ValidPath(f.saltenv) && !strings.ContainsAny(f.saltenv, "/\\:?&= ") && f.saltenv != ".") {
		return nil
	}
	return fmt.Errorf("saltenv %q: an environment name is a plain word like base, dev or prod", f.saltenv)
}

// url is the salt:// URL of name in this tree's environment, for messages.
func (f *remoteFS) url(name string) string {
	if f.saltenv == "" || f.saltenv == sls.Base {
		return "salt://" + name
	}
	return "salt://" + name + "?saltenv=" + f.saltenv
}

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
	err := f.checkEnv()
	if err == nil {
		err = f.update(name)
	}
	f.fetched[name] = err
	return err
}

// ReadDir lists a directory of the state tree as the master has it (from
// the cached copy when the minion is not connected), once per run.
func (f *remoteFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listed == nil {
		f.listed = map[string]listing{}
	}
	if l, done := f.listed[name]; done {
		return l.entries, l.err
	}
	var entries []fs.DirEntry
	err := f.checkEnv()
	if err == nil {
		entries, err = f.list(name)
	}
	f.listed[name] = listing{entries, err}
	return entries, err
}

// Stat describes a file or directory of the state tree with the master's
// mode, from its directory's listing.
func (f *remoteFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return entry{name: ".", mode: fs.ModeDir | 0o755}, nil
	}
	entries, err := f.ReadDir(path.Dir(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	if err != nil {
		return nil, err
	}
	base := path.Base(name)
	i, found := slices.BinarySearchFunc(entries, base, func(e fs.DirEntry, n string) int { return strings.Compare(e.Name(), n) })
	if !found {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return entries[i].Info()
}

// list asks the master for a directory's listing.
func (f *remoteFS) list(name string) ([]fs.DirEntry, error) {
	nc := f.connection()
	if nc == nil {
		local := filepath.Join(f.cacheDir(), filepath.FromSlash(name))
		entries, err := os.ReadDir(local)
		if err != nil {
			return nil, fmt.Errorf("cannot list %s: not connected to the master (and no cached copy)", f.url(name))
		}
		f.m.log.Warn("not connected to the master: listing the cached copy, which may be out of date or incomplete", "dir", f.url(name))
		return entries, nil
	}
	resp, err := f.request(nc, wire.FileRequest{Op: wire.OpList, Path: name, Saltenv: f.saltenv})
	switch {
	case err != nil:
		return nil, fmt.Errorf("cannot list %s on the master: %s", f.url(name), fetchFailure(err, f.m.fileTimeout))
	case resp.NotFound:
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	case resp.Error != "":
		return nil, fmt.Errorf("cannot list %s on the master: %s", f.url(name), resp.Error)
	}
	entries := make([]fs.DirEntry, len(resp.Entries))
	for i, e := range resp.Entries {
		mode := fs.FileMode(e.Mode & 0o777)
		if e.Mode&0o4000 != 0 {
			mode |= fs.ModeSetuid
		}
		if e.Mode&0o2000 != 0 {
			mode |= fs.ModeSetgid
		}
		if e.Mode&0o1000 != 0 {
			mode |= fs.ModeSticky
		}
		if e.Dir {
			mode |= fs.ModeDir
		}
		entries[i] = entry{name: e.Name, mode: mode}
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// entry is a state tree entry as the master listed it: both its
// fs.DirEntry and its fs.FileInfo.
type entry struct {
	name string
	mode fs.FileMode
}

func (e entry) Name() string               { return e.name }
func (e entry) IsDir() bool                { return e.mode.IsDir() }
func (e entry) Type() fs.FileMode          { return e.mode.Type() }
func (e entry) Info() (fs.FileInfo, error) { return e, nil }
func (e entry) Size() int64                { return 0 }
func (e entry) Mode() fs.FileMode          { return e.mode }
func (e entry) ModTime() time.Time         { return time.Time{} }
func (e entry) Sys() any                   { return nil }

// connection is the connection to ask the master on, waiting for it as
// the run may; nil when the run must use the cached copy.
func (f *remoteFS) connection() *nats.Conn {
	nc := f.m.conn.Load()
	if (nc == nil || !f.m.accepted.Load()) && !f.noWait {
		wctx, cancel := context.WithTimeout(f.ctx, acceptWait)
		f.m.waitAccepted(wctx)
		cancel()
		nc = f.m.conn.Load()
	}
	if nc == nil || !f.m.accepted.Load() || (f.noWait && !nc.IsConnected()) {
		return nil
	}
	return nc
}

// request asks the master, again after a short wait while the
// file server refuses it for this minion's rate, for at most the file
// request timeout in all.
func (f *remoteFS) request(nc *nats.Conn, req wire.FileRequest) (*wire.FileResponse, error) {
	deadline := time.Now().Add(f.m.fileTimeout)
	b := backoff{lo: 50 * time.Millisecond, hi: time.Second}
	for {
		resp, err := f.m.fileRequest(f.ctx, nc, req, f.m.fileTimeout)
		if err != nil || !strings.HasPrefix(resp.Error, wire.RateLimited) || time.Now().After(deadline) {
			return resp, err
		}
		if !sleep(f.ctx, b.next(), nil) {
			return resp, nil
		}
	}
}

func (f *remoteFS) update(name string) error {
	local := filepath.Join(f.cacheDir(), filepath.FromSlash(name))
	nc := f.connection()
	if nc == nil {
		if _, err := os.Stat(local); err != nil {
			return fmt.Errorf("cannot fetch %s: not connected to the master (and no cached copy)", f.url(name))
		}
		f.m.log.Warn("not connected to the master: using the cached copy, which may be out of date", "file", f.url(name))
		return nil
	}
	resp, err := f.request(nc, wire.FileRequest{Op: wire.OpRead, Path: name, Saltenv: f.saltenv})
	switch {
	case err != nil:
		return fmt.Errorf("cannot fetch %s from the master: %s", f.url(name), fetchFailure(err, f.m.fileTimeout))
	case resp.NotFound:
		if err := os.Remove(local); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.m.log.Warn("cannot remove stale cached file", "file", name, "err", err)
		}
		return &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case resp.Error != "":
		return fmt.Errorf("cannot fetch %s from the master: %s", f.url(name), resp.Error)
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
