// Package dirlock keeps a daemon's data directory to one process at a
// time: an exclusive flock on a lock file that holds the owner's pid. The
// kernel drops the lock when the process exits, however it exits, so a
// crashed daemon never leaves a stale lock behind.
package dirlock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// retryEvery is how often Acquire tries again while the lock is held.
const retryEvery = 100 * time.Millisecond

// Lock is a held lock; Release gives it up.
type Lock struct {
	f *os.File
}

// HeldError says that another process holds the lock.
type HeldError struct {
	Path   string        // the lock file
	PID    int           // the holder's pid, 0 when it could not be read
	Waited time.Duration // how long Acquire waited for it
}

// Holder names the holding process for a message: "pid 1234", or "pid
// unknown" when the lock file held none.
func (e *HeldError) Holder() string {
	if e.PID > 0 {
		return "pid " + strconv.Itoa(e.PID)
	}
	return "pid unknown"
}

// Error says who holds the lock and how long Acquire waited.
func (e *HeldError) Error() string {
	return fmt.Sprintf("%s is held by %s (waited %s for it to stop)", e.Path, e.Holder(), e.Waited)
}

// Acquire takes the exclusive lock on the file at path, creating it, and
// writes this process's pid into it. While another process holds it,
// Acquire tries again until wait has passed, then returns a *HeldError
// naming the holder; it returns early with ctx's error when ctx ends.
func Acquire(ctx context.Context, path string, wait time.Duration) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	start := time.Now()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(retryEvery)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-tick.C:
			continue
		case <-deadline.C:
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for the lock on %s: %w", path, ctx.Err())
		}
		pid := readPID(f)
		f.Close()
		return nil, &HeldError{Path: path, PID: pid, Waited: time.Since(start).Round(time.Second)}
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("write pid to %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Release clears the pid and gives the lock up.
func (l *Lock) Release() error {
	terr := l.f.Truncate(0)
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("release lock %s: %w", l.f.Name(), err)
	}
	if terr != nil {
		return fmt.Errorf("release lock %s: clear pid: %w", l.f.Name(), terr)
	}
	return nil
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// readPID reads the holder's pid, 0 when the file holds none (yet).
func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// AcquireDir locks the data directory dir of a daemon (who: "master" or
// "minion") through its lock file, as Acquire does. The error of a lock
// still held names the holder and what to do; release gives the lock up
// and logs a failure to.
func AcquireDir(ctx context.Context, dir, file, who string, wait time.Duration, log *slog.Logger) (release func(), err error) {
	lock, err := Acquire(ctx, filepath.Join(dir, file), wait)
	if err != nil {
		if held, ok := errors.AsType[*HeldError](err); ok {
			return nil, fmt.Errorf("%s data dir %s is in use by another %s (%s, %s); stop it first, or give this %s another data directory",
				who, dir, who, held.Holder(), held.Path, who)
		}
		return nil, fmt.Errorf("lock the %s data dir: %w", who, err)
	}
	return func() {
		if err := lock.Release(); err != nil {
			log.Warn("release the data dir lock", "err", err)
		}
	}, nil
}
