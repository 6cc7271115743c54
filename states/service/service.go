// Package service provides the service state module: service.running,
// service.dead, service.enabled and service.disabled, through the host's
// init system (systemd when it is PID 1, sysv-init otherwise). A
// service.running state that watches another restarts the service when the
// watched state changed, or reloads it with reload: True.
package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/brinecm/brine/pkg/initsys"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("service.running", states.Func[RunningArgs]{
		Doc: "Ensures the named service is running; enable: True/False also sets whether it starts at boot. " +
			"On a watched change it restarts the service (reloads it with reload: True). " +
			"init_delay waits that many seconds after starting before checking the service.",
		Apply:    running,
		ModWatch: runningWatch,
	})
	states.Register("service.dead", states.Func[DeadArgs]{
		Doc:   "Ensures the named service is stopped; enable: True/False also sets whether it starts at boot.",
		Apply: dead,
	})
	states.Register("service.enabled", states.Func[struct{}]{
		Doc:   "Ensures the named service starts at boot; does not start or stop it.",
		Apply: func(ctx context.Context, c *states.Call, _ *struct{}) states.Outcome { return setEnabled(ctx, c, true) },
	})
	states.Register("service.disabled", states.Func[struct{}]{
		Doc: "Ensures the named service does not start at boot; does not start or stop it.",
		Apply: func(ctx context.Context, c *states.Call, _ *struct{}) states.Outcome {
			return setEnabled(ctx, c, false)
		},
	})
}

// RunningArgs are service.running's arguments; the service is the state's name.
type RunningArgs struct {
	Enable    *bool         `arg:"enable"`
	Reload    bool          `arg:"reload"`
	InitDelay time.Duration `arg:"init_delay"`
}

// DeadArgs are service.dead's arguments.
type DeadArgs struct {
	Enable    *bool         `arg:"enable"`
	InitDelay time.Duration `arg:"init_delay"`
}

// provider chooses the host's init system and checks the service exists.
func provider(ctx context.Context, name string) (initsys.Provider, error) {
	p, err := initsys.Detect(ctx)
	if err != nil {
		return nil, err
	}
	if err := p.Available(ctx, name); err != nil {
		return nil, err
	}
	return p, nil
}

// failed is the outcome of an init system error; a missing service is
// named as Salt names it, with the system's reason.
func failed(name string, err error) states.Outcome {
	var na *initsys.NotAvailableError
	if errors.As(err, &na) {
		return states.Failedf("The named service %s is not available: %s", name, na.Reason)
	}
	return states.Failedf("%v", err)
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// enableState is how far the enable argument is from the truth.
type enableState struct {
	want   *bool
	change bool
}

func checkEnable(ctx context.Context, p initsys.Provider, name string, want *bool) (enableState, error) {
	if want == nil {
		return enableState{}, nil
	}
	en, err := p.Enabled(ctx, name)
	if err != nil {
		return enableState{}, err
	}
	return enableState{want: want, change: en != *want}, nil
}

func enableVerb(enable bool) string {
	if enable {
		return "enabled"
	}
	return "disabled"
}

// comment phrases the enable part of a comment, as Salt does:
// "Service x has been enabled, and is running".
func (e enableState) comment(name, state string) string {
	verb := enableVerb(*e.want)
	if e.change {
		return fmt.Sprintf("Service %s has been %s, and is %s", name, verb, state)
	}
	return fmt.Sprintf("Service %s is already %s, and is %s", name, verb, state)
}

// notYet is the test-mode outcome for a service the host does not have
// yet: its package may be installed earlier in the same run, so, as in
// Salt, it is a change to come (None), not a failure.
func notYet(c *states.Call, err error, verb string) (states.Outcome, bool) {
	var na *initsys.NotAvailableError
	if !c.Test || !errors.As(err, &na) {
		return states.Outcome{}, false
	}
	return states.WouldChange(fmt.Sprintf("Service %s not present; if created in this state run, it would have been %s", c.Name, verb), nil), true
}

func running(ctx context.Context, c *states.Call, a *RunningArgs) states.Outcome {
	p, err := provider(ctx, c.Name)
	if o, ok := notYet(c, err, "started"); ok {
		return o
	}
	if err != nil {
		return failed(c.Name, err)
	}
	up, err := p.Running(ctx, c.Name)
	if err != nil {
		return states.Failedf("%v", err)
	}
	en, err := checkEnable(ctx, p, c.Name, a.Enable)
	if err != nil {
		return states.Failedf("%v", err)
	}
	if up && !en.change {
		if en.want != nil {
			return states.Succeeded(en.comment(c.Name, "running"), nil)
		}
		return states.Succeeded(fmt.Sprintf("The service %s is already running", c.Name), nil)
	}
	changes := map[string]any{c.Name: true}
	if c.Test {
		if !up {
			return states.WouldChange(fmt.Sprintf("Service %s is set to start", c.Name), changes)
		}
		return states.WouldChange(fmt.Sprintf("Service %s set to be %s", c.Name, enableVerb(*en.want)), changes)
	}
	comment := fmt.Sprintf("The service %s is already running", c.Name)
	if !up {
		if err := p.Control(ctx, c.Name, initsys.Start); err != nil {
			return states.Failedf("%v", err)
		}
		if o, ok := settle(ctx, p, c.Name, a.InitDelay, true); !ok {
			return o
		}
		comment = fmt.Sprintf("Started service %s", c.Name)
	}
	if en.want != nil {
		if en.change {
			if err := p.SetEnabled(ctx, c.Name, *en.want); err != nil {
				return states.Failed(comment+"\n"+err.Error(), changes)
			}
		}
		comment = en.comment(c.Name, "running")
	}
	return states.Succeeded(comment, changes)
}

// settle waits init_delay, then checks the service is (or is not) running.
func settle(ctx context.Context, p initsys.Provider, name string, delay time.Duration, want bool) (states.Outcome, bool) {
	if err := sleep(ctx, delay); err != nil {
		return states.Failedf("%v", err), false
	}
	up, err := p.Running(ctx, name)
	if err != nil {
		return states.Failedf("%v", err), false
	}
	if up != want {
		if want {
			return states.Failed(fmt.Sprintf("Service %s failed to start", name), map[string]any{name: false}), false
		}
		return states.Failed(fmt.Sprintf("Service %s failed to die", name), map[string]any{name: true}), false
	}
	return states.Outcome{}, true
}

// runningWatch reacts to a watched change: start a stopped service,
// reload a running one when reload is set, else restart it.
func runningWatch(ctx context.Context, c *states.Call, a *RunningArgs) states.Outcome {
	p, err := provider(ctx, c.Name)
	if err != nil {
		return failed(c.Name, err)
	}
	up, err := p.Running(ctx, c.Name)
	if err != nil {
		return states.Failedf("%v", err)
	}
	action, done := initsys.Restart, "restarted"
	switch {
	case !up:
		action, done = initsys.Start, "started"
	case a.Reload:
		action, done = initsys.Reload, "reloaded"
	}
	changes := map[string]any{c.Name: true}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Service is set to be %s", done), changes)
	}
	if err := p.Control(ctx, c.Name, action); err != nil {
		return states.Failedf("%v", err)
	}
	if o, ok := settle(ctx, p, c.Name, a.InitDelay, true); !ok {
		return o
	}
	return states.Succeeded("Service "+done, changes)
}

