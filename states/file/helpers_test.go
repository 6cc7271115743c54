package file

import (
	"crypto/sha256"
	"fmt"
	"github.com/brinecm/brine/pkg/systest"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

// backupDir is where backup: minion writes during the tests (set by TestMain).
var backupDir string

// env is the run environment the state functions get in the tests: the
// real compiler over testdata/tree (salt:// sources, Jinja templates) and
// testdata/pillar, with the backups in a temporary directory.
var env *sls.Compiler

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "brine-file-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	backupDir = filepath.Join(dir, "file_backup")
	env = sls.New(sls.Config{FileRoots: []string{"testdata/tree"}, PillarRoots: []string{"testdata/pillar"},
		ID: "minion1", Grains: map[string]any{"id": "minion1"}, Opts: map[string]any{"file_backup_dir": backupDir}})
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// apply decodes raw and runs the state function fun on name.
func apply(t testing.TB, fun, name string, raw map[string]any, test bool, required ...string) states.Outcome {
	t.Helper()
	return statetest.Apply(t, fun, raw, &states.Call{ID: "id", Name: name, Test: test, Env: env, Required: required})
}

// snapshot describes every entry below dir: type, owner, mode, link
// target and a hash of the contents.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v %d:%d %o", fi.Mode().Type(), st.Uid, st.Gid, st.Mode&07777)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(path)
			desc += " -> " + target
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		out[path] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return out
}

// requireRoot skips ownership tests when not root, unless
// BRINE_REQUIRE_SYSTEM=1 asks for them to fail instead.
func requireRoot(t *testing.T) {
	t.Helper()
	systest.RequireRoot(t)
}

// stateCase is one state call checked four ways: in test mode (nothing
// on disk changes), applied, checked on disk, and applied again (nothing
// left to change).
type stateCase struct {
	name     string
	root     bool                         // needs root (ownership)
	setup    func(t *testing.T, d string) // prepares the tree in d
	fun      string
	target   string                        // relative to the tree; "" is the tree itself
	args     func(d string) map[string]any // arguments; d is the tree
	required []string                      // relative to the tree

	result  string         // "true", "false" (applied)
	testRes string         // "null", "true", "false" in test mode
	comment string         // applied; $N is the name, $D the tree
	testCmt string         // test mode; "" skips the check
	changes map[string]any // applied; $N and $D are expanded in keys and string values
	check   func(t *testing.T, d string)
}

func (sc stateCase) run(t *testing.T) {
	if sc.root {
		requireRoot(t)
	}
	prepare := func() (string, string) {
		d := t.TempDir()
		if sc.setup != nil {
			sc.setup(t, d)
		}
		name := sc.target
		if !filepath.IsAbs(name) && !strings.HasPrefix(name, "rel:") {
			name = filepath.Join(d, name)
		}
		name = strings.TrimPrefix(name, "rel:")
		return d, name
	}
	args := func(d string) map[string]any {
		if sc.args == nil {
			return nil
		}
		return sc.args(d)
	}
	required := func(d string) []string {
		var out []string
		for _, r := range sc.required {
			out = append(out, filepath.Join(d, r))
		}
		return out
	}
	expand := func(s, d, name string) string {
		return strings.NewReplacer("$N", name, "$D", d).Replace(s)
	}

	t.Run("test mode", func(t *testing.T) {
		d, name := prepare()
		before := snapshot(t, d)
		o := apply(t, sc.fun, name, args(d), true, required(d)...)
		if got := resultString(o.Result); got != sc.testRes {
			t.Errorf("result = %s, want %s (comment %q)", got, sc.testRes, o.Comment)
		}
		if sc.testCmt != "" && o.Comment != expand(sc.testCmt, d, name) {
			t.Errorf("comment = %q, want %q", o.Comment, expand(sc.testCmt, d, name))
		}
		if sc.testRes == "null" && !o.Changed() {
			t.Error("a test-mode change reports no changes")
		}
		if after := snapshot(t, d); !reflect.DeepEqual(before, after) {
			t.Errorf("test mode changed the tree:\nbefore %v\nafter  %v", before, after)
		}
	})
	t.Run("apply", func(t *testing.T) {
		d, name := prepare()
		o := apply(t, sc.fun, name, args(d), false, required(d)...)
		if got := resultString(o.Result); got != sc.result {
			t.Fatalf("result = %s, want %s (comment %q)", got, sc.result, o.Comment)
		}
		if want := expand(sc.comment, d, name); o.Comment != want {
			t.Errorf("comment = %q, want %q", o.Comment, want)
		}
		if want := expandChanges(sc.changes, func(s string) string { return expand(s, d, name) }); !reflect.DeepEqual(o.Changes, want) &&
			(len(o.Changes) != 0 || len(want) != 0) {
			t.Errorf("changes = %#v\nwant      %#v", o.Changes, want)
		}
		if sc.check != nil {
			sc.check(t, d)
		}
		if sc.result != "true" {
			return
		}
		before := snapshot(t, d)
		again := apply(t, sc.fun, name, args(d), false, required(d)...)
		if !again.OK() || again.Changed() {
			t.Errorf("second run is not idempotent: %s %q %v", resultString(again.Result), again.Comment, again.Changes)
		}
		if after := snapshot(t, d); !reflect.DeepEqual(before, after) {
			t.Errorf("second run changed the tree:\nbefore %v\nafter  %v", before, after)
		}
		test := apply(t, sc.fun, name, args(d), true, required(d)...)
		if test.Result == nil || test.Changed() {
			t.Errorf("test mode after apply still sees changes: %q %v", test.Comment, test.Changes)
		}
	})
}

func expandChanges(m map[string]any, f func(string) string) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			v = f(x)
		case map[string]any:
			v = expandChanges(x, f)
		case []string:
			l := make([]string, len(x))
			for i, s := range x {
				l[i] = f(s)
			}
			v = l
		}
		out[f(k)] = v
	}
	return out
}

func resultString(r *bool) string {
	switch {
	case r == nil:
		return "null"
	case *r:
		return "true"
	}
	return "false"
}

func write(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func wantFile(t *testing.T, path, data string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != data {
		t.Errorf("%s = %q, want %q", path, b, data)
	}
}

func wantMode(t *testing.T, path string, mode uint32) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Sys().(*syscall.Stat_t).Mode & 07777; got != mode {
		t.Errorf("%s mode = %04o, want %04o", path, got, mode)
	}
}

func wantOwner(t *testing.T, path string, uid, gid int) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s owner = %d:%d, want %d:%d", path, st.Uid, st.Gid, uid, gid)
	}
}

func wantAbsent(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); err == nil {
		t.Errorf("%s exists", path)
	}
}

// newFileMode is what a file created with default permissions gets.
func newFileMode() uint32 {
	old := syscall.Umask(0)
	syscall.Umask(old)
	return 0o666 &^ uint32(old)
}

func runCases(t *testing.T, cases []stateCase) {
	for _, sc := range cases {
		t.Run(sc.name, sc.run)
	}
}
