package saltcheck

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/pkg/sls"
)

// testDir is the directory of an SLS's tests, as in Salt.
const testDir = "saltcheck-tests"

// tstFile is a test file found in the state tree.
type tstFile struct {
	rel  string // path in the state tree: "web/saltcheck-tests/init.tst"
	path string // path on disk
}

// namedTest is one test of a file, in file order.
type namedTest struct {
	id   string
	raw  any
	line int // of the test ID in the rendered file
}

// candidates are the test files Salt reads for the SLS called name: for
// "web", web/saltcheck-tests/init.tst and web.tst; for "web.nginx" also
// web/nginx/saltcheck-tests/init.tst and web/saltcheck-tests/nginx.tst.
func candidates(name string) []string {
	parts := strings.Split(name, ".")
	last := parts[len(parts)-1]
	var middle []string
	if len(parts) > 2 {
		middle = parts[1 : len(parts)-1]
	}
	out := []string{
		path.Join(path.Join(parts...), testDir, "init.tst"),
		path.Join(path.Join(parts[:len(parts)-1]...), testDir, last+".tst"),
		path.Join(parts[0], testDir, path.Join(middle...), last+".tst"),
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// testDirs are the directories whose every .tst file check_all reads.
func testDirs(name string) []string {
	parts := strings.Split(name, ".")
	out := []string{
		path.Join(path.Join(parts...), testDir),
		path.Join(path.Join(parts[:len(parts)-1]...), testDir),
		path.Join(parts[0], testDir),
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// findTests lists the test files of the SLS names, from the first file
// root that has each path, sorted by path and without duplicates.
func findTests(roots, names []string, all bool) ([]tstFile, error) {
	var rels []string
	for _, name := range names {
		if !all {
			rels = append(rels, candidates(name)...)
			continue
		}
		for _, dir := range testDirs(name) {
			for _, root := range roots {
				entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(dir)))
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("list tests of %s: %w", name, err)
				}
				for _, e := range entries {
					if !e.IsDir() && strings.HasSuffix(e.Name(), ".tst") {
						rels = append(rels, path.Join(dir, e.Name()))
					}
				}
			}
		}
	}
	slices.Sort(rels)
	rels = slices.Compact(rels)
	var out []tstFile
	for _, rel := range rels {
		for _, root := range roots {
			p := filepath.Join(root, filepath.FromSlash(rel))
			fi, err := os.Stat(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("find test file %s: %w", rel, err)
			}
			if fi.Mode().IsRegular() {
				out = append(out, tstFile{rel: rel, path: p})
				break
			}
		}
	}
	return out, nil
}

// slsExists reports whether a file root holds the SLS called name.
func slsExists(roots []string, name string) bool {
	base := filepath.FromSlash(strings.ReplaceAll(name, ".", "/"))
	for _, root := range roots {
		for _, f := range []string{base + ".sls", filepath.Join(base, "init.sls")} {
			if fi, err := os.Stat(filepath.Join(root, f)); err == nil && fi.Mode().IsRegular() {
				return true
			}
		}
	}
	return false
}

// maxTstBytes bounds a test file, as recipes are bounded.
const maxTstBytes = 4 << 20

// loadFile renders a test file through Jinja, as an SLS is, and reads its
// tests in file order. A file that is not valid YAML is an error naming
// the file and line.
func loadFile(ctx context.Context, c *sls.Compiler, f tstFile) ([]namedTest, error) {
	fi, err := os.Stat(f.path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.rel, err)
	}
	if fi.Size() > maxTstBytes {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit for a test file: split it", f.rel, fi.Size(), maxTstBytes)
	}
	src, err := os.ReadFile(f.path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.rel, err)
	}
	out, err := c.Render(ctx, "jinja", f.rel, src, nil)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(out, &doc); err != nil {
		return nil, yamlError(f.rel, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: a test file is a mapping of test IDs to tests, not a %s", f.rel, root.Line, kindName(root))
	}
	var tests []namedTest
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if line, dup := seen[k.Value]; dup {
			return nil, fmt.Errorf("%s:%d: test ID '%s' is already defined on line %d: test IDs must be unique", f.rel, k.Line, k.Value, line)
		}
		seen[k.Value] = k.Line
		var raw any
		if err := v.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s:%d: test %s: %w", f.rel, v.Line, k.Value, err)
		}
		tests = append(tests, namedTest{id: k.Value, raw: raw, line: k.Line})
	}
	return tests, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a YAML parse error into "file:line: message".
func yamlError(file string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return fmt.Errorf("%s:%d: not valid YAML (after Jinja): %s", file, line, m[2])
	}
	return fmt.Errorf("%s: not valid YAML (after Jinja): %s", file, strings.TrimPrefix(msg, "yaml: "))
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}
