package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

// compatPassing lists the formulas of the compatibility corpus that compile
// to exactly Salt's states today. A formula listed here that stops doing so
// fails TestCompatFormulas; one that starts passing is reported, to be added.
var compatPassing = []string{"chrony", "cron", "docker", "locale", "nginx", "ntp", "openssh", "packages", "sysctl", "template", "timezone", "users"}

// compatDir returns the directory of the Salt formula corpus: $BRINE_COMPAT_DIR,
// else shared/compat beside the repository. The corpus is not part of the
// repository (it may not be copied into it), so a clone without it beside
// skips these tests.
func compatDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BRINE_COMPAT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "compat")
	}
	if fi, err := os.Stat(filepath.Join(dir, "formulas")); err != nil || !fi.IsDir() {
		t.Skipf("no Salt formula corpus at %s (set BRINE_COMPAT_DIR)", dir)
	}
	return dir
}

// compatState is one state as Salt's expect.json and check.py name it.
type compatState struct{ ID, Fun, Name string }

// TestCompatFormulas compiles every formula of the corpus with
// `brine call --local state.show_sls` and compares its states (ID,
// module.function, name) with what Salt 3006 compiled from the same tree.
func TestCompatFormulas(t *testing.T) {
	dir := filepath.Join(compatDir(t), "formulas")
	bin := brineBinary(t)
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var passed []string
	for _, e := range names {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			want, sls := readExpect(t, filepath.Join(dir, name, "expect.json"))
			cmd := exec.Command(bin, "call", "--local", "--file-root", filepath.Join(dir, name, "states"),
				"--pillar-root", filepath.Join(dir, name, "pillar"), "--id", "testminion", "--out", "json", "state.show_sls", sls)
			out, _ := cmd.Output() // a compile error exits non-zero with its JSON on stdout
			got, compileErr, err := parseShowSLS(out)
			if err != nil {
				t.Fatalf("brine printed no show_sls JSON: %v\n%s", err, out)
			}
			diff := compareStates(want, got)
			if compileErr == "" && diff == "" {
				passed = append(passed, name)
				if !slices.Contains(compatPassing, name) {
					t.Logf("%s: same %d states as Salt; add it to compatPassing", name, len(want))
				}
				return
			}
			report := diff
			if compileErr != "" {
				report = "does not compile: " + compileErr
			}
			if slices.Contains(compatPassing, name) {
				t.Errorf("%s regressed: %s", name, report)
			} else {
				t.Logf("%s (not expected to pass yet): %s", name, report)
			}
		})
	}
	t.Logf("%d of the corpus's formulas compile as in Salt: %v", len(passed), passed)
}

// readExpect reads an expect.json: the states Salt compiled and the SLS name.
func readExpect(t *testing.T, path string) (map[compatState]bool, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		SLS    string `json:"sls"`
		States []struct {
			ID   string `json:"id"`
			Fun  string `json:"fun"`
			Name any    `json:"name"`
		} `json:"salt_states"`
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	want := map[compatState]bool{}
	for _, s := range exp.States {
		want[compatState{s.ID, s.Fun, pyStr(s.Name)}] = true
	}
	return want, exp.SLS
}

// parseShowSLS reads `--out json state.show_sls` output: the states, or
// the first compile error when the minion's value is a list of errors.
func parseShowSLS(out []byte) (map[compatState]bool, string, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, "", err
	}
	if len(doc) != 1 {
		return nil, "", fmt.Errorf("want one minion's return, got %d", len(doc))
	}
	var raw json.RawMessage
	for _, v := range doc {
		raw = v
	}
	var errs []string
	if json.Unmarshal(raw, &errs) == nil {
		if len(errs) == 0 {
			return nil, "", fmt.Errorf("an empty error list")
		}
		return nil, errs[0], nil
	}
	var high map[string]map[string]any
	if err := json.Unmarshal(raw, &high); err != nil {
		return nil, "", err
	}
	got := map[compatState]bool{}
	for id, body := range high {
		for mod, v := range body {
			args, ok := v.([]any)
			if !ok || mod == "order" || len(mod) > 1 && mod[:2] == "__" {
				continue
			}
			fun, name := "?", id
			for _, a := range args {
				switch a := a.(type) {
				case string:
					if fun == "?" {
						fun = a
					}
				case map[string]any:
					if n, ok := a["name"]; ok {
						name = pyStr(n)
					}
				}
			}
			got[compatState{id, mod + "." + fun, name}] = true
		}
	}
	return got, "", nil
}

// compareStates describes how got differs from want ("" when equal).
func compareStates(want, got map[compatState]bool) string {
	var missing, extra []string
	for s := range want {
		if !got[s] {
			missing = append(missing, fmt.Sprint(s))
		}
	}
	for s := range got {
		if !want[s] {
			extra = append(extra, fmt.Sprint(s))
		}
	}
	if len(missing)+len(extra) == 0 {
		return ""
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return fmt.Sprintf("differs from Salt: missing %d %v, extra %d %v", len(missing), first(missing, 3), len(extra), first(extra, 3))
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// pyStr renders a JSON value as check.py's str() does for names.
func pyStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprint(int64(x))
		}
		return fmt.Sprint(x)
	case bool:
		if x {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	}
	return fmt.Sprint(v)
}
