package saltcheck

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/output"
	"github.com/brinecm/brine/states"
)

// stateApply is the setup function of Salt's state tests: it applies SLS
// files and needs no assertion (Salt checks its return is not empty).
const stateApply = "saltcheck.state_apply"

// testKeys are the keys a test may have.
var testKeys = []string{
	"module_and_function", "args", "kwargs", "assertion", "expected_return", "expected-return",
	"assertion_section", "assertion_section_delimiter", "assertions", "print_result",
	"output_details", "skip", "pillar_data", "pillar-data",
}

// groupKeys are the keys of one entry of a test's assertions list.
var groupKeys = []string{"assertion", "expected_return", "expected-return", "assertion_section", "assertion_section_delimiter"}

// check is one assertion of a test on its function's return.
type check struct {
	assertion string
	expected  any
	section   string
	delimiter string
}

// testCase is a validated saltcheck test.
type testCase struct {
	fun           string
	args          []any
	kwargs        map[string]any
	checks        []check
	grouped       bool // checks came from an assertions list
	printResult   bool
	outputDetails bool
	skip          bool
}

// parseTest validates one test definition, reporting every problem at once.
func parseTest(raw any, defaultDetails bool) (*testCase, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("invalid test: a test is a mapping with module_and_function, assertion, expected_return..., not a %s", typeName(raw))
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, k := range sortedKeys(m) {
		if !slices.Contains(testKeys, k) {
			bad("unknown key '%s'%s", k, suggestion(k, testKeys))
		}
	}
	tc := &testCase{printResult: true, outputDetails: defaultDetails}
	boolKey := func(key string, dst *bool) {
		switch v := m[key].(type) {
		case nil:
		case bool:
			*dst = v
		default:
			bad("%s: want True or False, not %s", key, output.PyRepr(v))
		}
	}
	boolKey("print_result", &tc.printResult)
	boolKey("output_details", &tc.outputDetails)
	boolKey("skip", &tc.skip)

	switch fun := m["module_and_function"].(type) {
	case nil:
		bad("missing module_and_function (the function to call, e.g. module_and_function: test.echo)")
	case string:
		tc.fun = fun
		if err := checkFunction(fun); err != nil {
			bad("%v", err)
		}
	default:
		bad("module_and_function: want a function name such as test.echo, not %s", output.PyRepr(fun))
	}
	switch args := m["args"].(type) {
	case nil:
	case []any:
		tc.args = args
	default:
		bad("args: want a list (args: [%s]), not a %s", output.PyRepr(args), typeName(args))
	}
	switch kw := m["kwargs"].(type) {
	case nil:
	case map[string]any:
		tc.kwargs = maps(kw)
	default:
		bad("kwargs: want a mapping of argument names to values, not a %s", typeName(kw))
	}
	pillar := m["pillar_data"]
	if pillar == nil {
		pillar = m["pillar-data"]
	}
	switch p := pillar.(type) {
	case nil:
	case map[string]any:
		if tc.kwargs == nil {
			tc.kwargs = map[string]any{}
		}
		tc.kwargs["pillar"] = p
	default:
		bad("pillar_data: want a mapping, not a %s", typeName(p))
	}

	switch groups := m["assertions"].(type) {
	case nil:
		if tc.fun == stateApply && m["assertion"] == nil {
			tc.checks = []check{{assertion: "assertNotEmpty"}}
			break
		}
		c, err := parseCheck(m, "")
		if err != nil {
			bad("%v", err)
		}
		tc.checks = []check{c}
	case []any:
		tc.grouped = true
		if m["assertion"] != nil {
			bad("give either assertion or an assertions list, not both")
		}
		for i, g := range groups {
			at := fmt.Sprintf("assertions[%d]: ", i)
			gm, ok := g.(map[string]any)
			if !ok {
				bad("%swant a mapping with assertion and expected_return, not a %s", at, typeName(g))
				continue
			}
			for _, k := range sortedKeys(gm) {
				if !slices.Contains(groupKeys, k) {
					bad("%sunknown key '%s'%s", at, k, suggestion(k, groupKeys))
				}
			}
			c, err := parseCheck(gm, at)
			if err != nil {
				bad("%v", err)
			}
			tc.checks = append(tc.checks, c)
		}
		if len(groups) == 0 {
			bad("assertions: the list is empty")
		}
	default:
		bad("assertions: want a list of mappings, not a %s", typeName(groups))
	}
	if len(problems) > 0 {
		return nil, errors.New("invalid test: " + strings.Join(problems, "; "))
	}
	return tc, nil
}

// parseCheck reads the assertion keys of m; at prefixes its messages.
func parseCheck(m map[string]any, at string) (check, error) {
	var c check
	var problems []string
	name, ok := m["assertion"].(string)
	switch {
	case m["assertion"] == nil:
		problems = append(problems, at+"missing assertion (one of "+strings.Join(assertionNames(), ", ")+")")
	case !ok:
		problems = append(problems, fmt.Sprintf("%sassertion: want an assertion name, not %s", at, output.PyRepr(m["assertion"])))
	default:
		if _, known := assertions[name]; !known {
			problems = append(problems, fmt.Sprintf("%sunknown assertion '%s'%s", at, name, suggestion(name, assertionNames())))
		}
		c.assertion = name
	}
	exp, has := m["expected_return"]
	if !has {
		exp = m["expected-return"]
	}
	c.expected = exp
	if a, known := assertions[c.assertion]; known && !a.unary && exp == nil {
		problems = append(problems, fmt.Sprintf("%s%s needs expected_return (the value to compare the return with)", at, c.assertion))
	}
	switch s := m["assertion_section"].(type) {
	case nil:
	case string:
		c.section = s
	default:
		c.section = output.PyStr(s) // a list index written as a number
	}
	switch d := m["assertion_section_delimiter"].(type) {
	case nil:
		c.delimiter = ":"
	case string:
		c.delimiter = d
		if d == "" {
			problems = append(problems, at+"assertion_section_delimiter is empty (the default is ':')")
		}
	default:
		problems = append(problems, fmt.Sprintf("%sassertion_section_delimiter: want a string such as '|', not %s", at, output.PyRepr(d)))
	}
	if len(problems) > 0 {
		return c, errors.New(strings.Join(problems, "; "))
	}
	return c, nil
}

