package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/brinecm/brine/states"
)

// DirectoryArgs are file.directory's arguments.
type DirectoryArgs struct {
	User       string      `arg:"user"`
	Group      string      `arg:"group"`
	Mode       states.Mode `arg:"mode"` // the same as dir_mode
	DirMode    states.Mode `arg:"dir_mode"`
	FileMode   states.Mode `arg:"file_mode"` // files below, with recurse
	Makedirs   bool        `arg:"makedirs"`
	Clean      bool        `arg:"clean"`
	ExcludePat string      `arg:"exclude_pat"`
	Recurse    []string    `arg:"recurse"` // user, group, mode, ignore_files, ignore_dirs
	// MaxDepth limits recurse as Salt's os.walk does: directories down to
	// this depth below name (its children are depth 1) and the files in
	// them are managed.
	MaxDepth *int `arg:"max_depth"`
	// ChildrenOnly, with recurse, leaves name's own owner and mode alone.
	ChildrenOnly bool `arg:"children_only"`
	// FollowSymlinks decides what recurse does with symlinks below the
	// directory: False (the default, as in Salt) changes the owner of the
	// links themselves (lchown, never their mode); True changes the owner
	// and mode of what they point at, and skips broken links. A name that
	// is a symlink to a directory is managed through the link either way
	// (as Salt's allow_symlink).
	FollowSymlinks *bool `arg:"follow_symlinks"`
}

// recursion says what recurse applies below the directory.
type recursion struct {
	on                 bool
	dirPerms, filePerm perms
	files, dirs        bool
	maxDepth           int // -1: no limit
	follow             bool
}

// recursed is an entry below the directory whose owner or mode differs
// from what recurse asks for.
type recursed struct {
	path    string
	changes map[string]any
	p       perms
	st      *syscall.Stat_t
	link    bool // a symlink not followed: lchown it
}

// apply gives the entry the wanted owner and mode (a link not followed:
// the owner only).
func (e recursed) apply() error {
	if !e.link {
		return e.p.apply(e.path, e.st)
	}
	if err := os.Lchown(e.path, e.p.uid, e.p.gid); err != nil {
		return fmt.Errorf("set ownership of symlink %s: %w", e.path, err)
	}
	return nil
}

func directory(_ context.Context, c *states.Call, a *DirectoryArgs) states.Outcome {
	name := c.Name
	if len(name) > 1 {
		name = strings.TrimRight(name, "/")
	}
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	dirMode := a.DirMode
	if !dirMode.Set {
		dirMode = a.Mode
	}
	p, fail := resolvePerms(a.User, a.Group, dirMode)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	rec, fail := recurseSet(a, p)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	var exclude *regexp.Regexp
	if a.ExcludePat != "" {
		var err error
		if exclude, err = compileExclude(a.ExcludePat); err != nil {
			return states.Failedf("Invalid exclude_pat %q: %v", a.ExcludePat, err)
		}
	}

	fi, err := os.Stat(name)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return states.Failedf("Unable to stat %s: %v", name, err)
	case exists && !fi.IsDir():
		return states.Failedf("Specified location %s exists and is a file", name)
	}

	cl := cleaner{root: name, exclude: exclude, keep: keepSet(name, c.Required)}
	if c.Test {
		top := p
		if rec.on && a.ChildrenOnly {
			top = perms{uid: -1, gid: -1}
		}
		return directoryTest(name, exists, fi, top, rec, a.Clean, &cl)
	}

	changes := map[string]any{}
	if !exists {
		parent := filepath.Dir(name)
		if _, err := os.Stat(parent); errors.Is(err, fs.ErrNotExist) {
			if !a.Makedirs {
				return states.Failedf("No directory to create %s in", name)
			}
			if err := makeParents(parent, dirModeFor(dirMode, states.Mode{}), p.uid, p.gid); err != nil {
				return states.Failedf("Unable to create parent directories of %s: %v", name, err)
			}
		}
		if err := mkdir(name, p); err != nil {
			return states.Failedf("Failed to create directory %s: %v", name, err)
		}
		changes[name] = "New Dir"
	} else if !(rec.on && a.ChildrenOnly) {
		st := statT(fi)
		p.diff(st, changes)
		if err := p.apply(name, st); err != nil {
			return states.Failedf("Unable to manage directory %s: %v", name, err)
		}
	}
	comment := ""
	if rec.on {
		if err := rec.walk(name, func(e recursed) error {
			changes[e.path] = e.changes
			return e.apply()
		}); err != nil {
			return states.Failedf("Unable to manage directory %s: %v", name, err)
		}
	}
	if a.Clean {
		removed, err := cl.plan(name)
		if err != nil {
			return states.Failedf("Unable to clean %s: %v", name, err)
		}
		for _, r := range removed {
			if err := os.RemoveAll(r); err != nil {
				return states.Failedf("Unable to clean %s: %v", name, err)
			}
		}
		if len(removed) > 0 {
			changes["removed"] = removed
			comment = fmt.Sprintf("Files cleaned from directory %s", name)
		}
	}
	switch {
	case len(changes) == 0:
		return states.Succeeded(fmt.Sprintf("Directory %s is in the correct state", name), nil)
	case comment == "":
		comment = fmt.Sprintf("Directory %s updated", name)
	}
	return states.Succeeded(comment, changes)
}

