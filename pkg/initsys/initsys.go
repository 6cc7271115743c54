// Package initsys hides the host's init system behind a Provider, so
// brine's service states and execution modules work the same on systemd
// hosts (systemctl) and sysv-init hosts (/etc/init.d scripts, update-rc.d).
// The grains choose: systemd when it runs as PID 1, sysv otherwise.
package initsys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/brinecm/brine/pkg/grains"
)

// NotAvailableError is a service the host does not have, with the
// system's reason.
type NotAvailableError struct {
	Name   string
	Reason string
}

func (e *NotAvailableError) Error() string {
	return "service " + e.Name + " is not available: " + e.Reason
}

// Action is something a service can be told to do.
type Action string

// The actions of Control.
const (
	Start   Action = "start"
	Stop    Action = "stop"
	Restart Action = "restart"
	Reload  Action = "reload"
)

// Provider is a host's init system.
type Provider interface {
	// Name is the provider's name ("systemd", "sysv").
	Name() string
	// Available returns nil when the service exists, else a
	// *NotAvailableError with the system's reason.
	Available(ctx context.Context, name string) error
	// Running reports whether the service is running.
	Running(ctx context.Context, name string) (bool, error)
	// Enabled reports whether the service starts at boot.
	Enabled(ctx context.Context, name string) (bool, error)
	// Control starts, stops, restarts or reloads the service.
	Control(ctx context.Context, name string, a Action) error
	// SetEnabled makes the service start at boot, or not.
	SetEnabled(ctx context.Context, name string, enable bool) error
	// List returns the names of every service the host knows, sorted.
	List(ctx context.Context) ([]string, error)
}

// Output is what a command printed and its exit code.
type Output struct {
	Stdout string
	Stderr string
	Code   int
}

// Reason is the command's own explanation of a failure: its stderr, else
// its stdout, else its exit code.
func (o Output) Reason() string {
	if s := strings.TrimSpace(o.Stderr); s != "" {
		return s
	}
	if s := strings.TrimSpace(o.Stdout); s != "" {
		return s
	}
	return fmt.Sprintf("exit status %d", o.Code)
}

// Runner runs init system commands; tests substitute their own.
type Runner interface {
	// Run runs the command; a non-zero exit is reported in Output.Code,
	// err is for commands that could not run.
	Run(ctx context.Context, name string, args ...string) (Output, error)
}

// ExecRunner runs commands for real, with the clean environment the
// service(8) command gives init scripts, so daemons do not inherit brine's.
type ExecRunner struct{}

// cleanEnv is the environment of every command ExecRunner runs.
var cleanEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "TERM=dumb"}

// Run runs the command and waits for it. A daemon that keeps the
// command's output open after it exited is left alone.
func (ExecRunner) Run(ctx context.Context, name string, args ...string) (Output, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = cleanEnv
	cmd.Dir = "/"
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := Output{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return out, fmt.Errorf("%s: %w", name, ctx.Err())
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		out.Code = cmd.ProcessState.ExitCode()
		return out, nil
	case errors.As(err, &exit):
		out.Code = exit.ExitCode()
		return out, nil
	}
	return out, fmt.Errorf("run %s: %w", name, err)
}

// ForGrains returns the provider for a host with these grains: systemd
// when the init grain says so, sysv-init otherwise.
func ForGrains(g map[string]any) (Provider, error) {
	init, _ := g["init"].(string)
	switch init {
	case "systemd":
		return &Systemd{Runner: ExecRunner{}}, nil
	case "openrc", "runit":
		return nil, fmt.Errorf("no service provider for init system %q (brine manages services with systemd or sysv-init)", init)
	}
	return NewSysv(), nil
}

// Detect returns the provider for this host, from its platform grains.
func Detect(ctx context.Context) (Provider, error) {
	g, err := grains.Platform(ctx)
	if err != nil {
		return nil, fmt.Errorf("choose service provider: %w", err)
	}
	return ForGrains(g)
}

// checkName rejects names that could reach a command line as options or
// paths.
func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "-") || strings.ContainsAny(name, "/ \t\n") {
		return fmt.Errorf("invalid service name %q", name)
	}
	return nil
}
