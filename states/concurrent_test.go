package states_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/states"
	_ "github.com/brinecm/brine/states/file"
)

// planIn writes recipe (with ROOT replaced by root) as init.sls of a new
// state tree and plans it.
func planIn(t *testing.T, root, recipe string) (*states.Plan, *sls.Compiler) {
	t.Helper()
	tree := t.TempDir()
	if err := os.WriteFile(filepath.Join(tree, "init.sls"), []byte(strings.ReplaceAll(recipe, "ROOT", root)), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, c, err := compile(t, tree)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return plan, c
}

// TestWindows checks which consecutive states the engine runs together.
func TestWindows(t *testing.T) {
	cases := []struct {
		name     string
		recipe   string
		failhard bool
		test     bool
		want     string // windows separated by " | ", IDs by spaces
	}{
		{
			name: "independent files run together",
			recipe: `
a: {file.managed: [{name: ROOT/a}, {contents: a}]}
b: {file.directory: [{name: ROOT/b}]}
c: {file.absent: [{name: ROOT/c}]}
d: {file.symlink: [{name: ROOT/d}, {target: ROOT/a}]}
e: {file.append: [{name: ROOT/e}, {text: x}]}
f: {file.line: [{name: ROOT/f}, {mode: delete}, {match: x}]}
`,
			want: "a b c d e f",
		},
		{
			name: "a state without Concurrent ends the window",
			recipe: `
a: {file.managed: [{name: ROOT/a}]}
b: {file.managed: [{name: ROOT/b}]}
nop: {test.nop: []}
c: {file.managed: [{name: ROOT/c}]}
d: {file.managed: [{name: ROOT/d}]}
`,
			want: "a b | nop | c d",
		},
		{
			name: "equal names split",
			recipe: `
a: {file.managed: [{name: ROOT/a}]}
b: {file.managed: [{name: ROOT/b}]}
a2: {file.line: [{name: ROOT/a}, {mode: delete}, {match: x}]}
`,
			want: "a b | a2",
		},
		{
			name: "names cleaned before comparing",
			recipe: `
a: {file.directory: [{name: ROOT/a/}]}
b: {file.managed: [{name: ROOT/b}]}
a2: {file.absent: [{name: ROOT//a}]}
`,
			want: "a b | a2",
		},
		{
			name: "a name below another splits either way round",
			recipe: `
dir: {file.directory: [{name: ROOT/d}]}
other: {file.managed: [{name: ROOT/x}]}
inside: {file.managed: [{name: ROOT/d/f}]}
deeper: {file.managed: [{name: ROOT/y/z/f}]}
above: {file.absent: [{name: ROOT/y}]}
`,
			want: "dir other | inside deeper | above",
		},
		{
			name: "a shared prefix is not a parent",
			recipe: `
a: {file.managed: [{name: ROOT/ab}]}
b: {file.managed: [{name: ROOT/ab.conf}]}
c: {file.managed: [{name: ROOT/a}]}
`,
			want: "a b c",
		},
		{
			name: "require on a state before the window is kept",
			recipe: `
base: {file.directory: [{name: ROOT/d}]}
nop: {test.nop: []}
a: {file.managed: [{name: ROOT/d/a}, {require: [{file: base}]}]}
b: {file.managed: [{name: ROOT/d/b}, {require: [{file: base}]}]}
`,
			want: "base | nop | a b",
		},
		{
			name: "require within the window starts a new one",
			recipe: `
a: {file.managed: [{name: ROOT/a}]}
b: {file.managed: [{name: ROOT/b}, {require: [{file: a}]}]}
c: {file.managed: [{name: ROOT/c}]}
`,
			want: "a | b c",
		},
		{
			name: "require_in counts as a require of its target",
			recipe: `
a: {file.managed: [{name: ROOT/a}, {require_in: [{file: b}]}]}
b: {file.managed: [{name: ROOT/b}]}
c: {file.managed: [{name: ROOT/c}]}
`,
			want: "a | b c",
		},
		{
			name: "a require on a later state runs it first and alone",
			recipe: `
a: {file.managed: [{name: ROOT/a}, {require: [{file: d}]}]}
b: {file.managed: [{name: ROOT/b}]}
c: {file.managed: [{name: ROOT/c}]}
d: {file.managed: [{name: ROOT/d}]}
e: {file.managed: [{name: ROOT/e}]}
`,
			want: "d | a | b c e",
		},
		{
			name: "watch onchanges onfail prereq and listen run alone",
			recipe: `
a: {file.managed: [{name: ROOT/a}]}
w: {file.managed: [{name: ROOT/w}, {watch: [{file: a}]}]}
oc: {file.managed: [{name: ROOT/oc}, {onchanges: [{file: a}]}]}
of: {file.managed: [{name: ROOT/of}, {onfail: [{file: a}]}]}
l: {file.managed: [{name: ROOT/l}, {listen: [{file: a}]}]}
b: {file.managed: [{name: ROOT/b}]}
pre: {file.managed: [{name: ROOT/pre}, {prereq: [{file: c}]}]}
c: {file.managed: [{name: ROOT/c}]}
d: {file.managed: [{name: ROOT/d}]}
`,
			want: "a | w | oc | of | l | b | pre | c | d",
		},
		{
			name: "failhard and global arguments run alone",
			recipe: `
a: {file.managed: [{name: ROOT/a}]}
b: {file.managed: [{name: ROOT/b}, {failhard: true}]}
c: {file.managed: [{name: ROOT/c}]}
d: {file.managed: [{name: ROOT/d}, {unless: "true"}]}
e: {file.managed: [{name: ROOT/e}]}
f: {file.managed: [{name: ROOT/f}, {creates: ROOT/x}]}
g: {file.managed: [{name: ROOT/g}]}
h: {file.managed: [{name: ROOT/h}]}
`,
			want: "a | b | c | d | e | f | g h",
		},
		{
			name:     "global failhard runs everything alone",
			failhard: true,
			recipe: `
a: {file.managed: [{name: ROOT/a}]}
b: {file.managed: [{name: ROOT/b}]}
`,
			want: "a | b",
		},
		{
			name: "what the function refuses runs alone",
			recipe: `
a: {file.managed: [{name: ROOT/a}]}
tpl: {file.managed: [{name: ROOT/tpl}, {contents: x}, {template: jinja}]}
b: {file.managed: [{name: ROOT/b}]}
local: {file.managed: [{name: ROOT/local}, {source: /etc/hostname}]}
c: {file.managed: [{name: ROOT/c}]}
tree: {file.managed: [{name: ROOT/tree}, {source: salt://init.sls}]}
clean: {file.directory: [{name: ROOT/clean}, {clean: true}]}
d: {file.managed: [{name: ROOT/d}]}
nouser: {file.managed: [{name: ROOT/nouser}, {user: no-such-user-brine}]}
e: {file.managed: [{name: ROOT/e}, {user: root}, {group: "0"}]}
`,
			want: "a | tpl | b | local | c tree | clean | d | nouser | e",
		},
		{
			name: "makedirs joins only when the parent exists",
			recipe: `
a: {file.managed: [{name: ROOT/a}, {makedirs: true}]}
b: {file.managed: [{name: ROOT/missing/b}, {makedirs: true}]}
c: {file.directory: [{name: ROOT/c}, {makedirs: true}]}
d: {file.symlink: [{name: ROOT/gone/d}, {target: /}, {makedirs: true}]}
e: {file.append: [{name: ROOT/e}, {text: x}, {makedirs: true}]}
f: {file.managed: [{name: ROOT/missing/f}]}
`,
			want: "a | b | c | d | e f",
		},
		{
			name: "in test mode makedirs creates nothing",
			test: true,
			recipe: `
a: {file.managed: [{name: ROOT/a}, {makedirs: true}]}
b: {file.managed: [{name: ROOT/missing/b}, {makedirs: true}]}
`,
			want: "a b",
		},
		{
			name: "windows follow the planned order",
			recipe: `
late: {file.managed: [{name: ROOT/late}, {order: last}]}
a: {file.managed: [{name: ROOT/a}]}
nop: {test.nop: [{order: 1}]}
b: {file.managed: [{name: ROOT/b}]}
`,
			want: "nop | a b late",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan, env := planIn(t, t.TempDir(), c.recipe)
			var got []string
			for _, w := range states.Windows(plan, states.RunOptions{Env: env, Failhard: c.failhard, Test: c.test}) {
				got = append(got, strings.Join(w, " "))
			}
			if g := strings.Join(got, " | "); g != c.want {
				t.Errorf("windows %q, want %q", g, c.want)
			}
		})
	}
}

