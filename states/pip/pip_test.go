package pip

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

func TestParseRequirement(t *testing.T) {
	for _, tc := range []struct {
		in, name string
		clauses  int
	}{
		{"attrs", "attrs", 0},
		{"attrs==23.1.0", "attrs", 1},
		{"Foo_Bar[extra] >= 1.0, < 2", "Foo_Bar", 2},
		{"pkg ; python_version > '3'", "pkg", 0},
		{"https://example.invalid/x.whl", "", 0},
	} {
		r, err := parseRequirement(tc.in)
		if err != nil || r.name != tc.name || len(r.clauses) != tc.clauses {
			t.Errorf("parseRequirement(%q) = %+v, %v; want name %q with %d clauses", tc.in, r, err, tc.name, tc.clauses)
		}
	}
	for _, bad := range []string{"", "attrs==", "attrs[x", "==1.0"} {
		if _, err := parseRequirement(bad); err == nil {
			t.Errorf("parseRequirement(%q) accepted it", bad)
		}
	}
}

func TestSatisfiedBy(t *testing.T) {
	for _, tc := range []struct {
		spec, version string
		ok            bool
	}{
		{"x", "0.1", true},
		{"x==1.0", "1.0.0", true},
		{"x==1.0", "1.1", false},
		{"x>=1.9", "1.10", true},
		{"x>1.0,<2", "2.0", false},
		{"x!=1.0", "1.0", false},
		{"x~=1.4.2", "1.4.9", true},
		{"x~=1.4.2", "1.5.0", false},
		{"x==1.*", "1.7", true},
		{"x==1.*", "2.0", false},
		{"x<1.0", "1.0rc1", true},
		{"x===1.0", "1.0.0", false},
	} {
		r, err := parseRequirement(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.satisfiedBy(tc.version); got != tc.ok {
			t.Errorf("%s satisfied by %s = %v, want %v", tc.spec, tc.version, got, tc.ok)
		}
	}
}

func TestInstallArgs(t *testing.T) {
	a := InstalledArgs{Upgrade: true, NoIndex: true, FindLinks: "/w1, /w2", IndexURL: "http://127.0.0.1:1/simple",
		ExtraIndexURL: "http://127.0.0.1:2/simple", Requirements: "/r.txt"}
	want := "install --upgrade --no-index --index-url http://127.0.0.1:1/simple --extra-index-url " +
		"http://127.0.0.1:2/simple --find-links /w1 --find-links /w2 --requirement /r.txt attrs"
	if got := strings.Join(installArgs(&a, []string{"attrs"}), " "); got != want {
		t.Errorf("installArgs = %q\nwant %q", got, want)
	}
}

// wheels creates a virtualenv with the real python3 -m venv, and writes
// the wheels brinetiny 1.0.0 and 1.1.0 (pure-Python wheels as PEP 427
// lays them out) into a directory, returning both. pip's environment
// settings are cleared for the test, so nothing but that directory is asked.
func wheels(t *testing.T) (venv, dir string) {
	t.Helper()
	systest.RequireCommands(t, "python3")
	tmp := t.TempDir()
	t.Setenv("HOME", tmp)
	t.Setenv("PIP_CONFIG_FILE", os.DevNull)
	t.Setenv("PIP_FIND_LINKS", "")
	venv = filepath.Join(tmp, "venv")
	if out, err := exec.Command("/usr/bin/python3", "-m", "venv", venv).CombinedOutput(); err != nil {
		t.Fatalf("python3 -m venv (python3-venv): %v\n%s", err, out)
	}
	dir = filepath.Join(tmp, "wheels")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		writeWheel(t, filepath.Join(dir, "brinetiny-"+v+"-py3-none-any.whl"), v)
	}
	return venv, dir
}

// writeWheel writes a pure-Python wheel of brinetiny at version v.
func writeWheel(t *testing.T, path, v string) {
	t.Helper()
	info := "brinetiny-" + v + ".dist-info/"
	files := []struct{ name, body string }{
		{"brinetiny.py", "VERSION = '" + v + "'\n"},
		{info + "METADATA", "Metadata-Version: 2.1\nName: brinetiny\nVersion: " + v + "\nSummary: brine test package\n"},
		{info + "WHEEL", "Wheel-Version: 1.0\nGenerator: brine-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.body))
	}
	record.WriteString(info + "RECORD,,\n")
	w, err := zw.Create(info + "RECORD")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(record.String())); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// version is brinetiny's installed version in venv, asking pip itself;
// "" when it is not installed.
func version(t *testing.T, venv string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(venv, "bin", "pip"), "list", "--format=json").Output()
	if err != nil {
		t.Fatalf("pip list: %v", err)
	}
	have, err := parseList(string(out))
	if err != nil {
		t.Fatal(err)
	}
	return have["brinetiny"].Version
}

func expectComment(t *testing.T, o states.Outcome, want string) {
	t.Helper()
	if o.Comment != want {
		t.Fatalf("comment %q, want %q", o.Comment, want)
	}
}

