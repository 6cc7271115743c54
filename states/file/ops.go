package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("file.touch", states.Func[TouchArgs]{
		Doc:   "Creates an empty file or updates the access and modification times of an existing one.",
		Apply: touch,
	})
	states.Register("file.copy", states.Func[CopyArgs]{
		Doc:   "Copies a local file or directory to name; an existing name is replaced only with force.",
		Apply: copyFile,
	})
	states.Register("file.exists", states.Func[PathArgs]{
		Doc:   "Succeeds when name exists (a file, directory or link); changes nothing.",
		Apply: exists,
	})
	states.Register("file.missing", states.Func[PathArgs]{
		Doc:   "Succeeds when name does not exist; changes nothing.",
		Apply: missing,
	})
	states.Register("file.rename", states.Func[RenameArgs]{
		Doc:   "Moves source to name, unless source is already gone; an existing name is replaced only with force.",
		Apply: rename,
	})
	states.Register("file.hardlink", states.Func[HardlinkArgs]{
		Doc:   "Ensures name is a hard link to target; force replaces a file in the way.",
		Apply: hardlink,
	})
	states.Register("file.serialize", states.Func[SerializeArgs]{
		Doc: "Writes a data set to a file as yaml, json, configparser (ini) or plist; merge_if_exists merges it over the data " +
			"the file holds. Owner, group and mode as file.managed.",
		Apply:       serialize,
		OwnCheckCmd: true,
	})
	states.Register("file.recurse", states.Func[RecurseArgs]{
		Doc: "Copies a directory of the state tree (salt://) below name, file by file as file.managed; " +
			"clean removes what the source does not have.",
		Apply: recurse,
	})
	states.Register("file.pruned", states.Func[PrunedArgs]{
		Doc:   "Removes the directory name when it is empty; recurse removes the empty directories below it first.",
		Apply: pruned,
	})
	states.Register("file.rmdir", states.Func[PrunedArgs]{
		Doc:   "Salt's older name of file.pruned.",
		Apply: pruned,
	})
	states.Register("file.accumulated", states.Func[AccumulatedArgs]{
		Doc: "Collects text for a file that a file.managed template (the accumulator variable) or a " +
			"file.blockreplace of that file uses later in the run (give it require_in or watch_in).",
		Apply: accumulate,
	})
}

// TouchArgs are file.touch's arguments.
type TouchArgs struct {
	Atime    *int64 `arg:"atime"`
	Mtime    *int64 `arg:"mtime"`
	Makedirs bool   `arg:"makedirs"`
}

func touch(_ context.Context, c *states.Call, a *TouchArgs) states.Outcome {
	name := c.Name
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	_, err := os.Lstat(name)
	exists := err == nil
	if c.Test {
		if !exists {
			return states.WouldChange(fmt.Sprintf("File %s is set to be created", name), map[string]any{"new": name})
		}
		return states.WouldChange(fmt.Sprintf("File %s is set to be updated", name), map[string]any{"touched": name})
	}
	if !exists {
		if fail := parentFor(name, a.Makedirs); fail != "" {
			return states.Failed(fail, nil)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o666)
		if err != nil {
			return states.Failedf("Unable to create %s: %v", name, err)
		}
		f.Close()
	}
	now := time.Now()
	at, mt := now, now
	if a.Atime != nil {
		at = time.Unix(*a.Atime, 0)
	}
	if a.Mtime != nil {
		mt = time.Unix(*a.Mtime, 0)
	}
	if err := os.Chtimes(name, at, mt); err != nil {
		return states.Failedf("Unable to touch %s: %v", name, err)
	}
	if !exists {
		return states.Succeeded(fmt.Sprintf("Created empty file %s", name), map[string]any{"new": name})
	}
	return states.Succeeded(fmt.Sprintf("Updated times on file %s", name), map[string]any{"touched": name})
}

// PathArgs are file.exists's and file.missing's arguments: the name only.
type PathArgs struct{}

func exists(_ context.Context, c *states.Call, _ *PathArgs) states.Outcome {
	if _, err := os.Lstat(c.Name); err != nil {
		return states.Failedf("Specified path %s does not exist", c.Name)
	}
	return states.Succeeded(fmt.Sprintf("Path %s exists", c.Name), nil)
}

