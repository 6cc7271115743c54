package initsys

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Sysv manages services through their /etc/init.d scripts and the
// /etc/rc?.d links update-rc.d maintains.
type Sysv struct {
	Runner  Runner
	InitDir string // "/etc/init.d"
	RCRoot  string // where the rc?.d directories are: "/etc"
}

// NewSysv returns the sysv provider for this host.
func NewSysv() *Sysv {
	return &Sysv{Runner: ExecRunner{}, InitDir: "/etc/init.d", RCRoot: "/etc"}
}

// Name is "sysv".
func (s *Sysv) Name() string { return "sysv" }

func (s *Sysv) script(name string) string { return filepath.Join(s.InitDir, name) }

// Available checks that the service has an executable init script.
func (s *Sysv) Available(_ context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	fi, err := os.Stat(s.script(name))
	if err != nil {
		return &NotAvailableError{Name: name, Reason: err.Error()}
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return &NotAvailableError{Name: name, Reason: s.script(name) + " is not an executable file"}
	}
	return nil
}

// Running runs the script's status action: exit status 0 is running (LSB).
func (s *Sysv) Running(ctx context.Context, name string) (bool, error) {
	if err := s.Available(ctx, name); err != nil {
		return false, err
	}
	out, err := s.Runner.Run(ctx, s.script(name), "status")
	if err != nil {
		return false, err
	}
	return out.Code == 0, nil
}

// Enabled reports whether a start link exists in a multi-user runlevel (2-5).
func (s *Sysv) Enabled(ctx context.Context, name string) (bool, error) {
	if err := s.Available(ctx, name); err != nil {
		return false, err
	}
	links, err := filepath.Glob(filepath.Join(s.RCRoot, "rc[2345].d", "S[0-9][0-9]"+name))
	if err != nil {
		return false, fmt.Errorf("look up start links of %s: %w", name, err)
	}
	return len(links) > 0, nil
}

// Control runs the script with the action.
func (s *Sysv) Control(ctx context.Context, name string, a Action) error {
	if err := s.Available(ctx, name); err != nil {
		return err
	}
	out, err := s.Runner.Run(ctx, s.script(name), string(a))
	if err != nil {
		return err
	}
	if out.Code != 0 {
		return fmt.Errorf("%s %s: %s", s.script(name), a, out.Reason())
	}
	return nil
}

// SetEnabled makes sure the rc links exist (update-rc.d defaults), then
// turns the start links on or off (update-rc.d enable or disable).
func (s *Sysv) SetEnabled(ctx context.Context, name string, enable bool) error {
	if err := s.Available(ctx, name); err != nil {
		return err
	}
	verb := "disable"
	if enable {
		verb = "enable"
	}
	for _, args := range [][]string{{name, "defaults"}, {name, verb}} {
		out, err := s.Runner.Run(ctx, "update-rc.d", args...)
		if err != nil {
			return err
		}
		if out.Code != 0 {
			return fmt.Errorf("update-rc.d %s %s: %s", args[0], args[1], out.Reason())
		}
	}
	return nil
}

// notServices are files of /etc/init.d that are not services.
var notServices = map[string]bool{"README": true, "skeleton": true, "rc": true, "rcS": true, ".depend.boot": true,
	".depend.start": true, ".depend.stop": true, ".legacy-bootordering": true}

// List returns every executable init script.
func (s *Sysv) List(context.Context) ([]string, error) {
	entries, err := os.ReadDir(s.InitDir)
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	var out []string
	for _, e := range entries {
		if notServices[e.Name()] {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}
