package gem

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

func TestParseList(t *testing.T) {
	out := "brinetiny (1.1.0, 1.0.0)\n" +
		"json (default: 2.6.1)\n" +
		"nokogiri (1.15.4 x86_64-linux, 1.14.0)\n" +
		"*** LOCAL GEMS ***\n\n"
	got := parseList(out)
	want := map[string][]string{
		"brinetiny": {"1.1.0", "1.0.0"},
		"json":      {"2.6.1"},
		"nokogiri":  {"1.15.4", "1.14.0"},
	}
	if len(got) != len(want) {
		t.Fatalf("parseList = %v, want %v", got, want)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("%s: %v, want %v", k, got[k], v)
		}
	}
}

func TestSatisfied(t *testing.T) {
	for _, tc := range []struct {
		have []string
		want string
		ok   bool
	}{
		{[]string{"1.0.0"}, "1.0.0", true},
		{[]string{"1.0.0"}, "1.0", true}, // trailing zeros do not count
		{[]string{"1.0.0"}, "1.1.0", false},
		{[]string{"1.1.0", "1.0.0"}, "1.0.0", true},
		{[]string{"1.0.0"}, ">= 1.0", true},
		{[]string{"1.0.0"}, ">1.0", false},
		{[]string{"1.10.0"}, "> 1.9", true}, // numeric, not lexical
		{[]string{"2.0.0"}, "< 2", false},
		{[]string{"1.9"}, "<= 2", true},
		{[]string{"1.0.0"}, "!= 1.0.0", false},
		{[]string{"1.2.9"}, "~> 1.2.3", true},
		{[]string{"1.3.0"}, "~> 1.2.3", false},
		{[]string{"1.9"}, "~> 1.2", true},
		{[]string{"2.0"}, "~> 1.2", false},
		{[]string{"1.0.a1"}, "1.0", false}, // a pre-release comes before its release
		{[]string{"1.0.a1"}, "< 1.0", true},
	} {
		got, err := satisfied(tc.have, tc.want)
		if err != nil || got != tc.ok {
			t.Errorf("satisfied(%v, %q) = %v, %v; want %v", tc.have, tc.want, got, err, tc.ok)
		}
	}
	for _, bad := range []string{">=", ">= 1, < 2", "~>"} {
		if _, err := satisfied([]string{"1.0"}, bad); err == nil {
			t.Errorf("satisfied(%q) accepted a malformed version", bad)
		}
	}
}

func TestInstallArgs(t *testing.T) {
	for _, tc := range []struct {
		a    InstalledArgs
		want string
	}{
		{InstalledArgs{}, "install rake --no-document"},
		{InstalledArgs{Rdoc: true, Ri: true}, "install rake --document rdoc,ri"},
		{InstalledArgs{Ri: true}, "install rake --document ri"},
		{InstalledArgs{Version: Version{true, "~> 13.0"}, PreReleases: true, Proxy: "http://p:3128",
			Source: "http://127.0.0.1:8808/"},
			"install rake --version ~> 13.0 --no-document --prerelease --http-proxy http://p:3128 " +
				"--clear-sources --source http://127.0.0.1:8808/"},
	} {
		if got := strings.Join(installArgs("rake", &tc.a), " "); got != tc.want {
			t.Errorf("installArgs(%+v) = %q, want %q", tc.a, got, tc.want)
		}
	}
}

