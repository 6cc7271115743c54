package file

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/brinecm/brine/states"
)

// The file states may run at the same time as their neighbours (see
// states.Func.Concurrent) when they touch nothing but their name and what
// lies below it. What else they could touch decides when they may not:
//
//   - makedirs creates missing parent directories, which neighbours may
//     share: only when the parent already exists (or in test mode) does it
//     create nothing. A neighbour cannot make or remove that parent
//     meanwhile, since it would have to be named by it, or lie above it.
//   - a user or group given by name is read from the user database: it
//     must resolve when the window forms. One that a neighbour adds (by
//     managing /etc/passwd) does not resolve yet, so the state runs after
//     that neighbour, as in order.
//   - file.managed reads its source: the state tree (salt://, brine://)
//     is not a file the run manages, a local path may be; a template may
//     call any execution function, so it never runs concurrently.
//   - file.managed follows a symlink at its name to the target, which may
//     be anywhere; backup: minion writes to the backup directory; a
//     check_cmd may run any command.
//   - file.directory with clean removes what other states do not
//     require, whatever their names: never concurrently.

func managedConcurrent(c *states.Call, a *ManagedArgs) bool {
	if a.Template != "" || bool(a.Backup) || len(a.CheckCmd) > 0 || !ownersResolve(a.User, a.Group) {
		return false
	}
	if fi, err := os.Lstat(c.Name); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return false // it writes the link's target, which a neighbour may manage
	}
	for _, src := range a.Source {
		if !strings.HasPrefix(src, "salt://") && !strings.HasPrefix(src, "brine://") {
			return false
		}
	}
	return parentReady(c, a.Makedirs)
}

func directoryConcurrent(c *states.Call, a *DirectoryArgs) bool {
	return !a.Clean && ownersResolve(a.User, a.Group) && parentReady(c, a.Makedirs)
}

func absentConcurrent(*states.Call, *AbsentArgs) bool { return true }

func symlinkConcurrent(c *states.Call, a *SymlinkArgs) bool {
	return ownersResolve(a.User, a.Group) && parentReady(c, a.Makedirs)
}

func appendConcurrent(c *states.Call, a *AppendArgs) bool { return parentReady(c, a.Makedirs) }

func lineConcurrent(*states.Call, *LineArgs) bool { return true }

// parentReady reports whether a state with makedirs creates no directory:
// in test mode, without makedirs, or when the parent of its name exists.
func parentReady(c *states.Call, makedirs bool) bool {
	if c.Test || !makedirs {
		return true
	}
	fi, err := os.Stat(filepath.Dir(filepath.Clean(c.Name)))
	return err == nil && fi.IsDir()
}

// ownersResolve reports whether the user and group (names or ids, empty
// when not managed) exist.
func ownersResolve(userName, group string) bool {
	if userName == "" && group == "" {
		return true
	}
	_, fail := resolvePerms(userName, group, states.Mode{})
	return fail == ""
}
