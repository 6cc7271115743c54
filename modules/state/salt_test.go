package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/modules"
	_ "github.com/brinecm/brine/modules/all"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
	_ "github.com/brinecm/brine/states/all"
)

// stateCase is one test of Salt's
// tests/pytests/functional/modules/state/test_state.py, replayed through
// brine's state module functions against a state tree and files in a
// temporary directory.
type stateCase struct {
	Test string `yaml:"test"` // the Salt test's name (with its parameter)
	// Skip says why the case is not replayed: it checks Salt internals.
	Skip string `yaml:"skip"`
	// Missing names the brine feature the case needs and brine lacks; the
	// case counts as failing.
	Missing string `yaml:"missing"`
	// Needs are commands the case needs on the host (python3 for pydsl).
	Needs []string `yaml:"needs"`
	// Tree are files of the state tree (path -> contents), laid over
	// Salt's fixture tree: top.sls assigning core, core.sls managing
	// {tmp}/testfile-dir/testfile from salt://testfile.
	Tree map[string]string `yaml:"tree"`
	// TreeProd are files of the prod environment's state tree (Salt's
	// state_tree_prod fixture), laid in {tmp}/tree-prod.
	TreeProd map[string]string `yaml:"tree_prod"`
	// Setup are files written below {tmp} before the first step.
	Setup map[string]string `yaml:"setup"`
	// Later creates a file below {tmp} once another appears there, after
	// a pause, as the Salt test's helper thread does.
	Later *laterFile  `yaml:"later"`
	Steps []stateStep `yaml:"steps"`
}

type laterFile struct {
	After  string        `yaml:"after"`
	Delay  time.Duration `yaml:"delay"`
	Create string        `yaml:"create"`
}

// stateStep is one call of a state module function and what Salt asserts
// of its return. {tmp} in strings is the case's directory, {tree} its state
// tree.
type stateStep struct {
	Call   string         `yaml:"call"`
	Args   []any          `yaml:"args"`
	Kwargs map[string]any `yaml:"kwargs"`
	// Error is a substring of the error the call must fail with (Salt's
	// ret.failed and "... in ret.errors").
	Errors []string `yaml:"errors"`
	// ErrorCount, when set, is how many compile errors (sls.Errors) the
	// call must fail with (Salt's ret.errors == [...]).
	ErrorCount int `yaml:"error_count"`
	// Equal is the whole return, compared as JSON.
	Equal any `yaml:"equal"`
	// ListOf is the type of every element of a list return ("map", "string").
	ListOf string `yaml:"list_of"`
	// Has are keys the returned mapping (or highstate) must hold.
	Has []string `yaml:"has"`
	// At are values inside the return: a key path and the value there.
	At []struct {
		Path  []string `yaml:"path"`
		Value any      `yaml:"value"`
	} `yaml:"at"`
	// AllResults is every state's result (True, False, None).
	AllResults string `yaml:"all_results"`
	// AllCommentsHave / AllCommentsLack are substrings every state's
	// comment must hold / must not hold.
	AllCommentsHave string `yaml:"all_comments_have"`
	AllCommentsLack string `yaml:"all_comments_lack"`
	// Comments are every state's comment, sorted.
	Comments []string `yaml:"comments"`
	// Fields are keys every state's JSON result must hold; FieldValues
	// values they must have; FieldTypes the JSON type of their value.
	Fields      []string          `yaml:"fields"`
	FieldValues map[string]any    `yaml:"field_values"`
	FieldTypes  map[string]string `yaml:"field_types"`
	// Results are what some states' results must be, by result key.
	Results map[string]struct {
		Result *string `yaml:"result"`
	} `yaml:"results"`
	// Files are contents files below {tmp} must have after the call;
	// Exist and Absent paths that must or must not exist.
	Files  map[string]string `yaml:"files"`
	Exist  []string          `yaml:"exist"`
	Absent []string          `yaml:"absent"`
}

