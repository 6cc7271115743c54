package jinja

import (
	"context"
	"fmt"
	"time"
)

// Default per-render limits, used when the Options field is zero or negative.
const (
	// DefaultMaxOutputBytes bounds the text one render produces.
	DefaultMaxOutputBytes = 16 << 20
	// DefaultMaxSteps bounds the loop iterations, macro calls, imports and
	// includes of one render.
	DefaultMaxSteps = 1_000_000
	// DefaultMaxRenderTime bounds the wall time of one render.
	DefaultMaxRenderTime = 30 * time.Second
)

// Names of the limits, as LimitError.Limit gives them: the master
// configuration keys that set them.
const (
	LimitOutput = "jinja_max_output_bytes"
	LimitSteps  = "jinja_max_steps"
	LimitTime   = "jinja_max_render_time"
)

// LimitError is a render stopped by one of its limits.
type LimitError struct {
	Limit string // LimitOutput, LimitSteps or LimitTime
	Max   int64  // the limit's value (bytes, steps or nanoseconds)
	What  string // what went over it
}

// Error says what went over which limit and how to raise it.
func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitOutput:
		return fmt.Sprintf("%s, over the render output limit of %d bytes (raise %s)", e.What, e.Max, e.Limit)
	case LimitSteps:
		return fmt.Sprintf("%s, over the limit of %d loop iterations, macro calls and includes per render (raise %s)", e.What, e.Max, e.Limit)
	default:
		return fmt.Sprintf("%s: render took longer than %s (raise %s)", e.What, time.Duration(e.Max), e.Limit)
	}
}

// limits are an Env's resolved per-render limits.
type limits struct {
	maxOut   int
	maxSteps int
	maxTime  time.Duration
}

// resolveLimits applies the defaults to opts.
func resolveLimits(opts Options) limits {
	l := limits{maxOut: opts.MaxOutputBytes, maxSteps: opts.MaxSteps, maxTime: opts.MaxRenderTime}
	if l.maxOut <= 0 {
		l.maxOut = DefaultMaxOutputBytes
	}
	if l.maxSteps <= 0 {
		l.maxSteps = DefaultMaxSteps
	}
	if l.maxTime <= 0 {
		l.maxTime = DefaultMaxRenderTime
	}
	return l
}

// tooBig is the error for a value of n bytes built by what.
func (l limits) tooBig(what string, n int) error {
	return &LimitError{Limit: LimitOutput, Max: int64(l.maxOut), What: fmt.Sprintf("%s would make %d bytes", what, n)}
}

// fail records err as the render's cause of failure, unless one is
// recorded already, and returns it.
func (r *renderer) fail(err error) error {
	if r.cause == nil {
		r.cause = err
	}
	return err
}

// step counts one unit of work (a loop iteration, a macro call, an import
// or include), and stops the render when its context is done or a limit
// is reached.
func (r *renderer) step(what string) error {
	if r.ctx.Err() != nil {
		return r.fail(r.stopped(what))
	}
	r.steps++
	if r.steps > r.lim.maxSteps {
		return r.fail(&LimitError{Limit: LimitSteps, Max: int64(r.lim.maxSteps), What: what + ": too many steps"})
	}
	return nil
}

// stopped is the error for a render whose context is done: the time limit
// when the render's own timer fired, else the caller's cancellation.
func (r *renderer) stopped(what string) error {
	if cause := context.Cause(r.ctx); cause != nil {
		if le, ok := cause.(*LimitError); ok {
			return &LimitError{Limit: le.Limit, Max: le.Max, What: what}
		}
		return fmt.Errorf("%s: render stopped: %w", what, cause)
	}
	return fmt.Errorf("%s: render stopped", what)
}

// charge adds n bytes to the text the render has produced so far, wherever
// it went (the output, a macro's or a set block's capture).
func (r *renderer) charge(what string, n int) error {
	r.emitted += n
	if r.emitted > r.lim.maxOut {
		return r.fail(r.lim.tooBig(what, r.emitted))
	}
	return nil
}

// enter counts one more level of nesting, failing past maxDepth, and one
// step of the render.
func (r *renderer) enter(what string) error {
	if err := r.step(what); err != nil {
		return err
	}
	if r.depth >= maxDepth {
		return r.fail(fmt.Errorf("%s: nesting deeper than %d levels (recursive template?)", what, maxDepth))
	}
	r.depth++
	return nil
}

// leave undoes enter.
func (r *renderer) leave() { r.depth-- }

// over fails when a value of n bytes is over the output limit, saying
// what would have built it (format and args, formatted only then).
func (r *renderer) over(n int, format string, args ...any) error {
	if n >= 0 && n <= r.lim.maxOut {
		return nil
	}
	return r.fail(r.lim.tooBig(fmt.Sprintf(format, args...), n))
}
