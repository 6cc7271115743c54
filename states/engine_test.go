package states_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/states"
	_ "github.com/brinecm/brine/states/test"
)

var update = flag.Bool("update", false, "rewrite golden files")

// compile compiles testdata/<dir>/init.sls and plans it.
func compile(t *testing.T, dir string) (*states.Plan, *sls.Compiler, error) {
	t.Helper()
	c := sls.New(sls.Config{FileRoots: []string{dir}, ID: "minion1", Grains: map[string]any{"id": "minion1"}})
	lows, err := c.SLS(context.Background(), "init")
	plan, err := states.Prepare(lows, err)
	return plan, c, err
}

// summary is the part of a result the golden files pin down: everything
// but times.
type summary struct {
	Key     string `yaml:"key"`
	RunNum  int    `yaml:"run_num"`
	Result  string `yaml:"result"`
	Comment string `yaml:"comment"`
	Changed bool   `yaml:"changed"`
}

func summarize(h result.Highstate) []summary {
	out := make([]summary, len(h))
	for i, r := range h {
		res := "None"
		if r.Result != nil {
			res = fmt.Sprint(*r.Result)
		}
		out[i] = summary{Key: r.Key, RunNum: r.RunNum, Result: res, Comment: r.Comment, Changed: len(r.Changes) > 0}
	}
	return out
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the run:\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// TestRequisiteGolden runs every recipe under testdata/requisites, in
// apply and test mode, and compares each state's result, comment, changes
// flag and run number with the golden files.
func TestRequisiteGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/requisites/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no recipes: %v", err)
	}
	for _, dir := range dirs {
		for _, test := range []bool{false, true} {
			name := filepath.Base(dir)
			suffix := ".golden"
			if test {
				suffix = ".test.golden"
			}
			t.Run(fmt.Sprintf("%s/test=%v", name, test), func(t *testing.T) {
				plan, c, err := compile(t, dir)
				if err != nil {
					t.Fatalf("compile: %v", err)
				}
				h := plan.Run(context.Background(), states.RunOptions{Test: test, Env: c})
				got, err := yaml.Marshal(summarize(h))
				if err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join(dir, "results"+suffix), got)
			})
		}
	}
}

// TestCompileErrorsGolden checks that bad recipes give every error at once,
// each with file:line and the state ID.
func TestCompileErrorsGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/errors/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no recipes: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			plan, _, err := compile(t, dir)
			if err == nil {
				t.Fatalf("compiled a bad recipe into %d states", plan.Len())
			}
			var errs sls.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not sls.Errors: %v", err, err)
			}
			for _, e := range errs {
				if e.Pos.File != "init.sls" || e.Pos.Line == 0 {
					t.Errorf("error without file:line: %v", e)
				}
			}
			golden(t, filepath.Join(dir, "errors.golden"), []byte(err.Error()+"\n"))
		})
	}
}