// gemRepo builds the gem brinetiny in versions 1.0.0 and 1.1.0 with the
// real gem command and indexes them as a gem repository, in a temporary
// directory it returns. GEM_HOME, GEM_PATH and HOME point into temporary
// directories for the rest of the test, so the host's gems are untouched.
func gemRepo(t *testing.T) string {
	t.Helper()
	systest.RequireCommands(t, "gem", "ruby")
	dir := t.TempDir()
	t.Setenv("GEM_HOME", filepath.Join(dir, "home"))
	t.Setenv("GEM_PATH", filepath.Join(dir, "home"))
	t.Setenv("HOME", dir)
	repo := filepath.Join(dir, "repo")
	if err := os.MkdirAll(filepath.Join(repo, "gems"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		src := filepath.Join(dir, "src-"+v)
		if err := os.MkdirAll(filepath.Join(src, "lib"), 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{
			"lib/brinetiny.rb": "module Brinetiny; VERSION = '" + v + "'; end\n",
			"brinetiny.gemspec": "Gem::Specification.new do |s|\n" +
				"  s.name = 'brinetiny'\n  s.version = '" + v + "'\n  s.summary = 'brine test gem'\n" +
				"  s.authors = ['brine']\n  s.license = 'MIT'\n  s.files = ['lib/brinetiny.rb']\nend\n",
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("gem", "build", "brinetiny.gemspec", "--output", filepath.Join(repo, "gems", "brinetiny-"+v+".gem"))
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gem build %s: %v\n%s", v, err, out)
		}
	}
	if out, err := exec.Command("gem", "generate_index", "--directory", repo).CombinedOutput(); err != nil {
		t.Fatalf("gem generate_index: %v\n%s", err, out)
	}
	return repo
}

// versions lists the installed versions of brinetiny, asking gem itself.
func versions(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("gem", "list", "--local", "--exact", "brinetiny").Output()
	if err != nil {
		t.Fatalf("gem list: %v", err)
	}
	return parseList(string(out))["brinetiny"]
}

func expectComment(t *testing.T, o states.Outcome, want string) {
	t.Helper()
	if o.Comment != want {
		t.Fatalf("comment %q, want %q", o.Comment, want)
	}
}

// TestGemReal installs and removes a locally built gem from a gem
// repository served over loopback HTTP, as Salt's gem states would from
// any gem source: test mode, install, idempotence, versions, removal.
func TestGemReal(t *testing.T) {
	repo := gemRepo(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(repo)))
	t.Cleanup(srv.Close)
	src := map[string]any{"source": srv.URL + "/"}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{"source": src["source"]}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	o := statetest.Run(t, "gem.installed", "brinetiny", with(map[string]any{"version": "1.0.0"}), true)
	statetest.Expect(t, o, "None", false)
	expectComment(t, o, "The gem brinetiny would have been installed")
	if v := versions(t); len(v) != 0 {
		t.Fatalf("test mode installed %v", v)
	}

	o = statetest.Run(t, "gem.installed", "brinetiny", with(map[string]any{"version": "1.0.0"}), false)
	statetest.Expect(t, o, "true", true)
	expectComment(t, o, "Gem was successfully installed")
	if o.Changes["brinetiny"] != "Installed" {
		t.Fatalf("changes %v, want brinetiny: Installed", o.Changes)
	}
	if v := versions(t); !slices.Equal(v, []string{"1.0.0"}) {
		t.Fatalf("installed versions %v, want [1.0.0]", v)
	}

	// Installed at the wanted version, or meeting the constraint, or at
	// any version when none is asked: nothing to do, in either mode.
	for _, args := range []map[string]any{{"version": "1.0.0"}, {"version": ">= 1.0"}, {}} {
		for _, test := range []bool{true, false} {
			o = statetest.Run(t, "gem.installed", "brinetiny", with(args), test)
			statetest.Expect(t, o, "true", false)
			expectComment(t, o, "Gem is already installed.")
		}
	}

	// A version not installed yet is installed beside the other.
	o = statetest.Run(t, "gem.installed", "brinetiny", with(map[string]any{"version": 1.1}), true)
	statetest.Expect(t, o, "None", false)
	o = statetest.Run(t, "gem.installed", "brinetiny", with(map[string]any{"version": 1.1}), false)
	statetest.Expect(t, o, "true", true)
	if v := versions(t); !slices.Equal(v, []string{"1.1.0", "1.0.0"}) {
		t.Fatalf("installed versions %v, want [1.1.0 1.0.0]", v)
	}

	// A gem the source does not have fails with gem's own reason.
	o = statetest.Run(t, "gem.installed", "brinenosuch", with(nil), false)
	statetest.Expect(t, o, "false", false)
	if !strings.HasPrefix(o.Comment, "Could not install gem.") || !strings.Contains(o.Comment, "brinenosuch") {
		t.Fatalf("comment %q, want Salt's failure and gem's reason naming the gem", o.Comment)
	}

	o = statetest.Run(t, "gem.removed", "brinetiny", map[string]any{}, true)
	statetest.Expect(t, o, "None", false)
	expectComment(t, o, "The gem brinetiny would have been removed")
	if v := versions(t); len(v) != 2 {
		t.Fatalf("test mode removed versions: %v left", v)
	}
	o = statetest.Run(t, "gem.removed", "brinetiny", map[string]any{}, false)
	statetest.Expect(t, o, "true", true)
	expectComment(t, o, "Gem was successfully removed.")
	if o.Changes["brinetiny"] != "Removed" {
		t.Fatalf("changes %v, want brinetiny: Removed", o.Changes)
	}
	if v := versions(t); len(v) != 0 {
		t.Fatalf("versions %v left after gem.removed", v)
	}
	for _, test := range []bool{true, false} {
		o = statetest.Run(t, "gem.removed", "brinetiny", map[string]any{}, test)
		statetest.Expect(t, o, "true", false)
		expectComment(t, o, "Gem is not installed.")
	}
}

// TestGemFileSource installs from a gem repository on disk (a file://
// source), with no server at all.
func TestGemFileSource(t *testing.T) {
	repo := gemRepo(t)
	raw := map[string]any{"source": "file://" + repo + "/"}
	o := statetest.Run(t, "gem.installed", "brinetiny", raw, false)
	statetest.Expect(t, o, "true", true)
	if v := versions(t); !slices.Equal(v, []string{"1.1.0"}) {
		t.Fatalf("installed versions %v, want the latest, [1.1.0]", v)
	}
	o = statetest.Run(t, "gem.installed", "brinetiny", raw, false)
	statetest.Expect(t, o, "true", false)
}

// TestGemNotInstalledYet: before the state that installs Ruby has run,
// test mode says the gem would be installed (and that there is none to
// remove); a real run fails naming the missing command and the fix.
func TestGemNotInstalledYet(t *testing.T) {
	missing := map[string]any{"gem_bin": filepath.Join(t.TempDir(), "gem")}
	o := statetest.Run(t, "gem.installed", "rake", missing, true)
	statetest.Expect(t, o, "None", false)
	expectComment(t, o, "The gem rake would have been installed")
	o = statetest.Run(t, "gem.removed", "rake", missing, true)
	statetest.Expect(t, o, "true", false)
	expectComment(t, o, "Gem is not installed.")
	for _, fun := range []string{"gem.installed", "gem.removed"} {
		o = statetest.Run(t, fun, "rake", missing, false)
		statetest.Expect(t, o, "false", false)
		if !strings.Contains(o.Comment, "gem command not found") || !strings.Contains(o.Comment, "gem_bin") {
			t.Errorf("%s: comment %q does not name the missing command and the fix", fun, o.Comment)
		}
	}
}

// TestGemBadArgs: arguments gem cannot use fail before gem runs, saying why.
func TestGemBadArgs(t *testing.T) {
	for _, tc := range []struct {
		fun, name string
		raw       map[string]any
		want      string
	}{
		{"gem.installed", "rake", map[string]any{"source": "/srv/gems"}, "not a gem repository URL"},
		{"gem.installed", "two gems", map[string]any{}, "is not a gem name"},
		{"gem.removed", "rake", map[string]any{"user": "a", "runas": "b"}, "disagree"},
	} {
		o := statetest.Run(t, tc.fun, tc.name, tc.raw, false)
		statetest.Expect(t, o, "false", false)
		if !strings.Contains(o.Comment, tc.want) {
			t.Errorf("%s %s %v: comment %q, want it to say %q", tc.fun, tc.name, tc.raw, o.Comment, tc.want)
		}
	}
	e, _ := states.Lookup("gem.installed")
	if _, err := e.Decode(map[string]any{"version": []any{"1"}}); err == nil {
		t.Error("a list as version decoded")
	}
}
