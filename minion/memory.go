package minion

import (
	"context"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// releaseQuiet is how long a minion with Config.ReleaseMemory stays idle
// (no job running, none ended) before it gives memory back.
const releaseQuiet = 2 * time.Second

// releaseLoop gives memory back to the system once the minion has been
// idle for releaseQuiet after it started, after its key was accepted and
// after every job, until ctx ends. See releaseMemory.
func (m *Minion) releaseLoop(ctx context.Context) {
	quiet := time.NewTimer(releaseQuiet) // what start-up used goes first
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.releaseWake:
			quiet.Reset(releaseQuiet)
		case <-quiet.C:
			if m.active.Load() > 0 {
				continue // the job's end wakes the loop again
			}
			before := statusKiB("VmRSS")
			releaseMemory()
			m.log.Debug("memory released", "rss_kib_before", before, "rss_kib_after", statusKiB("VmRSS"))
		}
	}
}

// wakeRelease tells releaseLoop that the minion did something: it
// releases memory once that has been over for releaseQuiet.
func (m *Minion) wakeRelease() {
	select {
	case m.releaseWake <- struct{}{}:
	default:
	}
}

// releaseMemory returns the Go heap's free pages to the system
// (debug.FreeOSMemory): what a highstate or start-up allocated and no
// longer uses. It acts on the whole process: only a process that runs one
// minion, as `brine minion` does, should call it.
func releaseMemory() { debug.FreeOSMemory() }

// statusKiB is a size field of /proc/self/status (VmRSS, RssAnon...) in
// KiB, 0 when unknown.
func statusKiB(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
