package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/pkg/dockerx/dockertest"
	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/pkg/testrun"
)

// The brine test run tests start the real binary against the real Docker
// engine, from the default image (built once with debootstrap by the first
// of them, then found in the image store by the others and by later runs).

// testRunDataDir is shared by the test binaries, so that the image build
// lock is one lock.
var testRunDataDir = filepath.Join(os.TempDir(), "brine-testrun-data")

// testRunProc is a `brine test run` process.
type testRunProc struct {
	cmd         *exec.Cmd
	out, errOut bytes.Buffer
}

func startTestRun(t *testing.T, args ...string) *testRunProc {
	t.Helper()
	p := &testRunProc{}
	full := append([]string{"test", "run", "--data-dir", testRunDataDir, "--log-level", "warning"}, args...)
	p.cmd = exec.Command(brineBinary(t), full...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errOut
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start brine test run: %v", err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	return p
}

// wait waits for the process and returns its exit status.
func (p *testRunProc) wait(t *testing.T) int {
	t.Helper()
	err := p.cmd.Wait()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("brine test run: %v", err)
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *testRunProc) owner() string {
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(p.cmd.Process.Pid)
}

// containers lists the containers the process started that still exist.
func (p *testRunProc) containers(t *testing.T, dc *dockerx.Client) []string {
	t.Helper()
	list, err := dc.API.ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", testrun.LabelOwner+"="+p.owner())})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	var out []string
	for _, c := range list.Items {
		out = append(out, c.ID)
	}
	return out
}

// assertNoContainers fails when the process left a container behind.
func (p *testRunProc) assertNoContainers(t *testing.T, dc *dockerx.Client) {
	t.Helper()
	if left := p.containers(t, dc); len(left) > 0 {
		t.Errorf("%d containers left behind (label %s=%s)", len(left), testrun.LabelOwner, p.owner())
	}
}

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// junitCases decodes a JUnit report into "MINION/KIND: NAME" -> case.
func junitCases(t *testing.T, out string) (testrun.JUnitSuites, map[string]testrun.JUnitCase) {
	t.Helper()
	var doc testrun.JUnitSuites
	if err := xml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("the report is not JUnit XML: %v\n%s", err, out)
	}
	cases := map[string]testrun.JUnitCase{}
	for _, s := range doc.Suites {
		n := 0
		for _, c := range s.Cases {
			if c.Failure != nil {
				n++
			}
			cases[s.Name+"/"+c.Name] = c
		}
		if s.Failures != n || s.Tests != len(s.Cases) {
			t.Errorf("suite %s counts %d tests, %d failures; its cases %d, %d", s.Name, s.Tests, s.Failures, len(s.Cases), n)
		}
	}
	return doc, cases
}

