package sls

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/pkg/systest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// caseRun is one compile in a testdata case (case.yaml holds a list).
type caseRun struct {
	ID        string         `yaml:"id"`
	Grains    map[string]any `yaml:"grains"`
	Pillar    map[string]any `yaml:"pillar"`
	Opts      map[string]any `yaml:"opts"`
	SLS       []string       `yaml:"sls"`       // compile these
	Highstate bool           `yaml:"highstate"` // or the highstate
	Top       bool           `yaml:"top"`       // also report Top
	ShowPill  bool           `yaml:"show_pillar"`
	Needs     []string       `yaml:"needs"` // commands the run needs on the host (python3)
	Saltenv   string         `yaml:"saltenv"`
	Pillarenv string         `yaml:"pillarenv"`
	PyDSL     bool           `yaml:"pydsl"` // allow the #!pydsl renderer
}

// runOut is the golden form of one run.
type runOut struct {
	ID     string         `yaml:"id"`
	Top    []string       `yaml:"top,omitempty"`
	Pillar map[string]any `yaml:"pillar,omitempty"`
	Lows   []lowOut       `yaml:"lows,omitempty"`
	Errors []string       `yaml:"errors,omitempty"`
}

// lowOut is the golden form of a Low.
type lowOut struct {
	Index    int               `yaml:"index"`
	ID       string            `yaml:"id"`
	Name     string            `yaml:"name"`
	Function string            `yaml:"function"`
	SLS      string            `yaml:"sls"`
	Env      string            `yaml:"env,omitempty"` // when not base
	Pos      string            `yaml:"pos"`
	Order    string            `yaml:"order,omitempty"`
	Failhard bool              `yaml:"failhard,omitempty"`
	Args     map[string]any    `yaml:"args,omitempty"`
	ArgPos   map[string]string `yaml:"argpos,omitempty"`
	Reqs     []string          `yaml:"reqs,omitempty"`
}

func orderString(o Order) string {
	switch o.Kind {
	case OrderFirst:
		return "first"
	case OrderLast:
		return "last"
	case OrderNumber:
		return fmt.Sprint(o.N)
	}
	return ""
}

func toOut(lows []Low) []lowOut {
	out := make([]lowOut, len(lows))
	for i, l := range lows {
		o := lowOut{
			Index: l.Index, ID: l.ID, Name: l.Name, Function: l.Function(), SLS: l.SLS,
			Pos: l.Pos.String(), Order: orderString(l.Order), Failhard: l.Failhard,
		}
		if l.Env != Base {
			o.Env = l.Env
		}
		if len(l.Args) > 0 {
			o.Args = l.Args
			o.ArgPos = map[string]string{}
			for k, p := range l.ArgPos {
				o.ArgPos[k] = p.String()
			}
		}
		for _, r := range l.Reqs {
			o.Reqs = append(o.Reqs, fmt.Sprintf("%s %s:%s @%s", r.Kind, r.Module, r.Target, r.Pos))
		}
		out[i] = o
	}
	return out
}

func errorLines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	es, ok := errors.AsType[Errors](err)
	if !ok {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	if !sort.SliceIsSorted(es, func(i, j int) bool {
		if es[i].Pos.File != es[j].Pos.File {
			return es[i].Pos.File < es[j].Pos.File
		}
		return es[i].Pos.Line < es[j].Pos.Line
	}) {
		t.Errorf("errors not sorted by file and line: %q", lines)
	}
	return lines
}

// TestCases compiles every testdata/<case>/ (tree/ as the state tree,
// pillar/ as the pillar tree, envs/<env>/ and pillar-envs/<env>/ as the
// trees of other environments, runs in case.yaml) and compares with
// want.yaml.
func TestCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/case.yaml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, caseFile := range dirs {
		dir := filepath.Dir(caseFile)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(caseFile)
			if err != nil {
				t.Fatal(err)
			}
			var runs []caseRun
			if err := yaml.Unmarshal(raw, &runs); err != nil {
				t.Fatalf("case.yaml: %v", err)
			}
			var outs []runOut
			for _, cr := range runs {
				outs = append(outs, compileCase(t, dir, cr, nil))
			}
			var buf bytes.Buffer
			enc := yaml.NewEncoder(&buf)
			enc.SetIndent(2)
			if err := enc.Encode(outs); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join(dir, "want.yaml")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(want, buf.Bytes()) {
				t.Errorf("output differs from %s (run with -update after checking):\n%s", golden, buf.String())
			}
		})
	}
}

// compileCase compiles one run of the case in dir, sharing templates
// through shared when it is not nil.
func compileCase(t *testing.T, dir string, cr caseRun, shared *TemplateCache) runOut {
	t.Helper()
	systest.RequireCommands(t, cr.Needs...)
	cfg := Config{
		FileRoots: []string{filepath.Join(dir, "tree")},
		ID:        cr.ID, Grains: cr.Grains, Pillar: cr.Pillar, Opts: cr.Opts,
		Templates: shared, Saltenv: cr.Saltenv, Pillarenv: cr.Pillarenv, PyDSL: cr.PyDSL,
		FileEnvs: envDirs(t, filepath.Join(dir, "envs")), PillarEnvs: envDirs(t, filepath.Join(dir, "pillar-envs")),
	}
	if fi, err := os.Stat(filepath.Join(dir, "pillar")); err == nil && fi.IsDir() {
		cfg.PillarRoots = []string{filepath.Join(dir, "pillar")}
	}
	cfg.Caller = listingCaller{}
	c := New(cfg)
	ctx := context.Background()
	out := runOut{ID: cr.ID}
	var errs []string
	if cr.Top {
		envs, order, err := c.TopEnvs(ctx)
		for _, env := range order {
			for _, name := range envs[env] {
				if env != Base {
					name = env + ":" + name
				}
				out.Top = append(out.Top, name)
			}
		}
		errs = append(errs, errorLines(t, err)...)
	}
	if cr.ShowPill {
		p, err := c.Pillar(ctx)
		out.Pillar = p
		errs = append(errs, errorLines(t, err)...)
	}
	var lows []Low
	var err error
	switch {
	case cr.Highstate:
		lows, err = c.Highstate(ctx)
	case len(cr.SLS) > 0:
		lows, err = c.SLS(ctx, cr.SLS...)
	}
	for i, l := range lows {
		if l.Index != i {
			t.Errorf("low %d has Index %d", i, l.Index)
		}
		if l.Args == nil || l.ArgPos == nil {
			t.Errorf("low %s has nil Args or ArgPos", l.Key())
		}
	}
	out.Lows = toOut(lows)
	out.Errors = append(errs, errorLines(t, err)...)
	return out
}

// envDirs are the environments below dir, one directory each; nil when
// there is no dir.
func envDirs(t *testing.T, dir string) map[string][]string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	envs := map[string][]string{}
	for _, de := range des {
		if de.IsDir() {
			envs[de.Name()] = []string{filepath.Join(dir, de.Name())}
		}
	}
	return envs
}

// echoCaller answers test.echo like the execution module does.
type echoCaller struct{}

func (echoCaller) Call(_ context.Context, fun string, args []any, _ map[string]any) (any, error) {
	if fun == "test.echo" && len(args) == 1 {
		return args[0], nil
	}
	return nil, fmt.Errorf("%s is not available", fun)
}
