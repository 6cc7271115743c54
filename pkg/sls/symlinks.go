package sls

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// ErrSymlinksUnlisted is SourceSymlinks' error for a state tree that
// cannot list its symlinks (a minion's view of its master's tree, which
// the master lists with its links followed).
var ErrSymlinksUnlisted = errors.New("this state tree cannot list symlinks (apply it with brine call --local)")

// SourceSymlinks lists the symlinks below a salt:// or brine:// directory
// of the state tree (Salt's cp.list_master_symlinks): each path, relative
// to the directory with '/' separators, to the link's target as written.
// Links are not followed while listing; a path found in several file
// roots is taken from the first. file.recurse's keep_symlinks copies them
// as links.
func (c *Compiler) SourceSymlinks(ctx context.Context, url string) (map[string]string, error) {
	return c.sourceSymlinksIn(ctx, c.cfg.Saltenv, url)
}

// SourceSymlinks is Compiler.SourceSymlinks in the view's environment (or
// the one the URL's ?saltenv= names).
func (v *EnvView) SourceSymlinks(ctx context.Context, url string) (map[string]string, error) {
	return v.sourceSymlinksIn(ctx, v.saltenv, url)
}

// sourceSymlinksIn is SourceSymlinks in environment def.
func (c *Compiler) sourceSymlinksIn(ctx context.Context, def, url string) (map[string]string, error) {
	e, dir, err := c.treeDir(def, url)
	if err != nil {
		return nil, err
	}
	links := map[string]string{}
	shadowed := map[string]bool{} // paths an earlier root has as something else
	for _, root := range e.tree.roots {
		if _, ok := root.(fs.ReadLinkFS); !ok {
			return nil, fmt.Errorf("source directory %s: %w", url, ErrSymlinksUnlisted)
		}
		err := fs.WalkDir(root, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if p == dir {
				return nil
			}
			rel := strings.TrimPrefix(p, dir+"/")
			if dir == "." {
				rel = p
			}
			if _, ok := links[rel]; ok || shadowed[rel] {
				return nil
			}
			if d.Type()&fs.ModeSymlink == 0 {
				shadowed[rel] = true
				return nil
			}
			target, err := fs.ReadLink(root, p)
			if err != nil {
				return fmt.Errorf("read symlink %s: %w", p, err)
			}
			links[rel] = target
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("source directory %s: %w", url, err)
		}
	}
	return links, nil
}