// TestTestRunExamples applies examples/ for two fixtures: each state
// applies, the second run changes nothing, the examples' saltcheck tests
// pass (with the fixture's id, grains and pillar: db1's pillar moves its
// root), and no container is left.
func TestTestRunExamples(t *testing.T) {
	dc := dockertest.Engine(t)
	systest.RequireRoot(t) // the default image is built with debootstrap, as root
	p := startTestRun(t, "--file-root", "../../examples/states", "--pillar-root", "../../examples/pillar",
		"--minions", "testdata/testrun/minions", "--out", "junit")
	if code := p.wait(t); code != exitOK {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, p.out.String(), p.errOut.String())
	}
	doc, cases := junitCases(t, p.out.String())
	if doc.Failures != 0 || doc.Errors != 0 || len(doc.Suites) != 2 {
		t.Fatalf("want 2 minions without failures, got %d suites, %d failures, %d errors", len(doc.Suites), doc.Failures, doc.Errors)
	}
	want := []struct {
		key, file string
		line      int
	}{
		{"db1/apply: motd (file.managed /srv/db1/etc/motd)", "motd/init.sls", 2},
		{"db1/idempotence: motd (file.managed /srv/db1/etc/motd)", "motd/init.sls", 2},
		{"db1/assertion: motd_names_the_minion", "motd/saltcheck-tests/init.tst", 15},
		{"web1/apply: app-config (file.managed /tmp/brine-demo/etc/hello.conf)", "app/init.sls", 12},
		{"web1/idempotence: app-restart (cmd.run echo \"restarting hello on port 8080\" >> /tmp/brine-demo/var/log/hello.log)", "app/init.sls", 28},
		{"web1/assertion: app_config_listens_on_port", "app/saltcheck-tests/init.tst", 4},
		{"web1/assertion: app_restarted_once", "app/saltcheck-tests/init.tst", 9},
		{"web1/assertion: motd_mode", "motd/saltcheck-tests/init.tst", 9},
	}
	for _, w := range want {
		c, ok := cases[w.key]
		if !ok {
			t.Errorf("no testcase %q in\n%s", w.key, p.out.String())
			continue
		}
		if c.File != w.file || c.Line != w.line {
			t.Errorf("%s at %s:%d, want %s:%d", w.key, c.File, c.Line, w.file, w.line)
		}
	}
	if _, ok := cases["db1/assertion: app_config_listens_on_port"]; ok {
		t.Error("db1 ran the tests of app, which its top does not give it")
	}
	p.assertNoContainers(t, dc)
}

// TestTestRunFailures applies a copy of examples/ with a deliberately
// failing saltcheck test and a state that changes at every run: the run
// exits 2, the JUnit report fails exactly those two with their file:line
// and the reason, and no container is left.
func TestTestRunFailures(t *testing.T) {
	dc := dockertest.Engine(t)
	systest.RequireRoot(t) // the default image is built with debootstrap, as root
	tree := t.TempDir()
	copyTree(t, "../../examples", tree)
	appendFile(t, filepath.Join(tree, "states/motd/saltcheck-tests/init.tst"),
		"\nmotd_mode_private:\n  module_and_function: file.get_mode\n  args: [{{ motd }}]\n  assertion: assertEqual\n  expected_return: '0600'\n")
	writeFile(t, filepath.Join(tree, "states/stamp.sls"), "stamp:\n  cmd.run:\n    - name: date +%s%N > /tmp/stamp\n")
	appendFile(t, filepath.Join(tree, "states/top.sls"), "  'web1':\n    - stamp\n")

	p := startTestRun(t, "--file-root", filepath.Join(tree, "states"), "--pillar-root", filepath.Join(tree, "pillar"),
		"--minions", "testdata/testrun/minions", "--out", "junit")
	if code := p.wait(t); code != exitStateFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitStateFailed, p.out.String(), p.errOut.String())
	}
	doc, cases := junitCases(t, p.out.String())
	failed := map[string]testrun.JUnitCase{}
	for k, c := range cases {
		if c.Failure != nil {
			failed[k] = c
		}
	}
	want := map[string]struct {
		file    string
		line    int
		message string
	}{
		"web1/assertion: motd_mode_private":                         {"motd/saltcheck-tests/init.tst", 20, "0600"},
		"db1/assertion: motd_mode_private":                          {"motd/saltcheck-tests/init.tst", 20, "0600"},
		"web1/idempotence: stamp (cmd.run date +%s%N > /tmp/stamp)": {"stamp.sls", 1, "changed again on the second run"},
	}
	if len(failed) != len(want) || doc.Failures != len(want) {
		t.Errorf("%d failures (document says %d), want %d:\n%s", len(failed), doc.Failures, len(want), p.out.String())
	}
	for k, w := range want {
		c, ok := failed[k]
		if !ok {
			t.Errorf("%s did not fail", k)
			continue
		}
		if c.File != w.file || c.Line != w.line || !strings.Contains(c.Failure.Message, w.message) ||
			!strings.HasPrefix(c.Failure.Text, fmt.Sprintf("%s:%d: ", w.file, w.line)) {
			t.Errorf("%s: at %s:%d, failure %q / %q; want %s:%d and %q", k, c.File, c.Line, c.Failure.Message, c.Failure.Text, w.file, w.line, w.message)
		}
	}
	if c, ok := cases["web1/apply: stamp (cmd.run date +%s%N > /tmp/stamp)"]; !ok || c.Failure != nil {
		t.Errorf("the first run of stamp should pass: %+v", c)
	}
	if c, ok := cases["web1/assertion: motd_mode"]; !ok || c.Failure != nil {
		t.Errorf("motd_mode should pass: %+v", c)
	}
	p.assertNoContainers(t, dc)
}

