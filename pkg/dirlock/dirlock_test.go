package dirlock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// flock locks belong to an open file description, so a second Acquire in
// the same process conflicts with the first exactly as another process would.

func TestAcquireWritesPIDAndReleaseFrees(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.lock")
	l, err := Acquire(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(got)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("lock file holds %q (%v), want pid %d", got, err, os.Getpid())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); len(got) != 0 {
		t.Errorf("released lock file still names a pid: %q", got)
	}
	again, err := Acquire(context.Background(), path, 0)
	if err != nil {
		t.Fatalf("a released lock cannot be taken again: %v", err)
	}
	if err := again.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestAcquireHeld(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name    string
		ctx     context.Context
		wait    time.Duration
		wantPID bool // a *HeldError naming this process
		wantErr error
	}{
		{"no wait", context.Background(), 0, true, nil},
		{"short wait", context.Background(), 300 * time.Millisecond, true, nil},
		{"context ends first", cancelled, time.Hour, false, context.Canceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "minion.lock")
			held, err := Acquire(context.Background(), path, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer held.Release()
			l, err := Acquire(c.ctx, path, c.wait)
			if err == nil {
				l.Release()
				t.Fatal("a held lock was taken twice")
			}
			var he *HeldError
			if c.wantPID {
				if !errors.As(err, &he) || he.PID != os.Getpid() || he.Path != path {
					t.Fatalf("got %v, want a HeldError naming pid %d", err, os.Getpid())
				}
				if !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
					t.Errorf("message does not name the pid: %v", err)
				}
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("got %v, want %v", err, c.wantErr)
			}
		})
	}
}

func TestAcquireWaitsForRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.lock")
	held, err := Acquire(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := Acquire(context.Background(), path, time.Minute)
		if err == nil {
			err = l.Release()
		}
		got <- err
	}()
	time.Sleep(300 * time.Millisecond) // let the second Acquire find the lock held
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the waiting Acquire did not get the released lock: %v", err)
	}
}
