package saltcheck

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/brinecm/brine/modules"
	_ "github.com/brinecm/brine/modules/grains" // grains.get, called by the fixture's tests
	_ "github.com/brinecm/brine/modules/state"  // state.apply, for saltcheck.state_apply
	_ "github.com/brinecm/brine/modules/test"   // test.echo, called by the fixture's tests
	_ "github.com/brinecm/brine/states/test"    // test.nop and test.fail_without_changes states
)

func runtime() *modules.Runtime {
	return &modules.Runtime{
		ID:        "web1",
		Grains:    map[string]any{"id": "web1", "os": "Debian"},
		FileRoots: []string{"testdata/tree"},
		Opts:      map[string]any{},
	}
}

// statuses flattens a report to "sls/test id" -> status, and returns its summary.
func statuses(t *testing.T, out any) (map[string]string, map[string]any) {
	t.Helper()
	rep, ok := out.(Report)
	if !ok {
		t.Fatalf("return is a %T, want a Report", out)
	}
	got := map[string]string{}
	for _, e := range rep[:len(rep)-1] {
		for sls, tests := range e.(map[string]any) {
			for id, r := range tests.(map[string]any) {
				got[sls+"/"+id] = r.(Result)["status"].(string)
			}
		}
	}
	return got, rep[len(rep)-1].(map[string]any)["TEST RESULTS"].(map[string]any)
}

// TestRunStateTests runs the fixture tree's tests through modules.Call, as
// brine call does: the tests of an SLS and of the SLS files it includes,
// Jinja-rendered, and the summary.
func TestRunStateTests(t *testing.T) {
	tests := []struct {
		name    string
		args    []any
		kwargs  map[string]any
		want    map[string]string
		summary map[string]any
		failed  bool
	}{
		{
			name: "web and what it includes",
			args: []any{"web"},
			want: map[string]string{
				"web/echo_hello": "Pass", "web/minion_id": "Pass", "web/echo_alpha": "Pass",
				"web/echo_beta": "Pass", "web/conf_echo": "Skip",
			},
			summary: map[string]any{"Passed": 4, "Failed": 0, "Skipped": 1, "Missing Tests": 0},
		},
		{
			name: "check_all reads every .tst file",
			args: []any{"web"}, kwargs: map[string]any{"check_all": true},
			want: map[string]string{
				"web/echo_hello": "Pass", "web/minion_id": "Pass", "web/echo_alpha": "Pass",
				"web/echo_beta": "Pass", "web/conf_echo": "Skip", "web/only_with_check_all": "Pass",
			},
			summary: map[string]any{"Passed": 5, "Failed": 0, "Skipped": 1, "Missing Tests": 0},
		},
		{
			name:    "an SLS without tests is missing tests, comma-separated names",
			args:    []any{"db,web.conf"},
			want:    map[string]string{"web.conf/conf_echo": "Skip"},
			summary: map[string]any{"Passed": 0, "Failed": 0, "Skipped": 1, "Missing Tests": 1},
		},
		{
			name: "a malformed file fails with its file and line",
			args: []any{"bad"},
			want: map[string]string{
				"bad/bad/saltcheck-tests/init.tst": "Fail: bad/saltcheck-tests/init.tst:5: not valid YAML (after Jinja): mapping values are not allowed in this context",
			},
			summary: map[string]any{"Passed": 0, "Failed": 1, "Skipped": 0, "Missing Tests": 0},
			failed:  true,
		},
		{
			name: "bad tests fail one by one with the reason",
			args: []any{"notes"},
			want: map[string]string{
				"notes/typo_assertion": "Fail: invalid test: unknown assertion 'assertEquals' (did you mean 'assertEqual'?)",
				"notes/typo_function":  "Fail: invalid test: module_and_function 'test.ecko' is not available (did you mean 'test.echo'?)",
				"notes/no_function":    "Fail: invalid test: missing module_and_function (the function to call, e.g. module_and_function: test.echo)",
				"notes/typo_key":       "Fail: invalid test: unknown key 'expected_retrun' (did you mean 'expected_return'?); assertEqual needs expected_return (the value to compare the return with)",
				"notes/no_expected":    "Fail: invalid test: assertEqual needs expected_return (the value to compare the return with)",
			},
			summary: map[string]any{"Passed": 0, "Failed": 5, "Skipped": 0, "Missing Tests": 0},
			failed:  true,
		},
		{
			name: "state_apply setup tests need no assertion and fail with a failed state",
			args: []any{"setup"},
			want: map[string]string{
				"setup/apply_setup":  "Pass",
				"setup/apply_broken": "Fail: saltcheck.state_apply: a state failed",
			},
			summary: map[string]any{"Passed": 1, "Failed": 1, "Skipped": 0, "Missing Tests": 0},
			failed:  true,
		},
		{
			name: "a test ID twice in a file fails the file",
			args: []any{"dup"},
			want: map[string]string{
				"dup/dup/saltcheck-tests/init.tst": "Fail: dup/saltcheck-tests/init.tst:5: test ID 'same' is already defined on line 1: test IDs must be unique",
			},
			summary: map[string]any{"Passed": 0, "Failed": 1, "Skipped": 0, "Missing Tests": 0},
			failed:  true,
		},
		{
			name: "only_fails hides what passed",
			args: []any{"web", "bad"}, kwargs: map[string]any{"only_fails": true},
			want: map[string]string{
				"bad/bad/saltcheck-tests/init.tst": "Fail: bad/saltcheck-tests/init.tst:5: not valid YAML (after Jinja): mapping values are not allowed in this context",
			},
			summary: map[string]any{"Passed": 4, "Failed": 1, "Skipped": 1, "Missing Tests": 0},
			failed:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := modules.Call(context.Background(), runtime(), "saltcheck.run_state_tests", tt.args, tt.kwargs)
			if err != nil {
				t.Fatal(err)
			}
			got, summary := statuses(t, out)
			if len(got) != len(tt.want) {
				t.Errorf("results %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: %q, want %q", k, got[k], v)
				}
			}
			for k, v := range tt.summary {
				if summary[k] != v {
					t.Errorf("summary %s = %v, want %v", k, summary[k], v)
				}
			}
			if out.(Report).Failed() != tt.failed {
				t.Errorf("Failed() = %v, want %v", !tt.failed, tt.failed)
			}
		})
	}
}

