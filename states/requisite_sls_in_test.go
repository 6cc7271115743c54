package states_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/states"
	_ "github.com/brinecm/brine/states/test"
)

// TestSLSInWithoutStates: require_in (and the other _in forms) on an SLS
// that has no states of its own is ignored, as Salt ignores it; the same
// requisite without _in still fails to resolve.
func TestSLSInWithoutStates(t *testing.T) {
	low := func(kind string) []sls.Low {
		return []sls.Low{{ID: "a", Name: "a", Module: "test", Fun: "succeed_without_changes", SLS: "web",
			Args: map[string]any{}, Reqs: []sls.Req{{Kind: kind, Module: "sls", Target: "empty"}}}}
	}
	for _, kind := range []string{"require_in", "watch_in", "onchanges_in"} {
		if _, err := states.Prepare(low(kind), nil); err != nil {
			t.Errorf("%s on an SLS without states: %v", kind, err)
		}
	}
	if _, err := states.Prepare(low("require"), nil); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("require on an SLS without states: %v, want a not-found error", err)
	}
}

// TestNamesErrorOnce: a mistake in a state with names: is one mistake,
// reported once, not once per name.
func TestNamesErrorOnce(t *testing.T) {
	var lows []sls.Low
	for i, name := range []string{"a", "b", "c"} {
		lows = append(lows, sls.Low{ID: "x", Name: name, Module: "test", Fun: "succeed_without_changes", SLS: "web", Index: i,
			Args: map[string]any{"sorce": "y"}, ArgPos: map[string]sls.Pos{"sorce": {File: "web.sls", Line: 6}}})
	}
	_, err := states.Prepare(lows, nil)
	var errs sls.Errors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(errs[0].Msg, "unknown argument 'sorce'") {
		t.Fatalf("errors %v, want the unknown argument once", err)
	}
}
