// Package saltcheck provides Salt's saltcheck execution module: assertions
// on the returns of execution functions, written in .tst files next to the
// recipes they test (<sls dir>/saltcheck-tests/*.tst, YAML rendered
// through Jinja like an SLS). saltcheck.run_test runs one test,
// saltcheck.run_state_tests the tests of SLS files, and
// saltcheck.run_highstate_tests those of the minion's highstate. Results
// and the TEST RESULTS summary have Salt's shape, so existing saltcheck
// suites and the tools that read their output work unchanged.
package saltcheck

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/sls"
)

// Report is the return of a test run in Salt's shape: one {SLS: {test ID:
// result}} entry per SLS, sorted, then {"TEST RESULTS": summary}.
type Report []any

// Failed reports whether any test failed.
func (r Report) Failed() bool {
	if len(r) == 0 {
		return false
	}
	last, _ := r[len(r)-1].(map[string]any)
	sum, _ := last["TEST RESULTS"].(map[string]any)
	n, _ := sum["Failed"].(int)
	return n > 0
}

type runTestArgs struct {
	Test map[string]any `arg:"test"`
	Keys map[string]any `arg:"*"`
}

type stateTestsArgs struct {
	States    []string       `arg:"states"`
	CheckAll  bool           `arg:"check_all"`
	OnlyFails bool           `arg:"only_fails"`
	Saltenv   string         `arg:"saltenv"`
	Pillar    map[string]any `arg:"pillar"`
	Timeout   float64        `arg:"timeout"`
}

type highstateTestsArgs struct {
	OnlyFails bool           `arg:"only_fails"`
	Saltenv   string         `arg:"saltenv"`
	Pillar    map[string]any `arg:"pillar"`
	Timeout   float64        `arg:"timeout"`
}

// runOptions are what the run functions share besides the SLS names.
type runOptions struct {
	all, onlyFails bool
	pillar         map[string]any // merged over the compiled pillar when test files render
	timeout        time.Duration  // per test; 0: none
}

// timeoutArg turns timeout=SECONDS into a duration.
func timeoutArg(s float64) (time.Duration, error) {
	if s < 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return 0, fmt.Errorf("timeout=%v: give the seconds one test may take, e.g. timeout=60 (0: no limit)", s)
	}
	return time.Duration(s * float64(time.Second)), nil
}

type stateApplyArgs struct {
	State string         `arg:"state_name,required"`
	Rest  map[string]any `arg:"*"`
}

// None of the functions is ReadOnly: a test may call any function,
// saltcheck.state_apply and cmd.run included.
func init() {
	modules.Register("saltcheck.run_test", modules.Func[runTestArgs]{
		Doc: "Run one saltcheck test given inline: test='{module_and_function: test.echo, args: [hi], " +
			"assertion: assertEqual, expected_return: hi}', or the same keys as key=value arguments. " +
			"Returns {status: Pass|Fail: why|Skip, duration}; a failed test fails the call.",
		Call: func(ctx context.Context, rt *modules.Runtime, a *runTestArgs) (any, error) {
			switch {
			case a.Test != nil && len(a.Keys) > 0:
				return nil, errors.New("give the test either as test='{...}' or as key=value arguments, not both")
			case a.Test != nil:
				return runTest(ctx, rt, a.Test), nil
			case len(a.Keys) > 0:
				return runTest(ctx, rt, a.Keys), nil
			}
			return nil, errors.New("no test given: saltcheck.run_test test='{module_and_function: test.echo, args: [hi], assertion: assertEqual, expected_return: hi}'")
		},
	})
	modules.Register("saltcheck.run_state_tests", modules.Func[stateTestsArgs]{
		Doc: "Run the saltcheck tests of the named SLS files and of the SLS files they include " +
			"(<sls dir>/saltcheck-tests/init.tst or <name>.tst; check_all=True reads every .tst there). " +
			"only_fails=True lists failed tests alone. pillar='{...}' is merged over the pillar the test files " +
			"render with; timeout=SECONDS fails a test that takes longer. A failed test fails the call.",
		Params: []string{"states..."},
		Call: func(ctx context.Context, rt *modules.Runtime, a *stateTestsArgs) (any, error) {
			if err := checkSaltenv(a.Saltenv); err != nil {
				return nil, err
			}
			names := splitNames(a.States)
			if len(names) == 0 {
				return nil, errors.New("name at least one SLS whose tests to run: saltcheck.run_state_tests web")
			}
			timeout, err := timeoutArg(a.Timeout)
			if err != nil {
				return nil, err
			}
			return runStates(ctx, rt, names, runOptions{all: a.CheckAll, onlyFails: a.OnlyFails, pillar: a.Pillar, timeout: timeout})
		},
	})
	modules.Register("saltcheck.run_highstate_tests", modules.Func[highstateTestsArgs]{
		Doc: "Run the saltcheck tests of every SLS the top file gives this minion. pillar='{...}' and " +
			"timeout=SECONDS as for run_state_tests. A failed test fails the call.",
		Call: func(ctx context.Context, rt *modules.Runtime, a *highstateTestsArgs) (any, error) {
			if err := checkSaltenv(a.Saltenv); err != nil {
				return nil, err
			}
			timeout, err := timeoutArg(a.Timeout)
			if err != nil {
				return nil, err
			}
			c, err := compiler(rt, a.Pillar)
			if err != nil {
				return nil, err
			}
			names, err := c.Top(ctx)
			if err != nil {
				return nil, fmt.Errorf("read the top file: %w", err)
			}
			return runStates(ctx, rt, names, runOptions{onlyFails: a.OnlyFails, pillar: a.Pillar, timeout: timeout})
		},
	})
	modules.Register("saltcheck.state_apply", modules.Func[stateApplyArgs]{
		Doc:    "Apply SLS files as the setup of a test, as state.apply does (its other arguments too).",
		Params: []string{"state_name"},
		Call: func(ctx context.Context, rt *modules.Runtime, a *stateApplyArgs) (any, error) {
			return modules.Call(ctx, rt, "state.apply", []any{a.State}, a.Rest)
		},
	})
}