// directoryTest reports, in Salt's test-mode shape, what directory would do.
func directoryTest(name string, exists bool, fi fs.FileInfo, p perms, rec recursion, clean bool, cl *cleaner) states.Outcome {
	changes := map[string]any{}
	if !exists {
		changes[name] = map[string]any{"directory": "new"}
	} else {
		if ch := p.diff(statT(fi), nil); ch != nil {
			changes[name] = ch
		}
		if rec.on {
			if err := rec.walk(name, func(e recursed) error {
				changes[e.path] = e.changes
				return nil
			}); err != nil {
				return states.Failedf("Unable to check directory %s: %v", name, err)
			}
		}
		if clean {
			removed, err := cl.plan(name)
			if err != nil {
				return states.Failedf("Unable to check %s: %v", name, err)
			}
			for _, r := range removed {
				changes[r] = map[string]any{"removed": "Removed due to clean"}
			}
		}
	}
	if len(changes) == 0 {
		return states.Succeeded(fmt.Sprintf("The directory %s is in the correct state", name), nil)
	}
	paths := make([]string, 0, len(changes))
	for k := range changes {
		paths = append(paths, k)
	}
	sort.Strings(paths)
	var sb strings.Builder
	sb.WriteString("The following files will be changed:\n")
	for _, path := range paths {
		ch := changes[path].(map[string]any)
		keys := make([]string, 0, len(ch))
		for k := range ch {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&sb, "%s: %s - %v\n", path, k, ch[k])
		}
	}
	return states.WouldChange(sb.String(), changes)
}

// mkdir creates one directory with p's ownership and mode (default
// permissions less the umask when p has no mode).
func mkdir(name string, p perms) error {
	perm := os.FileMode(0o777)
	if p.mode.Set {
		perm = 0o700
	}
	if err := os.Mkdir(name, perm); err != nil {
		return err
	}
	if p.uid >= 0 || p.gid >= 0 {
		if err := os.Chown(name, p.uid, p.gid); err != nil {
			return err
		}
	}
	if p.mode.Set {
		if err := syscall.Chmod(name, p.mode.Perm); err != nil {
			return &fs.PathError{Op: "chmod", Path: name, Err: err}
		}
	}
	return nil
}

func recurseSet(a *DirectoryArgs, p perms) (recursion, string) {
	if len(a.Recurse) == 0 {
		return recursion{}, ""
	}
	r := recursion{on: true, files: true, dirs: true, maxDepth: -1, follow: boolOr(a.FollowSymlinks, false)}
	if a.MaxDepth != nil {
		if *a.MaxDepth < 0 {
			return r, fmt.Sprintf("max_depth must be 0 or more, got %d", *a.MaxDepth)
		}
		r.maxDepth = *a.MaxDepth
	}
	var user, group, mode bool
	for _, k := range a.Recurse {
		switch k {
		case "user":
			user = true
		case "group":
			group = true
		case "mode":
			mode = true
		case "ignore_files":
			r.files = false
		case "ignore_dirs":
			r.dirs = false
		default:
			return r, fmt.Sprintf("Types for 'recurse' must be one of user, group, mode, ignore_files, ignore_dirs; got %q", k)
		}
	}
	if !r.files && !r.dirs {
		return r, "Must not specify 'recurse' options 'ignore_files' and 'ignore_dirs' at the same time."
	}
	base := perms{user: p.user, group: p.group, uid: -1, gid: -1}
	if user {
		base.uid = p.uid
	}
	if group {
		base.gid = p.gid
	}
	r.dirPerms, r.filePerm = base, base
	if mode {
		r.dirPerms.mode = p.mode
		r.filePerm.mode = a.FileMode
	}
	return r, ""
}

