// Package timezone provides timezone.system: the host's time zone, as the
// /etc/localtime link into the zoneinfo database and Debian's /etc/timezone.
package timezone

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("timezone.system", states.Func[SystemArgs]{
		Doc: "Ensures the system time zone is name (a zoneinfo name such as Europe/Paris): /etc/localtime " +
			"links to its zoneinfo file and /etc/timezone names it. utc says whether the hardware clock " +
			"keeps UTC (/etc/adjtime, when the host has one).",
		Apply: func(ctx context.Context, c *states.Call, a *SystemArgs) states.Outcome {
			return system(ctx, "/", c, a)
		},
	})
}

// SystemArgs are timezone.system's arguments; the zone is the state's name.
type SystemArgs struct {
	UTC *bool `arg:"utc"`
}

// system applies timezone.system to the file system below root.
func system(_ context.Context, root string, c *states.Call, a *SystemArgs) states.Outcome {
	zone := c.Name
	if zone == "" || strings.HasPrefix(zone, "/") || strings.Contains("/"+zone+"/", "/../") {
		return states.Failedf("timezone.system: %q is not a time zone name (want one such as Europe/Paris)", zone)
	}
	target := filepath.Join("/usr/share/zoneinfo", zone)
	if fi, err := os.Stat(filepath.Join(root, target)); err != nil || !fi.Mode().IsRegular() {
		return states.Failedf("timezone.system: unknown time zone %q: no %s (is tzdata installed?)", zone, target)
	}
	localtime := filepath.Join(root, "etc/localtime")
	tzfile := filepath.Join(root, "etc/timezone")
	adjtime := filepath.Join(root, "etc/adjtime")
	changes := map[string]any{}
	if cur, err := os.Readlink(localtime); err != nil || cur != target {
		changes["timezone"] = zone
	}
	if b, err := os.ReadFile(tzfile); err == nil && strings.TrimSpace(string(b)) != zone {
		changes["timezone"] = zone
	} else if errors.Is(err, fs.ErrNotExist) && isDebian(root) {
		changes["timezone"] = zone
	}
	var adj []string
	if a.UTC != nil {
		b, err := os.ReadFile(adjtime)
		if err == nil {
			adj = strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			want := "LOCAL"
			if *a.UTC {
				want = "UTC"
			}
			adj = append(adj, []string{"0.0 0 0.0", "0", ""}[min(len(adj), 3):]...) // adjtime(5)'s three lines, where missing
			if adj[2] != want {
				adj[2] = want
				changes["utc"] = *a.UTC
			} else {
				adj = nil
			}
		}
	}
	if len(changes) == 0 {
		return states.Succeeded(fmt.Sprintf("Timezone %s already set", zone), nil)
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Timezone %s needs to be set", zone), changes)
	}
	if _, ok := changes["timezone"]; ok {
		tmp := localtime + ".brine-new"
		_ = os.Remove(tmp)
		if err := os.Symlink(target, tmp); err != nil {
			return states.Failedf("timezone.system: link %s: %v", localtime, err)
		}
		if err := os.Rename(tmp, localtime); err != nil {
			_ = os.Remove(tmp)
			return states.Failedf("timezone.system: link %s: %v", localtime, err)
		}
		if _, err := os.Stat(tzfile); err == nil || isDebian(root) {
			if err := os.WriteFile(tzfile, []byte(zone+"\n"), 0o644); err != nil {
				return states.Failedf("timezone.system: write %s: %v", tzfile, err)
			}
		}
	}
	if adj != nil {
		if err := os.WriteFile(adjtime, []byte(strings.Join(adj, "\n")+"\n"), 0o644); err != nil {
			return states.Failedf("timezone.system: write %s: %v", adjtime, err)
		}
	}
	return states.Succeeded(fmt.Sprintf("Set timezone %s", zone), changes)
}

// isDebian reports whether the tree below root is of the Debian family,
// which names its zone in /etc/timezone too.
func isDebian(root string) bool {
	_, err := os.Stat(filepath.Join(root, "etc/debian_version"))
	return err == nil
}
