package states_test

import (
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
