// Package cmd provides the cmd state module: cmd.run runs a shell command
// on the minion, cmd.wait runs one when a watched state changed, and
// cmd.script runs a script fetched from the state tree.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/brinecm/brine/pkg/cmdrun"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("cmd.run", states.Func[RunArgs]{
		Doc: "Runs the command given as name through the shell. Its pid, retcode, stdout " +
			"and stderr are the changes; it succeeds when retcode is 0 or in success_retcodes. " +
			"Arguments: cwd, env, runas, shell, timeout (seconds), stdin, success_retcodes.",
		Apply:       run,
		ModWatch:    run,
		OwnRunCheck: true,
	})
	states.Register("cmd.wait", states.Func[RunArgs]{
		Doc: "Runs the command given as name only when a state it watches (watch, " +
			"watch_in, listen) made changes; otherwise it succeeds without running. " +
			"Takes cmd.run's arguments.",
		Apply:       wait,
		ModWatch:    run,
		OwnRunCheck: true,
	})
}

// wait is cmd.wait without a watched change: nothing to do.
func wait(context.Context, *states.Call, *RunArgs) states.Outcome {
	return states.Succeeded("", nil)
}

// RunArgs are cmd.run's arguments; the command itself is the state's name.
type RunArgs struct {
	Cwd             string            `arg:"cwd"`
	Env             map[string]string `arg:"env"`
	Runas           string            `arg:"runas"`
	Shell           string            `arg:"shell"`
	Timeout         time.Duration     `arg:"timeout"`
	Stdin           string            `arg:"stdin"`
	SuccessRetcodes Retcodes          `arg:"success_retcodes"`
	// HideOutput leaves stdout and stderr out of the return, as Salt's
	// hide_output (for commands that print secrets).
	HideOutput bool `arg:"hide_output"`
	// OutputLoglevel is accepted and ignored: Salt uses it only for the
	// level at which its minion logs the output, which brine does not log.
	OutputLoglevel string `arg:"output_loglevel"`
	// Stateful: the command reports what it changed, as Salt's stateful
	// commands do: a JSON object or a last line of name=value pairs, with
	// changed=yes when it changed something and an optional comment.
	Stateful bool `arg:"stateful"`
}

// Retcodes is a list of exit codes, written as one integer or a list.
type Retcodes []int

// DecodeArg reads an integer or a list of integers.
func (r *Retcodes) DecodeArg(v any) error {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	out := make(Retcodes, 0, len(items))
	for _, it := range items {
		switch n := it.(type) {
		case int:
			out = append(out, n)
		case int64:
			out = append(out, int(n))
		default:
			return fmt.Errorf("expected exit codes (integers), got %v", it)
		}
	}
	*r = out
	return nil
}

// run is cmd.run, and its reaction to watched changes too.
func run(ctx context.Context, c *states.Call, a *RunArgs) states.Outcome {
	if c.Test {
		if a.Stateful {
			// Salt reinterprets the test return of a stateful command,
			// which has no output: no changes, no comment.
			return states.WouldChange("", nil)
		}
		return states.WouldChange(fmt.Sprintf(`Command "%s" would have been executed`, c.Name), map[string]any{"cmd": c.Name})
	}
	o := execute(ctx, c.Name, a)
	if o.Changes != nil && o.Comment == "" {
		o.Comment = fmt.Sprintf(`Command "%s" run`, c.Name)
	}
	if a.Stateful {
		return reinterpret(o)
	}
	return o
}

// execute runs the shell command line with cmd.run's arguments. When the
// command ran, the outcome's changes are its pid, retcode, stdout and
// stderr and its result says whether the exit code is accepted.
func execute(ctx context.Context, line string, a *RunArgs) states.Outcome {
	if a.Cwd != "" {
		if fi, err := os.Stat(a.Cwd); err != nil || !fi.IsDir() {
			return states.Failedf(`Desired working directory "%s" is not available`, a.Cwd)
		}
	}
	res, err := cmdrun.Run(ctx, cmdrun.Spec{
		Cmd:     line,
		Shell:   a.Shell,
		Cwd:     a.Cwd,
		Env:     a.Env,
		Runas:   a.Runas,
		Timeout: a.Timeout,
		Stdin:   a.Stdin,
	})
	if err != nil {
		if errors.Is(err, cmdrun.ErrTimeout) {
			return states.Failed(err.Error(), changes(res))
		}
		return states.Failed(err.Error(), nil)
	}
	if a.HideOutput {
		res.Stdout, res.Stderr = "", ""
	}
	if slices.Contains(a.SuccessRetcodes, res.Retcode) {
		res.Retcode = 0 // as Salt reports an accepted exit code
	}
	if res.Retcode != 0 {
		return states.Failed("", changes(res))
	}
	return states.Succeeded("", changes(res))
}

func changes(r cmdrun.Result) map[string]any {
	return map[string]any{"pid": r.Pid, "retcode": r.Retcode, "stdout": r.Stdout, "stderr": r.Stderr}
}