func missing(_ context.Context, c *states.Call, _ *PathArgs) states.Outcome {
	if _, err := os.Lstat(c.Name); err == nil {
		return states.Failedf("Specified path %s exists", c.Name)
	}
	return states.Succeeded(fmt.Sprintf("Path %s is missing", c.Name), nil)
}

// CopyArgs are file.copy's arguments.
type CopyArgs struct {
	Source   string      `arg:"source,required"`
	Force    bool        `arg:"force"`
	Makedirs bool        `arg:"makedirs"`
	Preserve bool        `arg:"preserve"`
	User     string      `arg:"user"`
	Group    string      `arg:"group"`
	Mode     states.Mode `arg:"mode"`
	Subdir   bool        `arg:"subdir"`
}

func copyFile(ctx context.Context, c *states.Call, a *CopyArgs) states.Outcome {
	name, src := c.Name, a.Source
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	if !filepath.IsAbs(src) {
		return states.Failedf("Specified file %s is not an absolute path", src)
	}
	sfi, err := os.Stat(src)
	if err != nil {
		return states.Failedf("Source file %q is not present", src)
	}
	if a.Subdir {
		if fi, err := os.Stat(name); err == nil && fi.IsDir() {
			name = filepath.Join(name, filepath.Base(src))
		}
	}
	p, fail := resolvePerms(a.User, a.Group, a.Mode)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	changed := true
	dfi, err := os.Lstat(name)
	if err == nil {
		changed = a.Force
		if changed && dfi.Mode().IsRegular() && sfi.Mode().IsRegular() {
			s, _ := os.ReadFile(src)
			d, _ := os.ReadFile(name)
			changed = !bytes.Equal(s, d)
		}
	}
	if !changed {
		// The contents stay; owner and mode are managed as asked.
		if ch := p.diff(statT(dfi), nil); ch != nil && !c.Test {
			if err := p.apply(name, statT(dfi)); err != nil {
				return states.Failedf("Unable to set permissions of %s: %v", name, err)
			}
			return states.Succeeded(fmt.Sprintf("The target file %q exists and will not be overwritten", name), ch)
		} else if ch != nil {
			return states.WouldChange(fmt.Sprintf("The target file %q exists and will not be overwritten", name), ch)
		}
		return states.Succeeded(fmt.Sprintf("The target file %q exists and will not be overwritten", name), nil)
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("File %q is set to be copied to %q", src, name), map[string]any{name: src})
	}
	if dfi != nil {
		if err := os.RemoveAll(name); err != nil {
			return states.Failedf("Failed to delete %q in preparation for forced move: %v", name, err)
		}
	}
	if fail := parentFor(name, a.Makedirs); fail != "" {
		return states.Failed(strings.Replace(fail, "Directory not present to touch file", "The target directory is not present for", 1), nil)
	}
	if sfi.IsDir() {
		err = copyTree(ctx, src, name, a.Preserve)
	} else {
		err = copyOne(ctx, src, name, sfi, a.Preserve)
	}
	if err != nil {
		return states.Failedf("Failed to copy %q to %q: %v", src, name, err)
	}
	if fi, err := os.Lstat(name); err == nil {
		if err := p.apply(name, statT(fi)); err != nil {
			return states.Failedf("Unable to set permissions of %s: %v", name, err)
		}
	}
	return states.Succeeded(fmt.Sprintf("Copied %q to %q", src, name), map[string]any{name: src})
}

// copyOne copies the regular file src (described by fi) to dst, with
// src's mode, and with preserve its owner and times too.
func copyOne(ctx context.Context, src, dst string, fi fs.FileInfo, preserve bool) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	st := statT(fi)
	w := writeSpec{createPerm: 0o600, uid: -1, gid: -1, mode: st.Mode & 07777, setMode: true}
	if preserve {
		w.uid, w.gid = int(st.Uid), int(st.Gid)
	}
	if err := writeAtomic(ctx, dst, data, w); err != nil {
		return err
	}
	if preserve {
		return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
	}
	return nil
}

// copyTree copies the directory src to dst, symlinks as symlinks.
func copyTree(ctx context.Context, src, dst string, preserve bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Mkdir(target, fi.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		}
		return copyOne(ctx, p, target, fi, preserve)
	})
}