// checkFunction reports whether a test may call fun.
func checkFunction(fun string) error {
	if !strings.Contains(fun, ".") {
		return fmt.Errorf("module_and_function '%s': want module.function, e.g. test.echo", fun)
	}
	if strings.HasPrefix(fun, "saltcheck.run_") {
		return fmt.Errorf("module_and_function '%s': a test cannot run saltcheck tests itself", fun)
	}
	if _, ok := modules.Lookup(fun); !ok {
		return fmt.Errorf("module_and_function '%s' is not available%s", fun, suggestion(fun, modules.Names()))
	}
	return nil
}

// suggestion is " (did you mean 'x'?)" for the closest candidate, or "".
func suggestion(s string, candidates []string) string {
	if best := states.Suggest(s, candidates); best != "" {
		return fmt.Sprintf(" (did you mean '%s'?)", best)
	}
	return ""
}

// maps copies a mapping one level deep, so a test never changes its source.
func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Result is the result of one test in Salt's shape: "status" ("Pass",
// "Fail: why" or "Skip") and "duration" in seconds, plus the details
// output_details asks for.
type Result map[string]any

// Failed reports whether the test failed.
func (r Result) Failed() bool {
	s, _ := r["status"].(string)
	return strings.HasPrefix(s, "Fail")
}

// runTest runs one test definition on the runtime.
func runTest(ctx context.Context, rt *modules.Runtime, raw any) Result {
	start := time.Now()
	res := Result{}
	details, _ := rt.Opts["saltcheck_output_details"].(bool)
	tc, err := parseTest(raw, details)
	switch {
	case err != nil:
		res["status"] = "Fail: " + err.Error()
	case tc.skip:
		return Result{"status": "Skip", "duration": 0.0}
	default:
		execute(ctx, rt, tc, res)
	}
	res["duration"] = math.Round(time.Since(start).Seconds()*1e4) / 1e4
	return res
}

// runTimed runs one test with at most timeout for it (0: no limit); a test
// that takes longer fails saying so.
func runTimed(ctx context.Context, rt *modules.Runtime, raw any, timeout time.Duration) Result {
	if timeout <= 0 {
		return runTest(ctx, rt, raw)
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res := runTest(tctx, rt, raw)
	if errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		res["status"] = fmt.Sprintf("Fail: timed out after %s (timeout=%g): the test's function did not return in time",
			timeout, timeout.Seconds())
	}
	return res
}

// failer is a return that knows it failed (a state run).
type failer interface{ Failed() bool }

// execute calls the test's function and runs its assertions into res.
func execute(ctx context.Context, rt *modules.Runtime, tc *testCase, res Result) {
	out, err := modules.Call(ctx, rt, tc.fun, tc.args, tc.kwargs)
	if err != nil {
		res["status"] = "Fail: " + err.Error()
		return
	}
	if f, ok := out.(failer); ok && tc.fun == stateApply && f.Failed() {
		res["status"] = "Fail: " + tc.fun + ": a state failed"
		return
	}
	ret, err := normalize(out)
	if err != nil {
		res["status"] = fmt.Sprintf("Fail: %s: %v", tc.fun, err)
		return
	}
	if !tc.grouped {
		for k, v := range assess(tc, tc.checks[0], ret) {
			res[k] = v
		}
		return
	}
	var failed []string
	for i, c := range tc.checks {
		key := fmt.Sprintf("assertion%d", i+1)
		r := assess(tc, c, ret)
		res[key] = r
		if s := r["status"].(string); s != "Pass" {
			failed = append(failed, key+": "+strings.TrimPrefix(s, "Fail: "))
		}
	}
	res["status"] = "Pass"
	if len(failed) > 0 {
		sort.Strings(failed)
		res["status"] = "Fail: " + strings.Join(failed, "; ")
	}
}

// assess runs one check on a return: its status, and the details when the
// test asks for them.
func assess(tc *testCase, c check, ret any) map[string]any {
	if c.section != "" {
		ret = section(ret, c.section, c.delimiter)
	}
	expected, err := normalize(c.expected)
	if err != nil {
		return map[string]any{"status": "Fail: expected_return: " + err.Error()}
	}
	out := map[string]any{"status": evaluate(c.assertion, expected, ret, tc.printResult)}
	if tc.outputDetails {
		key, call := "module.function [args]", tc.fun+" "+output.PyRepr(nonNil(tc.args))
		if c.section != "" {
			key += " assertion_section"
			call += " " + c.section
		}
		out[key] = call
		shown := "hidden"
		if tc.printResult {
			shown = output.PyStr(ret)
		}
		exp := ""
		if expected != nil {
			exp = output.PyStr(expected) + " "
		}
		out["saltcheck assertion"] = exp + assertions[c.assertion].desc + " " + shown
	}
	return out
}

func nonNil(args []any) []any {
	if args == nil {
		return []any{}
	}
	return args
}
