package sls

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// DefaultMaxFileBytes is the largest SLS, pillar, top or template file a
// compile reads when Config.Limits.FileBytes is 0.
const DefaultMaxFileBytes = 4 << 20

// tree is a state or pillar tree: directories searched in order, like
// Salt's file_roots for one environment.
type tree struct {
	roots  []fs.FS
	limit  int64       // largest file ReadFile reads
	shared *sharedTree // the run's reads of this tree, shared between compilers; nil: none
}

// newTree opens the given directories; ReadFile refuses files over limit bytes.
func newTree(dirs []string, limit int64) *tree {
	t := &tree{roots: make([]fs.FS, len(dirs)), limit: limit}
	for i, d := range dirs {
		t.roots[i] = os.DirFS(d)
	}
	return t
}

// ReadFile reads name (relative to the tree root) from the first root that
// has it, refusing a file over the tree's size limit before reading it.
// With a shared tree, each file is read once per run.
func (t *tree) ReadFile(name string) ([]byte, error) {
	if t.shared != nil {
		return t.shared.read(name, t.limit, func() ([]byte, error) { return t.read(name, t.limit) })
	}
	return t.read(name, t.limit)
}

// read is ReadFile with the size limit of limit bytes (0: none).
func (t *tree) read(name string, limit int64) ([]byte, error) {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if !fs.ValidPath(name) || name == "." {
		return nil, fmt.Errorf("read %q: invalid path", name)
	}
	for _, root := range t.roots {
		b, err := readFile(root, name, limit)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	return nil, fmt.Errorf("read %s: %w", name, fs.ErrNotExist)
}

// readFile reads name from root, refusing it when it is over limit bytes
// (0: no limit): stat first, then read no more than limit+1 bytes, so that a
// file growing while read is refused too.
func readFile(root fs.FS, name string, limit int64) ([]byte, error) {
	if limit <= 0 {
		return fs.ReadFile(root, name)
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, tooLarge(name, fi.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, tooLarge(name, int64(len(b)), limit)
	}
	return b, nil
}

// tooLarge is the error for a tree file over the size limit.
func tooLarge(name string, size, limit int64) error {
	return fmt.Errorf("file %s is %d bytes, over the %d-byte limit (max_sls_bytes): split it, or raise max_sls_bytes in the master configuration", name, size, limit)
}

// findSLS reads the SLS called name ("web.nginx"): web/nginx.sls, else
// web/nginx/init.sls, from the first root that has it.
func (t *tree) findSLS(name string) (file string, src []byte, err error) {
	if !validSLSName(name) {
		return "", nil, fmt.Errorf("invalid SLS name %q", name)
	}
	base := strings.ReplaceAll(name, ".", "/")
	for _, file := range []string{base + ".sls", base + "/init.sls"} {
		src, err := t.ReadFile(file)
		if err == nil {
			return file, src, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", nil, err
		}
	}
	return "", nil, fs.ErrNotExist
}

// validSLSName reports whether name is a dotted SLS name whose parts are
// plain path elements.
func validSLSName(name string) bool {
	if name == "" {
		return false
	}
	for _, part := range strings.Split(name, ".") {
		if part == "" || strings.ContainsAny(part, `/\`) {
			return false
		}
	}
	return true
}

// slsDir is the directory of an SLS file relative to the tree root ("" at
// the top): Salt's slspath and tpldir.
func slsDir(file string) string {
	if d := path.Dir(file); d != "." {
		return d
	}
	return ""
}

// relativeSLS resolves an include written relative to the including SLS
// (".nginx", "..common") with Salt's rules: each leading dot climbs one
// level from the including SLS's name (init.sls counting as one level).
func relativeSLS(from, fromFile, inc string) (string, bool) {
	rest := strings.TrimLeft(inc, ".")
	levels := len(inc) - len(rest)
	comps := strings.Split(from, ".")
	if strings.HasSuffix(fromFile, "/init.sls") || fromFile == "init.sls" {
		comps = append(comps, "init")
	}
	if levels > len(comps) {
		return "", false
	}
	comps = comps[:len(comps)-levels]
	if rest != "" {
		comps = append(comps, rest)
	}
	if len(comps) == 0 {
		return "", false
	}
	return strings.Join(comps, "."), true
}
