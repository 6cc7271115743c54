package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
)

// diffTrees holds the trees brine test diff is tested on: v1 is the first
// commit; v2 and broken are laid over it by later commits.
var diffTrees = filepath.Join("testdata", "diff")

// diffRepo makes a git repository with one commit per overlay (v1, then
// v1 with v2 over it, ...), with a throwaway temp dir for brine's exports.
func diffRepo(t *testing.T, overlays ...string) string {
	t.Helper()
	systest.RequireCommands(t, "git", "tar", "cp")
	// Every export goes below TMPDIR: the test checks none is left behind.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Cleanup(func() {
		left, err := os.ReadDir(tmp)
		if err != nil {
			t.Error(err)
		}
		for _, e := range left {
			t.Errorf("brine test diff left %s behind", filepath.Join(tmp, e.Name()))
		}
	})
	repo := t.TempDir()
	commitGit(t, repo, "init", "-q")
	for _, o := range overlays {
		overlay(t, repo, o)
		commitGit(t, repo, "add", "-A")
		commitGit(t, repo, "commit", "-q", "-m", o)
	}
	return repo
}

// overlay copies testdata/diff/NAME over the repository's work tree.
func overlay(t *testing.T, repo, name string) {
	t.Helper()
	if out, err := exec.Command("cp", "-r", filepath.Join(diffTrees, name)+"/.", repo).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v %s", name, err, out)
	}
}

