package keys

import (
	"errors"
	"os"
	"path/filepath"
)

// writeTemp writes data to a new 0600 file in dir, flushed to disk, and
// returns its path. The name starts with a dot, which OpenStore skips.
func writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// writeFileAtomic replaces path with a 0600 file holding data: readers see
// the old content or the new one, never a part, even after a crash.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := writeTemp(filepath.Dir(path), data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDirs(filepath.Dir(path))
}

// syncDirs flushes the entries of each directory (new, renamed and removed
// files) to disk.
func syncDirs(dirs ...string) error {
	var errs []error
	for _, dir := range dirs {
		d, err := os.Open(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, d.Sync(), d.Close())
	}
	return errors.Join(errs...)
}
