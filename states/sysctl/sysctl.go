// Package sysctl provides sysctl.present: a kernel parameter's running
// value (through /proc/sys) and its line in a sysctl configuration file, so
// that it holds after a reboot.
package sysctl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/brinecm/brine/states"
)

// DefaultConfig is the file sysctl.present writes when no config is given,
// as Salt's on systemd hosts.
const DefaultConfig = "/etc/sysctl.d/99-salt.conf"

func init() {
	states.Register("sysctl.present", states.Func[PresentArgs]{
		Doc: "Ensures the kernel parameter name (net.ipv4.ip_forward) has value, now and in config " +
			"(default " + DefaultConfig + ").",
		Apply: func(ctx context.Context, c *states.Call, a *PresentArgs) states.Outcome {
			return present(ctx, "/proc/sys", c, a)
		},
	})
}

// PresentArgs are sysctl.present's arguments; the parameter is the state's name.
type PresentArgs struct {
	Value  string `arg:"value,required"`
	Config string `arg:"config"`
}

// present applies sysctl.present with the parameters under procSys.
func present(_ context.Context, procSys string, c *states.Call, a *PresentArgs) states.Outcome {
	name := c.Name
	if name == "" || strings.ContainsAny(name, " =\t\n") || strings.Contains(name, "..") || strings.HasPrefix(name, ".") {
		return states.Failedf("sysctl.present: %q is not a kernel parameter name (want one such as net.ipv4.ip_forward)", name)
	}
	config := a.Config
	if config == "" {
		config = DefaultConfig
	}
	want := normalize(a.Value)
	path := filepath.Join(procSys, strings.ReplaceAll(name, ".", "/"))
	cur, err := os.ReadFile(path)
	if err != nil {
		return states.Failedf("sysctl.present: read %s: %v (is %s a kernel parameter here?)", path, err, name)
	}
	lines, inConfig, err := configLines(config, name, want)
	if err != nil {
		return states.Failedf("sysctl.present: %v", err)
	}
	running := normalize(string(cur)) == want
	if running && inConfig {
		return states.Succeeded(fmt.Sprintf("Sysctl value %s = %s is already set", name, a.Value), nil)
	}
	changes := map[string]any{name: a.Value}
	if c.Test {
		what := "would be changed"
		if running {
			what = "would be written to " + config
		}
		return states.WouldChange(fmt.Sprintf("Sysctl option %s %s", name, what), changes)
	}
	if !inConfig {
		if err := os.MkdirAll(filepath.Dir(config), 0o755); err != nil {
			return states.Failedf("sysctl.present: create the directory of %s: %v", config, err)
		}
		if err := os.WriteFile(config, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			return states.Failedf("sysctl.present: write %s: %v", config, err)
		}
	}
	if !running {
		if err := os.WriteFile(path, []byte(a.Value+"\n"), 0o644); err != nil {
			return states.Failedf("sysctl.present: set %s: %v", name, err)
		}
	}
	return states.Succeeded(fmt.Sprintf("Updated sysctl value %s = %s", name, a.Value), changes)
}

// normalize makes values comparable as sysctl prints them: runs of blanks
// (tabs between the numbers of a vector) become one space.
func normalize(v string) string { return strings.Join(strings.Fields(v), " ") }

// configLines reads config and returns its lines with name set to value
// (replacing its lines, or appended), and whether the file already says so.
func configLines(config, name, value string) ([]string, bool, error) {
	b, err := os.ReadFile(config)
	if err != nil && !os.IsNotExist(err) {
		return nil, false, fmt.Errorf("read %s: %w", config, err)
	}
	var out []string
	found, ok := false, false
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		k, v, isSetting := strings.Cut(line, "=")
		t := strings.TrimSpace(line)
		if isSetting && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, ";") && strings.TrimSpace(k) == name {
			if found {
				continue // a later duplicate would override the line kept
			}
			found = true
			ok = normalize(v) == value
			out = append(out, name+" = "+value)
			continue
		}
		if line != "" || len(out) > 0 {
			out = append(out, line)
		}
	}
	if !found {
		out = append(out, name+" = "+value)
	}
	return out, found && ok, nil
}
