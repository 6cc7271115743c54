// Package file provides the file state module: file.managed,
// file.directory, file.absent, file.symlink, file.append, file.line,
// file.replace, file.blockreplace, file.comment, file.uncomment,
// file.prepend, file.keyvalue, file.touch, file.copy, file.exists,
// file.missing, file.rename, file.hardlink, file.serialize, file.recurse,
// file.accumulated, file.pruned (file.rmdir) and file.patch.
// Every function checks first and changes only what differs; in test mode
// it changes nothing and reports what it would change.
package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/brinecm/brine/pkg/tmpfile"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("file.managed", states.Func[ManagedArgs]{
		Doc: "Manages a file's contents (from source, a list of sources, or contents; " +
			"optionally a jinja template with context and defaults), owner, group and mode.",
		Apply:       managed,
		Concurrent:  managedConcurrent,
		OwnCheckCmd: true,
	})
	states.Register("file.directory", states.Func[DirectoryArgs]{
		Doc: "Ensures a directory exists with the given owner, group and mode; recurse applies " +
			"them below it, clean removes what no required state manages (except exclude_pat).",
		Apply:      directory,
		Concurrent: directoryConcurrent,
	})
	states.Register("file.absent", states.Func[AbsentArgs]{
		Doc:        "Removes a file, symlink or directory tree.",
		Apply:      absent,
		Concurrent: absentConcurrent,
	})
	states.Register("file.symlink", states.Func[SymlinkArgs]{
		Doc:        "Ensures name is a symlink to target; force replaces a file or directory in the way.",
		Apply:      symlink,
		Concurrent: symlinkConcurrent,
	})
	states.Register("file.append", states.Func[AppendArgs]{
		Doc:        "Appends the lines of text that the file does not contain yet, creating the file if needed.",
		Apply:      appendText,
		Concurrent: appendConcurrent,
	})
	states.Register("file.line", states.Func[LineArgs]{
		Doc: "Edits one line of a file: mode ensure, replace, insert or delete, placed by " +
			"match, before, after or location.",
		Apply:      line,
		Concurrent: lineConcurrent,
	})
}

// testNote ends test-mode comments of content changes, as Salt's do.
const testNote = "\nNote: No changes made, actual changes may\nbe different due to other states."

