package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// kind is the type of an archive member.
type kind int

const (
	kindFile kind = iota
	kindDir
	kindLink
)

// matches reports whether a path of mode m on disk is of kind k.
func (k kind) matches(m fs.FileMode) bool {
	switch k {
	case kindDir:
		return m.IsDir()
	case kindLink:
		return m&fs.ModeSymlink != 0
	}
	return !m.IsDir() && m&fs.ModeSymlink == 0
}

// entry is one member of an archive: its path relative to the extraction
// directory (after strip-components) and its kind.
type entry struct {
	path string
	kind kind
}

// contents is an archive's listing, with its top-level paths as Salt's
// archive.list gives them.
type contents struct {
	entries                     []entry
	topDirs, topFiles, topLinks []string
}

// stripComponents reads tar's --strip-components (or --strip) from options.
func stripComponents(options string) (int, string) {
	words, err := splitWords(options)
	if err != nil {
		return 0, err.Error()
	}
	for i, w := range words {
		for _, flag := range []string{"--strip-components", "--strip"} {
			v, ok := strings.CutPrefix(w, flag+"=")
			if !ok && w == flag && i+1 < len(words) {
				v, ok = words[i+1], true
			}
			if !ok {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return 0, fmt.Sprintf("Invalid %s value %q in options: give a whole number", flag, v)
			}
			return n, ""
		}
	}
	return 0, ""
}

// list reads the members of the archive, dropping strip leading components.
func list(ctx context.Context, a archiveFile, format string, strip int) (contents, error) {
	var raw []entry
	var err error
	if format == "zip" {
		raw, err = listZip(a.data)
	} else {
		raw, err = listTar(ctx, a.data)
	}
	if err != nil {
		return contents{}, err
	}
	var c contents
	seen := map[string]bool{}
	top := map[string]kind{}
	var order []string
	for _, e := range raw {
		p := strings.Trim(path.Clean("/"+e.path), "/")
		parts := strings.Split(p, "/")
		if p == "" || len(parts) <= strip {
			continue
		}
		parts = parts[strip:]
		p = strings.Join(parts, "/")
		if !seen[p] {
			seen[p] = true
			c.entries = append(c.entries, entry{path: p, kind: e.kind})
		}
		k := e.kind
		if len(parts) > 1 {
			k = kindDir
		}
		if old, ok := top[parts[0]]; !ok {
			top[parts[0]] = k
			order = append(order, parts[0])
		} else if old != kindDir && k == kindDir {
			top[parts[0]] = kindDir
		}
	}
	for _, t := range order {
		switch top[t] {
		case kindDir:
			c.topDirs = append(c.topDirs, t)
		case kindLink:
			c.topLinks = append(c.topLinks, t)
		default:
			c.topFiles = append(c.topFiles, t)
		}
	}
	return c, nil
}

// listTar lists a tar archive, plain or compressed with gzip, bzip2, xz or
// zstd (the last two through the xz and zstd commands).
func listTar(ctx context.Context, data []byte) ([]entry, error) {
	var r io.Reader = bytes.NewReader(data)
	switch {
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		r = gz
	case bytes.HasPrefix(data, []byte("BZh")):
		r = bzip2.NewReader(r)
	case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		out, err := decompress(ctx, "xz", data)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(out)
	case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		out, err := decompress(ctx, "zstd", data)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(out)
	}
	tr := tar.NewReader(r)
	var out []entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read tar: %w", err)
		}
		k := kindFile
		switch h.Typeflag {
		case tar.TypeDir:
			k = kindDir
		case tar.TypeSymlink:
			k = kindLink
		case tar.TypeXGlobalHeader:
			continue
		}
		out = append(out, entry{path: h.Name, kind: k})
	}
}

// decompress runs "prog -dc" on data.
func decompress(ctx context.Context, prog string, data []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, prog, "-dc")
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s -dc: %v: %s (install %s to read such archives)", prog, err, strings.TrimSpace(stderr.String()), prog)
	}
	return out, nil
}

func listZip(data []byte) ([]entry, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("read zip: %w", err)
	}
	out := make([]entry, 0, len(zr.File))
	for _, f := range zr.File {
		k := kindFile
		switch {
		case strings.HasSuffix(f.Name, "/") || f.Mode().IsDir():
			k = kindDir
		case f.Mode()&fs.ModeSymlink != 0:
			k = kindLink
		}
		out = append(out, entry{path: f.Name, kind: k})
	}
	return out, nil
}

