package layering

import (
	"bufio"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// above are the top-level directories of the module that pkg/ sits below.
var above = []string{"states", "master", "minion", "modules", "cmd"}

// violation is one import of a higher layer by a file under pkg/.
type violation struct {
	File   string // slash-separated, relative to the module root
	Import string
}

func (v violation) String() string { return v.File + " imports " + v.Import }

// checkPkg parses the imports of every Go file under root/pkg, test files
// and files of every build constraint included, testdata directories
// skipped (as the go command skips them), and returns the imports of the
// packages above pkg/ of module, with the files read (relative to root).
func checkPkg(root, module string) ([]violation, []string, error) {
	var out []violation
	var files []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join(root, "pkg"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == "testdata" || (path != filepath.Join(root, "pkg") && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return fmt.Errorf("read the imports of %s: %w", path, err)
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		for _, is := range f.Imports {
			imp, err := strconv.Unquote(is.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: import %s: %w", path, is.Path.Value, err)
			}
			for _, top := range above {
				if p := module + "/" + top; imp == p || strings.HasPrefix(imp, p+"/") {
					out = append(out, violation{File: filepath.ToSlash(rel), Import: imp})
				}
			}
		}
		return nil
	})
	return out, files, err
}

// modulePath reads the module path from root/go.mod.
func modulePath(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("read the module path: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	if err := s.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return "", errors.New(f.Name() + " has no module line")
}

// TestPkgImportsNothingAbove is the rule itself, on brine's own tree.
func TestPkgImportsNothingAbove(t *testing.T) {
	root := filepath.Join("..", "..")
	module, err := modulePath(root)
	if err != nil {
		t.Fatal(err)
	}
	if module != "github.com/brinecm/brine" {
		t.Fatalf("module root %s holds %s, not brine", root, module)
	}
	vs, files, err := checkPkg(root, module)
	if err != nil {
		t.Fatal(err)
	}
	// A walk that missed these looked in the wrong place and proved nothing.
	for _, f := range []string{"pkg/layering/layering_test.go", "pkg/output/output.go", "pkg/dockerx/dockertest/dockertest.go"} {
		if !slices.Contains(files, f) {
			t.Fatalf("the walk of %s/pkg did not read %s (read %d files)", root, f, len(files))
		}
	}
	for _, v := range vs {
		t.Errorf("%s: a library under pkg/ must not import %s; move what it needs into a package under pkg/ (as pkg/result holds the state results) or move the code that needs it up beside its users",
			v, strings.Join(above, ", "))
	}
}

// TestCheckFindsViolations runs the check on a fixture tree with one
// import of each kind it must report and some it must let through.
func TestCheckFindsViolations(t *testing.T) {
	root := filepath.Join("testdata", "tree")
	module, err := modulePath(root)
	if err != nil {
		t.Fatal(err)
	}
	got, files, err := checkPkg(root, module)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file, imp string
		want      bool
	}{
		{"pkg/out/out.go", "example.com/fixture/states", true},
		{"pkg/out/out_test.go", "example.com/fixture/modules/all", true},
		{"pkg/out/out_x_test.go", "example.com/fixture/master", true},
		{"pkg/deep/er/er.go", "example.com/fixture/cmd/tool", true},
		{"pkg/deep/er/er_windows.go", "example.com/fixture/minion", true},
		{"pkg/ok/ok.go", "example.com/fixture/pkg/out", false},
		{"pkg/ok/ok.go", "example.com/fixture/statesx", false},
		{"pkg/ok/ok.go", "example.org/other/states", false},
		{"pkg/ok/testdata/t.go", "example.com/fixture/states", false},
	}
	reported := 0
	for _, tt := range tests {
		has := slices.Contains(got, violation{File: tt.file, Import: tt.imp})
		if has != tt.want {
			t.Errorf("%s importing %s: reported=%v, want %v", tt.file, tt.imp, has, tt.want)
		}
		if tt.want {
			reported++
		}
	}
	if len(got) != reported {
		t.Errorf("reported %v, want exactly the %d violations above", got, reported)
	}
	wantFiles := []string{"pkg/deep/er/er.go", "pkg/deep/er/er_windows.go", "pkg/ok/ok.go", "pkg/out/out.go", "pkg/out/out_test.go", "pkg/out/out_x_test.go"}
	if !slices.Equal(files, wantFiles) {
		t.Errorf("read %v, want every Go file outside testdata: %v", files, wantFiles)
	}
}
