package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("service.masked", states.Func[MaskArgs]{
		Doc: "Ensures the systemd unit name (.service when no suffix is given) is masked: linked to /dev/null in " +
			"/etc/systemd/system, or in /run/systemd/system with runtime: True, as systemctl mask does.",
		Apply: func(ctx context.Context, c *states.Call, a *MaskArgs) states.Outcome {
			return mask(ctx, "/", c, a, true)
		},
	})
	states.Register("service.unmasked", states.Func[MaskArgs]{
		Doc: "Ensures the systemd unit name is not masked (its /dev/null link removed).",
		Apply: func(ctx context.Context, c *states.Call, a *MaskArgs) states.Outcome {
			return mask(ctx, "/", c, a, false)
		},
	})
}

// MaskArgs are service.masked's and service.unmasked's arguments.
type MaskArgs struct {
	Runtime bool `arg:"runtime"`
}

// unitName adds .service to a name without a unit suffix.
func unitName(name string) string {
	if i := strings.LastIndex(name, "."); i > 0 {
		switch name[i+1:] {
		case "service", "socket", "timer", "target", "mount", "path", "slice", "scope", "device", "swap", "automount":
			return name
		}
	}
	return name + ".service"
}

// mask masks (or unmasks) the unit below root and, when systemd runs the
// host, has it reload its units.
func mask(ctx context.Context, root string, c *states.Call, a *MaskArgs, masked bool) states.Outcome {
	fun := "service.unmasked"
	if masked {
		fun = "service.masked"
	}
	if c.Name == "" || strings.ContainsAny(c.Name, "/\n") {
		return states.Failedf("%s: %q is not a unit name", fun, c.Name)
	}
	dir := "etc/systemd/system"
	if a.Runtime {
		dir = "run/systemd/system"
	}
	link := filepath.Join(root, dir, unitName(c.Name))
	target, err := os.Readlink(link)
	isMasked := err == nil && target == "/dev/null"
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if fi, serr := os.Lstat(link); serr == nil && fi.Mode().IsRegular() && masked {
			return states.Failedf("%s: %s is a unit file of its own; remove it to mask the unit", fun, link)
		}
	}
	if isMasked == masked {
		return states.Succeeded(fmt.Sprintf("Service %s is already %s", c.Name, maskWord(masked)), nil)
	}
	changes := map[string]any{c.Name: strings.ToUpper(maskWord(masked)[:1]) + maskWord(masked)[1:]}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Service %s is set to be %s", c.Name, maskWord(masked)), changes)
	}
	if masked {
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return states.Failedf("%s: %v", fun, err)
		}
		if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return states.Failedf("%s: replace %s: %v", fun, link, err)
		}
		if err := os.Symlink("/dev/null", link); err != nil {
			return states.Failedf("%s: %v", fun, err)
		}
	} else if err := os.Remove(link); err != nil {
		return states.Failedf("%s: %v", fun, err)
	}
	if root == "/" {
		if _, err := os.Stat("/run/systemd/system"); err == nil { // systemd runs the host
			if out, err := exec.CommandContext(ctx, "systemctl", "daemon-reload").CombinedOutput(); err != nil {
				return states.Failed(fmt.Sprintf("Service %s was %s, but systemctl daemon-reload failed: %v %s",
					c.Name, maskWord(masked), err, strings.TrimSpace(string(out))), changes)
			}
		}
	}
	return states.Succeeded(fmt.Sprintf("Service %s was %s", c.Name, maskWord(masked)), changes)
}

func maskWord(masked bool) string {
	if masked {
		return "masked"
	}
	return "unmasked"
}