// TestRunHighstateTests runs the tests of every SLS the top file gives.
func TestRunHighstateTests(t *testing.T) {
	out, err := modules.Call(context.Background(), runtime(), "saltcheck.run_highstate_tests", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, summary := statuses(t, out)
	if got["web/echo_hello"] != "Pass" || len(got) != 5 {
		t.Errorf("results %v", got)
	}
	if summary["Missing Tests"] != 1 || summary["Passed"] != 4 { // db has none
		t.Errorf("summary %v", summary)
	}
	// Salt's shape: the SLS entries sorted, the summary last.
	raw, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(raw); !strings.HasPrefix(s, `[{"db":{}},{"web":{`) || !strings.Contains(s, `{"TEST RESULTS":{"Execution Time":`) {
		t.Errorf("JSON %s", s)
	}
}

// TestRunTest runs inline tests given as test={...} or as keyword arguments.
func TestRunTest(t *testing.T) {
	echo := map[string]any{"module_and_function": "test.echo", "args": []any{"hi"}}
	with := func(extra map[string]any) map[string]any {
		m := maps(echo)
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		kwargs  map[string]any
		want    string
		wantErr string
	}{
		{"as test", map[string]any{"test": with(map[string]any{"assertion": "assertEqual", "expected_return": "hi"})}, "Pass", ""},
		{"as keywords, expected-return", with(map[string]any{"assertion": "assertEqual", "expected-return": "hi"}), "Pass", ""},
		{"failing", with(map[string]any{"assertion": "assertEqual", "expected_return": "ho"}), "Fail: ho is not equal to hi", ""},
		{"a section of a mapping", map[string]any{"module_and_function": "grains.items", "assertion": "assertEqual",
			"assertion_section": "os", "expected_return": "Debian"}, "Pass", ""},
		{"a failing call", map[string]any{"module_and_function": "grains.get", "assertion": "assertTrue"},
			"Fail: grains.get: missing required argument 'key'", ""},
		{"args not a list", with(map[string]any{"args": "hi", "assertion": "assertTrue"}),
			"Fail: invalid test: args: want a list (args: ['hi']), not a str", ""},
		{"assertions list", with(map[string]any{"assertions": []any{
			map[string]any{"assertion": "assertIn", "expected_return": "h"},
			map[string]any{"assertion": "assertEmpty"},
		}}), "Fail: assertion2: hi is not empty", ""},
		{"not a saltcheck run", map[string]any{"module_and_function": "saltcheck.run_state_tests", "assertion": "assertTrue"},
			"Fail: invalid test: module_and_function 'saltcheck.run_state_tests': a test cannot run saltcheck tests itself", ""},
		{"nothing", nil, "", "no test given"},
		{"both forms", map[string]any{"test": echo, "assertion": "assertTrue"}, "", "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := modules.Call(context.Background(), runtime(), "saltcheck.run_test", nil, tt.kwargs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := out.(Result)
			if r["status"] != tt.want {
				t.Errorf("status %q, want %q", r["status"], tt.want)
			}
			if _, ok := r["duration"].(float64); !ok {
				t.Errorf("duration %#v is not seconds", r["duration"])
			}
			if r.Failed() != strings.HasPrefix(tt.want, "Fail") {
				t.Errorf("Failed() = %v for %q", r.Failed(), tt.want)
			}
		})
	}
}

// TestBadCalls checks the errors of the functions themselves.
func TestBadCalls(t *testing.T) {
	tests := []struct {
		fun     string
		args    []any
		kwargs  map[string]any
		rt      *modules.Runtime
		wantErr string
	}{
		{"saltcheck.run_state_tests", nil, nil, runtime(), "name at least one SLS"},
		{"saltcheck.run_state_tests", []any{"web"}, map[string]any{"saltenv": "dev"}, runtime(), "base environment only"},
		{"saltcheck.run_state_tests", []any{"web"}, nil, &modules.Runtime{}, "give one with --file-root"},
		{"saltcheck.run_state_tests", []any{"web"}, map[string]any{"check_al": true}, runtime(), "did you mean 'check_all'"},
	}
	for _, tt := range tests {
		_, err := modules.Call(context.Background(), tt.rt, tt.fun, tt.args, tt.kwargs)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s %v %v: error %v, want one containing %q", tt.fun, tt.args, tt.kwargs, err, tt.wantErr)
		}
	}
}
