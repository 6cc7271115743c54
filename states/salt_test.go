package states_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/modules"
	_ "github.com/brinecm/brine/modules/file"
	_ "github.com/brinecm/brine/modules/test"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/states"
	_ "github.com/brinecm/brine/states/cmd"
	_ "github.com/brinecm/brine/states/file"
)

// saltCase is one test of Salt's functional test suites, replayed: the
// SLS files it writes, how it runs them and what it asserts.
type saltCase struct {
	Test   string            `yaml:"test"`  // the Salt test's name
	Skip   string            `yaml:"skip"`  // why it is not replayed (it tests Salt internals)
	Files  map[string]string `yaml:"files"` // SLS name -> contents; "requisite" is applied
	Mode   bool              `yaml:"test_mode"`
	Strict bool              `yaml:"strict"` // plan as brine test render does
	// Error, when set, is a substring of the error the run must refuse with.
	Error string `yaml:"error"`
	// Want maps result keys to what Salt asserts of them; RunOrder, when
	// set, is every result key in run order.
	Want     map[string]saltWant `yaml:"want"`
	RunOrder []string            `yaml:"run_order"`
	// Modes are the permissions files must have after the run ("0645"),
	// by path below the test's directory.
	Modes map[string]string `yaml:"modes"`
	// AllResults, when set, is the result every state must have (True,
	// False or None), as Salt's "for state_return in ret" assertions.
	AllResults string `yaml:"all_results"`
	// AllComments, when set, is the comment every state must have.
	AllComments string `yaml:"all_comments"`
	// AbsentFiles are paths below the test's directory that must not
	// exist after the run.
	AbsentFiles []string `yaml:"absent_files"`
	// Absent are result keys that must not be in the return.
	Absent []string `yaml:"absent"`
}

type saltWant struct {
	Result  *string        `yaml:"result"` // True, False or None
	Comment *string        `yaml:"comment"`
	Prefix  *string        `yaml:"comment_prefix"`
	Changed *bool          `yaml:"changed"`
	Changes map[string]any `yaml:"changes"`
	RunNum  *int           `yaml:"run_num"`
	Warn    []string       `yaml:"warnings"`
	// ChangesSubset are keys the changes must hold with these values
	// (Salt's assertions on single keys such as changes["retcode"]).
	ChangesSubset map[string]any `yaml:"changes_subset"`
	// HasDuration: the result reports how long the state took.
	HasDuration bool `yaml:"has_duration"`
	// Parallel: the result carries __parallel__ (the state ran with
	// parallel: True while the run went on).
	Parallel *bool `yaml:"parallel"`
	// StartsBeforeEndOf is a result key: this state started before that
	// one ended (it did not wait for it), by the start times and
	// durations the run reports.
	StartsBeforeEndOf string `yaml:"starts_before_end_of"`
}

// TestSaltSuites replays the cases of testdata/salt/<suite>.yaml, taken
// from Salt's requisite test suites and the reproductions of Salt's state
// semantics, through the compiler and the engine as `brine call --local
// state.apply requisite` runs them.
func TestSaltSuites(t *testing.T) {
	suites, err := filepath.Glob("testdata/salt/*.yaml")
	if err != nil || len(suites) == 0 {
		t.Fatalf("no suites: %v", err)
	}
	for _, suite := range suites {
		b, err := os.ReadFile(suite)
		if err != nil {
			t.Fatal(err)
		}
		var cases []saltCase
		if err := yaml.Unmarshal(b, &cases); err != nil {
			t.Fatalf("%s: %v", suite, err)
		}
		name := strings.TrimSuffix(filepath.Base(suite), ".yaml")
		for _, c := range cases {
			// Cases not replayed are listed, with why, in docs/salt-semantics.md.
			if c.Skip != "" {
				t.Logf("%s/%s: not replayed: %s", name, c.Test, c.Skip)
				continue
			}
			t.Run(name+"/"+c.Test, func(t *testing.T) { runSaltCase(t, c) })
		}
	}
}