// concurrentRecipe mixes states that share windows with ones that do not,
// requisites, failures and listeners, over the files below ROOT.
var concurrentRecipe = func() string {
	var b strings.Builder
	b.WriteString(`
base: {file.directory: [{name: ROOT/etc}, {mode: "0750"}]}
`)
	for i := range 24 {
		fmt.Fprintf(&b, "conf%02d: {file.managed: [{name: ROOT/etc/c%02d}, {contents: \"line %d\"}, {mode: \"0640\"}, {require: [{file: base}]}]}\n", i, i, i)
		switch i % 6 {
		case 1:
			fmt.Fprintf(&b, "link%02d: {file.symlink: [{name: ROOT/l%02d}, {target: ROOT/etc/c%02d}]}\n", i, i, i)
		case 2:
			fmt.Fprintf(&b, "gone%02d: {file.absent: [{name: ROOT/old%02d}]}\n", i, i)
		case 3:
			fmt.Fprintf(&b, "dir%02d: {file.directory: [{name: ROOT/d%02d/sub}, {makedirs: true}]}\n", i, i)
		case 4:
			fmt.Fprintf(&b, "app%02d: {file.append: [{name: ROOT/etc/c%02d}, {text: appended}]}\n", i, i)
		case 5:
			fmt.Fprintf(&b, "ok%02d: {test.succeed_with_changes: []}\n", i)
		}
	}
	b.WriteString(`
relative: {file.managed: [{name: not/absolute}, {contents: x}]}
noparent: {file.managed: [{name: ROOT/none/f}, {contents: x}]}
after_fail: {file.managed: [{name: ROOT/after}, {contents: x}, {require: [{file: noparent}]}]}
watcher: {test.succeed_without_changes: [{watch: [{file: conf03}]}]}
hear: {test.nop: [{listen: [{file: conf05}]}]}
line: {file.line: [{name: ROOT/etc/c00}, {mode: ensure}, {content: added}, {location: end}]}
tail: {file.managed: [{name: ROOT/tail}, {contents: end}]}
`)
	return b.String()
}()