// RenameArgs are file.rename's arguments.
type RenameArgs struct {
	Source   string `arg:"source,required"`
	Force    bool   `arg:"force"`
	Makedirs bool   `arg:"makedirs"`
}

func rename(_ context.Context, c *states.Call, a *RenameArgs) states.Outcome {
	name, src := c.Name, a.Source
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	if !filepath.IsAbs(src) {
		return states.Failedf("Specified file %s is not an absolute path", src)
	}
	if _, err := os.Lstat(src); err != nil {
		return states.Succeeded(fmt.Sprintf("Source file %q has already been moved out of place", src), nil)
	}
	if _, err := os.Lstat(name); err == nil {
		if !a.Force {
			return states.Succeeded(fmt.Sprintf("The target file %q exists and will not be overwritten", name), nil)
		}
		if !c.Test {
			if err := os.RemoveAll(name); err != nil {
				return states.Failedf("Failed to delete %q in preparation for forced move: %v", name, err)
			}
		}
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("File %q is set to be moved to %q", src, name), map[string]any{name: src})
	}
	dir := filepath.Dir(name)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if !a.Makedirs {
			return states.Failedf("The target directory %s is not present", dir)
		}
		if err := makeParents(dir, 0o755, -1, -1); err != nil {
			return states.Failedf("Unable to create parent directories of %s: %v", name, err)
		}
	}
	if err := os.Rename(src, name); err != nil {
		return states.Failedf("Failed to move %q to %q: %v", src, name, err)
	}
	return states.Succeeded(fmt.Sprintf("Moved %q to %q", src, name), map[string]any{name: src})
}

// HardlinkArgs are file.hardlink's arguments.
type HardlinkArgs struct {
	Target   string `arg:"target,required"`
	Force    bool   `arg:"force"`
	Makedirs bool   `arg:"makedirs"`
	User     string `arg:"user"`
	Group    string `arg:"group"`
}

func hardlink(_ context.Context, c *states.Call, a *HardlinkArgs) states.Outcome {
	name, target := c.Name, a.Target
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	if !filepath.IsAbs(target) {
		return states.Failedf("Specified target %s is not an absolute path", target)
	}
	p, fail := resolvePerms(a.User, a.Group, states.Mode{})
	if fail != "" {
		return states.Failed(fail, nil)
	}
	tfi, err := os.Stat(target)
	switch {
	case err != nil:
		return states.Failedf("Target %s for hard link does not exist", target)
	case tfi.IsDir():
		return states.Failedf("Unable to hard link from directory %s", target)
	}
	changes := map[string]any{}
	nfi, err := os.Lstat(name)
	if err == nil {
		if os.SameFile(nfi, tfi) {
			if ch := p.diff(statT(nfi), nil); ch != nil {
				if c.Test {
					return states.WouldChange(fmt.Sprintf("Hard link %s would have its ownership changed", name), ch)
				}
				if err := p.apply(name, statT(nfi)); err != nil {
					return states.Failedf("Unable to set ownership of %s: %v", name, err)
				}
				return states.Succeeded(fmt.Sprintf("Hard link %s is present with updated ownership", name), ch)
			}
			return states.Succeeded(fmt.Sprintf("Target of hard link %s is already pointing to %s", name, target), nil)
		}
		if !a.Force {
			return states.Failedf("File exists where the hard link %s should be", name)
		}
		changes["forced"] = "File for hard link was forcibly replaced"
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Hard link %s to %s is set for creation", name, target), map[string]any{"new": name})
	}
	if fail := parentFor(name, a.Makedirs); fail != "" {
		return states.Failed(fail, nil)
	}
	if nfi != nil {
		if err := os.RemoveAll(name); err != nil {
			return states.Failedf("Unable to remove %s: %v", name, err)
		}
	}
	if err := os.Link(target, name); err != nil {
		return states.Failedf("Unable to create new hard link %s -> %s: %v", name, target, err)
	}
	if fi, err := os.Lstat(name); err == nil {
		if err := p.apply(name, statT(fi)); err != nil {
			return states.Failedf("Unable to set ownership of %s: %v", name, err)
		}
	}
	changes["new"] = name
	return states.Succeeded(fmt.Sprintf("Created new hard link %s -> %s", name, target), changes)
}

