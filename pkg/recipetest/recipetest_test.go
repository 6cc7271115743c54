package recipetest

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/sls"
)

func TestLoadFixtures(t *testing.T) {
	cases := []struct {
		dir     string
		ids     []string
		wantErr string
	}{
		{"broken/minions", []string{"db1", "db2", "web1"}, ""},
		{"fixtures/nosuch", nil, "give --minions a directory"},
		{"fixtures/empty", nil, "no minion fixtures in"},
		{"fixtures/unknown_key", nil, "field grain not found"},
		{"fixtures/no_id", nil, "no `id:`"},
		{"fixtures/dup", nil, `minion id "web1" is already used by`},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			ms, err := LoadFixtures(filepath.Join("testdata", c.dir))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range ms {
				ids = append(ids, m.ID)
				if m.Grains["id"] != m.ID {
					t.Errorf("%s: grain id %v", m.ID, m.Grains["id"])
				}
			}
			if !slices.Equal(ids, c.ids) {
				t.Errorf("ids %v, want %v", ids, c.ids)
			}
		})
	}
	ms, err := LoadFixtures("testdata/broken/minions")
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].ID != "db1" || ms[0].Pillar["motd"] != "database host" || ms[0].Grains["role"] != "db" {
		t.Errorf("db1 fixture read as %+v", ms[0])
	}
}

// slsCompile compiles with pkg/sls alone (no state engine): enough for
// the lints, which read the compiled states.
func slsCompile(tree string, highstate bool, mods ...string) CompileFunc {
	return func(ctx context.Context, m Minion) (Compiled, error) {
		c := sls.New(sls.Config{FileRoots: []string{filepath.Join(tree, "states")}, ID: m.ID, Grains: m.Grains, Pillar: m.Pillar})
		var out Compiled
		var err error
		if highstate {
			out.Top, _ = c.Top(ctx)
			out.Lows, err = c.Highstate(ctx)
		} else {
			out.Lows, err = c.SLS(ctx, mods...)
		}
		errors.As(err, &out.Errs)
		return out, nil
	}
}

func TestRenderLints(t *testing.T) {
	cases := []struct {
		name, tree string
		coverage   bool
		mods       []string
		want       []string // "lint file:line id" of every warning, in order
	}{
		{"every lint of a tree that compiles", "lint", true, nil, []string{
			"unused-state common.sls:7 solaris-only",
			"unreached-sls orphan.sls:0 ",
			"missing-source web/init.sls:4 nginx-conf",
		}},
		{"one host: no coverage lints", "lint", false, nil, []string{
			"missing-source web/init.sls:4 nginx-conf",
		}},
		{"named SLS: no unreached SLS", "lint", true, []string{"common"}, []string{
			"unused-state common.sls:7 solaris-only",
		}},
		{"requisite for some minions only", "partial", true, nil, []string{
			"partial-requisite app.sls:6 app-conf",
		}},
		{"a source missing for one minion only", "broken", true, nil, []string{
			"missing-source db.sls:8 pg-conf",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tree := filepath.Join("testdata", c.tree)
			ms, err := LoadFixtures(filepath.Join(tree, "minions"))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Render(context.Background(), ms, Options{
				Compile:   slsCompile(tree, len(c.mods) == 0, c.mods...),
				FileRoots: []string{filepath.Join(tree, "states")},
				Highstate: len(c.mods) == 0,
				Coverage:  c.coverage,
			})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range rep.Warnings {
				got = append(got, w.Lint+" "+w.File+":"+strconv.Itoa(w.Line)+" "+w.ID)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestRenderWarningMessages(t *testing.T) {
	cases := []struct{ tree, lint, want string }{
		{"lint", LintMissingSource, "file.managed: source: source salt://web/missing.conf does not exist in the file roots (for web1, web2)"},
		{"lint", LintUnreachedSLS, `no minion gets SLS "orphan"`},
		{"partial", LintPartialRequisite, "requisite require pkg: nginx resolves for web1 but not for db1"},
	}
	for _, c := range cases {
		tree := filepath.Join("testdata", c.tree)
		ms, err := LoadFixtures(filepath.Join(tree, "minions"))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Render(context.Background(), ms, Options{Compile: slsCompile(tree, true),
			FileRoots: []string{filepath.Join(tree, "states")}, Highstate: true, Coverage: true})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(rep.Warnings, func(w Warning) bool { return w.Lint == c.lint })
		if i < 0 || !strings.Contains(rep.Warnings[i].Message, c.want) {
			t.Errorf("%s: no %s warning saying %q in %+v", c.tree, c.lint, c.want, rep.Warnings)
		}
	}
}

func TestRenderErrorsPerMinion(t *testing.T) {
	ms := []Minion{{ID: "b"}, {ID: "a"}, {ID: "c"}}
	compile := func(_ context.Context, m Minion) (Compiled, error) {
		if m.ID == "b" {
			return Compiled{Errs: sls.Errors{
				{Pos: sls.Pos{File: "web.sls", Line: 9}, ID: "y", Msg: "second"},
				{Pos: sls.Pos{File: "web.sls", Line: 3}, ID: "x", Msg: "first"},
				{Pos: sls.Pos{File: "web.sls", Line: 3}, ID: "x", Msg: "first"},
			}}, nil
		}
		return Compiled{Lows: []sls.Low{{ID: "x", Module: "test", Fun: "nop", SLS: "web"}}}, nil
	}
	rep, err := Render(context.Background(), ms, Options{Compile: compile, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range rep.Minions {
		for _, e := range m.Errors {
			got = append(got, m.ID+": "+e.String())
		}
	}
	want := []string{"b: web.sls:3: x: first", "b: web.sls:9: y: second"}
	if !slices.Equal(got, want) || rep.Minions[0].ID != "a" || rep.Minions[0].States != 1 || !rep.Failed() || rep.ErrorCount() != 2 {
		t.Errorf("report %+v, errors %q", rep, got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Render(ctx, ms, Options{Compile: compile}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled render: %v", err)
	}
}
