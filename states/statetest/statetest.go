// Package statetest helps state module tests call one state function the
// way the engine does: strict argument decoding, then Apply.
package statetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/brinecm/brine/states"
)

// Apply decodes raw as fun's arguments and applies fun with c; a function
// that is not registered or arguments that do not decode fail the test.
// The call gets a two minute deadline, so a state stuck on an external
// system (a Docker engine that stopped answering) fails the test with its
// own error instead of hanging it.
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return e.Apply(ctx, c, args)
}

// Run applies fun on name (its ID and name), in test mode when test is set.
func Run(t testing.TB, fun, name string, raw map[string]any, test bool) states.Outcome {
	t.Helper()
	return Apply(t, fun, raw, &states.Call{ID: name, Name: name, Test: test})
}

// Expect fails the test unless the outcome's result ("true", "false" or
// "None") and whether it has changes are as given.
func Expect(t testing.TB, o states.Outcome, result string, changed bool) {
	t.Helper()
	got := "None"
	if o.Result != nil {
		got = fmt.Sprint(*o.Result)
	}
	if got != result || o.Changed() != changed {
		t.Fatalf("result %s changed=%v, want %s changed=%v\ncomment: %s\nchanges: %v",
			got, o.Changed(), result, changed, o.Comment, o.Changes)
	}
}
