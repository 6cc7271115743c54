package job

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ReplayGuard remembers the JIDs a minion has accepted until they expire,
// persisted in a file so that a restart does not reopen the window. It is
// safe for concurrent use.
type ReplayGuard struct {
	path string
	mu   sync.Mutex
	seen map[string]time.Time // JID -> the job's expiry
}

// OpenReplayGuard loads the guard's file at path, or starts an empty guard
// (creating missing directories 0700) if there is none yet.
func OpenReplayGuard(path string) (*ReplayGuard, error) {
	g := &ReplayGuard{path: path, seen: map[string]time.Time{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("open replay guard: %w", err)
		}
		return g, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open replay guard: %w", err)
	}
	if err := json.Unmarshal(data, &g.seen); err != nil {
		return nil, fmt.Errorf("open replay guard %s: %w (it lists the jobs already run; remove it only when every job issued so far has expired)", path, err)
	}
	return g, nil
}

// Check records j's JID and returns nil if the JID was not seen before, or
// ErrReplayed if it was; a job past its expiry is ErrExpired, as it could not
// be remembered. It forgets the JIDs of expired jobs, which Open refuses
// anyway. If the record cannot be written, Check returns that error and the
// job must not run.
func (g *ReplayGuard) Check(j *Job, now time.Time) error {
	if j == nil || !ValidJID(j.JID) {
		return fmt.Errorf("%w: no valid job id", ErrMalformed)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if j.expired(now) {
		return fmt.Errorf("%w: job %s expired at %s", ErrExpired, j.JID, j.Expires.Format(time.RFC3339))
	}
	if _, ok := g.seen[j.JID]; ok {
		return fmt.Errorf("%w: job %s already ran", ErrReplayed, j.JID)
	}
	for jid, expires := range g.seen {
		if now.After(expires.Add(ClockSkew)) {
			delete(g.seen, jid)
		}
	}
	g.seen[j.JID] = j.Expires
	if err := g.save(); err != nil {
		delete(g.seen, j.JID)
		return fmt.Errorf("record job %s: %w", j.JID, err)
	}
	return nil
}

// save writes the seen JIDs to the guard's file, atomically.
func (g *ReplayGuard) save() error {
	data, err := json.Marshal(g.seen)
	if err != nil {
		return err
	}
	dir := filepath.Dir(g.path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(g.path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), g.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