// SerializeArgs are file.serialize's arguments.
type SerializeArgs struct {
	Dataset       any         `arg:"dataset"`
	DatasetPillar string      `arg:"dataset_pillar"`
	Formatter     string      `arg:"formatter"`
	Serializer    string      `arg:"serializer"`
	MergeIfExists bool        `arg:"merge_if_exists"`
	User          string      `arg:"user"`
	Group         string      `arg:"group"`
	Mode          states.Mode `arg:"mode"`
	Makedirs      bool        `arg:"makedirs"`
	Backup        Backup      `arg:"backup"`
	ShowChanges   *bool       `arg:"show_changes"`
	Create        *bool       `arg:"create"`
	Encoding      string      `arg:"encoding"`
	CheckCmd      []string    `arg:"check_cmd"` // as file.managed's
	// SerializerOpts and DeserializerOpts are Salt's lists of option
	// mappings: configparser takes defaults, plist fmt (FMT_XML or
	// FMT_BINARY), json indent.
	SerializerOpts   any `arg:"serializer_opts"`
	DeserializerOpts any `arg:"deserializer_opts"`
}

func serialize(ctx context.Context, c *states.Call, a *SerializeArgs) states.Outcome {
	if !filepath.IsAbs(c.Name) {
		return notAbsolute(c.Name)
	}
	format := strings.ToLower(a.Serializer)
	if format == "" {
		format = strings.ToLower(a.Formatter)
	}
	if format == "" {
		format = "yaml"
	}
	ser, ok := serializers[format]
	if !ok {
		return states.Failedf("Serializer %q is not available: brine serializes %s", format, serializerNames())
	}
	sopts, err := mergeOpts("serializer_opts", a.SerializerOpts)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	dopts, err := mergeOpts("deserializer_opts", a.DeserializerOpts)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	var warnings []string
	if a.DeserializerOpts != nil && !a.MergeIfExists {
		warnings = append(warnings, "The 'deserializer_opts' option is ignored unless merge_if_exists is set to True.")
	}
	data := a.Dataset
	switch {
	case a.Dataset != nil && a.DatasetPillar != "":
		return states.Failed("Only one of 'dataset' and 'dataset_pillar' is permitted", nil)
	case a.DatasetPillar != "":
		var fail string
		if data, fail = pillarValue(ctx, c.Env, a.DatasetPillar); fail != "" {
			return states.Failed(fail, nil)
		}
	case a.Dataset == nil:
		return states.Failed("Neither 'dataset' nor 'dataset_pillar' was defined", nil)
	}
	if a.MergeIfExists {
		if old, err := os.ReadFile(c.Name); err == nil {
			existing, err := ser.read(old, dopts)
			if err != nil {
				return states.Failedf("Failed to deserialize existing data in %s as %s: %v", c.Name, format, err)
			}
			data = mergeData(existing, data)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return states.Failedf("Unable to read %s: %v", c.Name, err)
		}
	}
	text, err := ser.write(data, sopts)
	if err != nil {
		return states.Failedf("Unable to serialize the data set as %s: %v", format, err)
	}
	noNewline := false
	o := managed(ctx, c, &ManagedArgs{Contents: string(text), ContentsNewline: &noNewline, User: a.User, Group: a.Group,
		Mode: a.Mode, Makedirs: a.Makedirs, Backup: a.Backup, ShowChanges: a.ShowChanges, Create: a.Create, CheckCmd: a.CheckCmd})
	o.Warnings = append(o.Warnings, warnings...)
	return o
}

// mergeData merges src over dst: mappings key by key, recursively;
// anything else src replaces.
func mergeData(dst, src any) any {
	dm, ok1 := dst.(map[string]any)
	sm, ok2 := src.(map[string]any)
	if !ok1 || !ok2 {
		return src
	}
	out := maps.Clone(dm)
	for k, v := range sm {
		if old, ok := out[k]; ok {
			out[k] = mergeData(old, v)
		} else {
			out[k] = v
		}
	}
	return out
}

