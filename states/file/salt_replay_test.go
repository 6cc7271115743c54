package file

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
	_ "github.com/brinecm/brine/states/test"
)

// replayCase is one test of Salt's file state functional tests
// (tests/pytests/functional/states/file/), replayed against brine: the
// files it lays down, the state calls or SLS it runs, and what it
// asserts afterwards. Paths are relative to the case's temporary
// directory; "{tmp}" in strings is that directory.
type replayCase struct {
	Test string `yaml:"test"` // the Salt test (with its parameters)
	Skip string `yaml:"skip"` // why it is not replayed: what Salt internal it tests
	// Missing names the brine feature the test needs that is not there
	// yet: the test counts as failing, and is not run.
	Missing string   `yaml:"missing"`
	Root    bool     `yaml:"root"`  // needs root (chown to other users)
	Needs   []string `yaml:"needs"` // commands it runs (gpg, patch)
	// Func names a replay written in Go (goReplays), for a test whose
	// trees or assertions are too many for this format.
	Func  string            `yaml:"func"`
	Files map[string]string `yaml:"files"`
	Dirs  []string          `yaml:"dirs"`
	Links map[string]string `yaml:"links"` // symlink -> target
	Modes map[string]string `yaml:"modes"` // chmod after the files are laid down
	Tree  map[string]string `yaml:"tree"`  // extra files of the state tree (salt://)
	// Web are files a loopback web server serves, at "{http}/<path>"
	// and, with a self-signed certificate, at "{https}/<path>".
	Web   map[string]string `yaml:"web"`
	Steps []replayStep      `yaml:"steps"`
	After replayAfter       `yaml:"after"`
}

// replayStep is a state function called directly (as Salt's tests call
// states.file.<fun>) or an SLS applied through the compiler and engine.
type replayStep struct {
	Call     string         `yaml:"call"`
	Name     string         `yaml:"name"`
	Args     map[string]any `yaml:"args"`
	TestMode bool           `yaml:"test_mode"`
	Repeat   int            `yaml:"repeat"` // run it this many times, each checked (default 1)
	SLS      string         `yaml:"sls"`
	// Write, in a step of its own, rewrites files between steps.
	Write map[string]string `yaml:"write"`

	Result     string         `yaml:"result"` // True, False or None; every state of an SLS
	Comment    *string        `yaml:"comment"`
	CommentHas []string       `yaml:"comment_has"`
	CommentNot []string       `yaml:"comment_lacks"`
	Changed    *bool          `yaml:"changed"`
	Changes    map[string]any `yaml:"changes"`
	ChangeKeys []string       `yaml:"change_keys"` // keys the changes must have
	Deleted    *int           `yaml:"deleted"`     // how many paths changes["deleted"] lists
	Warnings   []string       `yaml:"warnings"`    // warnings the result must carry
	// IDs, for an SLS, checks the states of these IDs (the others must
	// not fail).
	IDs map[string]replayStep `yaml:"ids"`
}

// replayAfter is what the test asserts on disk at the end.
type replayAfter struct {
	Files  map[string]string `yaml:"files"` // exact contents
	Has    map[string]string `yaml:"has"`   // contents hold this
	Lacks  map[string]string `yaml:"lacks"` // contents do not hold this
	Absent []string          `yaml:"absent"`
	IsDir  []string          `yaml:"is_dir"`
	IsFile []string          `yaml:"is_file"`
	Links  map[string]string `yaml:"links"` // symlink -> target
	Modes  map[string]string `yaml:"modes"`
	Same   [][2]string       `yaml:"same_file"` // hard links of one another
	// Owners is "user:group" of each path, not following a symlink.
	Owners map[string]string `yaml:"owners"`
	// Decoded is the data each file holds, read with a serializer of
	// file.serialize (binary files have no contents to compare).
	Decoded map[string]struct {
		Format string `yaml:"format"`
		Data   any    `yaml:"data"`
	} `yaml:"decoded"`
}

