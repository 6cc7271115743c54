package minion

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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
			before := rssKiB()
			code, err := releaseMemory()
			if err != nil {
				m.log.Warn("cannot release the executable's idle pages", "err", err)
			}
			m.log.Debug("memory released", "rss_kib_before", before, "rss_kib_after", rssKiB(), "code_kib_unmapped", code>>10)
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

// releaseMemory gives back what an idle minion process does not need: the
// Go heap's free pages (debug.FreeOSMemory) and the pages of the
// executable's read-only mappings (code, type data, function tables) that
// start-up and the last run brought in. Those are clean pages of the
// binary's file: unmapping them only drops them from the process's
// resident set, and whatever the minion runs next maps the pages it needs
// again from the page cache (or the file). It returns the bytes of code
// unmapped. It acts on the whole process: only a process that runs one
// minion, as `brine minion` does, should call it.
func releaseMemory() (int64, error) {
	debug.FreeOSMemory()
	st, err := os.Stat("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("find the executable: %w", err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("find the executable: no inode in %T", st.Sys())
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("read the process's mappings: %w", err)
	}
	maps, err := readonlyMappings(bytes.NewReader(smaps), unix.Major(sys.Dev), unix.Minor(sys.Dev), sys.Ino)
	if err != nil {
		return 0, fmt.Errorf("read the process's mappings: %w", err)
	}
	var freed int64
	for _, mp := range maps {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, mp.start, mp.end-mp.start, unix.MADV_DONTNEED); errno != 0 {
			return freed, fmt.Errorf("madvise %x-%x: %w", mp.start, mp.end, errno)
		}
		freed += mp.rss
	}
	return freed, nil
}

// mapping is one mapping of the executable that may be unmapped.
type mapping struct {
	start, end uintptr
	rss        int64 // resident bytes
}

// readonlyMappings reads /proc/PID/smaps from r and returns the mappings
// of the file with device major:minor and inode ino that are safe to
// unmap: read-only, private, with resident pages, and without anonymous
// (copied on write) pages, which would be lost. A mapping whose entry
// cannot be read is an error, not a guess.
func readonlyMappings(r io.Reader, major, minor uint32, ino uint64) ([]mapping, error) {
	var (
		out  []mapping
		cur  *mapping
		keep bool // cur is of the file and read-only
		anon bool // cur has anonymous pages
	)
	flush := func() {
		if cur != nil && keep && !anon && cur.rss > 0 {
			out = append(out, *cur)
		}
		cur, keep, anon = nil, false, false
	}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") { // a mapping's header line
			flush()
			if len(f) < 5 {
				return nil, fmt.Errorf("line %d: mapping header with %d fields: %q", line, len(f), sc.Text())
			}
			lo, hi, ok := strings.Cut(f[0], "-")
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			if !ok || err1 != nil || err2 != nil || end <= start {
				return nil, fmt.Errorf("line %d: bad address range %q", line, f[0])
			}
			devMaj, devMin, ok := strings.Cut(f[3], ":")
			dmaj, err1 := strconv.ParseUint(devMaj, 16, 32)
			dmin, err2 := strconv.ParseUint(devMin, 16, 32)
			inode, err3 := strconv.ParseUint(f[4], 10, 64)
			if !ok || err1 != nil || err2 != nil || err3 != nil {
				return nil, fmt.Errorf("line %d: bad device or inode in %q", line, sc.Text())
			}
			perms := f[1]
			cur = &mapping{start: uintptr(start), end: uintptr(end)}
			keep = inode == ino && uint32(dmaj) == major && uint32(dmin) == minor &&
				len(perms) == 4 && perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p'
			continue
		}
		if cur == nil || len(f) < 2 {
			continue
		}
		switch f[0] {
		case "Rss:", "Anonymous:":
			kib, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: bad size %q", line, sc.Text())
			}
			if f[0] == "Rss:" {
				cur.rss = kib << 10
			} else if kib > 0 {
				anon = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flush()
	return out, nil
}

// rssKiB is the process's resident set size in KiB, 0 when unknown.
func rssKiB() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