// TestTestRunCleanup stops runs in the middle, by SIGINT, by the run's
// time limit and by an assertion's: each exits with its status, says why,
// and leaves no container behind.
func TestTestRunCleanup(t *testing.T) {
	dc := dockertest.Engine(t)
	systest.RequireRoot(t) // the default image is built with debootstrap, as root
	tree := t.TempDir()
	writeFile(t, filepath.Join(tree, "top.sls"), "base:\n  'slow*':\n    - slow\n  'hang*':\n    - hang\n")
	writeFile(t, filepath.Join(tree, "slow.sls"), "wait:\n  cmd.run:\n    - name: sleep 600\n")
	writeFile(t, filepath.Join(tree, "hang.sls"), "marker:\n  file.managed:\n    - name: /tmp/marker\n    - contents: here\n")
	if err := os.MkdirAll(filepath.Join(tree, "hang", "saltcheck-tests"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(tree, "hang.sls"), filepath.Join(tree, "hang", "init.sls")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(tree, "hang", "saltcheck-tests", "init.tst"),
		"marker_exists:\n  module_and_function: file.file_exists\n  args: [/tmp/marker]\n  assertion: assertTrue\n"+
			"hangs:\n  module_and_function: cmd.run\n  args: ['sleep 600']\n  assertion: assertEqual\n  expected_return: ''\n")
	fixtures := func(id string) string {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, id+".yaml"), "id: "+id+"\ngrains: {}\n")
		return dir
	}
	tests := []struct {
		name    string
		minion  string
		args    []string
		sigint  bool
		code    int
		message string
	}{
		{name: "SIGINT", minion: "slow1", sigint: true, code: exitError, message: "interrupted"},
		{name: "run timeout", minion: "slow1", args: []string{"--timeout", "20s"}, code: exitError, message: "took longer than --timeout 20s"},
		{name: "assertion timeout", minion: "hang1", args: []string{"--assertion-timeout", "2s", "--out", "junit"}, code: exitStateFailed, message: "timed out after 2s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startTestRun(t, append([]string{"--file-root", tree, "--minions", fixtures(tt.minion)}, tt.args...)...)
			if tt.sigint {
				// Interrupt while the state runs: the container exists and runs brine.
				waitFor(t, 3*time.Minute, "the state run in the container", func() bool {
					for _, id := range p.containers(t, dc) {
						res, err := dc.API.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
						if err == nil && len(res.Container.ExecIDs) > 0 {
							return true
						}
					}
					return p.cmd.ProcessState != nil
				})
				if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
			}
			code := p.wait(t)
			all := p.out.String() + p.errOut.String()
			if code != tt.code || !strings.Contains(all, tt.message) {
				t.Errorf("exit %d, want %d, and a message with %q:\n%s", code, tt.code, tt.message, all)
			}
			if tt.name == "assertion timeout" {
				_, cases := junitCases(t, p.out.String())
				if c := cases["hang1/assertion: hangs"]; c.Failure == nil || c.File != "hang/saltcheck-tests/init.tst" || c.Line != 5 {
					t.Errorf("hangs should fail at hang/saltcheck-tests/init.tst:5: %+v", c)
				}
				if c, ok := cases["hang1/assertion: marker_exists"]; !ok || c.Failure != nil {
					t.Errorf("marker_exists should pass: %+v", c)
				}
			}
			p.assertNoContainers(t, dc)
		})
	}
}