// TestSaltStateModule replays testdata/salt/test_state.yaml.
func TestSaltStateModule(t *testing.T) {
	b, err := os.ReadFile("testdata/salt/test_state.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cases []stateCase
	if err := yaml.Unmarshal(b, &cases); err != nil {
		t.Fatalf("test_state.yaml: %v", err)
	}
	for _, c := range cases {
		// Cases not replayed are listed, with why, in docs/salt-semantics.md.
		switch {
		case c.Skip != "":
			t.Logf("%s: not replayed, Salt internals: %s", c.Test, c.Skip)
			continue
		case c.Missing != "":
			t.Logf("%s: not replayed, missing in brine: %s", c.Test, c.Missing)
			continue
		}
		t.Run(c.Test, func(t *testing.T) { runStateCase(t, c) })
	}
}

func runStateCase(t *testing.T, c stateCase) {
	systest.RequireCommands(t, c.Needs...)
	tmp := t.TempDir()
	tree := filepath.Join(tmp, "tree")
	sub := strings.NewReplacer("{tmp}", tmp, "{tree}", tree)
	files := map[string]string{
		"top.sls":  "base:\n  '*':\n    - core\n",
		"core.sls": "{tmp}/testfile-dir/testfile:\n  file:\n    - managed\n    - source: salt://testfile\n    - makedirs: true\n",
		"testfile": "testfile base env contents",
	}
	for p, s := range c.Tree {
		files[p] = s
	}
	for p, s := range files {
		write(t, filepath.Join(tree, p), sub.Replace(s))
	}
	treeProd := filepath.Join(tmp, "tree-prod")
	if err := os.Mkdir(treeProd, 0o755); err != nil {
		t.Fatal(err)
	}
	for p, s := range c.TreeProd {
		write(t, filepath.Join(treeProd, p), sub.Replace(s))
	}
	for p, s := range c.Setup {
		write(t, filepath.Join(tmp, p), sub.Replace(s))
	}
	pillar := filepath.Join(tmp, "pillar")
	if err := os.Mkdir(pillar, 0o755); err != nil {
		t.Fatal(err)
	}
	rt := &modules.Runtime{ID: "minion", Grains: map[string]any{"id": "minion", "os": "Debian"},
		FileRoots: []string{tree}, PillarRoots: []string{pillar}, FileEnvs: map[string][]string{"prod": {treeProd}},
		Opts: map[string]any{"data_dir": filepath.Join(tmp, "data"), "pydsl": true}} // pydsl: test_pydsl
	if c.Later != nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		defer func() { cancel(); <-done }()
		go func() {
			defer close(done)
			createLater(ctx, t, filepath.Join(tmp, c.Later.After), c.Later.Delay, filepath.Join(tmp, c.Later.Create))
		}()
	}
	for i, st := range c.Steps {
		args := substAll(sub, st.Args).([]any)
		kw, _ := substAll(sub, st.Kwargs).(map[string]any)
		out, err := modules.Call(context.Background(), rt, st.Call, args, kw)
		where := fmt.Sprintf("step %d (%s %v)", i+1, st.Call, args)
		if len(st.Errors) > 0 {
			if err == nil {
				t.Fatalf("%s: no error, want one holding %q; returned %v", where, st.Errors, out)
			}
			for _, e := range st.Errors {
				if !strings.Contains(err.Error(), sub.Replace(e)) {
					t.Errorf("%s: error %q does not hold %q", where, err, sub.Replace(e))
				}
			}
			var errs sls.Errors
			if st.ErrorCount > 0 && (!errors.As(err, &errs) || len(errs) != st.ErrorCount) {
				t.Errorf("%s: failed with %d compile errors (%q), want %d", where, len(errs), err, st.ErrorCount)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		checkStep(t, where, sub, st, out)
		for p, want := range st.Files {
			if got := readFile(t, filepath.Join(tmp, p)); got != sub.Replace(want) {
				t.Errorf("%s: %s holds %q, want %q", where, p, got, sub.Replace(want))
			}
		}
		for _, p := range st.Exist {
			if _, err := os.Stat(filepath.Join(tmp, p)); err != nil {
				t.Errorf("%s: %s does not exist: %v", where, p, err)
			}
		}
		for _, p := range st.Absent {
			if _, err := os.Stat(filepath.Join(tmp, p)); err == nil {
				t.Errorf("%s: %s exists, want it absent", where, p)
			}
		}
	}
}

// checkStep checks a call's return against what the step asserts.
func checkStep(t *testing.T, where string, sub *strings.Replacer, st stateStep, out any) {
	t.Helper()
	var generic any // the return as JSON decodes it: maps, lists, strings
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatalf("%s: encode return: %v", where, err)
	}
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatalf("%s: decode return: %v", where, err)
	}
	if st.Equal != nil {
		want := jsonValue(t, substAll(sub, st.Equal))
		if !reflect.DeepEqual(generic, want) {
			t.Errorf("%s: returned %s, want %v", where, b, want)
		}
	}
	if st.ListOf != "" {
		list, ok := generic.([]any)
		if !ok || len(list) == 0 {
			t.Errorf("%s: returned %s, want a list of %s", where, b, st.ListOf)
		}
		for _, e := range list {
			if got := jsonType(e); got != st.ListOf {
				t.Errorf("%s: element %v is a %s, want a %s", where, e, got, st.ListOf)
			}
		}
	}
	m, _ := generic.(map[string]any)
	for _, k := range st.Has {
		if _, ok := m[sub.Replace(k)]; !ok {
			t.Errorf("%s: no key %q in the return %s", where, sub.Replace(k), b)
		}
	}
	for _, at := range st.At {
		var v any = generic
		for _, k := range at.Path {
			vm, _ := v.(map[string]any)
			var ok bool
			if v, ok = vm[sub.Replace(k)]; !ok {
				t.Errorf("%s: no %q on the path %v in %s", where, sub.Replace(k), at.Path, b)
				break
			}
		}
		if want := jsonValue(t, at.Value); !reflect.DeepEqual(v, want) {
			t.Errorf("%s: %v is %v, want %v", where, at.Path, v, want)
		}
	}
	h, isRun := out.(result.Highstate)
	if !isRun {
		if st.AllResults != "" || st.Results != nil || st.Fields != nil || st.Comments != nil {
			t.Fatalf("%s: returned %T, want a state run's results", where, out)
		}
		return
	}
	if (st.AllResults != "" || st.AllCommentsHave != "" || st.AllCommentsLack != "") && len(h) == 0 {
		t.Errorf("%s: no state results", where)
	}
	var comments []string
	for _, r := range h {
		comments = append(comments, r.Comment)
		if got := states.ResultString(r.Result); st.AllResults != "" && got != st.AllResults {
			t.Errorf("%s: %s: result %s, want %s (comment %q)", where, r.Key, got, st.AllResults, r.Comment)
		}
		if s := sub.Replace(st.AllCommentsHave); s != "" && !strings.Contains(r.Comment, s) {
			t.Errorf("%s: %s: comment %q does not hold %q", where, r.Key, r.Comment, s)
		}
		if s := st.AllCommentsLack; s != "" && strings.Contains(r.Comment, s) {
			t.Errorf("%s: %s: comment %q holds %q", where, r.Key, r.Comment, s)
		}
		full, _ := m[r.Key].(map[string]any)
		for _, f := range st.Fields {
			if _, ok := full[f]; !ok {
				t.Errorf("%s: %s: no %s in %v", where, r.Key, f, full)
			}
		}
		for f, want := range st.FieldValues {
			if !reflect.DeepEqual(full[f], jsonValue(t, want)) {
				t.Errorf("%s: %s: %s is %#v, want %#v", where, r.Key, f, full[f], want)
			}
		}
		for f, want := range st.FieldTypes {
			if got := jsonType(full[f]); got != want {
				t.Errorf("%s: %s: %s is a %s (%#v), want a %s", where, r.Key, f, got, full[f], want)
			}
		}
	}
	if st.Comments != nil {
		sort.Strings(comments)
		if !reflect.DeepEqual(comments, st.Comments) {
			t.Errorf("%s: comments %q, want %q", where, comments, st.Comments)
		}
	}
	for k, w := range st.Results {
		full, ok := m[sub.Replace(k)].(map[string]any)
		if !ok {
			t.Errorf("%s: no result %s in %s", where, k, b)
			continue
		}
		if w.Result != nil && jsonResult(full["result"]) != *w.Result {
			t.Errorf("%s: %s: result %v, want %s", where, k, full["result"], *w.Result)
		}
	}
}

func jsonResult(v any) string {
	switch v {
	case true:
		return "True"
	case false:
		return "False"
	case nil:
		return "None"
	}
	return fmt.Sprint(v)
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case map[string]any:
		return "map"
	case []any:
		return "list"
	case bool:
		return "bool"
	case float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// jsonValue is v (YAML-decoded) as JSON decodes it, for comparisons.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %v: %v", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// substAll replaces {tmp} and {tree} in every string of v.
func substAll(sub *strings.Replacer, v any) any {
	switch v := v.(type) {
	case string:
		return sub.Replace(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = substAll(sub, e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[sub.Replace(k)] = substAll(sub, e)
		}
		return out
	case nil:
		return []any(nil)
	}
	return v
}

func write(t *testing.T, path, contents string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(contents), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("read %s: %v", path, err)
	}
	return string(b)
}

// createLater creates create once after exists, delay later, unless ctx
// ends first. It polls: the Salt test's helper thread does the same.
func createLater(ctx context.Context, t *testing.T, after string, delay time.Duration, create string) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(after); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(delay):
	}
	if err := os.WriteFile(create, nil, 0o644); err != nil {
		t.Errorf("create %s: %v", create, err)
	}
}