func runSaltCase(t *testing.T, c saltCase) {
	dir := t.TempDir()
	for n, src := range c.Files {
		src = strings.ReplaceAll(src, "{tmp}", dir)
		file := n + ".sls" // an SLS by name; other files (scripts) as named
		if strings.Contains(n, ".") {
			file = n
		}
		if err := os.WriteFile(filepath.Join(dir, file), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rt := &modules.Runtime{ID: "minion1", Grains: map[string]any{"id": "minion1"}}
	comp := sls.New(sls.Config{FileRoots: []string{dir}, ID: "minion1", Grains: rt.Grains, Caller: modules.Caller{Runtime: rt}})
	lows, cerr := comp.SLS(context.Background(), "requisite")
	plan, err := states.PrepareWith(lows, cerr, states.PlanOptions{Run: !c.Strict})
	if c.Error != "" {
		if err == nil || !strings.Contains(err.Error(), c.Error) {
			t.Fatalf("error %v, want one containing %q", err, c.Error)
		}
		return
	}
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	h := plan.Run(context.Background(), states.RunOptions{Test: c.Mode, Env: comp})
	byKey := map[string]result.State{}
	var order []string
	for _, r := range h {
		byKey[r.Key] = r
		order = append(order, r.Key)
	}
	if c.RunOrder != nil && strings.Join(order, "\n") != strings.Join(c.RunOrder, "\n") {
		t.Errorf("run order:\n  %s\nwant:\n  %s", strings.Join(order, "\n  "), strings.Join(c.RunOrder, "\n  "))
	}
	for _, f := range c.AbsentFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s exists after the run, want it absent", f)
		}
	}
	for _, k := range c.Absent {
		if _, ok := byKey[k]; ok {
			t.Errorf("result %s is in the return, want it absent", k)
		}
	}
	if c.AllComments != "" {
		if len(h) == 0 {
			t.Errorf("no results, want every comment %q", c.AllComments)
		}
		for _, r := range h {
			if r.Comment != c.AllComments {
				t.Errorf("%s: comment %q, want %q", r.Key, r.Comment, c.AllComments)
			}
		}
	}
	if c.AllResults != "" {
		if len(h) == 0 {
			t.Errorf("no results, want every result %s", c.AllResults)
		}
		for _, r := range h {
			if got := states.ResultString(r.Result); got != c.AllResults {
				t.Errorf("%s: result %s, want %s (comment %q)", r.Key, got, c.AllResults, r.Comment)
			}
		}
	}
	for p, want := range c.Modes {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Errorf("mode of %s: %v", p, err)
		} else if got := fmt.Sprintf("%04o", fi.Mode().Perm()|fi.Mode()&os.ModeSticky); got != want {
			t.Errorf("%s has mode %s, want %s", p, got, want)
		}
	}
	keys := make([]string, 0, len(c.Want))
	for k := range c.Want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w := c.Want[k]
		r, ok := byKey[strings.ReplaceAll(k, "{tmp}", dir)]
		if !ok {
			t.Errorf("no result %s; results: %v", k, order)
			continue
		}
		if got := states.ResultString(r.Result); w.Result != nil && got != *w.Result {
			t.Errorf("%s: result %s, want %s (comment %q)", k, got, *w.Result, r.Comment)
		}
		if w.Comment != nil && r.Comment != strings.ReplaceAll(*w.Comment, "{tmp}", dir) {
			t.Errorf("%s: comment %q, want %q", k, r.Comment, *w.Comment)
		}
		if w.Prefix != nil && !strings.HasPrefix(r.Comment, *w.Prefix) {
			t.Errorf("%s: comment %q, want it to start with %q", k, r.Comment, *w.Prefix)
		}
		if w.Changed != nil && (len(r.Changes) > 0) != *w.Changed {
			t.Errorf("%s: changes %v, want changed=%v", k, r.Changes, *w.Changed)
		}
		if w.Changes != nil {
			gotY, _ := yaml.Marshal(r.Changes)
			wantY, _ := yaml.Marshal(w.Changes)
			if string(gotY) != string(wantY) {
				t.Errorf("%s: changes\n%s\nwant\n%s", k, gotY, wantY)
			}
		}
		if w.RunNum != nil && r.RunNum != *w.RunNum {
			t.Errorf("%s: __run_num__ %d, want %d", k, r.RunNum, *w.RunNum)
		}
		for ck, cv := range w.ChangesSubset {
			if got, ok := r.Changes[ck]; !ok || fmt.Sprint(got) != strings.ReplaceAll(fmt.Sprint(cv), "{tmp}", dir) {
				t.Errorf("%s: changes[%q] = %v, want %v (changes %v)", k, ck, got, cv, r.Changes)
			}
		}
		if w.Parallel != nil && r.Parallel != *w.Parallel {
			t.Errorf("%s: __parallel__ %v, want %v", k, r.Parallel, *w.Parallel)
		}
		if w.StartsBeforeEndOf != "" {
			if other, ok := byKey[w.StartsBeforeEndOf]; !ok {
				t.Errorf("%s: no result %s to compare start times with", k, w.StartsBeforeEndOf)
			} else if !startsBeforeEnd(t, r, other) {
				t.Errorf("%s started at %s, after %s ended (started %s, took %.0f ms)", k, r.StartTime, w.StartsBeforeEndOf, other.StartTime, other.Duration)
			}
		}
		if w.HasDuration {
			if b, err := json.Marshal(r); err != nil || !strings.Contains(string(b), `"duration":`) {
				t.Errorf("%s: no duration in the return %s (%v)", k, b, err)
			}
		}
		if w.Warn != nil && strings.Join(r.Warnings, "\n") != strings.Join(w.Warn, "\n") {
			t.Errorf("%s: warnings %q, want %q", k, r.Warnings, w.Warn)
		}
	}
}

// startsBeforeEnd reports whether a started before b ended, by the start
// times ("15:04:05.000000") and durations (ms) of their results.
func startsBeforeEnd(t *testing.T, a, b result.State) bool {
	t.Helper()
	sa, errA := time.Parse("15:04:05.000000", a.StartTime)
	sb, errB := time.Parse("15:04:05.000000", b.StartTime)
	if errA != nil || errB != nil {
		t.Fatalf("start times %q, %q: %v %v", a.StartTime, b.StartTime, errA, errB)
	}
	return sa.Before(sb.Add(time.Duration(b.Duration * float64(time.Millisecond))))
}
