// Package cmd provides the cmd execution module: cmd.run, cmd.run_all and
// cmd.retcode run shell commands on the minion; cmd.has_exec looks for a
// program in its PATH.
package cmd

import (
	"context"
	"os/exec"
	"time"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/cmdrun"
)

type runArgs struct {
	Cmd     string            `arg:"cmd,required"`
	Cwd     string            `arg:"cwd"`
	Env     map[string]string `arg:"env"`
	Runas   string            `arg:"runas"`
	Shell   string            `arg:"shell"`
	Stdin   string            `arg:"stdin"`
	Timeout time.Duration     `arg:"timeout"`
}

func (a *runArgs) run(ctx context.Context) (cmdrun.Result, error) {
	return cmdrun.Run(ctx, cmdrun.Spec{Cmd: a.Cmd, Cwd: a.Cwd, Env: a.Env, Runas: a.Runas,
		Shell: a.Shell, Stdin: a.Stdin, Timeout: a.Timeout})
}

var params = []string{"cmd"}

type hasExecArgs struct {
	Cmd string `arg:"cmd,required"`
}

func init() {
	modules.Register("cmd.has_exec", modules.Func[hasExecArgs]{
		ReadOnly: true,
		Doc:      "Return True when cmd is an executable in PATH (or an executable path).",
		Params:   []string{"cmd"},
		Call: func(_ context.Context, _ *modules.Runtime, a *hasExecArgs) (any, error) {
			_, err := exec.LookPath(a.Cmd)
			return err == nil, nil
		},
	})
	modules.Register("cmd.run", modules.Func[runArgs]{
		Doc:    "Run a shell command and return its output (stdout, then stderr).",
		Params: params,
		Call: func(ctx context.Context, _ *modules.Runtime, a *runArgs) (any, error) {
			res, err := a.run(ctx)
			if err != nil {
				return nil, err
			}
			out := res.Stdout
			if res.Stderr != "" {
				if out != "" {
					out += "\n"
				}
				out += res.Stderr
			}
			return out, nil
		},
	})
	modules.Register("cmd.run_all", modules.Func[runArgs]{
		Doc:    "Run a shell command and return pid, retcode, stdout and stderr.",
		Params: params,
		Call: func(ctx context.Context, _ *modules.Runtime, a *runArgs) (any, error) {
			res, err := a.run(ctx)
			if err != nil {
				return nil, err
			}
			return map[string]any{"pid": res.Pid, "retcode": res.Retcode, "stdout": res.Stdout, "stderr": res.Stderr}, nil
		},
	})
	modules.Register("cmd.retcode", modules.Func[runArgs]{
		Doc:    "Run a shell command and return its exit code.",
		Params: params,
		Call: func(ctx context.Context, _ *modules.Runtime, a *runArgs) (any, error) {
			res, err := a.run(ctx)
			if err != nil {
				return nil, err
			}
			return res.Retcode, nil
		},
	})
}
