package states

import "fmt"

// Outcome is what a state function reports: Salt's result, comment and changes.
// Result is true (succeeded), false (failed) or nil (test mode: would change).
type Outcome struct {
	Result  *bool
	Comment string
	Changes map[string]any
	// Warnings are shown with the state's result (Salt's warnings), e.g.
	// an argument that was ignored.
	Warnings []string
}

// Succeeded is a successful outcome; changes may be nil.
func Succeeded(comment string, changes map[string]any) Outcome {
	return Outcome{Result: boolPtr(true), Comment: comment, Changes: changes}
}

// Failed is a failed outcome; changes may be nil.
func Failed(comment string, changes map[string]any) Outcome {
	return Outcome{Result: boolPtr(false), Comment: comment, Changes: changes}
}

// WouldChange is the test-mode outcome of a state that would make changes:
// result null, and the changes it would make.
func WouldChange(comment string, changes map[string]any) Outcome {
	return Outcome{Comment: comment, Changes: changes}
}

// Failedf is Failed with a formatted comment.
func Failedf(format string, a ...any) Outcome { return Failed(fmt.Sprintf(format, a...), nil) }

// OK reports whether the outcome did not fail (true or nil result).
func (o Outcome) OK() bool { return o.Result == nil || *o.Result }

// Changed reports whether the outcome carries changes.
func (o Outcome) Changed() bool { return len(o.Changes) > 0 }

func boolPtr(b bool) *bool { return &b }