// RecurseArgs are file.recurse's arguments.
type RecurseArgs struct {
	EnvArg
	Source       []string       `arg:"source,required"`
	Clean        bool           `arg:"clean"`
	User         string         `arg:"user"`
	Group        string         `arg:"group"`
	DirMode      states.Mode    `arg:"dir_mode"`
	FileMode     states.Mode    `arg:"file_mode"`
	Template     string         `arg:"template"`
	Context      map[string]any `arg:"context"`
	Defaults     map[string]any `arg:"defaults"`
	IncludeEmpty bool           `arg:"include_empty"`
	IncludePat   string         `arg:"include_pat"`
	ExcludePat   string         `arg:"exclude_pat"`
	Maxdepth     *int           `arg:"maxdepth"`
	Makedirs     *bool          `arg:"makedirs"`
	Backup       Backup         `arg:"backup"`
	ShowChanges  *bool          `arg:"show_changes"`
	Replace      *bool          `arg:"replace"`
	// Merge takes every source, not only the first that exists: where
	// two have something at one path, the earlier wins.
	Merge bool `arg:"merge"`
	// KeepSymlinks copies the tree's symlinks as symlinks (with their
	// targets as written) instead of what they point at.
	KeepSymlinks bool `arg:"keep_symlinks"`
}

func recurse(ctx context.Context, c *states.Call, a *RecurseArgs) states.Outcome {
	c = a.EnvArg.in(c)
	name := strings.TrimRight(c.Name, "/")
	if !filepath.IsAbs(name) {
		return notAbsolute(c.Name)
	}
	if fi, err := os.Stat(name); err == nil && !fi.IsDir() {
		return states.Failedf("The path %s exists and is not a directory", name)
	}
	if _, ok := c.Env.(sourceLister); !ok {
		return states.Failed("No state tree that can list directories is available for file.recurse", nil)
	}
	entries, found, fail := recurseEntries(ctx, c.Env, a)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	if !found {
		return states.Failedf("The directory '%s' does not exist on the salt fileserver in saltenv '%s'", strings.Join(a.Source, ", "), saltenvOf(c.Env))
	}
	include, exclude, fail := recursePatterns(a.IncludePat, a.ExcludePat)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	changes := map[string]any{}
	keep := map[string]bool{name: true}
	var failures []string
	dirs := map[string]bool{}
	links := map[string]string{}
	for _, rel := range slices.Sorted(maps.Keys(entries)) {
		e := entries[rel]
		if a.Maxdepth != nil && strings.Count(rel, "/") > *a.Maxdepth {
			continue
		}
		match := rel
		if e.emptyDir {
			match += "/"
		}
		if (include != nil && !include.MatchString(match)) || (exclude != nil && exclude.MatchString(match)) {
			continue
		}
		dest := filepath.Join(name, filepath.FromSlash(rel))
		for d := filepath.Dir(dest); d != name && len(d) > len(name); d = filepath.Dir(d) {
			keep[d] = true
			dirs[d] = true
		}
		keep[dest] = true
		switch {
		case e.emptyDir:
			dirs[dest] = true
			continue
		case e.isLink:
			links[dest] = e.link
			continue
		}
		if a.Clean {
			// What stands where the source has a directory or a file of
			// the other kind goes first.
			for _, in := range inTheWay(name, dest) {
				changes[in] = map[string]any{"removed": "Removed due to clean"}
				if !c.Test {
					if err := os.RemoveAll(in); err != nil {
						failures = append(failures, fmt.Sprintf("%s: %v", in, err))
					}
				}
			}
		}
		o := managed(ctx, &states.Call{ID: c.ID, Name: dest, SLS: c.SLS, Test: c.Test, Env: e.env, Log: c.Log},
			&ManagedArgs{Source: []string{e.url}, User: a.User, Group: a.Group, Mode: a.FileMode,
				Makedirs: true, DirMode: a.DirMode, Template: a.Template, Context: a.Context, Defaults: a.Defaults,
				Backup: a.Backup, ShowChanges: a.ShowChanges, Replace: a.Replace})
		if o.Result != nil && !*o.Result {
			failures = append(failures, fmt.Sprintf("%s: %s", dest, o.Comment))
			continue
		}
		if o.Changed() {
			changes[dest] = o.Changes
		}
	}
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		if _, err := os.Stat(d); err == nil {
			continue
		}
		changes[d] = map[string]any{"directory": "new"}
		if !c.Test {
			if err := makeParents(d, dirModeFor(a.DirMode, states.Mode{}), -1, -1); err != nil {
				failures = append(failures, fmt.Sprintf("%s: %v", d, err))
			}
		}
	}
	for _, dest := range slices.Sorted(maps.Keys(links)) {
		if ch, err := recurseLink(dest, links[dest], c.Test); err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", dest, err))
		} else if ch != nil {
			changes[dest] = ch
		}
	}
	if a.Clean {
		for _, r := range c.Required {
			keep[filepath.Clean(r)] = true
		}
		cl := cleaner{root: name, keep: keepSet(name, slices.Collect(maps.Keys(keep)))}
		if exclude != nil {
			cl.exclude = exclude
		}
		if _, err := os.Stat(name); err == nil {
			removed, err := cl.plan(name)
			if err != nil {
				return states.Failedf("Unable to clean %s: %v", name, err)
			}
			for _, r := range removed {
				changes[r] = map[string]any{"removed": "Removed due to clean"}
				if !c.Test {
					if err := os.RemoveAll(r); err != nil {
						failures = append(failures, fmt.Sprintf("%s: %v", r, err))
					}
				}
			}
		}
	}
	switch {
	case len(failures) > 0:
		return states.Failed(strings.Join(failures, "\n"), changes)
	case len(changes) == 0:
		return states.Succeeded(fmt.Sprintf("The directory %s is in the correct state", name), nil)
	case c.Test:
		return states.WouldChange(fmt.Sprintf("The directory %s is set to be changed", name)+testNote, changes)
	}
	return states.Succeeded(fmt.Sprintf("Recursively updated %s", name), changes)
}

