// Package tmpfile names the temporary files brine's states write beside a
// target before renaming them over it (".<base>.brine-<pid>-<random>"),
// and removes the ones a writer killed before its rename left behind: the
// writer's pid in the name tells whether it still runs.
package tmpfile

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// prefix is the start of every temporary name for a target named base.
func prefix(base string) string { return "." + base + ".brine-" }

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
// next write of target to try again.
func CleanStale(target string) []string {
	dir, pre := filepath.Dir(target), prefix(filepath.Base(target))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), pre)
		if !ok {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || alive(pid) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err == nil {
			removed = append(removed, p)
		}
	}
	return removed
}

// alive reports whether a process with that pid exists (owned by anyone).
func alive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return !errors.Is(err, syscall.ESRCH)
}
