package test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

func run(t *testing.T, fun string, raw map[string]any, testMode bool) states.Outcome {
	t.Helper()
	return statetest.Apply(t, fun, raw, &states.Call{ID: "id", Name: "foo", Test: testMode})
}

func ptr(b bool) *bool { return &b }

var pretend = map[string]any{"testing": map[string]any{"old": "Unchanged", "new": "Something pretended to change"}}

func TestStates(t *testing.T) {
	tests := []struct {
		name    string
		fun     string
		args    map[string]any
		test    bool
		result  *bool
		comment string
		changes map[string]any
	}{
		{"nop", "test.nop", nil, false, ptr(true), "Success!", nil},
		{"nop test", "test.nop", nil, true, ptr(true), "Success!", nil},
		{"succeed without", "test.succeed_without_changes", nil, false, ptr(true), "Success!", nil},
		{"succeed without comment", "test.succeed_without_changes", map[string]any{"comment": "A success comment!"}, false, ptr(true), "A success comment!", nil},
		{"succeed without test", "test.succeed_without_changes", nil, true, ptr(true), "Success!", nil},
		{"fail without", "test.fail_without_changes", nil, false, ptr(false), "Failure!", nil},
		{"fail without comment", "test.fail_without_changes", map[string]any{"comment": "A failure comment!"}, false, ptr(false), "A failure comment!", nil},
		{"fail without test", "test.fail_without_changes", nil, true, ptr(false), "If we weren't testing, this would be a failure!", nil},
		{"succeed with", "test.succeed_with_changes", nil, false, ptr(true), "Success!", pretend},
		{"succeed with test", "test.succeed_with_changes", map[string]any{"comment": "x"}, true, nil, "If we weren't testing, this would be successful with changes", pretend},
		{"fail with", "test.fail_with_changes", nil, false, ptr(false), "Failure!", pretend},
		{"fail with test", "test.fail_with_changes", nil, true, nil, "If we weren't testing, this would be failed with changes", pretend},
		{"configurable default", "test.configurable_test_state", nil, false, ptr(true), "", pretend},
		{"configurable comment", "test.configurable_test_state", map[string]any{"comment": "bar.baz"}, false, ptr(true), "bar.baz", pretend},
		{"configurable no changes", "test.configurable_test_state", map[string]any{"changes": false}, false, ptr(true), "", nil},
		{"configurable fail", "test.configurable_test_state", map[string]any{"result": false, "comment": "c"}, false, ptr(false), "c", pretend},
		{"configurable string bools", "test.configurable_test_state", map[string]any{"result": "False", "changes": "false"}, false, ptr(false), "", nil},
		{"configurable warnings", "test.configurable_test_state", map[string]any{"warnings": []any{"a", "b"}}, false, ptr(true), "", pretend},
		{"configurable test", "test.configurable_test_state", nil, true, nil, "This is a test", pretend},
		{"configurable test comment", "test.configurable_test_state", map[string]any{"comment": "c"}, true, nil, "c", pretend},
		{"configurable test no changes", "test.configurable_test_state", map[string]any{"changes": false, "comment": "c"}, true, ptr(true), "c", nil},
		{"configurable test failing", "test.configurable_test_state", map[string]any{"result": false}, true, nil, "This is a test", pretend},
		{"notification", "test.show_notification", map[string]any{"text": "hello"}, false, ptr(true), "hello", nil},
		{"notification test", "test.show_notification", map[string]any{"text": "hello"}, true, ptr(true), "hello", nil},
		{"notification empty", "test.show_notification", map[string]any{"text": ""}, false, ptr(false), "Missing required argument text.", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := run(t, tt.fun, tt.args, tt.test)
			if !reflect.DeepEqual(o.Result, tt.result) {
				t.Errorf("result = %v, want %v", show(o.Result), show(tt.result))
			}
			if o.Comment != tt.comment {
				t.Errorf("comment = %q, want %q", o.Comment, tt.comment)
			}
			if len(o.Changes) != 0 || len(tt.changes) != 0 {
				if !reflect.DeepEqual(o.Changes, tt.changes) {
					t.Errorf("changes = %v, want %v", o.Changes, tt.changes)
				}
			}
		})
	}
}

func show(b *bool) string {
	if b == nil {
		return "null"
	}
	if *b {
		return "true"
	}
	return "false"
}

func TestConfigurableRandom(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		o := run(t, "test.configurable_test_state", map[string]any{"changes": "Random", "result": "Random"}, false)
		if o.Result == nil {
			t.Fatal("a random result is true or false, never null")
		}
		if o.Changed() && !reflect.DeepEqual(o.Changes, pretend) {
			t.Fatalf("unexpected changes %v", o.Changes)
		}
		seen["result="+show(o.Result)] = true
		seen["changed="+show(ptr(o.Changed()))] = true
	}
	for _, k := range []string{"result=true", "result=false", "changed=true", "changed=false"} {
		if !seen[k] {
			t.Errorf("200 random runs never gave %s", k)
		}
	}
}

func TestModWatch(t *testing.T) {
	for _, fun := range []string{"test.nop", "test.succeed_without_changes", "test.fail_without_changes",
		"test.succeed_with_changes", "test.fail_with_changes", "test.configurable_test_state", "test.show_notification"} {
		e, ok := states.Lookup(fun)
		if !ok || !e.HasModWatch() {
			t.Fatalf("%s has no mod_watch", fun)
		}
		raw := map[string]any{}
		if fun == "test.show_notification" {
			raw["text"] = "x"
		}
		args, err := e.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		o := e.ModWatch(context.Background(), &states.Call{Name: "foo", Changed: []string{"file: conf"}}, args)
		want := map[string]any{"Requisites with changes": []any{"file: conf"}}
		if o.Result == nil || !*o.Result || o.Comment != "Watch statement fired." || !reflect.DeepEqual(o.Changes, want) {
			t.Errorf("%s mod_watch = %+v, want changes %v", fun, o, want)
		}
	}
}

func TestNopTakesAnyArgument(t *testing.T) {
	e, _ := states.Lookup("test.nop")
	if _, err := e.Decode(map[string]any{"foo": 1, "bar": []any{"x"}}); err != nil {
		t.Errorf("test.nop rejected arguments: %v", err)
	}
}

func TestBadArguments(t *testing.T) {
	tests := []struct {
		fun  string
		args map[string]any
		want string
	}{
		{"test.configurable_test_state", map[string]any{"changes": "Cheese"}, "must be either True, False or \"Random\""},
		{"test.configurable_test_state", map[string]any{"result": 3}, "must be either True, False or \"Random\""},
		{"test.configurable_test_state", map[string]any{"coment": "x"}, "unknown argument 'coment' (did you mean 'comment'?)"},
		{"test.show_notification", nil, "missing required argument 'text'"},
	}
	for _, tt := range tests {
		t.Run(tt.fun, func(t *testing.T) {
			e, _ := states.Lookup(tt.fun)
			_, err := e.Decode(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