// commitGit runs git in dir with a fixed identity and no user or system
// configuration.
func commitGit(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=ops", "GIT_AUTHOR_EMAIL=ops@example.com",
		"GIT_COMMITTER_NAME=ops", "GIT_COMMITTER_EMAIL=ops@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func testDiff(t *testing.T, repo string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	full := append([]string{"test", "diff", "--repo", repo, "--path", "states", "--minions", filepath.Join(diffTrees, "minions")}, args...)
	code := run(context.Background(), full, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestTestDiffGolden(t *testing.T) {
	for _, c := range []struct{ format, golden string }{
		{"text", "diff-v1-v2.txt"},
		{"json", "diff-v1-v2.json"},
	} {
		t.Run(c.golden, func(t *testing.T) {
			repo := diffRepo(t, "v1", "v2")
			code, out, errOut := testDiff(t, repo, "--out", c.format, "HEAD~1", "HEAD")
			if code != exitChanges {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitChanges, out, errOut)
			}
			if errOut != "" {
				t.Errorf("stderr: %s", errOut)
			}
			golden := filepath.Join(diffTrees, c.golden)
			checkGolden(t, golden, out)
		})
	}
}

// TestTestDiffJSONContract decodes the JSON diff into the shape scripts
// read, and checks it holds exactly the change of commit 2, for web1 only.
func TestTestDiffJSONContract(t *testing.T) {
	repo := diffRepo(t, "v1", "v2")
	_, out, _ := testDiff(t, repo, "--out", "json", "HEAD~1", "HEAD")
	var doc struct {
		Minions map[string]struct {
			Added   []map[string]string `json:"added"`
			Removed []map[string]string `json:"removed"`
			Changed []struct {
				ID       string                       `json:"id"`
				Function string                       `json:"function"`
				Args     map[string]map[string]string `json:"args"`
			} `json:"changed"`
		} `json:"minions"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not the JSON diff: %v\n%s", err, out)
	}
	web, ok := doc.Minions["web1"]
	if len(doc.Minions) != 1 || !ok {
		t.Fatalf("minions %v, want web1 alone", doc.Minions)
	}
	if len(web.Added) != 1 || web.Added[0]["id"] != "nginx-service" || web.Added[0]["function"] != "service.running" {
		t.Errorf("added %v", web.Added)
	}
	if len(web.Removed) != 1 || web.Removed[0]["id"] != "nginx-default-site" || web.Removed[0]["function"] != "file.absent" {
		t.Errorf("removed %v", web.Removed)
	}
	if len(web.Changed) != 1 || web.Changed[0].ID != "nginx-conf" || web.Changed[0].Function != "file.managed" ||
		len(web.Changed[0].Args) != 1 || web.Changed[0].Args["mode"]["old"] != "0644" || web.Changed[0].Args["mode"]["new"] != "0640" {
		t.Errorf("changed %+v", web.Changed)
	}
}

func TestTestDiff(t *testing.T) {
	cases := []struct {
		name     string
		overlays []string // the commits, in order
		work     string   // an overlay laid on the work tree, not committed
		args     []string
		code     int
		stdout   string // the whole of stdout, when not ""
		has      []string
		stderr   string
	}{
		{name: "no change", overlays: []string{"v1", "v2"}, args: []string{"HEAD", "HEAD"}, code: exitOK,
			stdout: "HEAD -> HEAD: 0 of 3 minions change: 0 states added, 0 removed, 0 changed\n"},
		{name: "clean work tree", overlays: []string{"v1", "v2"}, args: []string{"HEAD"}, code: exitOK,
			stdout: "HEAD -> work tree: 0 of 3 minions change: 0 states added, 0 removed, 0 changed\n"},
		{name: "work tree by default", overlays: []string{"v1"}, work: "v2", args: []string{"HEAD"}, code: exitChanges,
			stdout: "web1:\n" +
				"  + nginx-service (service.running)\n" +
				"  - nginx-default-site (file.absent)\n" +
				"  ~ nginx-conf (file.managed): mode: \"0644\" -> \"0640\"\n" +
				"HEAD -> work tree: 1 of 3 minions change: 1 states added, 1 removed, 1 changed\n"},
		{name: "reversed", overlays: []string{"v1", "v2"}, args: []string{"HEAD", "HEAD~1"}, code: exitChanges,
			has: []string{"  + nginx-default-site (file.absent)\n", "  - nginx-service (service.running)\n", `~ nginx-conf (file.managed): mode: "0640" -> "0644"`}},
		{name: "pillar of each revision", overlays: []string{"v1", "v2", "pillar"}, args: []string{"HEAD~1", "HEAD"}, code: exitChanges,
			has: []string{"db1:\n  ~ motd (file.managed): contents: \"welcome\" -> \"hello\"\n", "db2:\n  ~ motd", "web1:\n  ~ motd", "3 of 3 minions change"}},
		{name: "breaks one minion", overlays: []string{"v1", "v2", "broken"}, args: []string{"HEAD~1", "HEAD"}, code: exitError,
			stdout: "HEAD does not compile:\ndb2: db.sls:8: pg-conf: file.managed: unknown argument 'sorce' (did you mean 'source'?)\n",
			stderr: "HEAD does not compile for db2: fix the recipes"},
		{name: "bad revision", overlays: []string{"v1"}, args: []string{"nosuch", "HEAD"}, code: exitError,
			stderr: `unknown revision "nosuch" in `},
		{name: "option as revision", overlays: []string{"v1"}, args: []string{"HEAD", "--", "--output=x"}, code: exitError,
			stderr: `bad revision "--output=x": a revision is a commit, branch or tag, not an option`},
		{name: "no such path", overlays: []string{"v1"}, args: []string{"--path", "nosuch", "HEAD"}, code: exitError,
			stderr: "HEAD has no directory nosuch: give --path the state tree inside the repository"},
		{name: "path outside", overlays: []string{"v1"}, args: []string{"--path", "../x", "HEAD"}, code: exitError,
			stderr: "--path ../x leaves the repository"},
		{name: "no such pillar path", overlays: []string{"v1"}, args: []string{"--pillar-path", "nosuch", "HEAD"}, code: exitError,
			stderr: "no directory nosuch at HEAD nor at work tree: give --pillar-path"},
		{name: "unknown format", overlays: []string{"v1"}, args: []string{"--out", "junit", "HEAD"}, code: exitError,
			stderr: `unknown output format "junit": use text or json`},
		{name: "no revision", overlays: []string{"v1"}, code: exitError, stderr: "accepts between 1 and 2 arg(s)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := diffRepo(t, c.overlays...)
			if c.work != "" {
				overlay(t, repo, c.work)
			}
			code, out, errOut := testDiff(t, repo, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, out, errOut)
			}
			if c.stdout != "" && out != c.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, c.stdout)
			}
			for _, want := range c.has {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if c.stderr == "" && errOut != "" {
				t.Errorf("stderr: %s", errOut)
			}
			if !strings.Contains(errOut, c.stderr) {
				t.Errorf("stderr lacks %q:\n%s", c.stderr, errOut)
			}
		})
	}
}

func TestTestDiffInput(t *testing.T) {
	notRepo := t.TempDir()
	cases := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"not a repository", []string{"--repo", notRepo, "--minions", filepath.Join(diffTrees, "minions"), "HEAD"}, "give --repo a git work tree"},
		{"bad host configuration", []string{"--repo", notRepo, "--config", filepath.Join(notRepo, "nosuch.yaml"), "HEAD"}, "nosuch.yaml"},
		{"missing fixture dir", []string{"--repo", notRepo, "--minions", "nosuch", "HEAD"}, "give --minions a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"test", "diff"}, c.args...), &out, &errOut)
			if code != exitError || !strings.Contains(errOut.String(), c.stderr) {
				t.Errorf("exit %d, stderr %q: want exit 1 and %q", code, errOut.String(), c.stderr)
			}
		})
	}
}

// TestTestDiffThisHost compares for this host, with the grains its
// configuration sets, when no --minions is given.
func TestTestDiffThisHost(t *testing.T) {
	repo := diffRepo(t, "v1", "v2")
	cfg := filepath.Join(t.TempDir(), "minion.yaml")
	if err := os.WriteFile(cfg, []byte("id: host1\ngrains:\n  role: web\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"test", "diff", "--repo", repo, "--path", "states", "--config", cfg, "HEAD~1", "HEAD"}, &out, &errOut)
	if code != exitChanges {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitChanges, out.String(), errOut.String())
	}
	if want := "host1:\n  + nginx-service (service.running)\n"; !strings.HasPrefix(out.String(), want) || !strings.Contains(out.String(), "1 of 1 minions change") {
		t.Errorf("stdout:\n%s\nwant it to start with %q, for host1 alone", out.String(), want)
	}
}

// TestTestDiffBareRepository: in a server's bare repository (a pre-receive
// hook) the diff of two revisions is the same as in a work tree, and one
// revision alone is refused, since there is no work tree to compare with.
func TestTestDiffBareRepository(t *testing.T) {
	repo := diffRepo(t, "v1", "v2")
	bare := filepath.Join(t.TempDir(), "recipes.git")
	commitGit(t, repo, "clone", "-q", "--bare", repo, bare)
	code, out, errOut := testDiff(t, bare, "HEAD~1", "HEAD")
	if code != exitChanges {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitChanges, out, errOut)
	}
	_, want, _ := testDiff(t, repo, "HEAD~1", "HEAD")
	if out != want {
		t.Errorf("bare repository diff:\n%s\nwork tree diff:\n%s", out, want)
	}
	code, _, errOut = testDiff(t, bare, "HEAD~1")
	if code != exitError || !strings.Contains(errOut, "bare repository") {
		t.Errorf("one revision in a bare repository: exit %d, stderr %q", code, errOut)
	}
}
