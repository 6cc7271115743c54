package file

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/states"
)

// treeLink is a symlink in a test tree, to its target as written.
type treeLink string

// layTree creates tree below dir: a string is a file's contents, a
// mapping a directory (an empty one stays empty), a treeLink a symlink.
func layTree(t *testing.T, dir string, tree map[string]any) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range tree {
		p := filepath.Join(dir, name)
		switch x := v.(type) {
		case string:
			write(t, p, x, 0o644)
		case map[string]any:
			layTree(t, p, x)
		case treeLink:
			if err := os.Symlink(string(x), p); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("tree %s: %T", p, v)
		}
	}
}

// deepCopy copies a test tree (Python's copy.deepcopy of the fixture).
func deepCopy(tree map[string]any) map[string]any {
	out := maps.Clone(tree)
	for k, v := range out {
		if m, ok := v.(map[string]any); ok {
			out[k] = deepCopy(m)
		}
	}
	return out
}

// recurseMergeTrees are the source trees of Salt's test_recurse_merge
// fixture (_recurse_merge_dirs), each with a copy of itself under
// "nested".
func recurseMergeTrees() (base, override map[string]any) {
	base = map[string]any{
		"file_from_base":  "base",
		"overridden_file": "foo",
		"common":          map[string]any{"file_from_base": "base", "overridden_file": "foo"},
		"base":            map[string]any{"present": ""},
		"empty": map[string]any{
			"in_base": map[string]any{}, "common": map[string]any{}, "override": map[string]any{},
			"override_file": "",
			"nested_in_base_only": map[string]any{
				"worked": map[string]any{}, "nonempty": map[string]any{"file": ""},
			},
		},
		"deeply":                                  "not_rendered",
		"file_overridden_by_dir":                  "file",
		"dir_overridden_by_file":                  map[string]any{"file_in_dir": ""},
		"symlinked_dir":                           treeLink("symlink_target_dir"),
		"symlinked_file":                          treeLink("symlink_target_file"),
		"symlink_target_dir":                      map[string]any{"file_in_symlink_target": ""},
		"symlink_target_file":                     "",
		"symlink_dir_overridden_by_file":          treeLink("symlink_target_dir"),
		"symlink_dir_overridden_by_dir":           treeLink("symlink_target_dir"),
		"symlink_file_overridden_by_dir":          treeLink("symlink_target_file"),
		"symlink_file_overridden_by_file":         treeLink("symlink_target_file"),
		"dir_overridden_by_symlink_dir":           map[string]any{"file_in_dir_overridden_by_symlink_dir": ""},
		"dir_overridden_by_symlink_file":          map[string]any{"file_in_dir_overridden_by_symlink_file": ""},
		"file_overridden_by_symlink_dir":          "",
		"file_overridden_by_symlink_file":         "",
		"symlink_file_overridden_by_symlink_file": treeLink("symlink_target_file"),
		"symlink_file_overridden_by_symlink_dir":  treeLink("symlink_target_file"),
		"symlink_dir_overridden_by_symlink_file":  treeLink("symlink_target_dir"),
		"symlink_dir_overridden_by_symlink_dir":   treeLink("symlink_target_dir"),
		"symlink_target_dir_overridden_by_file":   treeLink("starget_dir_overridden_by_file"),
		"starget_dir_overridden_by_file":          map[string]any{"file_in_starget_dir_overridden_by_file": ""},
		"symlink_target_dir_overridden_by_dir":    treeLink("starget_dir_overridden_by_dir"),
		"starget_dir_overridden_by_dir":           map[string]any{"file_in_starget_dir_overridden_by_dir": ""},
		"symlink_target_file_overridden_by_dir":   treeLink("starget_file_overridden_by_dir"),
		"starget_file_overridden_by_dir":          "",
		"symlink_target_file_overridden_by_file":  treeLink("starget_file_overridden_by_file"),
		"starget_file_overridden_by_file":         "",
	}
	base["nested"] = deepCopy(base)
	override = map[string]any{
		"file_from_override": "override",
		"overridden_file":    "quux",
		"common":             map[string]any{"file_from_override": "override", "overridden_file": "quux"},
		"empty": map[string]any{
			"in_override": map[string]any{}, "common": map[string]any{},
			"override_dir": "", "override_file": map[string]any{},
			"nested_in_base_only": map[string]any{},
			"symlinked":           map[string]any{"dir": map[string]any{}},
		},
		"empty_symlinked_dir":                     treeLink("empty/symlinked"),
		"empty_symlinked_dir_2":                   treeLink("empty_symlinked_dir"),
		"deeply":                                  map[string]any{"nested": map[string]any{"path": map[string]any{"overrides_file": "success"}}},
		"override":                                map[string]any{"present": ""},
		"file_overridden_by_dir":                  map[string]any{"file_in_overriding_dir": "success"},
		"dir_overridden_by_file":                  "success",
		"symlink_dir_overridden_by_dir":           map[string]any{"file_in_dir_overriding_symlink_dir": "success"},
		"symlink_dir_overridden_by_file":          "success",
		"symlink_file_overridden_by_file":         "success",
		"symlink_file_overridden_by_dir":          map[string]any{"file_in_dir_overriding_symlink_file": "success"},
		"other_symlink_target_dir":                map[string]any{"other_file_in_symlink_target": "success"},
		"other_symlink_target_file":               "success",
		"dir_overridden_by_symlink_dir":           treeLink("other_symlink_target_dir"),
		"dir_overridden_by_symlink_file":          treeLink("other_symlink_target_file"),
		"file_overridden_by_symlink_dir":          treeLink("other_symlink_target_dir"),
		"file_overridden_by_symlink_file":         treeLink("other_symlink_target_file"),
		"symlink_file_overridden_by_symlink_file": treeLink("other_symlink_target_file"),
		"symlink_file_overridden_by_symlink_dir":  treeLink("other_symlink_target_dir"),
		"symlink_dir_overridden_by_symlink_file":  treeLink("other_symlink_target_file"),
		"symlink_dir_overridden_by_symlink_dir":   treeLink("other_symlink_target_dir"),
		"starget_dir_overridden_by_file":          "success",
		"starget_dir_overridden_by_dir":           map[string]any{"other_file_in_starget_dir_overridden_by_dir": ""},
		"starget_file_overridden_by_dir":          map[string]any{"file_in_starget_file_overridden_by_dir": "success"},
		"starget_file_overridden_by_file":         "success",
	}
	override["nested"] = deepCopy(override)
	return base, override
}

