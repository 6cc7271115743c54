package dockertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/brinecm/brine/states"
)

// Apply decodes raw and runs the registered state function fun on name,
// in test mode when test is set.
func Apply(t testing.TB, fun, name string, raw map[string]any, test bool) states.Outcome {
	t.Helper()
	e, ok := states.Lookup(fun)
	if !ok {
		t.Fatalf("%s is not registered", fun)
	}
	args, err := e.Decode(raw)
	if err != nil {
		t.Fatalf("decode %s: %v", fun, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return e.Apply(ctx, &states.Call{ID: name, Name: name, Test: test}, args)
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
