// Package test provides Salt's test states: states that succeed or fail,
// with or without changes, on demand, for trying out recipes, requisites
// and outputters.
package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("test.nop", states.Func[NopArgs]{
		Doc:      "Does nothing and succeeds without changes.",
		Apply:    nop,
		ModWatch: modWatch[NopArgs],
	})
	states.Register("test.succeed_without_changes", states.Func[CommentArgs]{
		Doc:      "Succeeds without changes; comment replaces the default comment \"Success!\".",
		Apply:    succeedWithoutChanges,
		ModWatch: modWatch[CommentArgs],
	})
	states.Register("test.fail_without_changes", states.Func[CommentArgs]{
		Doc:      "Fails without changes; comment replaces the default comment \"Failure!\".",
		Apply:    failWithoutChanges,
		ModWatch: modWatch[CommentArgs],
	})
	states.Register("test.succeed_with_changes", states.Func[CommentArgs]{
		Doc:      "Succeeds with pretend changes (result null in test mode).",
		Apply:    succeedWithChanges,
		ModWatch: modWatch[CommentArgs],
	})
	states.Register("test.fail_with_changes", states.Func[CommentArgs]{
		Doc:      "Fails with pretend changes (result null in test mode).",
		Apply:    failWithChanges,
		ModWatch: modWatch[CommentArgs],
	})
	states.Register("test.configurable_test_state", states.Func[ConfigurableArgs]{
		Doc: "Returns the result, changes and comment asked for: changes and result are " +
			"True, False or \"Random\"; warnings (a string or a list) are logged.",
		Apply:    configurable,
		ModWatch: modWatch[ConfigurableArgs],
	})
	states.Register("test.show_notification", states.Func[NotificationArgs]{
		Doc:      "Succeeds without changes, with text as the comment.",
		Apply:    showNotification,
		ModWatch: modWatch[NotificationArgs],
	})
}

// NopArgs are test.nop's arguments: it accepts any, as Salt's does, and
// ignores them.
type NopArgs struct {
	Any map[string]any `arg:"*"`
}

// CommentArgs are the arguments of the succeed and fail states.
type CommentArgs struct {
	Comment *string `arg:"comment"`
}

// ConfigurableArgs are test.configurable_test_state's arguments.
type ConfigurableArgs struct {
	Changes  *Choice  `arg:"changes"`
	Result   *Choice  `arg:"result"`
	Comment  string   `arg:"comment"`
	Warnings []string `arg:"warnings"`
}

// NotificationArgs are test.show_notification's arguments.
type NotificationArgs struct {
	Text string `arg:"text,required"`
}

// Choice is True, False or "Random" (decided anew on every run).
type Choice struct {
	Random bool
	Value  bool
}

// DecodeArg reads true, false or "Random".
func (c *Choice) DecodeArg(v any) error {
	switch x := v.(type) {
	case bool:
		*c = Choice{Value: x}
		return nil
	case string:
		switch strings.ToLower(x) {
		case "random":
			*c = Choice{Random: true}
			return nil
		case "true":
			*c = Choice{Value: true}
			return nil
		case "false":
			*c = Choice{}
			return nil
		}
	}
	return fmt.Errorf("must be either True, False or \"Random\", got %v", v)
}

// resolve returns the value, drawing it when random; def applies when unset.
func (c *Choice) resolve(def bool) bool {
	switch {
	case c == nil:
		return def
	case c.Random:
		return rand.IntN(2) == 0
	}
	return c.Value
}

// pretendChanges returns Salt's test changes; a new map each time, as the
// caller owns it.
func pretendChanges() map[string]any {
	return map[string]any{
		"testing": map[string]any{"old": "Unchanged", "new": "Something pretended to change"},
	}
}

func commentOr(c *string, def string) string {
	if c != nil {
		return *c
	}
	return def
}

func nop(_ context.Context, _ *states.Call, _ *NopArgs) states.Outcome {
	return states.Succeeded("Success!", nil)
}

func succeedWithoutChanges(_ context.Context, _ *states.Call, a *CommentArgs) states.Outcome {
	return states.Succeeded(commentOr(a.Comment, "Success!"), nil)
}

func failWithoutChanges(_ context.Context, c *states.Call, a *CommentArgs) states.Outcome {
	if c.Test {
		return states.Failed("If we weren't testing, this would be a failure!", nil)
	}
	return states.Failed(commentOr(a.Comment, "Failure!"), nil)
}

func succeedWithChanges(_ context.Context, c *states.Call, a *CommentArgs) states.Outcome {
	if c.Test {
		return states.WouldChange("If we weren't testing, this would be successful with changes", pretendChanges())
	}
	return states.Succeeded(commentOr(a.Comment, "Success!"), pretendChanges())
}

func failWithChanges(_ context.Context, c *states.Call, a *CommentArgs) states.Outcome {
	if c.Test {
		return states.WouldChange("If we weren't testing, this would be failed with changes", pretendChanges())
	}
	return states.Failed(commentOr(a.Comment, "Failure!"), pretendChanges())
}

func configurable(_ context.Context, c *states.Call, a *ConfigurableArgs) states.Outcome {
	var changes map[string]any
	if a.Changes.resolve(true) {
		changes = pretendChanges()
	}
	result := a.Result.resolve(true)
	if c.Log != nil {
		for _, w := range a.Warnings {
			c.Log.Warn(w, "state", c.ID)
		}
	}
	if c.Test {
		comment := a.Comment
		if comment == "" {
			comment = "This is a test"
		}
		// Salt: result True only when changes was explicitly False.
		if a.Changes != nil && !a.Changes.Random && !a.Changes.Value {
			return states.Succeeded(comment, changes)
		}
		return states.WouldChange(comment, changes)
	}
	if result {
		return states.Succeeded(a.Comment, changes)
	}
	return states.Failed(a.Comment, changes)
}

func showNotification(_ context.Context, _ *states.Call, a *NotificationArgs) states.Outcome {
	if a.Text == "" {
		return states.Failed("Missing required argument text.", nil)
	}
	return states.Succeeded(a.Text, nil)
}

// modWatch is Salt's test.mod_watch: it reports that the watch fired.
func modWatch[A any](_ context.Context, c *states.Call, _ *A) states.Outcome {
	changed := make([]any, len(c.Changed))
	for i, n := range c.Changed {
		changed[i] = n
	}
	return states.Succeeded("Watch statement fired.", map[string]any{"Requisites with changes": changed})
}