// TestTestRunBadInput gives brine test run bad input: each is an error
// (exit 1) that says what is wrong and where, before any container; the
// Docker engine is made unreachable to prove it.
func TestTestRunBadInput(t *testing.T) {
	tree := func(files map[string]string) string {
		dir := t.TempDir()
		for name, content := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, content)
		}
		return dir
	}
	web := map[string]string{"top.sls": "base:\n  '*':\n    - web\n", "web/init.sls": "page:\n  file.managed:\n    - name: /tmp/page\n    - contents: hi\n"}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range web {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	minions := t.TempDir()
	writeFile(t, filepath.Join(minions, "web1.yaml"), "id: web1\ngrains: {role: web}\n")
	badFixture := t.TempDir()
	writeFile(t, filepath.Join(badFixture, "web1.yaml"), "id: web1\ngrain: {role: web}\n")

	tests := []struct {
		name  string
		root  string
		args  []string
		wants []string
	}{
		{
			name:  "malformed tst",
			root:  tree(with(map[string]string{"web/saltcheck-tests/init.tst": "page_exists:\n  module_and_function: file.file_exists\n  args: [/tmp/page\n  assertion: assertTrue\n"})),
			wants: []string{"web1: web/saltcheck-tests/init.tst:", "not valid YAML"},
		},
		{
			name: "unknown assertion",
			root: tree(with(map[string]string{"web/saltcheck-tests/init.tst": "# the page\npage_exists:\n  module_and_function: file.file_exists\n  args: [/tmp/page]\n  assertion: assertEquals\n  expected_return: true\n"})),
			wants: []string{"web1: web/saltcheck-tests/init.tst:2: test page_exists: invalid test: unknown assertion 'assertEquals' (did you mean 'assertEqual'?)",
				"nothing was started"},
		},
		{
			name:  "unknown function",
			root:  tree(with(map[string]string{"web/saltcheck-tests/init.tst": "page_exists:\n  module_and_function: file.file_exist\n  args: [/tmp/page]\n  assertion: assertTrue\n"})),
			wants: []string{"web1: web/saltcheck-tests/init.tst:1: test page_exists:", "file.file_exist", "did you mean 'file.file_exists'"},
		},
		{
			name:  "recipe does not compile",
			root:  tree(with(map[string]string{"web/init.sls": "page:\n  file.managed:\n    - name: /tmp/page\n    - sorce: salt://x\n"})),
			wants: []string{"web1: web/init.sls:", "page", "sorce"},
		},
		{
			name:  "missing fixture dir",
			root:  tree(web),
			args:  []string{"--minions", "/nonexistent/minions"},
			wants: []string{"read minion fixtures", "/nonexistent/minions"},
		},
		{
			name:  "malformed fixture",
			root:  tree(web),
			args:  []string{"--minions", badFixture},
			wants: []string{"web1.yaml", "grain"},
		},
		{
			name:  "unknown output format",
			root:  tree(web),
			args:  []string{"--out", "xml"},
			wants: []string{`unknown output format "xml"`},
		},
		{
			name:  "missing file root",
			root:  "/nonexistent/states",
			wants: []string{"file root /nonexistent/states is not a directory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"test", "run", "--file-root", tt.root, "--minions", minions}, tt.args...)
			cmd := exec.Command(brineBinary(t), args...)
			cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent/docker.sock")
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != exitError {
				t.Fatalf("want exit 1, got %v\n%s\n%s", err, out.String(), errOut.String())
			}
			for _, w := range tt.wants {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
			if strings.Contains(errOut.String(), "Docker engine") {
				t.Errorf("bad input reached the Docker engine:\n%s", errOut.String())
			}
		})
	}
}
