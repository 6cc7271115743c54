package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
)

// gitRepo makes a git repository holding the broken tree's states,
// pillar and minion fixtures, with db.sls in its good form.
func gitRepo(t *testing.T) string {
	t.Helper()
	systest.RequireCommands(t, "git", "tar")
	repo := t.TempDir()
	src := filepath.Join(renderTrees, "broken")
	for _, dir := range []string{"states", "pillar", "minions"} {
		out, err := exec.Command("cp", "-r", filepath.Join(src, dir), filepath.Join(repo, dir)).CombinedOutput()
		if err != nil {
			t.Fatalf("copy %s: %v %s", dir, err, out)
		}
	}
	writeDB(t, repo, goodDB)
	git(t, repo, "init", "-q")
	git(t, repo, "config", "user.email", "ops@example.com")
	git(t, repo, "config", "user.name", "ops")
	return repo
}

const goodDB = "postgresql:\n  pkg.installed: []\n"

// badDB breaks for the minions whose os grain is Ubuntu only (db2).
const badDB = goodDB + "{% if grains['os'] == 'Ubuntu' %}\npg-conf:\n  file.managed:\n    - name: /etc/pg.conf\n    - sorce: salt://db/pg.conf\n{% endif %}\n"

func writeDB(t *testing.T, repo, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(repo, "states", "db.sls"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func git(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustGit(t *testing.T, dir string, args ...string) {
	t.Helper()
	if out, err := git(t, dir, args...); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestTestHookPreCommit(t *testing.T) {
	repo := gitRepo(t)
	bin := brineBinary(t)
	out, err := exec.Command(bin, "test", "hook", "install", "--repo", repo,
		"--file-root", "states", "--pillar-root", "pillar", "--minions", "minions").CombinedOutput()
	if err != nil {
		t.Fatalf("hook install: %v\n%s", err, out)
	}
	hook := filepath.Join(repo, ".git", "hooks", "pre-commit")
	if st, err := os.Stat(hook); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("no executable hook at %s: %v", hook, err)
	}

	steps := []struct {
		name      string
		staged    string // db.sls as staged
		workTree  string // db.sls in the work tree afterwards ("" = as staged)
		commits   bool
		wantInOut string
	}{
		{"a good recipe goes in", goodDB, "", true, "db2: ok"},
		{"a recipe broken for one minion is stopped", badDB, "", false, "db2: db.sls:7: pg-conf: file.managed: unknown argument 'sorce'"},
		{"the staged tree is tested, not the work tree", goodDB + "# staged\n", badDB, true, "db2: ok"},
		{"a broken staged tree is stopped under a good work tree", badDB, goodDB, false, "db2: db.sls:7: pg-conf"},
	}
	for _, s := range steps {
		writeDB(t, repo, s.staged)
		mustGit(t, repo, "add", "-A")
		if s.workTree != "" {
			writeDB(t, repo, s.workTree)
		}
		out, err := git(t, repo, "commit", "-q", "-m", s.name)
		if (err == nil) != s.commits {
			t.Fatalf("%s: commit error %v, want success %v\n%s", s.name, err, s.commits, out)
		}
		if !strings.Contains(out, s.wantInOut) {
			t.Errorf("%s: hook output lacks %q:\n%s", s.name, s.wantInOut, out)
		}
		if !s.commits && (strings.Contains(out, "db1: db.sls") || strings.Contains(out, "web1: db.sls")) {
			t.Errorf("%s: a minion that compiles is named:\n%s", s.name, out)
		}
		mustGit(t, repo, "reset", "-q")
	}
	if n, err := git(t, repo, "rev-list", "--count", "HEAD"); err != nil || strings.TrimSpace(n) != "2" {
		t.Errorf("commits made: %q (%v), want the two good ones", n, err)
	}
}

func TestTestHookInstallRefusesForeignHook(t *testing.T) {
	repo := gitRepo(t)
	hook := filepath.Join(repo, ".git", "hooks", "pre-push")
	foreign := "#!/bin/sh\necho someone else's hook\n"
	if err := os.WriteFile(hook, []byte(foreign), 0o755); err != nil {
		t.Fatal(err)
	}
	install := func(extra ...string) (int, string) {
		var out bytes.Buffer
		code := run(context.Background(), append([]string{"test", "hook", "install", "--pre-push", "--repo", repo, "--brine", "/usr/bin/brine",
			"--file-root", "states", "--minions", filepath.Join(repo, "minions")}, extra...), &out, &out)
		return code, out.String()
	}
	cases := []struct {
		name  string
		extra []string
		code  int
		want  string
	}{
		{"a foreign hook is kept", nil, exitError, "brine did not write it"},
		{"--force replaces it", []string{"--force"}, exitOK, "installed " + hook},
		{"brine's own hook is replaced", []string{"--strict"}, exitOK, "installed " + hook},
	}
	for _, c := range cases {
		code, out := install(c.extra...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Fatalf("%s: exit %d, output %q", c.name, code, out)
		}
	}
	got, err := os.ReadFile(hook)
	if err != nil {
		t.Fatal(err)
	}
	// The fixtures, given as an absolute path inside the repository, name
	// the exported copy: a relative path.
	for _, want := range []string{hookMarker, "BRINE=${BRINE:-'/usr/bin/brine'}", "'test' 'render' '--file-root' 'states' '--minions' 'minions' '--strict'", "git archive"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("hook lacks %q:\n%s", want, got)
		}
	}
	if code, out := install("--repo", t.TempDir()); code != exitError || !strings.Contains(out, "give --repo a git work tree") {
		t.Errorf("outside a repository: exit %d, %q", code, out)
	}
}
