// Package cp provides the listings of Salt's cp module that formulas use to
// find their own files: cp.list_master and cp.list_master_dirs list the
// state tree (the master's file roots).
package cp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/brinecm/brine/modules"
)

type listArgs struct {
	Saltenv string `arg:"saltenv"`
	Prefix  string `arg:"prefix"`
}

func init() {
	modules.Register("cp.list_master", modules.Func[listArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc:      "List the files of the state tree (paths relative to its top) that start with prefix.",
		Params:   []string{"saltenv", "prefix"},
		Call: func(ctx context.Context, rt *modules.Runtime, a *listArgs) (any, error) {
			return list(ctx, rt.FileRoots, a, false)
		},
	})
	modules.Register("cp.list_master_dirs", modules.Func[listArgs]{
		ReadOnly: true,
		Pure:     true,
		Doc:      "List the directories of the state tree (paths relative to its top) that start with prefix.",
		Params:   []string{"saltenv", "prefix"},
		Call: func(ctx context.Context, rt *modules.Runtime, a *listArgs) (any, error) {
			return list(ctx, rt.FileRoots, a, true)
		},
	})
}

// list walks every root and returns the sorted, de-duplicated relative
// paths of its files (dirs false) or directories (dirs true) that start
// with a.Prefix. Only the base environment exists.
func list(ctx context.Context, roots []string, a *listArgs, dirs bool) ([]any, error) {
	if a.Saltenv != "" && a.Saltenv != "base" {
		return nil, fmt.Errorf("saltenv %q: brine serves only the base environment", a.Saltenv)
	}
	seen := map[string]bool{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root && errors.Is(err, fs.ErrNotExist) {
					return fs.SkipDir
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil || rel == "." {
				return err
			}
			rel = filepath.ToSlash(rel)
			isDir := d.IsDir()
			if d.Type()&os.ModeSymlink != 0 {
				fi, err := os.Stat(p)
				isDir = err == nil && fi.IsDir()
			}
			if isDir == dirs && strings.HasPrefix(rel, a.Prefix) {
				seen[rel] = true
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list state tree %s: %w", root, err)
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out, nil
}