// unzip extracts a zip archive into name, refusing members that would land
// outside it; with perms each member gets the mode the archive records.
func unzip(archivePath, name string, perms bool) ([]string, error) {
	zr, err := zip.OpenReader(archivePath)
	if err != nil {
		return nil, fmt.Errorf("open zip: %w", err)
	}
	defer zr.Close()
	root, err := os.OpenRoot(name)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer root.Close()
	var files []string
	for _, f := range zr.File {
		p := strings.TrimSuffix(f.Name, "/")
		if p == "" || !filepath.IsLocal(p) {
			return files, fmt.Errorf("member %q would be extracted outside %s", f.Name, name)
		}
		files = append(files, f.Name)
		mode := f.Mode()
		if err := root.MkdirAll(path.Dir(p), 0o755); err != nil {
			return files, fmt.Errorf("create the directory of %s: %w", p, err)
		}
		switch {
		case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
			if err := root.MkdirAll(p, 0o755); err != nil {
				return files, fmt.Errorf("create %s: %w", p, err)
			}
		case mode&fs.ModeSymlink != 0:
			target, err := readMember(f)
			if err != nil {
				return files, err
			}
			_ = root.Remove(p)
			if err := root.Symlink(string(target), p); err != nil {
				return files, fmt.Errorf("link %s: %w", p, err)
			}
			continue
		default:
			data, err := readMember(f)
			if err != nil {
				return files, err
			}
			if err := root.WriteFile(p, data, 0o644); err != nil {
				return files, fmt.Errorf("write %s: %w", p, err)
			}
		}
		if perms && mode.Perm() != 0 {
			if err := root.Chmod(p, mode.Perm()); err != nil {
				return files, fmt.Errorf("set the mode of %s: %w", p, err)
			}
		}
	}
	return files, nil
}

func readMember(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name, err)
	}
	return b, nil
}

// owner is the uid and gid to enforce; -1 leaves one alone.
type owner struct{ uid, gid int }

// lookupOwner resolves user and group (names or numbers).
func lookupOwner(userName, group string) (owner, error) {
	o := owner{-1, -1}
	if userName != "" {
		if n, err := strconv.Atoi(userName); err == nil {
			o.uid = n
		} else if u, err := user.Lookup(userName); err == nil {
			o.uid, _ = strconv.Atoi(u.Uid)
		} else {
			return o, fmt.Errorf("user %s does not exist (create it first, e.g. with a user.present this state requires)", userName)
		}
	}
	if group != "" {
		if n, err := strconv.Atoi(group); err == nil {
			o.gid = n
		} else if g, err := user.LookupGroup(group); err == nil {
			o.gid, _ = strconv.Atoi(g.Gid)
		} else {
			return o, fmt.Errorf("group %s does not exist (create it first, e.g. with a group.present this state requires)", group)
		}
	}
	return o, nil
}

// chown gives p (and, with recurse, everything below it, links not
// followed) the owner o; changed reports whether anything differed. In
// test mode nothing is changed.
func (o owner) chown(p string, recurse, test bool) (changed bool, err error) {
	err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no ownership information", q)
		}
		if (o.uid >= 0 && int(st.Uid) != o.uid) || (o.gid >= 0 && int(st.Gid) != o.gid) {
			changed = true
			if !test {
				if err := os.Lchown(q, o.uid, o.gid); err != nil {
					return err
				}
			}
		}
		if q == p && d.IsDir() && !recurse {
			return fs.SkipDir
		}
		return nil
	})
	return changed, err
}

// chownTree gives name itself the user (and group), for a directory the
// state created.
func chownTree(name, userName, group string, test bool) string {
	if userName == "" && group == "" {
		return ""
	}
	o, err := lookupOwner(userName, group)
	if err != nil {
		return err.Error()
	}
	if _, err := o.chown(name, false, test); err != nil {
		return fmt.Sprintf("Unable to set the owner of %s: %v", name, err)
	}
	return ""
}

// enforceOwnership gives user and group to the archive's top-level paths
// below name (or to enforce_ownership_on), recursively; fail lists the
// paths it could not change or that are missing.
func enforceOwnership(name string, c contents, a *Args, test bool) (changed bool, fail string) {
	if a.User == "" && a.Group == "" {
		return false, ""
	}
	o, err := lookupOwner(a.User, a.Group)
	if err != nil {
		return false, err.Error()
	}
	targets := slices.Concat(c.topDirs, c.topFiles, c.topLinks)
	if a.EnforceOwnershipOn != "" {
		targets = []string{a.EnforceOwnershipOn}
	}
	var missing, failed []string
	for _, t := range targets {
		full := t
		if !filepath.IsAbs(t) {
			full = filepath.Join(name, t)
		}
		ch, err := o.chown(full, true, test)
		changed = changed || ch
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if !test {
				missing = append(missing, full)
			}
		case err != nil:
			failed = append(failed, fmt.Sprintf("%s (%v)", full, err))
		}
	}
	var msg []string
	if len(missing) > 0 && a.IfMissing == "" {
		msg = append(msg, "While trying to enforce user/group ownership, the following paths were missing:\n\n- "+strings.Join(missing, "\n- "))
	}
	if len(failed) > 0 {
		msg = append(msg, "While trying to enforce user/group ownership, brine was unable to change ownership on the following paths:\n\n- "+strings.Join(failed, "\n- "))
	}
	return changed, strings.Join(msg, "\n\n")
}