// recurseLink makes dest a symlink to target (keep_symlinks), replacing
// what is there; it returns the changes, nil when dest already is one.
func recurseLink(dest, target string, test bool) (map[string]any, error) {
	fi, err := os.Lstat(dest)
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if cur, err := os.Readlink(dest); err == nil && cur == target {
			return nil, nil
		}
	}
	changes := map[string]any{"new": dest, "target": target}
	if test {
		return changes, nil
	}
	if err == nil {
		if err := os.RemoveAll(dest); err != nil {
			return nil, err
		}
	}
	if err := makeParents(filepath.Dir(dest), 0o755, -1, -1); err != nil {
		return nil, err
	}
	if err := os.Symlink(target, dest); err != nil {
		return nil, err
	}
	return changes, nil
}

// inTheWay lists what keeps the file dest from being written below root:
// a non-directory where a parent directory must be, or a directory at
// dest itself.
func inTheWay(root, dest string) []string {
	var parents []string
	for d := filepath.Dir(dest); len(d) > len(root); d = filepath.Dir(d) {
		parents = append(parents, d)
	}
	for i := len(parents) - 1; i >= 0; i-- {
		fi, err := os.Lstat(parents[i])
		if err != nil {
			return nil
		}
		if !fi.IsDir() {
			return []string{parents[i]}
		}
	}
	if fi, err := os.Lstat(dest); err == nil && fi.IsDir() {
		return []string{dest}
	}
	return nil
}

// treeURL escapes a salt:// directory for names below it that hold '?'.
func treeURL(dir string) string {
	for _, scheme := range []string{"salt://", "brine://"} {
		if rest, ok := strings.CutPrefix(dir, scheme); ok {
			return scheme + "|" + strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(rest, "|")), "/")
		}
	}
	return dir
}

// recursePatterns compiles include_pat and exclude_pat (globs, or E@regex).
func recursePatterns(include, exclude string) (*regexp.Regexp, *regexp.Regexp, string) {
	var in, ex *regexp.Regexp
	var err error
	if include != "" {
		if in, err = compileExclude(include); err != nil {
			return nil, nil, fmt.Sprintf("Invalid include_pat %q: %v", include, err)
		}
	}
	if exclude != "" {
		if ex, err = compileExclude(exclude); err != nil {
			return nil, nil, fmt.Sprintf("Invalid exclude_pat %q: %v", exclude, err)
		}
	}
	return in, ex, ""
}

// AccumulatedArgs are file.accumulated's arguments.
type AccumulatedArgs struct {
	Filename string   `arg:"filename,required"`
	Text     []string `arg:"text,required"`
}

