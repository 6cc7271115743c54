package git

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states/statetest"
)

func gitGet(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"config"}, args...)...)
	cmd.Dir = dir
	out, _ := cmd.Output() // exit 1: not set
	return string(out)
}

// TestRepoConfig sets, replaces and unsets keys of a real temporary
// repository with git: test mode changes nothing, re-applies change nothing.
func TestRepoConfig(t *testing.T) {
	systest.RequireCommands(t, "git")
	repo := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	set := map[string]any{"repo": repo, "value": "Brine Bot"}
	statetest.Expect(t, statetest.Run(t, "git.config_set", "user.name", set, true), "None", true)
	if got := gitGet(t, repo, "--local", "user.name"); got != "" {
		t.Fatalf("test mode set user.name to %q", got)
	}
	statetest.Expect(t, statetest.Run(t, "git.config_set", "user.name", set, false), "true", true)
	statetest.Expect(t, statetest.Run(t, "git.config_set", "user.name", set, false), "true", false)
	if got := gitGet(t, repo, "--local", "user.name"); got != "Brine Bot\n" {
		t.Errorf("user.name = %q", got)
	}
	multi := map[string]any{"repo": repo, "multivar": []any{"+refs/heads/*:refs/remotes/o/*", "+refs/tags/*:refs/tags/*"}}
	statetest.Expect(t, statetest.Run(t, "git.config_set", "remote.o.fetch", multi, false), "true", true)
	statetest.Expect(t, statetest.Run(t, "git.config_set", "remote.o.fetch", multi, false), "true", false)
	if got := gitGet(t, repo, "--local", "--get-all", "remote.o.fetch"); got != "+refs/heads/*:refs/remotes/o/*\n+refs/tags/*:refs/tags/*\n" {
		t.Errorf("remote.o.fetch = %q", got)
	}
	// A multivar is not unset without all (or a value_regex).
	statetest.Expect(t, statetest.Run(t, "git.config_unset", "remote.o.fetch", map[string]any{"repo": repo}, false), "false", false)
	rx := map[string]any{"repo": repo, "value_regex": "tags"}
	statetest.Expect(t, statetest.Run(t, "git.config_unset", "remote.o.fetch", rx, false), "true", true)
	statetest.Expect(t, statetest.Run(t, "git.config_unset", "remote.o.fetch", rx, false), "true", false)
	all := map[string]any{"repo": repo, "all": true}
	statetest.Expect(t, statetest.Run(t, "git.config_unset", "user.name", all, true), "None", true)
	statetest.Expect(t, statetest.Run(t, "git.config_unset", "user.name", all, false), "true", true)
	statetest.Expect(t, statetest.Run(t, "git.config_unset", "user.name", all, false), "true", false)
	if got := gitGet(t, repo, "--local", "--get-all", "remote.o.fetch"); got != "+refs/heads/*:refs/remotes/o/*\n" {
		t.Errorf("remote.o.fetch = %q", got)
	}
	for _, bad := range []map[string]any{{"value": "x"}, {"repo": repo}, {"repo": repo, "value": "x", "multivar": "y"}} {
		statetest.Expect(t, statetest.Run(t, "git.config_set", "user.name", bad, false), "false", false)
	}
	o := statetest.Run(t, "git.config_set", "nodot", map[string]any{"repo": repo, "value": "x"}, false)
	statetest.Expect(t, o, "false", false)
	if !strings.Contains(o.Comment, "nodot") {
		t.Errorf("comment %q does not name the key", o.Comment)
	}
}

// TestGlobalAsUser writes a throwaway user's ~/.gitconfig as that user,
// as the users formula does (global: True, user: NAME).
func TestGlobalAsUser(t *testing.T) {
	systest.RequireRoot(t)
	systest.RequireCommands(t, "git", "useradd", "userdel")
	const name = "brine-test-git"
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // the user must reach its home
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(dir, "home")
	clean := func() { exec.Command("userdel", name).Run() } // absent already is fine
	clean()
	t.Cleanup(clean)
	if out, err := exec.Command("useradd", "-m", "-d", home, name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
	set := map[string]any{"user": name, "global": true, "value": "vim"}
	statetest.Expect(t, statetest.Run(t, "git.config_set", "core.editor", set, false), "true", true)
	statetest.Expect(t, statetest.Run(t, "git.config_set", "core.editor", set, false), "true", false)
	b, err := os.ReadFile(filepath.Join(home, ".gitconfig"))
	if err != nil || !strings.Contains(string(b), "editor = vim") {
		t.Fatalf("~/.gitconfig: %q %v", b, err)
	}
	out, _ := exec.Command("stat", "-c", "%U", filepath.Join(home, ".gitconfig")).Output()
	if strings.TrimSpace(string(out)) != name {
		t.Errorf("~/.gitconfig belongs to %s, want %s", out, name)
	}
	unset := map[string]any{"user": name, "global": true, "all": true}
	statetest.Expect(t, statetest.Run(t, "git.config_unset", "core.editor", unset, false), "true", true)
	statetest.Expect(t, statetest.Run(t, "git.config_unset", "core.editor", unset, false), "true", false)
}
