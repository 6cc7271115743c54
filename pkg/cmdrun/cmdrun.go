// Package cmdrun runs shell commands for brine's states and execution
// modules (cmd.run, cmd.retcode, and the unless, onlyif and check_cmd
// arguments of every state): in a process group of their own, optionally
// as another user, with a timeout.
package cmdrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrTimeout is wrapped by the error Run returns when a command ran past
// its timeout and was killed.
var ErrTimeout = errors.New("timed out")

// waitDelay bounds how long Run waits for output from processes that left
// the command's process group after the command itself was killed.
const waitDelay = 2 * time.Second

// Spec describes a command to run.
type Spec struct {
	Cmd     string            // a shell command line, run as Shell -c Cmd
	Shell   string            // default "/bin/sh"
	Cwd     string            // default: the runas user's home when it exists, else "/"
	Env     map[string]string // added to the current environment
	Runas   string            // user name; when set and not the current user, run with that user's uid, gid, groups, HOME and USER
	Timeout time.Duration     // 0 = none; on expiry the whole process group is killed
	Stdin   string
}

// Result is what a command did. Stdout and Stderr lose one trailing
// newline. A command killed by a signal has Retcode 128+signal, as a shell
// reports it.
type Result struct {
	Stdout  string
	Stderr  string
	Retcode int
	Pid     int
}

// Run runs the command. A non-zero exit is not an error (see Retcode); err
// is for commands that could not start, a runas user that does not exist,
// a timeout (wrapping ErrTimeout) or a cancelled ctx. After a timeout or a
// cancellation Retcode is -1 and the output so far is kept. Cancelling ctx
// kills the command's whole process group. The shell is killed when the
// process calling Run dies; under a context from WithGroupDir its process
// group is recorded too, so KillLeftovers can kill what the shell started.
func Run(ctx context.Context, s Spec) (Result, error) {
	res := Result{Retcode: -1}
	shell := s.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	env := os.Environ()
	var cred *syscall.Credential
	cwd := s.Cwd
	if s.Runas != "" {
		u, c, err := lookupRunas(s.Runas)
		if err != nil {
			return res, err
		}
		cred = c
		if u != nil {
			env = setEnv(env, map[string]string{"HOME": u.HomeDir, "USER": u.Username, "LOGNAME": u.Username})
			if cwd == "" && isDir(u.HomeDir) {
				cwd = u.HomeDir
			}
		}
	}
	if cwd == "" {
		cwd = "/"
	}
	env = setEnv(env, s.Env)
	recorder, token := groupRecorder(ctx), ""
	if recorder != nil {
		token = newToken()
		env = setEnv(env, map[string]string{groupEnv: token})
	}

	runCtx := ctx
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(ctx, s.Timeout, ErrTimeout)
		defer cancel()
	}
	cmd := exec.CommandContext(runCtx, shell, "-c", s.Cmd)
	cmd.Dir = cwd
	cmd.Env = env
	// The shell dies with the process running it; what the shell started
	// is in its process group, recorded when ctx asks for it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
		return os.ErrProcessDone
	}
	cmd.WaitDelay = waitDelay
	if s.Stdin != "" {
		cmd.Stdin = strings.NewReader(s.Stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start %q: %w", s.Cmd, err)
	}
	res.Pid = cmd.Process.Pid
	if recorder != nil {
		record, err := recorder.record(res.Pid, token, s.Cmd)
		if err != nil {
			// An untracked command could outlive a crash: do not run it.
			syscall.Kill(-res.Pid, syscall.SIGKILL)
			cmd.Wait()
			return res, err
		}
		defer os.Remove(record)
	}
	err := cmd.Wait()
	res.Stdout = strings.TrimSuffix(stdout.String(), "\n")
	res.Stderr = strings.TrimSuffix(stderr.String(), "\n")

	if runCtx.Err() != nil {
		if ctx.Err() == nil && errors.Is(context.Cause(runCtx), ErrTimeout) {
			return res, fmt.Errorf("command %q %w after %s", s.Cmd, ErrTimeout, s.Timeout)
		}
		return res, fmt.Errorf("command %q: %w", s.Cmd, ctx.Err())
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		res.Retcode = 0
	case errors.As(err, &exit):
		res.Retcode = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Retcode = 128 + int(ws.Signal())
		}
	default:
		return res, fmt.Errorf("run %q: %w", s.Cmd, err)
	}
	return res, nil
}

// lookupRunas resolves a user to run as. It returns a nil credential when
// the user is the current one, so no privileges are needed.
func lookupRunas(name string) (*user.User, *syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return nil, nil, fmt.Errorf("runas user %q does not exist", name)
		}
		return nil, nil, fmt.Errorf("look up runas user %q: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("runas user %q: bad uid %q", name, u.Uid)
	}
	if int(uid) == os.Geteuid() {
		return u, nil, nil
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("runas user %q: bad gid %q", name, u.Gid)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, nil, fmt.Errorf("look up groups of runas user %q: %w", name, err)
	}
	groups := make([]uint32, 0, len(gids))
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, nil, fmt.Errorf("runas user %q: bad group id %q", name, g)
		}
		groups = append(groups, uint32(n))
	}
	return u, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, nil
}

// setEnv returns env with the variables in add set, replacing earlier values.
func setEnv(env []string, add map[string]string) []string {
	if len(add) == 0 {
		return env
	}
	out := make([]string, 0, len(env)+len(add))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, replaced := add[k]; !replaced {
			out = append(out, kv)
		}
	}
	for k, v := range add {
		out = append(out, k+"="+v)
	}
	return out
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