// runRecurse applies file.recurse to name from the state tree at tree.
func runRecurse(t *testing.T, tree, name string, args map[string]any) states.Outcome {
	t.Helper()
	e, ok := states.Lookup("file.recurse")
	if !ok {
		t.Fatal("file.recurse is not registered")
	}
	decoded, err := e.Decode(args)
	if err != nil {
		t.Fatalf("arguments: %v", err)
	}
	comp := sls.New(sls.Config{FileRoots: []string{tree}, ID: "minion1"})
	return e.Apply(context.Background(), &states.Call{ID: name, Name: name, SLS: "replay", Env: comp}, decoded)
}

// fsCheck is what Salt's tests ask of a path (pathlib's is_file, is_dir,
// is_symlink, exists, read_text).
type fsCheck struct {
	t *testing.T
}

func (c fsCheck) isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func (c fsCheck) isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func (c fsCheck) isSymlink(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode()&os.ModeSymlink != 0
}

func (c fsCheck) exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (c fsCheck) read(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		c.t.Errorf("%v", err)
	}
	return string(b)
}

func (c fsCheck) want(what string, got, want bool) {
	c.t.Helper()
	if got != want {
		c.t.Errorf("%s: %v, want %v", what, got, want)
	}
}

// replayRecurseMerge replays Salt's test_recurse_merge (all four
// parameter sets: keep_symlinks and include_empty, each False and True)
// with its assertions. Salt takes the overriding tree from the prod
// saltenv (salt://override?saltenv=prod); here both trees are in base,
// as salt://override and salt://base.
func replayRecurseMerge(t *testing.T) {
	base, override := recurseMergeTrees()
	for _, keep := range []bool{false, true} {
		for _, empty := range []bool{false, true} {
			t.Run(map[bool]string{false: "keep_symlinks=False", true: "keep_symlinks=True"}[keep]+"-"+
				map[bool]string{false: "include_empty=False", true: "include_empty=True"}[empty], func(t *testing.T) {
				tree, dir := t.TempDir(), t.TempDir()
				layTree(t, filepath.Join(tree, "base"), base)
				layTree(t, filepath.Join(tree, "override"), override)
				tgt := filepath.Join(dir, "target")
				o := runRecurse(t, tree, tgt, map[string]any{"source": []any{"salt://override", "salt://base"},
					"merge": true, "keep_symlinks": keep, "include_empty": empty})
				if o.Result == nil || !*o.Result {
					t.Fatalf("result %v: %s", states.ResultString(o.Result), o.Comment)
				}
				c := fsCheck{t}
				c.want("target is a directory", c.isDir(tgt), true)
				for _, b := range []string{tgt, filepath.Join(tgt, "nested")} {
					at := func(p ...string) string { return filepath.Join(append([]string{b}, p...)...) }
					for _, d := range []string{"override", "base"} {
						c.want(at(d, "present")+" exists", c.exists(at(d, "present")), true)
					}
					for _, shared := range []string{b, at("common")} {
						for _, suffix := range []string{"override", "base"} {
							f := filepath.Join(shared, "file_from_"+suffix)
							c.want(f+" is a file", c.isFile(f), true)
							if got := c.read(f); got != suffix {
								t.Errorf("%s holds %q, want %q", f, got, suffix)
							}
						}
						f := filepath.Join(shared, "overridden_file")
						if got := c.read(f); got != "quux" {
							t.Errorf("%s holds %q, want quux", f, got)
						}
					}
					for _, p := range [][]string{{"file_overridden_by_dir", "file_in_overriding_dir"}, {"dir_overridden_by_file"}} {
						c.want(at(p...)+" is a file", c.isFile(at(p...)), true)
						if got := c.read(at(p...)); got != "success" {
							t.Errorf("%s holds %q, want success", at(p...), got)
						}
					}
					c.want("deeply/nested/path/overrides_file exists", c.exists(at("deeply", "nested", "path", "overrides_file")), true)
					for _, d := range []string{"in_base", "in_override", "common"} {
						c.want("empty/"+d+" is a directory", c.isDir(at("empty", d)), empty)
					}
					c.want("empty/override_dir is a file", c.isFile(at("empty", "override_dir")), true)
					c.want("empty/override_file is a directory", c.isDir(at("empty", "override_file")), empty)
					c.want("empty/nested_in_base_only/worked is a directory", c.isDir(at("empty", "nested_in_base_only", "worked")), empty)
					c.want("empty/nested_in_base_only/nonempty/file is a file", c.isFile(at("empty", "nested_in_base_only", "nonempty", "file")), true)

					c.want("symlinked_dir is a symlink", c.isSymlink(at("symlinked_dir")), keep)
					c.want("symlinked_dir is a directory", c.isDir(at("symlinked_dir")), true)
					c.want("symlink_target_dir is a directory", c.isDir(at("symlink_target_dir")), true)
					for _, l := range []string{"empty_symlinked_dir", "empty_symlinked_dir_2"} {
						c.want(l+" exists", c.exists(at(l)), empty)
						c.want(l+" is a directory", c.isDir(at(l)), empty)
						c.want(l+" is a symlink", c.isSymlink(at(l)), empty && keep)
					}
					for _, l := range []string{"symlink_dir_overridden_by_file", "symlink_dir_overridden_by_dir",
						"symlink_file_overridden_by_file", "symlink_file_overridden_by_dir"} {
						c.want(l+" is a symlink", c.isSymlink(at(l)), false)
						f := at(l)
						if !strings.HasSuffix(l, "file") {
							f = at(l, "file_in_dir_overriding_"+strings.SplitN(l, "_overridden", 2)[0])
						}
						if got := c.read(f); got != "success" {
							t.Errorf("%s holds %q, want success", f, got)
						}
					}
					for _, l := range []string{"dir_overridden_by_symlink_dir", "dir_overridden_by_symlink_file",
						"file_overridden_by_symlink_dir", "file_overridden_by_symlink_file",
						"symlink_dir_overridden_by_symlink_dir", "symlink_dir_overridden_by_symlink_file",
						"symlink_file_overridden_by_symlink_dir", "symlink_file_overridden_by_symlink_file"} {
						c.want(l+" is a symlink", c.isSymlink(at(l)), keep)
						f := at(l)
						if !strings.HasSuffix(l, "file") {
							f = at(l, "other_file_in_symlink_target")
						}
						if got := c.read(f); got != "success" {
							t.Errorf("%s holds %q, want success", f, got)
						}
					}
					c.want("symlink_dir_overridden_by_dir/file_in_symlink_target exists",
						c.exists(at("symlink_dir_overridden_by_dir", "file_in_symlink_target")), !keep)
					c.want("symlink_dir_overridden_by_symlink_dir/file_in_symlink_target exists",
						c.exists(at("symlink_dir_overridden_by_symlink_dir", "file_in_symlink_target")), !keep)
					c.want("dir_overridden_by_symlink_dir/file_in_dir_overridden_by_symlink_dir exists",
						c.exists(at("dir_overridden_by_symlink_dir", "file_in_dir_overridden_by_symlink_dir")), !keep)

					c.want("symlink_target_file_overridden_by_file exists", c.exists(at("symlink_target_file_overridden_by_file")), true)
					c.want("symlink_target_file_overridden_by_file is a symlink", c.isSymlink(at("symlink_target_file_overridden_by_file")), keep)
					c.want("symlink_target_file_overridden_by_file holds success", c.read(at("symlink_target_file_overridden_by_file")) == "success", keep)
					c.want("symlink_target_dir_overridden_by_dir is a symlink", c.isSymlink(at("symlink_target_dir_overridden_by_dir")), keep)
					c.want("symlink_target_dir_overridden_by_dir is a directory", c.isDir(at("symlink_target_dir_overridden_by_dir")), true)

					c.want("symlink_target_dir_overridden_by_file is a symlink", c.isSymlink(at("symlink_target_dir_overridden_by_file")), false)
					c.want("symlink_target_dir_overridden_by_file exists", c.exists(at("symlink_target_dir_overridden_by_file")), !keep)
					c.want("symlink_target_dir_overridden_by_file is a directory", c.isDir(at("symlink_target_dir_overridden_by_file")), !keep)
					c.want("symlink_target_file_overridden_by_dir is a symlink", c.isSymlink(at("symlink_target_file_overridden_by_dir")), false)
					c.want("symlink_target_file_overridden_by_dir exists", c.exists(at("symlink_target_file_overridden_by_dir")), !keep)
					c.want("symlink_target_file_overridden_by_dir is a file", c.isFile(at("symlink_target_file_overridden_by_dir")), !keep)
				}

				// Run again: nothing left to change.
				o = runRecurse(t, tree, tgt, map[string]any{"source": []any{"salt://override", "salt://base"},
					"merge": true, "keep_symlinks": keep, "include_empty": empty})
				if o.Result == nil || !*o.Result || o.Changed() {
					t.Errorf("second run: result %s, changes %v (%s)", states.ResultString(o.Result), o.Changes, o.Comment)
				}
			})
		}
	}
}