// walk calls fn for every entry below root whose ownership or mode
// differs from what recurse asks for. It does not descend into symlinks;
// a symlink is followed (follow) or has its owner managed itself. With a
// maxDepth, directories deeper than it are neither managed nor entered,
// as in Salt, where the files of the deepest directories still are.
func (r recursion) walk(root string, fn func(recursed) error) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == root {
			return nil
		}
		e := recursed{path: path}
		isDir := d.IsDir()
		if d.Type()&fs.ModeSymlink != 0 {
			if r.follow {
				fi, err := os.Stat(path)
				if err != nil {
					return nil // a broken link: nothing to follow
				}
				e.st, isDir = statT(fi), fi.IsDir()
			} else {
				fi, err := d.Info()
				if err != nil {
					return err
				}
				e.st, e.link = statT(fi), true
				if tfi, err := os.Stat(path); err == nil {
					isDir = tfi.IsDir()
				}
			}
		}
		if isDir && r.maxDepth >= 0 && depth(root, path) > r.maxDepth {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case isDir && r.dirs:
			e.p = r.dirPerms
		case !isDir && r.files:
			e.p = r.filePerm
		default:
			return nil
		}
		if e.link {
			e.p.mode = states.Mode{} // a link has no mode of its own
		}
		if e.st == nil {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			e.st = statT(fi)
		}
		if e.changes = e.p.diff(e.st, nil); e.changes != nil {
			return fn(e)
		}
		return nil
	})
}

// depth is how far below root path lies: 1 for root's children.
func depth(root, path string) int {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return 0
	}
	return strings.Count(rel, string(filepath.Separator)) + 1
}

// keepKind says why clean keeps a path.
type keepKind int

const (
	keepParent keepKind = iota + 1 // a parent of something required: clean inside it
	keepWhole                      // required itself: keep it and all below it
)

// keepSet maps what clean must keep below root: the required paths and
// their parents.
func keepSet(root string, required []string) map[string]keepKind {
	keep := map[string]keepKind{}
	for _, r := range required {
		if !filepath.IsAbs(r) {
			continue
		}
		r = filepath.Clean(r)
		if !strings.HasPrefix(r, root+"/") {
			continue
		}
		keep[r] = keepWhole
		for d := filepath.Dir(r); d != root && len(d) > len(root); d = filepath.Dir(d) {
			if keep[d] == 0 {
				keep[d] = keepParent
			}
		}
	}
	return keep
}

// cleaner decides what file.directory's clean removes.
type cleaner struct {
	root    string
	exclude *regexp.Regexp // matched against paths relative to root
	keep    map[string]keepKind
}

// plan lists what clean would remove below dir, topmost paths only. As in
// Salt, each entry is judged on its own: one that is required (or a parent
// of something required) or that exclude_pat matches stays, and clean goes
// on inside it; any other entry goes, with all below it.
func (cl *cleaner) plan(dir string) ([]string, error) {
	var removals []string
	if err := cl.planDir(dir, &removals); err != nil {
		return nil, err
	}
	slices.Sort(removals)
	return removals, nil
}

func (cl *cleaner) planDir(dir string, removals *[]string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		isDir := e.IsDir() // a symlink is not followed
		switch cl.keep[path] {
		case keepWhole:
			continue
		case keepParent:
		default:
			if !cl.excluded(path) {
				*removals = append(*removals, path)
				continue
			}
		}
		if isDir {
			if err := cl.planDir(path, removals); err != nil {
				return err
			}
		}
	}
	return nil
}

// excluded reports whether exclude_pat matches path, relative to the root.
func (cl *cleaner) excluded(path string) bool {
	if cl.exclude == nil {
		return false
	}
	rel, _ := filepath.Rel(cl.root, path)
	return cl.exclude.MatchString(rel)
}

// compileExclude turns Salt's exclude_pat into a regexp: "E@regex", or a
// shell glob where, as in Python's fnmatch, '*' also matches '/'.
func compileExclude(pat string) (*regexp.Regexp, error) {
	if re, ok := strings.CutPrefix(pat, "E@"); ok {
		return regexp.Compile(re)
	}
	var sb strings.Builder
	sb.WriteString("^(?s:")
	for i := 0; i < len(pat); i++ {
		switch ch := pat[i]; ch {
		case '*':
			sb.WriteString(".*")
		case '?':
			sb.WriteString(".")
		case '[':
			j := strings.IndexByte(pat[i+1:], ']')
			if j < 0 {
				sb.WriteString(`\[`)
				continue
			}
			class := pat[i+1 : i+1+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			sb.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		default:
			sb.WriteString(regexp.QuoteMeta(string(ch)))
		}
	}
	sb.WriteString(")$")
	return regexp.Compile(sb.String())
}