// sharer keeps values for the length of a run (pkg/sls's Compiler).
type sharer interface {
	Shared(key string, mk func() any) any
}

// accumulators is the text file.accumulated collected in a run: for each
// file, accumulator name to lines, in the order they came.
type accumulators struct {
	mu    sync.Mutex
	files map[string]map[string][]string
}

func runAccumulators(env states.Env) *accumulators {
	s, ok := env.(sharer)
	if !ok {
		return nil
	}
	return s.Shared("file.accumulated", func() any {
		return &accumulators{files: map[string]map[string][]string{}}
	}).(*accumulators)
}

func accumulate(_ context.Context, c *states.Call, a *AccumulatedArgs) states.Outcome {
	acc := runAccumulators(c.Env)
	if acc == nil {
		return states.Failed("No run environment is available to keep accumulated text in", nil)
	}
	acc.mu.Lock()
	defer acc.mu.Unlock()
	byName := acc.files[a.Filename]
	if byName == nil {
		byName = map[string][]string{}
		acc.files[a.Filename] = byName
	}
	for _, t := range a.Text {
		if !slices.Contains(byName[c.Name], t) {
			byName[c.Name] = append(byName[c.Name], t)
		}
	}
	return states.Succeeded(fmt.Sprintf("Accumulator %s for file %s was charged by text", c.Name, a.Filename), nil)
}

// accumulatorVar is the accumulator template variable for the file name:
// accumulator name to its lines.
func accumulatorVar(env states.Env, name string) map[string]any {
	out := map[string]any{}
	acc := runAccumulators(env)
	if acc == nil {
		return out
	}
	acc.mu.Lock()
	defer acc.mu.Unlock()
	for k, v := range acc.files[name] {
		l := make([]any, len(v))
		for i, s := range v {
			l[i] = s
		}
		out[k] = l
	}
	return out
}

// accumulated is the text accumulated for the file of c, each line
// ending in a newline (file.blockreplace). As in Salt, when some of the
// file's accumulators are among the states c requires or watches (deps),
// only those apply; otherwise all do, in name order.
func accumulated(c *states.Call, deps []string) []string {
	acc := runAccumulators(c.Env)
	if acc == nil {
		return nil
	}
	acc.mu.Lock()
	defer acc.mu.Unlock()
	byName := acc.files[c.Name]
	names := slices.Sorted(maps.Keys(byName))
	if mine := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return !slices.Contains(deps, n) }); len(mine) > 0 {
		names = mine
	}
	var out []string
	for _, k := range names {
		for _, t := range byName[k] {
			out = append(out, strings.TrimSuffix(t, "\n")+"\n")
		}
	}
	return out
}

// PrunedArgs are file.pruned's (and file.rmdir's) arguments.
type PrunedArgs struct {
	Recurse      bool `arg:"recurse"`
	IgnoreErrors bool `arg:"ignore_errors"`
}

// pruned removes the directory name when it is empty; with recurse (or
// ignore_errors) every empty directory below it first, deepest first.
func pruned(_ context.Context, c *states.Call, a *PrunedArgs) states.Outcome {
	name := c.Name
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	if fi, err := os.Stat(name); err != nil || !fi.IsDir() {
		return states.Succeeded(fmt.Sprintf("Directory %s is not present", name), nil)
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Directory %s is set for removal", name), map[string]any{"deleted": name})
	}
	var dirs []string
	if a.Recurse || a.IgnoreErrors {
		filepath.WalkDir(name, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() && p != name {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.Reverse(dirs) // children before their parents
	}
	dirs = append(dirs, name)
	deleted, errs := []any{}, []any{}
	for _, d := range dirs {
		if err := syscall.Rmdir(d); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", d, err))
			continue
		}
		deleted = append(deleted, d)
	}
	changes := map[string]any{"deleted": deleted, "errors": errs}
	switch {
	case len(errs) > 0 && !a.IgnoreErrors:
		return states.Failed(fmt.Sprintf("Failed to remove directory %s", name), changes)
	case len(dirs) > 1:
		return states.Succeeded(fmt.Sprintf("Recursively removed empty directories under %s", name), changes)
	}
	return states.Succeeded(fmt.Sprintf("Removed directory %s", name), changes)
}