// checkSaltenv accepts Salt's saltenv argument for the one environment
// brine has.
func checkSaltenv(env string) error {
	if env != "" && env != "base" {
		return fmt.Errorf("saltenv %q: brine serves the base environment only (leave saltenv out)", env)
	}
	return nil
}

// splitNames accepts Salt's comma-separated list: run_state_tests web,db.
func splitNames(names []string) []string {
	var out []string
	for _, n := range names {
		for _, part := range strings.Split(n, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// compiler compiles and renders for the runtime's minion, with pillar
// merged over its compiled pillar.
func compiler(rt *modules.Runtime, pillar map[string]any) (*sls.Compiler, error) {
	if len(rt.FileRoots) == 0 {
		return nil, errors.New("no state tree to read tests from: give one with --file-root DIR (or file_roots in the minion configuration)")
	}
	return sls.New(sls.Config{
		FileRoots:   rt.FileRoots,
		PillarRoots: rt.PillarRoots,
		ID:          rt.ID,
		Grains:      rt.Grains,
		Pillar:      pillar,
		Opts:        rt.Opts,
		Caller:      modules.Caller{Runtime: rt},
		Limits:      rt.Limits,
	}), nil
}

// runStates runs the tests of each named SLS and of what it includes.
func runStates(ctx context.Context, rt *modules.Runtime, names []string, o runOptions) (Report, error) {
	c, err := compiler(rt, o.pillar)
	if err != nil {
		return nil, err
	}
	results := map[string]map[string]any{}
	var order []string
	for _, name := range names {
		if _, done := results[name]; done {
			continue
		}
		r, err := runSLS(ctx, rt, c, name, o)
		if err != nil {
			return nil, err
		}
		results[name] = r
		order = append(order, name)
	}
	return report(order, results, o.onlyFails), nil
}

// runSLS runs the tests of one SLS (and of the SLS files it includes).
// A name that is no SLS of the tree only names where tests are, as in Salt.
func runSLS(ctx context.Context, rt *modules.Runtime, c *sls.Compiler, name string, o runOptions) (map[string]any, error) {
	covered := []string{name}
	if slsExists(rt.FileRoots, name) {
		lows, err := c.SLS(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("compile %s to find its tests: %w", name, err)
		}
		for _, l := range lows {
			if !slices.Contains(covered, l.SLS) {
				covered = append(covered, l.SLS)
			}
		}
	}
	files, err := findTests(rt.FileRoots, covered, o.all)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	from := map[string]string{}
	for _, f := range files {
		tests, err := loadFile(ctx, c, f)
		if err != nil {
			// The file's tests cannot run: it fails, the other files still run.
			out[f.rel] = Result{"status": "Fail: " + err.Error(), "duration": 0.0}
			continue
		}
		for _, t := range tests {
			if prev, dup := from[t.id]; dup {
				out[t.id] = Result{"status": fmt.Sprintf("Fail: test ID '%s' is defined in both %s and %s: test IDs must be unique", t.id, prev, f.rel), "duration": 0.0}
				continue
			}
			from[t.id] = f.rel
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("run the tests of %s: %w", name, err)
			}
			out[t.id] = runTimed(ctx, rt, t.raw, o.timeout)
		}
	}
	return out, nil
}

// report builds Salt's return: the results per SLS, sorted, then the
// TEST RESULTS summary counted over every test.
func report(order []string, results map[string]map[string]any, onlyFails bool) Report {
	passed, failed, skipped, missing := 0, 0, 0, 0
	total := 0.0
	var out Report
	for _, name := range sortedNames(order) {
		tests := results[name]
		if len(tests) == 0 {
			missing++
		}
		shown := map[string]any{}
		for id, v := range tests {
			r := v.(Result)
			status, _ := r["status"].(string)
			switch {
			case strings.HasPrefix(status, "Pass"):
				passed++
			case strings.HasPrefix(status, "Fail"):
				failed++
			case strings.HasPrefix(status, "Skip"):
				skipped++
			}
			d, _ := r["duration"].(float64)
			total += d
			if !onlyFails || r.Failed() {
				shown[id] = r
			}
		}
		if onlyFails && len(shown) == 0 {
			continue
		}
		out = append(out, map[string]any{name: shown})
	}
	return append(out, map[string]any{"TEST RESULTS": map[string]any{
		"Execution Time": math.Round(total*1e4) / 1e4,
		"Passed":         passed,
		"Failed":         failed,
		"Skipped":        skipped,
		"Missing Tests":  missing,
	}})
}

func sortedNames(names []string) []string {
	out := append([]string(nil), names...)
	slices.Sort(out)
	return out
}