func notAbsolute(name string) states.Outcome {
	return states.Failedf("Specified file %s is not an absolute path", name)
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// perms is the ownership and mode a state asks for. uid and gid are -1
// when not managed; user and group keep the names as written, for changes.
type perms struct {
	user, group string
	uid, gid    int
	mode        states.Mode
}

// resolvePerms looks up user and group once (names or numeric ids); it
// returns a failure comment when one does not exist.
func resolvePerms(userName, group string, mode states.Mode) (perms, string) {
	p := perms{user: userName, group: group, uid: -1, gid: -1, mode: mode}
	var missing []string
	if userName != "" {
		uid, err := lookupUID(userName)
		if err != nil {
			missing = append(missing, fmt.Sprintf("User %s is not available", userName))
		}
		p.uid = uid
	}
	if group != "" {
		gid, err := lookupGID(group)
		if err != nil {
			missing = append(missing, fmt.Sprintf("Group %s is not available", group))
		}
		p.gid = gid
	}
	return p, strings.Join(missing, ". ")
}

func lookupUID(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(u.Uid)
}

func lookupGID(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(g.Gid)
}

func formatMode(m uint32) string { return fmt.Sprintf("%04o", m) }

// diff records in changes (allocated when nil) what differs between st
// and p, and returns changes.
func (p perms) diff(st *syscall.Stat_t, changes map[string]any) map[string]any {
	set := func(k string, v any) {
		if changes == nil {
			changes = map[string]any{}
		}
		changes[k] = v
	}
	if p.uid >= 0 && int(st.Uid) != p.uid {
		set("user", p.user)
	}
	if p.gid >= 0 && int(st.Gid) != p.gid {
		set("group", p.group)
	}
	if p.mode.Set && st.Mode&07777 != p.mode.Perm {
		set("mode", formatMode(p.mode.Perm))
	}
	return changes
}

// apply sets ownership, then mode (chown may clear setuid bits), on path.
func (p perms) apply(path string, st *syscall.Stat_t) error {
	if (p.uid >= 0 && int(st.Uid) != p.uid) || (p.gid >= 0 && int(st.Gid) != p.gid) {
		if err := os.Chown(path, p.uid, p.gid); err != nil {
			return fmt.Errorf("set ownership of %s: %w", path, err)
		}
	}
	if p.mode.Set {
		if err := syscall.Chmod(path, p.mode.Perm); err != nil {
			return fmt.Errorf("set mode of %s: %w", path, &fs.PathError{Op: "chmod", Path: path, Err: err})
		}
	}
	return nil
}

// orUID returns the uid to give a file: the requested one, else cur.
func (p perms) orUID(cur uint32) int {
	if p.uid >= 0 {
		return p.uid
	}
	return int(cur)
}

func (p perms) orGID(cur uint32) int {
	if p.gid >= 0 {
		return p.gid
	}
	return int(cur)
}

func statT(fi fs.FileInfo) *syscall.Stat_t {
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st == nil {
		st = &syscall.Stat_t{Uid: ^uint32(0), Gid: ^uint32(0)}
	}
	return st
}

// writeSpec says how writeAtomic creates the new file: createPerm is
// passed to open (the umask applies), uid and gid (-1 = leave) and mode
// (when set) are applied to it before it replaces the old one.
type writeSpec struct {
	createPerm os.FileMode
	uid, gid   int
	mode       uint32
	setMode    bool
	replacing  bool // an existing file is replaced: sync the data before the rename
}

// keepSpec preserves the owner and mode of the file st describes, apart
// from what p asks for.
func keepSpec(st *syscall.Stat_t, p perms) writeSpec {
	w := writeSpec{createPerm: 0o600, uid: p.orUID(st.Uid), gid: p.orGID(st.Gid), mode: st.Mode & 07777, setMode: true, replacing: true}
	if p.mode.Set {
		w.mode = p.mode.Perm
	}
	return w
}

// newSpec is for a file that does not exist yet: default permissions
// (0666 less the umask) unless p gives a mode, then created 0600 first.
func newSpec(p perms) writeSpec {
	w := writeSpec{createPerm: 0o666, uid: p.uid, gid: p.gid, mode: p.mode.Perm, setMode: p.mode.Set}
	if p.mode.Set {
		w.createPerm = 0o600
	}
	return w
}

// writeAtomic replaces path with data through a temporary file in the
// same directory: written, owned and moded before the rename, so readers
// see the old file or the new one, never a mix. When an existing file is
// replaced, the data is synced first, so a crash cannot leave an empty
// file where a good one was; a new file needs no such guard. The
// temporary name carries this process's pid, and the temporary files that
// a killed writer left beside path are removed first (see tmpfile).
func writeAtomic(ctx context.Context, path string, data []byte, w writeSpec) (err error) {
	tmpfile.CleanStale(ctx, path)
	var f *os.File
	for range 100 {
		f, err = os.OpenFile(tmpfile.Name(path), os.O_WRONLY|os.O_CREATE|os.O_EXCL, w.createPerm)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if w.uid >= 0 || w.gid >= 0 {
		if err = f.Chown(w.uid, w.gid); err != nil {
			return fmt.Errorf("set ownership of %s: %w", tmp, err)
		}
	}
	if w.setMode {
		if err = syscall.Fchmod(int(f.Fd()), w.mode); err != nil {
			return fmt.Errorf("set mode of %s: %w", tmp, err)
		}
	}
	if w.replacing {
		if err = f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", tmp, err)
		}
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// makeParents creates dir and its missing parents with mode and, when
// given (>= 0), uid and gid.
func makeParents(dir string, mode uint32, uid, gid int) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("stat %s: %w", d, err)
		}
		missing = append(missing, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create directory %s: %w", d, err)
		}
		if uid >= 0 || gid >= 0 {
			if err := os.Chown(d, uid, gid); err != nil {
				return fmt.Errorf("set ownership of %s: %w", d, err)
			}
		}
		if err := syscall.Chmod(d, mode); err != nil {
			return fmt.Errorf("set mode of %s: %w", d, &fs.PathError{Op: "chmod", Path: d, Err: err})
		}
	}
	return nil
}

// dirModeFor derives the mode of created parent directories from a file
// mode, adding search permission where there is read permission.
func dirModeFor(dirMode, fileMode states.Mode) uint32 {
	switch {
	case dirMode.Set:
		return dirMode.Perm
	case fileMode.Set:
		return fileMode.Perm | (fileMode.Perm&0o444)>>2
	}
	return 0o755
}
