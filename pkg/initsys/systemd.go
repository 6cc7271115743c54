package initsys

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Systemd manages services with systemctl.
type Systemd struct {
	Runner Runner
}

// Name is "systemd".
func (s *Systemd) Name() string { return "systemd" }

// unitTypes are the unit suffixes a name may already carry.
var unitTypes = []string{".service", ".socket", ".timer", ".target", ".mount", ".path"}

// unit is the unit name: "nginx" -> "nginx.service".
func unit(name string) string {
	for _, t := range unitTypes {
		if strings.HasSuffix(name, t) {
			return name
		}
	}
	return name + ".service"
}

func (s *Systemd) systemctl(ctx context.Context, args ...string) (Output, error) {
	return s.Runner.Run(ctx, "systemctl", args...)
}

// Available asks systemd whether it can load the unit.
func (s *Systemd) Available(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	out, err := s.systemctl(ctx, "show", "--property=LoadState", "--value", "--", unit(name))
	if err != nil {
		return err
	}
	if out.Code != 0 {
		return &NotAvailableError{Name: name, Reason: "systemctl show " + unit(name) + ": " + out.Reason()}
	}
	switch state := strings.TrimSpace(out.Stdout); state {
	case "loaded":
		return nil
	case "not-found":
		return &NotAvailableError{Name: name, Reason: "unit " + unit(name) + " could not be found"}
	default:
		return &NotAvailableError{Name: name, Reason: "unit " + unit(name) + " is " + state}
	}
}

// Running asks systemctl is-active.
func (s *Systemd) Running(ctx context.Context, name string) (bool, error) {
	if err := checkName(name); err != nil {
		return false, err
	}
	out, err := s.systemctl(ctx, "is-active", "--quiet", "--", unit(name))
	return err == nil && out.Code == 0, err
}

// Enabled asks systemctl is-enabled: enabled, static, alias and the like
// exit 0.
func (s *Systemd) Enabled(ctx context.Context, name string) (bool, error) {
	if err := checkName(name); err != nil {
		return false, err
	}
	out, err := s.systemctl(ctx, "is-enabled", "--", unit(name))
	return err == nil && out.Code == 0, err
}

// Control runs systemctl start, stop, restart or reload.
func (s *Systemd) Control(ctx context.Context, name string, a Action) error {
	if err := checkName(name); err != nil {
		return err
	}
	return s.check(s.systemctl(ctx, string(a), "--", unit(name)))
}

// SetEnabled runs systemctl enable or disable.
func (s *Systemd) SetEnabled(ctx context.Context, name string, enable bool) error {
	if err := checkName(name); err != nil {
		return err
	}
	verb := "disable"
	if enable {
		verb = "enable"
	}
	return s.check(s.systemctl(ctx, verb, "--", unit(name)))
}

// check turns a failed systemctl run into an error with its message.
func (s *Systemd) check(out Output, err error) error {
	if err != nil {
		return err
	}
	if out.Code != 0 {
		return fmt.Errorf("systemctl: %s", out.Reason())
	}
	return nil
}

// List returns every service unit file systemd knows, without ".service".
func (s *Systemd) List(ctx context.Context) ([]string, error) {
	out, err := s.systemctl(ctx, "list-unit-files", "--type=service", "--no-legend", "--no-pager", "--plain")
	if err := s.check(out, err); err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	var names []string
	for line := range strings.Lines(out.Stdout) {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasSuffix(f[0], ".service") || strings.HasSuffix(f[0], "@.service") {
			continue
		}
		names = append(names, strings.TrimSuffix(f[0], ".service"))
	}
	sort.Strings(names)
	return names, nil
}