// TestPipReal installs, upgrades and removes a locally built wheel in a
// virtualenv with the real pip, offline: test mode, install, idempotence,
// versions, requirements files, removal.
func TestPipReal(t *testing.T) {
	venv, dir := wheels(t)
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{"bin_env": venv, "no_index": true, "find_links": dir}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	o := statetest.Run(t, "pip.installed", "brinetiny==1.0.0", with(nil), true)
	statetest.Expect(t, o, "None", false)
	expectComment(t, o, "Python package brinetiny==1.0.0 is set to be installed")
	if v := version(t, venv); v != "" {
		t.Fatalf("test mode installed %s", v)
	}

	o = statetest.Run(t, "pip.installed", "brinetiny==1.0.0", with(nil), false)
	statetest.Expect(t, o, "true", true)
	expectComment(t, o, "All packages were successfully installed")
	if o.Changes["brinetiny==1.0.0"] != "Installed" {
		t.Fatalf("changes %v, want brinetiny==1.0.0: Installed", o.Changes)
	}
	if v := version(t, venv); v != "1.0.0" {
		t.Fatalf("installed %q, want 1.0.0", v)
	}

	for _, name := range []string{"brinetiny==1.0.0", "brinetiny>=1.0", "brinetiny", "BrineTiny"} {
		for _, test := range []bool{true, false} {
			o = statetest.Run(t, "pip.installed", name, with(nil), test)
			statetest.Expect(t, o, "true", false)
			expectComment(t, o, "Python package "+name+" was already installed\nAll specified packages are already installed")
		}
	}

	// A version the installed one does not meet is installed over it.
	o = statetest.Run(t, "pip.installed", "upgrade", with(map[string]any{"pkgs": []any{"brinetiny>1.0"}}), false)
	statetest.Expect(t, o, "true", true)
	if o.Changes["brinetiny==1.1.0"] != "Installed" || version(t, venv) != "1.1.0" {
		t.Fatalf("changes %v, installed %s; want brinetiny 1.1.0", o.Changes, version(t, venv))
	}

	// A package the wheel directory does not have fails with pip's reason.
	o = statetest.Run(t, "pip.installed", "brinenosuch", with(nil), false)
	statetest.Expect(t, o, "false", false)
	if !strings.HasPrefix(o.Comment, "Failed to install packages: brinenosuch.") || !strings.Contains(o.Comment, "brinenosuch") {
		t.Fatalf("comment %q, want Salt's failure and pip's reason", o.Comment)
	}

	// A requirements file: processed every time, changes only when pip installed something.
	req := filepath.Join(t.TempDir(), "requirements.txt")
	if err := os.WriteFile(req, []byte("brinetiny==1.0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o = statetest.Run(t, "pip.installed", "reqs", with(map[string]any{"requirements": req}), true)
	statetest.Expect(t, o, "None", false)
	expectComment(t, o, "Requirements file '"+req+"' will be processed.")
	o = statetest.Run(t, "pip.installed", "reqs", with(map[string]any{"requirements": req}), false)
	statetest.Expect(t, o, "true", true)
	expectComment(t, o, "Successfully processed requirements file "+req+".")
	if v := version(t, venv); v != "1.0.0" {
		t.Fatalf("after the requirements file: %q, want 1.0.0", v)
	}
	o = statetest.Run(t, "pip.installed", "reqs", with(map[string]any{"requirements": req}), false)
	statetest.Expect(t, o, "true", false)
	expectComment(t, o, "Requirements were already installed.")

	o = statetest.Run(t, "pip.removed", "brinetiny", map[string]any{"bin_env": venv}, true)
	statetest.Expect(t, o, "None", false)
	expectComment(t, o, "Package brinetiny is set to be removed")
	if version(t, venv) == "" {
		t.Fatal("test mode removed the package")
	}
	o = statetest.Run(t, "pip.removed", "brinetiny", map[string]any{"bin_env": venv}, false)
	statetest.Expect(t, o, "true", true)
	expectComment(t, o, "Package was successfully removed.")
	if v := version(t, venv); v != "" {
		t.Fatalf("brinetiny %s left after pip.removed", v)
	}
	for _, test := range []bool{true, false} {
		o = statetest.Run(t, "pip.removed", "brinetiny", map[string]any{"bin_env": venv}, test)
		statetest.Expect(t, o, "true", false)
		expectComment(t, o, "Package is not installed.")
	}
}

// TestPipNotInstalledYet: before pip is installed, test mode says the
// package would be installed (and that there is none to remove); a real
// run fails naming the missing pip and the fix.
func TestPipNotInstalledYet(t *testing.T) {
	missing := map[string]any{"bin_env": filepath.Join(t.TempDir(), "pip")}
	o := statetest.Run(t, "pip.installed", "attrs", missing, true)
	statetest.Expect(t, o, "None", false)
	expectComment(t, o, "Python package attrs is set to be installed")
	o = statetest.Run(t, "pip.removed", "attrs", missing, true)
	statetest.Expect(t, o, "true", false)
	expectComment(t, o, "Package is not installed.")
	for _, fun := range []string{"pip.installed", "pip.removed"} {
		o = statetest.Run(t, fun, "attrs", missing, false)
		statetest.Expect(t, o, "false", false)
		if !strings.Contains(o.Comment, "pip not found") || !strings.Contains(o.Comment, "bin_env") {
			t.Errorf("%s: comment %q does not name the missing pip and the fix", fun, o.Comment)
		}
	}
}

// TestPipBadArgs: arguments pip cannot use fail before pip runs, saying why.
func TestPipBadArgs(t *testing.T) {
	for _, tc := range []struct {
		fun, name string
		raw       map[string]any
		want      string
	}{
		{"pip.installed", "x", map[string]any{"pkgs": []any{"attrs=="}}, "not a version clause"},
		{"pip.removed", "attrs==1.0", map[string]any{}, "is not a package name"},
	} {
		o := statetest.Run(t, tc.fun, tc.name, tc.raw, false)
		statetest.Expect(t, o, "false", false)
		if !strings.Contains(o.Comment, tc.want) {
			t.Errorf("%s %s %v: comment %q, want it to say %q", tc.fun, tc.name, tc.raw, o.Comment, tc.want)
		}
	}
}