// goReplays are the replays written in Go, by the name a case's func
// gives.
var goReplays = map[string]func(*testing.T){
	"recurse_merge":             replayRecurseMerge,
	"recurse_broken_links_kept": replayRecurseBrokenLinks,
	"managed_signature":         replayManagedSignature,
	"managed_signature_fail":    replayManagedSignatureFail,
	"managed_source_hash_sig":   replayManagedSourceHashSig,
}

// TestSaltFileSuites replays testdata/salt/<suite>.yaml, one file per
// test file of Salt's tests/pytests/functional/states/file/.
func TestSaltFileSuites(t *testing.T) {
	suites, err := filepath.Glob("testdata/salt/*.yaml")
	if err != nil || len(suites) == 0 {
		t.Fatalf("no suites: %v", err)
	}
	for _, suite := range suites {
		b, err := os.ReadFile(suite)
		if err != nil {
			t.Fatal(err)
		}
		var cases []replayCase
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&cases); err != nil {
			t.Fatalf("%s: %v", suite, err)
		}
		name := strings.TrimSuffix(filepath.Base(suite), ".yaml")
		for _, c := range cases {
			// Cases not replayed are listed, with why, in docs/salt-semantics.md.
			switch {
			case c.Skip != "":
				t.Logf("%s/%s: not replayed, Salt internal: %s", name, c.Test, c.Skip)
				continue
			case c.Missing != "":
				t.Logf("%s/%s: not replayed, not in brine yet: %s", name, c.Test, c.Missing)
				continue
			}
			t.Run(name+"/"+c.Test, c.run)
		}
	}
}

