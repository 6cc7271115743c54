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

	"github.com/brinecm/brine/pkg/tmpfile"
	"github.com/brinecm/brine/states"
)

// AbsentArgs are file.absent's arguments: none besides name.
type AbsentArgs struct{}

func absent(_ context.Context, c *states.Call, _ *AbsentArgs) states.Outcome {
	name := c.Name
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	if filepath.Clean(name) == "/" {
		return states.Failed(`Refusing to make "/" absent`, nil)
	}
	fi, err := os.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return states.Succeeded(fmt.Sprintf("File %s is not present", name), nil)
	case err != nil:
		return states.Failedf("Unable to stat %s: %v", name, err)
	}
	changes := map[string]any{"removed": name}
	kind := "file"
	if fi.IsDir() {
		kind = "directory"
	}
	if c.Test {
		if fi.IsDir() {
			return states.WouldChange(fmt.Sprintf("Directory %s is set for removal", name), changes)
		}
		return states.WouldChange(fmt.Sprintf("File %s is set for removal", name), changes)
	}
	if err := os.RemoveAll(name); err != nil {
		return states.Failedf("Failed to remove %s %s: %v", kind, name, err)
	}
	return states.Succeeded(fmt.Sprintf("Removed %s %s", kind, name), changes)
}

// SymlinkArgs are file.symlink's arguments.
type SymlinkArgs struct {
	Target   string `arg:"target,required"`
	Force    bool   `arg:"force"`
	Makedirs bool   `arg:"makedirs"`
	User     string `arg:"user"`
	Group    string `arg:"group"`
}

func symlink(ctx context.Context, c *states.Call, a *SymlinkArgs) states.Outcome {
	name := c.Name
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	if a.Target == "" {
		return states.Failed("A target is required for a symlink", nil)
	}
	userName, group, fail := symlinkOwner(a.User, a.Group)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	p, fail := resolvePerms(userName, group, states.Mode{})
	if fail != "" {
		return states.Failed(fail, nil)
	}
	owner := userName + ":" + group

	fi, err := os.Lstat(name)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return states.Failedf("Unable to stat %s: %v", name, err)
	}
	isLink := exists && fi.Mode()&fs.ModeSymlink != 0
	var cur string
	if isLink {
		if cur, err = os.Readlink(name); err != nil {
			return states.Failedf("Unable to read symlink %s: %v", name, err)
		}
	}
	sameTarget := isLink && filepath.Clean(cur) == filepath.Clean(a.Target)
	ownerOK := exists && p.diff(statT(fi), nil) == nil

	if c.Test {
		switch {
		case !exists:
			return states.WouldChange(fmt.Sprintf("Symlink %s to %s is set for creation", name, a.Target),
				map[string]any{"new": name})
		case isLink && !sameTarget:
			return states.WouldChange(fmt.Sprintf("Link %s target is set to be changed to %s", name, a.Target),
				map[string]any{"change": name})
		case isLink && ownerOK:
			return states.Succeeded(fmt.Sprintf("The symlink %s is present", name), nil)
		case isLink:
			curOwner := ownerName(statT(fi).Uid, statT(fi).Gid)
			return states.WouldChange(fmt.Sprintf("The symlink %s is present, but the ownership of the symlink would be changed from %s to %s",
				name, curOwner, owner), map[string]any{"ownership": curOwner})
		case a.Force:
			return states.WouldChange(fmt.Sprintf("The file or directory %s is set for removal to make way for a new symlink targeting %s",
				name, a.Target), map[string]any{"forced": "Symlink would be forcibly replaced"})
		}
		return states.Failedf("File or directory exists where the symlink %s should be. Did you mean to use force?", name)
	}

	if sameTarget {
		if ownerOK {
			return states.Succeeded(fmt.Sprintf("Symlink %s is present and owned by %s", name, owner), nil)
		}
		if err := os.Lchown(name, p.uid, p.gid); err != nil {
			return states.Failedf("Failed to set ownership of symlink %s to %s: %v", name, owner, err)
		}
		return states.Succeeded(fmt.Sprintf("Set ownership of symlink %s to %s", name, owner),
			map[string]any{"ownership": owner})
	}

	dir := filepath.Dir(name)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if !a.Makedirs {
			return states.Failedf("Directory %s for symlink is not present", dir)
		}
		if err := makeParents(dir, 0o755, p.uid, p.gid); err != nil {
			return states.Failedf("Unable to create parent directories of %s: %v", name, err)
		}
	}
	changes := map[string]any{}
	if exists && !isLink {
		if !a.Force {
			kind := "File"
			if fi.IsDir() {
				kind = "Directory"
			}
			return states.Failedf("%s exists where the symlink %s should be", kind, name)
		}
		if fi.IsDir() {
			// A directory cannot be renamed over: remove it first.
			if err := os.RemoveAll(name); err != nil {
				return states.Failedf("Unable to remove %s to make way for the symlink: %v", name, err)
			}
		}
		changes["forced"] = "Symlink was forcibly replaced"
	}
	if err := replaceWithSymlink(ctx, a.Target, name, p); err != nil {
		return states.Failedf("Unable to create new symlink %s -> %s: %v", name, a.Target, err)
	}
	changes["new"] = name
	return states.Succeeded(fmt.Sprintf("Created new symlink %s -> %s", name, a.Target), changes)
}

// replaceWithSymlink creates the link under a temporary name, owns it and
// renames it over name, so name never goes missing. Temporary links a
// killed writer left beside name are removed first.
func replaceWithSymlink(ctx context.Context, target, name string, p perms) error {
	tmpfile.CleanStale(ctx, name)
	tmp := tmpfile.Name(name)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Lchown(tmp, p.uid, p.gid); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// symlinkOwner fills in Salt's defaults: the user brine runs as, and that
// user's primary group.
func symlinkOwner(userName, group string) (string, string, string) {
	if userName == "" {
		u, err := user.LookupId(strconv.Itoa(os.Geteuid()))
		if err != nil {
			return "", "", fmt.Sprintf("Unable to look up the current user: %v", err)
		}
		userName = u.Username
	}
	if group == "" {
		var gid string
		if u, err := user.Lookup(userName); err == nil {
			gid = u.Gid
		} else if u, err := user.LookupId(userName); err == nil {
			gid = u.Gid
		} else {
			return "", "", fmt.Sprintf("User %s does not exist", userName)
		}
		if g, err := user.LookupGroupId(gid); err == nil {
			group = g.Name
		} else {
			group = gid
		}
	}
	return userName, group, ""
}

// ownerName formats uid:gid with names where they exist.
func ownerName(uid, gid uint32) string {
	u, g := strconv.FormatUint(uint64(uid), 10), strconv.FormatUint(uint64(gid), 10)
	if x, err := user.LookupId(u); err == nil {
		u = x.Username
	}
	if x, err := user.LookupGroupId(g); err == nil {
		g = x.Name
	}
	return u + ":" + g
}
