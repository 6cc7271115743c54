package timezone

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

// newRoot lays out a Debian-like root with two zoneinfo files, the zone
// UTC set, and the hardware clock in UTC.
func newRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range []string{"usr/share/zoneinfo/Etc/UTC", "usr/share/zoneinfo/Europe/Paris"} {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("TZif"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(t, os.Symlink("/usr/share/zoneinfo/Etc/UTC", filepath.Join(root, "etc/localtime")))
	must(t, os.WriteFile(filepath.Join(root, "etc/timezone"), []byte("Etc/UTC\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "etc/debian_version"), []byte("12.0\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "etc/adjtime"), []byte("0.0 0 0.0\n0\nUTC\n"), 0o644))
	return root
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, root, zone string, raw map[string]any, test bool) states.Outcome {
	t.Helper()
	e, _ := states.Lookup("timezone.system")
	a, err := e.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return system(context.Background(), root, &states.Call{ID: "tz", Name: zone, Test: test}, a.(*SystemArgs))
}

// TestSystem sets a zone on a real temporary root: test mode changes
// nothing, the apply links and names it, the second apply changes nothing.
func TestSystem(t *testing.T) {
	root := newRoot(t)
	o := run(t, root, "Europe/Paris", map[string]any{"utc": false}, true)
	statetest.Expect(t, o, "None", true)
	if l, _ := os.Readlink(filepath.Join(root, "etc/localtime")); l != "/usr/share/zoneinfo/Etc/UTC" {
		t.Fatalf("test mode changed /etc/localtime to %s", l)
	}
	statetest.Expect(t, run(t, root, "Europe/Paris", map[string]any{"utc": false}, false), "true", true)
	if l, _ := os.Readlink(filepath.Join(root, "etc/localtime")); l != "/usr/share/zoneinfo/Europe/Paris" {
		t.Errorf("/etc/localtime links to %s", l)
	}
	for f, want := range map[string]string{"etc/timezone": "Europe/Paris\n", "etc/adjtime": "0.0 0 0.0\n0\nLOCAL\n"} {
		if b, _ := os.ReadFile(filepath.Join(root, f)); string(b) != want {
			t.Errorf("%s = %q, want %q", f, b, want)
		}
	}
	statetest.Expect(t, run(t, root, "Europe/Paris", map[string]any{"utc": false}, false), "true", false)
	must(t, os.WriteFile(filepath.Join(root, "etc/adjtime"), []byte("0.0 0 0.0\n"), 0o644)) // a short adjtime
	statetest.Expect(t, run(t, root, "Europe/Paris", map[string]any{"utc": true}, false), "true", true)
	if b, _ := os.ReadFile(filepath.Join(root, "etc/adjtime")); string(b) != "0.0 0 0.0\n0\nUTC\n" {
		t.Errorf("short adjtime became %q", b)
	}
	for _, bad := range []string{"Mars/Olympus", "../../etc/passwd", "/etc/passwd"} {
		statetest.Expect(t, run(t, root, bad, nil, false), "false", false)
	}
}