func (c replayCase) run(t *testing.T) {
	if c.Root {
		systest.RequireRoot(t)
	}
	if len(c.Needs) > 0 {
		systest.RequireCommands(t, c.Needs...)
	}
	if c.Func != "" {
		f, ok := goReplays[c.Func]
		if !ok {
			t.Fatalf("no Go replay %q", c.Func)
		}
		f(t)
		return
	}
	dir := t.TempDir()
	tree := t.TempDir()
	vars := []string{"{tmp}", dir}
	if len(c.Web) > 0 {
		web := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			data, ok := c.Web[strings.TrimPrefix(r.URL.Path, "/")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			io.WriteString(w, data)
		})
		plain, tls := httptest.NewServer(web), httptest.NewTLSServer(web)
		t.Cleanup(plain.Close)
		t.Cleanup(tls.Close)
		vars = append(vars, "{http}", plain.URL, "{https}", tls.URL)
	}
	x := strings.NewReplacer(vars...).Replace
	at := func(p string) string { return filepath.Join(dir, x(p)) }
	if err := os.CopyFS(tree, os.DirFS("testdata/salttree")); err != nil {
		t.Fatal(err)
	}
	// Salt's state_tree_prod fixture: the prod environment's tree.
	prod := t.TempDir()
	if err := os.CopyFS(prod, os.DirFS("testdata/salttree-prod")); err != nil {
		t.Fatal(err)
	}
	for p, data := range c.Tree {
		write(t, filepath.Join(tree, p), x(data), 0o644)
	}
	for _, d := range c.Dirs {
		if err := os.MkdirAll(at(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, data := range c.Files {
		write(t, at(p), data, 0o644)
	}
	for l, target := range c.Links {
		if err := os.MkdirAll(filepath.Dir(at(l)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(x(target), at(l)); err != nil {
			t.Fatal(err)
		}
	}
	for p, m := range c.Modes {
		var mode uint32
		fmt.Sscanf(m, "%o", &mode)
		if err := os.Chmod(at(p), os.FileMode(mode)); err != nil {
			t.Fatal(err)
		}
	}
	comp := sls.New(sls.Config{FileRoots: []string{tree}, FileEnvs: map[string][]string{"prod": {prod}}, ID: "minion1", Grains: map[string]any{"id": "minion1"},
		Opts: map[string]any{"file_backup_dir": filepath.Join(dir, ".backup")}})
	for i, s := range c.Steps {
		for n := range max(s.Repeat, 1) {
			label := fmt.Sprintf("step %d run %d", i+1, n+1)
			if s.Write != nil {
				for p, data := range s.Write {
					write(t, at(p), x(data), 0o644)
				}
				continue
			}
			if s.SLS != "" {
				c.runSLS(t, label, comp, tree, x(s.SLS), s)
				continue
			}
			e, ok := states.Lookup(s.Call)
			if !ok {
				t.Fatalf("%s: %s is not a state function", label, s.Call)
			}
			args, err := e.Decode(expandAll(s.Args, x).(map[string]any))
			if err != nil {
				t.Fatalf("%s: arguments: %v", label, err)
			}
			name := x(s.Name)
			o := e.Apply(context.Background(), &states.Call{ID: name, Name: name, SLS: "replay", Test: s.TestMode, Env: comp}, args)
			s.check(t, label, x, states.ResultString(o.Result), o.Comment, o.Changes)
			for _, w := range s.Warnings {
				if !slices.Contains(o.Warnings, w) {
					t.Errorf("%s: warnings %q lack %q", label, o.Warnings, w)
				}
			}
		}
	}
	c.After.check(t, at, x)
}

func (c replayCase) runSLS(t *testing.T, label string, comp *sls.Compiler, tree, src string, s replayStep) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(tree, "replay.sls"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	lows, cerr := comp.SLS(context.Background(), "replay")
	plan, err := states.PrepareWith(lows, cerr, states.PlanOptions{Run: true})
	if err != nil {
		t.Fatalf("%s: compile: %v", label, err)
	}
	h := plan.Run(context.Background(), states.RunOptions{Test: s.TestMode, Env: comp})
	if len(h) == 0 {
		t.Fatalf("%s: no states ran", label)
	}
	seen := map[string]bool{}
	for _, r := range h {
		want, ok := s.IDs[r.ID]
		switch {
		case ok:
			seen[r.ID] = true
			if want.Result == "" {
				want.Result = states.ResultString(r.Result)
			}
			want.check(t, label+" "+r.ID, func(s string) string { return s }, states.ResultString(r.Result), r.Comment, r.Changes)
		case s.IDs != nil:
			if r.Result != nil && !*r.Result {
				t.Errorf("%s %s: failed: %s", label, r.ID, r.Comment)
			}
		default:
			s.check(t, label+" "+r.Key, func(s string) string { return s }, states.ResultString(r.Result), r.Comment, nil)
		}
	}
	for id := range s.IDs {
		if !seen[id] {
			t.Errorf("%s: no result for %s", label, id)
		}
	}
}

func (s replayStep) check(t *testing.T, label string, x func(string) string, result, comment string, changes map[string]any) {
	t.Helper()
	want := s.Result
	if want == "" {
		want = "True"
	}
	if result != want {
		t.Errorf("%s: result %s, want %s (comment %q)", label, result, want, comment)
	}
	if s.Comment != nil && comment != x(*s.Comment) {
		t.Errorf("%s: comment %q, want %q", label, comment, x(*s.Comment))
	}
	for _, h := range s.CommentHas {
		if !strings.Contains(comment, x(h)) {
			t.Errorf("%s: comment %q lacks %q", label, comment, x(h))
		}
	}
	for _, h := range s.CommentNot {
		if strings.Contains(comment, x(h)) {
			t.Errorf("%s: comment %q holds %q", label, comment, x(h))
		}
	}
	if s.Changed != nil && (len(changes) > 0) != *s.Changed {
		t.Errorf("%s: changes %v, want changed=%v", label, changes, *s.Changed)
	}
	if s.Changes != nil {
		if w := expandAll(s.Changes, x); !reflect.DeepEqual(normalize(changes), normalize(w)) {
			t.Errorf("%s: changes %v, want %v", label, changes, w)
		}
	}
	if s.Deleted != nil {
		if l, _ := changes["deleted"].([]any); len(l) != *s.Deleted {
			t.Errorf("%s: %d deleted (%v), want %d", label, len(l), changes["deleted"], *s.Deleted)
		}
	}
	for _, k := range s.ChangeKeys {
		if _, ok := changes[x(k)]; !ok {
			t.Errorf("%s: changes %v lack %q", label, changes, k)
		}
	}
}

// normalize makes changes comparable with what YAML decodes ([]string
// as []any).
func normalize(v any) any {
	b, _ := yaml.Marshal(v)
	var out any
	yaml.Unmarshal(b, &out)
	return out
}

func (a replayAfter) check(t *testing.T, at func(string) string, x func(string) string) {
	t.Helper()
	read := func(p string) string {
		b, err := os.ReadFile(at(p))
		if err != nil {
			t.Errorf("after: %v", err)
		}
		return string(b)
	}
	for _, p := range sortedKeys(a.Files) {
		if got := read(p); got != x(a.Files[p]) {
			t.Errorf("after: %s = %q, want %q", p, got, x(a.Files[p]))
		}
	}
	for _, p := range sortedKeys(a.Has) {
		if got := read(p); !strings.Contains(got, x(a.Has[p])) {
			t.Errorf("after: %s = %q, want it to hold %q", p, got, a.Has[p])
		}
	}
	for _, p := range sortedKeys(a.Lacks) {
		if got := read(p); strings.Contains(got, x(a.Lacks[p])) {
			t.Errorf("after: %s = %q, want it not to hold %q", p, got, a.Lacks[p])
		}
	}
	for _, p := range a.Absent {
		if _, err := os.Lstat(at(p)); err == nil {
			t.Errorf("after: %s exists", p)
		}
	}
	for _, p := range a.IsDir {
		if fi, err := os.Stat(at(p)); err != nil || !fi.IsDir() {
			t.Errorf("after: %s is not a directory (%v)", p, err)
		}
	}
	for _, p := range a.IsFile {
		if fi, err := os.Lstat(at(p)); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("after: %s is not a regular file (%v)", p, err)
		}
	}
	for _, l := range sortedKeys(a.Links) {
		if got, err := os.Readlink(at(l)); err != nil || got != x(a.Links[l]) {
			t.Errorf("after: %s -> %q (%v), want -> %q", l, got, err, x(a.Links[l]))
		}
	}
	for _, p := range sortedKeys(a.Modes) {
		fi, err := os.Stat(at(p))
		if err != nil {
			t.Errorf("after: %v", err)
			continue
		}
		if got := fmt.Sprintf("%04o", uint32(fi.Mode().Perm())|setBits(fi.Mode())); got != a.Modes[p] {
			t.Errorf("after: %s has mode %s, want %s", p, got, a.Modes[p])
		}
	}
	for _, p := range sortedKeys(a.Owners) {
		fi, err := os.Lstat(at(p))
		if err != nil {
			t.Errorf("after: %v", err)
			continue
		}
		st := statT(fi)
		if got := ownerName(st.Uid, st.Gid); got != a.Owners[p] {
			t.Errorf("after: %s is owned by %s, want %s", p, got, a.Owners[p])
		}
	}
	for p, d := range a.Decoded {
		b, err := os.ReadFile(at(p))
		if err != nil {
			t.Errorf("after: %v", err)
			continue
		}
		got, err := serializers[d.Format].read(b, nil)
		if err != nil {
			t.Errorf("after: %s: read as %s: %v", p, d.Format, err)
			continue
		}
		if !reflect.DeepEqual(normalize(got), normalize(d.Data)) {
			t.Errorf("after: %s holds %v, want %v", p, got, d.Data)
		}
	}
	for _, pair := range a.Same {
		f1, err1 := os.Stat(at(pair[0]))
		f2, err2 := os.Stat(at(pair[1]))
		if err1 != nil || err2 != nil || !os.SameFile(f1, f2) {
			t.Errorf("after: %s and %s are not one file (%v, %v)", pair[0], pair[1], err1, err2)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// expandAll replaces {tmp} in every string of v.
func expandAll(v any, x func(string) string) any {
	switch t := v.(type) {
	case nil:
		return map[string]any{}
	case string:
		return x(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[x(k)] = expandAll(e, x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = expandAll(e, x)
		}
		return out
	}
	return v
}
