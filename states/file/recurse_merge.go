package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/states"
)

// symlinkLister lists the symlinks below a directory of the state tree
// (file.recurse's keep_symlinks).
type symlinkLister interface {
	SourceSymlinks(ctx context.Context, url string) (map[string]string, error)
}

// treeEntry is what file.recurse lays down at a path below its name: a
// file from url, an empty directory, or a symlink to link.
type treeEntry struct {
	env      states.Env // the state tree url is read from
	url      string
	emptyDir bool
	isLink   bool
	link     string
}

// treeEntries maps paths relative to a source directory ('/'-separated)
// to what is there.
type treeEntries map[string]treeEntry

// maxLinkDepth bounds how many symlinks file.recurse follows in a row.
const maxLinkDepth = 40

// recurseEntries lists what file.recurse lays down: the first source that
// exists or, with merge, all of them, an earlier source winning where two
// differ (also a file over a directory, and the other way round). Each
// source is read from env's state tree, or the environment its
// ?saltenv= names. Symlinks of the tree are copied as links with
// keep_symlinks, else what they point at is copied. found is false when
// no source exists.
func recurseEntries(ctx context.Context, env states.Env, a *RecurseArgs) (merged treeEntries, found bool, fail string) {
	merged = treeEntries{}
	raws := map[string]treeEntries{} // each link's own source, to judge the link
	linkSource := map[string]string{}
	for _, s := range a.Source {
		if !strings.HasPrefix(s, "salt://") && !strings.HasPrefix(s, "brine://") {
			return nil, false, fmt.Sprintf("Invalid source %q: file.recurse takes salt:// directories", s)
		}
		u, srcEnv := cutSaltenv(s, env)
		lister, ok := srcEnv.(sourceLister)
		if !ok {
			return nil, false, fmt.Sprintf("Unable to list %s: its environment's state tree cannot list directories", s)
		}
		links, _ := lister.(symlinkLister)
		if a.KeepSymlinks && links == nil {
			return nil, false, "keep_symlinks needs a state tree that can list symlinks (apply it with brine call --local)"
		}
		raw, err := listTree(ctx, lister, links, strings.TrimRight(u, "/"), "", a.KeepSymlinks, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Sprintf("Unable to list %s: %v", s, err)
		}
		for rel, e := range raw {
			e.env = srcEnv
			raw[rel] = e
		}
		found = true
		earlier := merged.clone()
		earlierDirs := earlier.dirs()
		for rel, e := range raw {
			if e.emptyDir && !a.IncludeEmpty {
				continue
			}
			if earlier.blocks(rel, e, earlierDirs) {
				continue
			}
			merged[rel] = e
			if e.isLink {
				raws[rel], linkSource[rel] = raw, s
			}
		}
		if !a.Merge {
			break
		}
	}
	// A kept link must point at what it pointed at in its own source: a
	// link to a directory that the merge made a file (or left out, an
	// empty one without include_empty) goes, and with it links to it. A
	// link to nothing in its source is kept as it is.
	rawDirs := map[string]map[string]bool{}
	for changed := true; changed; {
		changed = false
		mergedDirs := merged.dirs()
		for rel, e := range merged {
			if !e.isLink {
				continue
			}
			target, inTree := treeLinkTarget(rel, e.link)
			if !inTree {
				continue
			}
			src := linkSource[rel]
			if rawDirs[src] == nil {
				rawDirs[src] = raws[rel].dirs()
			}
			want := raws[rel].kind(target, rawDirs[src], 0)
			if want != "" && merged.kind(target, mergedDirs, 0) != want {
				delete(merged, rel)
				changed = true
			}
		}
	}
	return merged, found, ""
}

// listTree lists the source directory url into entries below prefix. A
// symlink is an entry of its own with keep, else what it points at is
// listed (a directory's files, or the file).
func listTree(ctx context.Context, lister sourceLister, links symlinkLister, url, prefix string, keep bool, depth int) (treeEntries, error) {
	if depth > maxLinkDepth {
		return nil, fmt.Errorf("%s: more than %d symlinks in a row (a loop?)", url, maxLinkDepth)
	}
	list, err := lister.SourceList(ctx, url)
	if err != nil {
		return nil, err
	}
	var symlinks map[string]string
	if links != nil {
		symlinks, err = links.SourceSymlinks(ctx, url)
		// A tree that cannot list its links lists them followed, which is
		// what recurse copies without keep_symlinks.
		if err != nil && (keep || !errors.Is(err, sls.ErrSymlinksUnlisted)) {
			return nil, err
		}
	}
	out := treeEntries{}
	for _, rel := range list {
		if d, ok := strings.CutSuffix(rel, "/"); ok {
			out[prefix+d] = treeEntry{emptyDir: true}
			continue
		}
		target, isLink := symlinks[rel]
		switch {
		case isLink && keep:
			out[prefix+rel] = treeEntry{isLink: true, link: target}
		case isLink:
			sub, err := listTree(ctx, lister, links, treeURL(url)+"/"+rel, prefix+rel+"/", keep, depth+1)
			switch {
			case err == nil:
				for k, v := range sub {
					out[k] = v
				}
			case errors.Is(err, fs.ErrNotExist):
				// A link to a file (or to nothing: reading it fails
				// with the source's name).
				out[prefix+rel] = treeEntry{url: treeURL(url) + "/" + rel}
			default:
				return nil, err
			}
		default:
			out[prefix+rel] = treeEntry{url: treeURL(url) + "/" + rel}
		}
	}
	return out, nil
}

func (t treeEntries) clone() treeEntries {
	out := make(treeEntries, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

// dirs is the set of directories t implies: the parents of its entries,
// and its empty directories.
func (t treeEntries) dirs() map[string]bool {
	out := map[string]bool{}
	for rel, e := range t {
		if e.emptyDir {
			out[rel] = true
		}
		for d := path.Dir(rel); d != "." && !out[d]; d = path.Dir(d) {
			out[d] = true
		}
	}
	return out
}

// blocks reports whether what an earlier source put in t (with dirs, its
// directories) keeps e at rel out: anything at rel itself (an empty
// directory lets only what goes below it through), a file or link where
// a parent directory of rel would be, or, for a file or link, anything
// below rel.
func (t treeEntries) blocks(rel string, e treeEntry, dirs map[string]bool) bool {
	if old, ok := t[rel]; ok && !(old.emptyDir && e.emptyDir) {
		return true
	}
	for d := path.Dir(rel); d != "."; d = path.Dir(d) {
		if old, ok := t[d]; ok && !old.emptyDir {
			return true
		}
	}
	return !e.emptyDir && dirs[rel]
}

// kind is what is at rel: "file", "dir" or "" (nothing), following links;
// dirs is t.dirs().
func (t treeEntries) kind(rel string, dirs map[string]bool, depth int) string {
	if e, ok := t[rel]; ok {
		switch {
		case e.emptyDir:
			return "dir"
		case !e.isLink:
			return "file"
		}
		target, inTree := treeLinkTarget(rel, e.link)
		if !inTree || depth > maxLinkDepth {
			return ""
		}
		return t.kind(target, dirs, depth+1)
	}
	if dirs[rel] {
		return "dir"
	}
	return ""
}

// treeLinkTarget is where the link at rel points, relative to the source
// directory; inTree is false when it points outside it.
func treeLinkTarget(rel, target string) (string, bool) {
	if path.IsAbs(target) {
		return "", false
	}
	t := path.Join(path.Dir(rel), target)
	if t == ".." || strings.HasPrefix(t, "../") || t == "." {
		return "", false
	}
	return t, true
}
