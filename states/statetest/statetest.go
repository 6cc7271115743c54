// Package statetest helps state module tests call one state function the
// way the engine does: strict argument decoding, then Apply.
package statetest

import (
	"context"
	"testing"

	"github.com/brinecm/brine/states"
)

// Apply decodes raw as fun's arguments and applies fun with c; a function
// that is not registered or arguments that do not decode fail the test.
func Apply(t testing.TB, fun string, raw map[string]any, c *states.Call) states.Outcome {
	t.Helper()
	e, ok := states.Lookup(fun)
	if !ok {
		t.Fatalf("%s is not registered", fun)
	}
	args, err := e.Decode(raw)
	if err != nil {
		t.Fatalf("decode %s arguments %v: %v", fun, raw, err)
	}
	return e.Apply(context.Background(), c, args)
}
