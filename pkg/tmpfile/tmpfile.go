// Package tmpfile names the temporary files brine's states write beside a
// target before renaming them over it (".<base>.brine-<pid>-<random>"),
// and removes the ones a writer killed before its rename left behind: the
// writer's pid in the name tells whether it still runs.
package tmpfile

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// brineMark separates a target's base name from the writer's pid in a
// temporary name.
const brineMark = ".brine-"

// prefix is the start of every temporary name for a target named base.
func prefix(base string) string { return "." + base + brineMark }

// Pattern is an os.CreateTemp pattern for a temporary file beside target
// (to be created in filepath.Dir(target)): ".<base>.brine-<pid>-*".
func Pattern(target string) string {
	return prefix(filepath.Base(target)) + strconv.Itoa(os.Getpid()) + "-*"
}

// Name returns a new temporary path beside target,
// ".<base>.brine-<pid>-<random>", for writers that cannot use
// os.CreateTemp (a symlink, a file created with O_EXCL by the caller).
func Name(target string) string {
	name := strings.Replace(Pattern(target), "*", strconv.FormatUint(rand.Uint64(), 36), 1)
	return filepath.Join(filepath.Dir(target), name)
}

// CleanStale removes the temporary siblings of target whose writer no
// longer runs, and returns their paths. Files of a live writer (this
// process among them), of other targets, and names it does not recognise
// stay. It is best effort: what it cannot read or remove is left for the
// next write of target to try again. Under a context from WithSweep, each
// directory is read once for the whole run instead of at every write.
func CleanStale(ctx context.Context, target string) []string {
	dir, base := filepath.Dir(target), filepath.Base(target)
	var names []string
	if s, ok := ctx.Value(sweepKey{}).(*sweep); ok {
		names = s.take(dir, base)
	} else {
		names = stale(dir)[base]
	}
	var removed []string
	for _, name := range names {
		p := filepath.Join(dir, name)
		if err := os.Remove(p); err == nil {
			removed = append(removed, p)
		}
	}
	return removed
}

// stale reads dir once and returns the temporary files in it whose writer
// no longer runs, by the base name of their target.
func stale(dir string) map[string][]string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := map[string][]string{}
	for _, e := range entries {
		name := e.Name()
		i := strings.LastIndex(name, brineMark)
		if !strings.HasPrefix(name, ".") || i < 1 {
			continue
		}
		pidText, _, ok := strings.Cut(name[i+len(brineMark):], "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || alive(pid) {
			continue
		}
		base := name[1:i]
		out[base] = append(out[base], name)
	}
	return out
}

// sweepKey is the context key of a run's sweep.
type sweepKey struct{}

// sweep remembers, for one run, the stale temporary files of each
// directory it has read, until the writes of their targets remove them.
type sweep struct {
	mu   sync.Mutex
	dirs map[string]map[string][]string // dir -> target base -> stale names
}

// WithSweep returns a context under which CleanStale reads each directory
// once: a run writing a thousand files into one directory reads it once,
// not a thousand times.
func WithSweep(ctx context.Context) context.Context {
	return context.WithValue(ctx, sweepKey{}, &sweep{dirs: map[string]map[string][]string{}})
}

// take returns the stale temporary files of base in dir, reading dir the
// first time it is asked for, and forgets them.
func (s *sweep) take(dir, base string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	byBase, ok := s.dirs[dir]
	if !ok {
		byBase = stale(dir)
		s.dirs[dir] = byBase
	}
	names := byBase[base]
	delete(byBase, base)
	return names
}

// alive reports whether a process with that pid exists (owned by anyone).
func alive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return !errors.Is(err, syscall.ESRCH)
}