// replayRecurseBrokenLinks replays Salt's
// test_recurse_merge_keep_symlinks_broken_symlinks_are_kept (both
// include_empty values): with keep_symlinks, broken links are copied.
func replayRecurseBrokenLinks(t *testing.T) {
	for _, empty := range []bool{false, true} {
		t.Run(map[bool]string{false: "include_empty=False", true: "include_empty=True"}[empty], func(t *testing.T) {
			tree, dir := t.TempDir(), t.TempDir()
			layTree(t, tree, map[string]any{
				"base":     map[string]any{"foo": map[string]any{"random_file": "", "broken_link": treeLink("../nonexistent")}},
				"override": map[string]any{"other_broken_link": treeLink("42")},
			})
			tgt := filepath.Join(dir, "target")
			o := runRecurse(t, tree, tgt, map[string]any{"source": []any{"salt://override", "salt://base"},
				"merge": true, "keep_symlinks": true, "include_empty": empty})
			if o.Result == nil || !*o.Result {
				t.Fatalf("result %v: %s", states.ResultString(o.Result), o.Comment)
			}
			c := fsCheck{t}
			c.want("foo/broken_link is a symlink", c.isSymlink(filepath.Join(tgt, "foo", "broken_link")), true)
			c.want("foo/random_file is a file", c.isFile(filepath.Join(tgt, "foo", "random_file")), true)
			c.want("other_broken_link is a symlink", c.isSymlink(filepath.Join(tgt, "other_broken_link")), true)
		})
	}
}