// tree lists every file below root with its type, mode and contents.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, root)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link " + strings.ReplaceAll(target, root, "ROOT")
		case fi.IsDir():
			out[rel] = fmt.Sprintf("dir %v", fi.Mode())
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("file %v %q", fi.Mode(), data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// normalized is a result with the run's root directory and times taken out.
func normalized(h result.Highstate, root string) []string {
	out := make([]string, len(h))
	for i, r := range h {
		out[i] = strings.ReplaceAll(fmt.Sprintf("%d %s %s %q %v", r.RunNum, r.Key, states.ResultString(r.Result), r.Comment, r.Changes), root, "ROOT")
	}
	return out
}

// TestConcurrentRunMatchesSequential applies one recipe with windows and
// one state at a time, in two directories, three times over (test mode,
// first run, no-change run): results, their order and the files left
// behind must be the same.
func TestConcurrentRunMatchesSequential(t *testing.T) {
	seqRoot, conRoot := t.TempDir(), t.TempDir()
	for _, root := range []string{seqRoot, conRoot} {
		for i := range 24 {
			if i%6 == 2 {
				if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("old%02d", i)), []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	seqPlan, seqEnv := planIn(t, seqRoot, concurrentRecipe)
	conPlan, conEnv := planIn(t, conRoot, concurrentRecipe)
	var windows int
	for _, w := range states.Windows(conPlan, states.RunOptions{Env: conEnv}) {
		if len(w) > 1 {
			windows++
		}
	}
	if windows == 0 {
		t.Fatal("the recipe forms no concurrent window")
	}
	for _, run := range []struct {
		name string
		test bool
	}{{"test mode", true}, {"first run", false}, {"no-change run", false}} {
		t.Run(run.name, func(t *testing.T) {
			ctx := context.Background()
			seq := states.RunSequential(ctx, seqPlan, states.RunOptions{Env: seqEnv, Test: run.test})
			con := conPlan.Run(ctx, states.RunOptions{Env: conEnv, Test: run.test})
			if len(seq) < conPlan.Len() {
				t.Fatalf("sequential run reported %d results for %d states", len(seq), conPlan.Len())
			}
			gs, gc := normalized(seq, seqRoot), normalized(con, conRoot)
			for i := range max(len(gs), len(gc)) {
				var s, c string
				if i < len(gs) {
					s = gs[i]
				}
				if i < len(gc) {
					c = gc[i]
				}
				if s != c {
					t.Errorf("result %d:\nsequential: %s\nconcurrent: %s", i, s, c)
				}
			}
			if ts, tc := tree(t, seqRoot), tree(t, conRoot); !reflect.DeepEqual(ts, tc) {
				t.Errorf("files differ:\nsequential: %v\nconcurrent: %v", ts, tc)
			}
		})
	}
}

// TestConcurrentRunCancelled cancels a run before it starts: no state
// runs, in a window or alone.
func TestConcurrentRunCancelled(t *testing.T) {
	root := t.TempDir()
	plan, env := planIn(t, root, `
a: {file.managed: [{name: ROOT/a}, {contents: a}]}
b: {file.managed: [{name: ROOT/b}, {contents: b}]}
`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if h := plan.Run(ctx, states.RunOptions{Env: env}); len(h) != 0 {
		t.Errorf("a cancelled run reported %d results", len(h))
	}
	if files := tree(t, root); len(files) != 1 {
		t.Errorf("a cancelled run left %v", files)
	}
}
