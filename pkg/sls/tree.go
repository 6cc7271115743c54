package sls

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// tree is a state or pillar tree: directories searched in order, like
// Salt's file_roots for one environment.
type tree struct {
	roots []fs.FS
}

// newTree opens the given directories.
func newTree(dirs []string) *tree {
	t := &tree{roots: make([]fs.FS, len(dirs))}
	for i, d := range dirs {
		t.roots[i] = os.DirFS(d)
	}
	return t
}

// ReadFile reads name (relative to the tree root) from the first root that
// has it.
func (t *tree) ReadFile(name string) ([]byte, error) {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if !fs.ValidPath(name) || name == "." {
		return nil, fmt.Errorf("read %q: invalid path", name)
	}
	for _, root := range t.roots {
		b, err := fs.ReadFile(root, name)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	return nil, fmt.Errorf("read %s: %w", name, fs.ErrNotExist)
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