// TestTruthTable pins Salt's documented requisite behaviour explicitly, so
// a golden file rewritten by mistake cannot hide a regression.
func TestTruthTable(t *testing.T) {
	cases := []struct {
		dir, id string
		result  string
		comment string // prefix
	}{
		{"require_target_failed", "B", "false", "One or more requisite failed: init.A"},
		{"require_target_failed", "C", "false", "One or more requisite failed: init.B"},
		{"require_target_ok", "C", "true", "Success!"},
		{"require_target_skipped", "B", "true", "State was not run because none of the onchanges reqs changed"},
		{"require_target_skipped", "C", "true", "Success!"},
		{"require_any", "C", "true", "Success!"},
		{"require_any", "D", "false", "One or more requisite failed: init.A"},
		{"watch", "watches_changed", "true", "Watch statement fired."},
		{"watch", "watches_changed_itself_changes", "true", "Success!"},
		{"watch", "watches_unchanged", "true", "Success!"},
		{"watch", "watches_failed", "false", "One or more requisite failed: init.failed"},
		{"watch", "watch_any_one_failed", "true", "Watch statement fired."},
		{"onchanges", "on_changed", "true", "Success!"},
		{"onchanges", "on_unchanged", "true", "State was not run because none of the onchanges reqs changed"},
		{"onchanges", "on_one_of_two", "true", "Success!"},
		{"onchanges", "on_failed", "false", "One or more requisite failed: init.failed"},
		{"onchanges", "on_any", "true", "Success!"},
		{"onfail", "on_ok", "true", "State was not run because onfail req did not change"},
		{"onfail", "on_failed", "true", "Success!"},
		{"onfail", "on_one_failed", "true", "Success!"},
		{"onfail", "on_all_one_failed", "true", "State was not run because onfail req did not change"},
		{"onfail", "on_any_failed", "true", "Success!"},
		{"prereq", "stop_before", "true", "Success!"},
		{"prereq", "noop_before", "true", "No changes detected"},
		// Salt reports the test run of a state whose prereq-ing state
		// failed (result None, no changes), and does not fail it.
		{"prereq", "guarded", "None", "If we weren't testing, this would be successful with changes"},
		{"in_forms", "C", "true", "Success!"},
		{"in_forms", "D", "true", "Watch statement fired."},
		{"in_forms", "E", "true", "Success!"},
		{"in_forms", "G", "true", "Success!"},
		{"use", "user", "true", "copied comment"},
		{"globals", "skip_unless", "true", "unless condition is true"},
		{"globals", "run_unless", "true", "Success!"},
		{"globals", "skip_onlyif", "true", "onlyif condition is false"},
		{"globals", "run_onlyif", "true", "Success!"},
		{"globals", "skip_creates", "true", "/ exists"},
		{"globals", "run_creates", "true", "Success!"},
		{"globals", "check_fails", "false", "check_cmd determined the state failed"},
		{"globals", "unwatched", "true", "Success!"},
		{"globals", "retried", "false", "Attempt 1: Returned a result of \"False\""},
	}
	runs := map[string]map[string]result.State{}
	for _, c := range cases {
		byID, ok := runs[c.dir]
		if !ok {
			plan, env, err := compile(t, filepath.Join("testdata/requisites", c.dir))
			if err != nil {
				t.Fatalf("%s: compile: %v", c.dir, err)
			}
			byID = map[string]result.State{}
			for _, r := range plan.Run(context.Background(), states.RunOptions{Env: env}) {
				byID[r.ID] = r
			}
			runs[c.dir] = byID
		}
		r, ok := byID[c.id]
		if !ok {
			t.Errorf("%s/%s: no result", c.dir, c.id)
			continue
		}
		got := "None"
		if r.Result != nil {
			got = fmt.Sprint(*r.Result)
		}
		if got != c.result || !strings.HasPrefix(r.Comment, c.comment) {
			t.Errorf("%s/%s: result %s %q, want %s %q", c.dir, c.id, got, r.Comment, c.result, c.comment)
		}
	}
}

// TestRunOrder checks __run_num__ against Salt's ordering rules.
func TestRunOrder(t *testing.T) {
	cases := []struct {
		dir  string
		want []string // IDs in run order
	}{
		{"order", []string{"a_first", "b_ten", "d_default", "c_last", "e_requires_last", "f_default"}},
		{"prereq", []string{"stop_before", "will_change", "noop_before", "wont_change", "fails_before", "guarded"}},
		{"listen", []string{"listener", "changed", "quiet", "unchanged", "last", "listener_listener"}},
		{"failhard", []string{"A", "B"}},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			plan, env, err := compile(t, filepath.Join("testdata/requisites", c.dir))
			if err != nil {
				t.Fatal(err)
			}
			h := plan.Run(context.Background(), states.RunOptions{Env: env})
			var got []string
			for i, r := range h {
				if r.RunNum != i {
					t.Errorf("%s has __run_num__ %d at position %d", r.ID, r.RunNum, i)
				}
				got = append(got, r.ID)
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("run order %v, want %v", got, c.want)
			}
		})
	}
}
