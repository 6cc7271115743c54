package minion

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestReleaseMemory: heap freed by a run goes back to the system.
func TestReleaseMemory(t *testing.T) {
	garbage := make([][]byte, 64)
	for i := range garbage {
		garbage[i] = make([]byte, 1<<20)
		for j := 0; j < len(garbage[i]); j += 4096 {
			garbage[i][j] = 1 // resident
		}
	}
	before := statusKiB("RssAnon")
	garbage = nil
	releaseMemory()
	after := statusKiB("RssAnon")
	if before-after < 32<<10 {
		t.Errorf("RssAnon %d KiB before releasing 64 MiB of garbage, %d KiB after", before, after)
	}
	_ = garbage
}

// lockedBuffer is a log destination safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// TestReleaseAfterJobs: a minion with ReleaseMemory releases memory once
// idle after start-up, and again after each job.
func TestReleaseAfterJobs(t *testing.T) {
	ms := newMaster(t, false)
	var logs lockedBuffer
	cfg := ms.minionConfig("rel", t.TempDir())
	cfg.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.ReleaseMemory = true
	mn, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ms.preAccept(mn, "rel")
	runIt(t, mn)
	released := func() int { return logs.count(`msg="memory released"`) }
	waitFor(t, 4*releaseQuiet+10*time.Second, "memory released after start-up", func() bool { return released() >= 1 })
	for i := range 2 {
		j := ms.newJob("rel", "test.ping", nil, nil)
		ms.publish(j)
		if r := ms.waitReturn(j.JID, "rel"); !r.Success {
			t.Fatalf("test.ping: %s %s", r.Error, r.Return)
		}
		n := released()
		waitFor(t, 4*releaseQuiet+10*time.Second, "memory released after job "+strconv.Itoa(i+1), func() bool { return released() > n })
	}
	if logs.count("cannot release") != 0 {
		t.Errorf("release failed:\n%s", logs.buf.String())
	}
}
