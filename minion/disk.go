package minion

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// spool is a directory of small files named by job id (the job queue, the
// return outbox). Every write is atomic and flushed to disk before it
// returns, so what a spool holds survives a crash or a power cut.
type spool struct{ dir string }

// put stores data under name, replacing any previous content.
func (s spool) put(name string, data []byte) error {
	return writeFileAtomic(filepath.Join(s.dir, name), data)
}

// get reads the content stored under name.
func (s spool) get(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(s.dir, name))
}

// has reports whether something is stored under name.
func (s spool) has(name string) bool {
	_, err := os.Stat(filepath.Join(s.dir, name))
	return err == nil
}

// remove deletes name; a missing name is no error.
func (s spool) remove(name string) error {
	err := os.Remove(filepath.Join(s.dir, name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(s.dir)
}

// list returns the stored names, sorted (job ids sort by time), leaving
// out the temporary files of writes that a crash interrupted.
func (s spool) list() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// writeFileAtomic replaces path with a 0600 file holding data: readers see
// the old content or the new one, never part of it, even after a crash.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// syncDir flushes a directory's entries (created, renamed and removed
// files) to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// cleanTemp removes the temporary files that interrupted writes left in dir.
func cleanTemp(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
