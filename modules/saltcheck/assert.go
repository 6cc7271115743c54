package saltcheck

import (
	"fmt"
	"slices"

	"github.com/brinecm/brine/pkg/output"
	"github.com/brinecm/brine/pkg/saltdata"
)

// assertion is one of Salt's saltcheck assertions. check returns "" when
// the assertion holds, else why it does not.
type assertion struct {
	desc string // how output_details shows it: "==", "IN", ...
	// unary assertions look at the return alone: no expected_return, no cast.
	unary bool
	// cast converts expected_return to the return's type first (Salt
	// does for every assertion but the membership and unary ones).
	cast  bool
	check func(expected, returned any, printResult bool) string
}

// assertions are the assertions saltcheck knows, by name.
var assertions = map[string]assertion{
	"assertEqual": {desc: "==", cast: true, check: func(e, r any, show bool) string {
		if equal(e, r) {
			return ""
		}
		if !show {
			return "Result is not equal"
		}
		return fmt.Sprintf("%s is not equal to %s", output.PyStr(e), output.PyStr(r))
	}},
	"assertNotEqual": {desc: "!=", cast: true, check: func(e, r any, show bool) string {
		if !equal(e, r) {
			return ""
		}
		if !show {
			return "Result is equal"
		}
		return fmt.Sprintf("%s is equal to %s", output.PyStr(e), output.PyStr(r))
	}},
	"assertTrue": {desc: "True is", unary: true, check: func(_, r any, _ bool) string {
		if r == true {
			return ""
		}
		return output.PyStr(r) + " not True"
	}},
	"assertFalse": {desc: "False is", unary: true, check: func(_, r any, _ bool) string {
		if s, ok := r.(string); ok { // Salt turns a string into bool(string) first
			r = saltdata.Truthy(s)
		}
		if r == false {
			return ""
		}
		return output.PyStr(r) + " not False"
	}},
	"assertIn": {desc: "IN", check: func(e, r any, show bool) string {
		in, err := contains(r, e)
		switch {
		case err != nil:
			return err.Error()
		case in:
			return ""
		case !show:
			return "Result not found"
		}
		return fmt.Sprintf("%s not found in %s", output.PyStr(e), output.PyStr(r))
	}},
	"assertNotIn": {desc: "NOT IN", check: func(e, r any, show bool) string {
		in, err := contains(r, e)
		switch {
		case err != nil:
			return err.Error()
		case !in:
			return ""
		case !show:
			return "Result was found"
		}
		return fmt.Sprintf("%s was found in %s", output.PyStr(e), output.PyStr(r))
	}},
	// Salt's order assertions compare expected_return to the return, in
	// that order: assertGreater holds when expected_return > return.
	"assertGreater":      order(">", "greater than", func(c int) bool { return c > 0 }),
	"assertGreaterEqual": order(">=", "greater than or equal to", func(c int) bool { return c >= 0 }),
	"assertLess":         order("<", "less than", func(c int) bool { return c < 0 }),
	"assertLessEqual":    order("<=", "less than or equal to", func(c int) bool { return c <= 0 }),
	"assertEmpty": {desc: "IS EMPTY", unary: true, check: func(_, r any, _ bool) string {
		if !saltdata.Truthy(r) {
			return ""
		}
		return output.PyStr(r) + " is not empty"
	}},
	"assertNotEmpty": {desc: "IS NOT EMPTY", unary: true, check: func(_, r any, _ bool) string {
		if saltdata.Truthy(r) {
			return ""
		}
		return "value is empty"
	}},
}

// order builds an ordering assertion of expected_return against the return.
func order(desc, words string, holds func(int) bool) assertion {
	return assertion{desc: desc, cast: true, check: func(e, r any, _ bool) string {
		c, err := compare(e, r)
		if err != nil {
			return fmt.Sprintf("cannot compare expected_return %s with the return %s: %v", output.PyRepr(e), output.PyRepr(r), err)
		}
		if holds(c) {
			return ""
		}
		return fmt.Sprintf("expected_return %s is not %s the return %s", output.PyStr(e), words, output.PyStr(r))
	}}
}

// assertionNames lists the known assertions, sorted.
func assertionNames() []string {
	names := make([]string, 0, len(assertions))
	for n := range assertions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// evaluate runs the named assertion on a return: "Pass" or "Fail: why".
// The assertion must exist (the test was validated).
func evaluate(name string, expected, returned any, printResult bool) string {
	a := assertions[name]
	if a.cast && returned != nil {
		expected = cast(expected, returned)
	}
	if why := a.check(expected, returned, printResult); why != "" {
		return "Fail: " + why
	}
	return "Pass"
}
