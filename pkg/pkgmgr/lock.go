package pkgmgr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// DefaultLockFile is the host-wide lock every package operation of brine
// holds, whichever process or goroutine runs it.
const DefaultLockFile = "/run/lock/brine-pkg.lock"

// lockPoll is how often a waiting operation retries the lock.
const lockPoll = 20 * time.Millisecond

// hostLock is an exclusive flock on a file. Each acquisition opens the
// file anew, so two goroutines of one process exclude each other as two
// processes do.
type hostLock struct{ f *os.File }

// acquireLock waits for the lock at path until ctx ends.
func acquireLock(ctx context.Context, path string) (*hostLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("package lock: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("package lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &hostLock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("package lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for package lock %s: %w", path, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}

// release unlocks (closing the file drops the flock).
func (l *hostLock) release() { l.f.Close() }