func dead(ctx context.Context, c *states.Call, a *DeadArgs) states.Outcome {
	p, err := provider(ctx, c.Name)
	if o, ok := notYet(c, err, "stopped"); ok {
		return o
	}
	var na *initsys.NotAvailableError
	if errors.As(err, &na) {
		return states.Succeeded(fmt.Sprintf("The named service %s is not available", c.Name), nil)
	}
	if err != nil {
		return failed(c.Name, err)
	}
	up, err := p.Running(ctx, c.Name)
	if err != nil {
		return states.Failedf("%v", err)
	}
	en, err := checkEnable(ctx, p, c.Name, a.Enable)
	if err != nil {
		return states.Failedf("%v", err)
	}
	if !up && !en.change {
		if en.want != nil {
			return states.Succeeded(en.comment(c.Name, "dead"), nil)
		}
		return states.Succeeded(fmt.Sprintf("The service %s is already dead", c.Name), nil)
	}
	changes := map[string]any{c.Name: true}
	if c.Test {
		if up {
			return states.WouldChange(fmt.Sprintf("Service %s is set to be killed", c.Name), changes)
		}
		return states.WouldChange(fmt.Sprintf("Service %s set to be %s", c.Name, enableVerb(*en.want)), changes)
	}
	comment := fmt.Sprintf("The service %s is already dead", c.Name)
	if up {
		if err := p.Control(ctx, c.Name, initsys.Stop); err != nil {
			return states.Failedf("%v", err)
		}
		if o, ok := settle(ctx, p, c.Name, a.InitDelay, false); !ok {
			return o
		}
		comment = fmt.Sprintf("Service %s was killed", c.Name)
	}
	if en.want != nil {
		if en.change {
			if err := p.SetEnabled(ctx, c.Name, *en.want); err != nil {
				return states.Failed(comment+"\n"+err.Error(), changes)
			}
		}
		comment = en.comment(c.Name, "dead")
	}
	return states.Succeeded(comment, changes)
}

func setEnabled(ctx context.Context, c *states.Call, enable bool) states.Outcome {
	p, err := provider(ctx, c.Name)
	if o, ok := notYet(c, err, enableVerb(enable)); ok {
		return o
	}
	if err != nil {
		return failed(c.Name, err)
	}
	en, err := checkEnable(ctx, p, c.Name, &enable)
	if err != nil {
		return states.Failedf("%v", err)
	}
	verb := enableVerb(enable)
	if !en.change {
		return states.Succeeded(fmt.Sprintf("Service %s is already %s, and is in the desired state", c.Name, verb), nil)
	}
	changes := map[string]any{c.Name: true}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Service %s set to be %s", c.Name, verb), changes)
	}
	if err := p.SetEnabled(ctx, c.Name, enable); err != nil {
		return states.Failedf("%v", err)
	}
	return states.Succeeded(fmt.Sprintf("Service %s has been %s, and is in the desired state", c.Name, verb), changes)
}
