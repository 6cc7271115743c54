package jinja

import (
	"fmt"
)

// Error is a template error with the template name and line.
type Error struct {
	Name string // template name, relative to the state tree root
	Line int    // 1-based line, 0 when unknown
	Msg  string
	Err  error // the cause, when known (a *LimitError, a context error)
}

// Unwrap returns the cause, so errors.As finds a *LimitError.
func (e *Error) Unwrap() error { return e.Err }

// Error formats as "web/init.sls:3: unknown filter 'foo'".
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Name, e.Msg)
}
