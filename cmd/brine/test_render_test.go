package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/recipetest"
)

var update = flag.Bool("update", false, "rewrite the golden files of brine test render")

// renderTrees holds the state trees and minion fixtures brine test render is tested on.
const renderTrees = "../../pkg/recipetest/testdata"

func testRender(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"test", "render"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func treeArgs(tree, minions string) []string {
	args := []string{"--file-root", filepath.Join(renderTrees, tree, "states"), "--minions", filepath.Join(renderTrees, tree, minions)}
	if _, err := os.Stat(filepath.Join(renderTrees, tree, "pillar")); err == nil {
		args = append(args, "--pillar-root", filepath.Join(renderTrees, tree, "pillar"))
	}
	return args
}

func TestTestRenderExitStatus(t *testing.T) {
	cases := []struct {
		name          string
		args          []string
		code          int
		stdout, lacks []string
		stderr        string
	}{
		{"one minion breaks", treeArgs("broken", "minions"), exitError,
			[]string{"db2: db.sls:8: pg-conf: file.managed: unknown argument 'sorce' (did you mean 'source'?)\n", "db1: ok (3 states)", "web1: ok (3 states)",
				"warning: db.sls:8: pg-conf: file.managed: sorce: source salt://db/postgresql.conf does not exist in the file roots (for db2) [missing-source]"},
			[]string{"db1: db.sls", "web1: db.sls"}, ""},
		{"clean", treeArgs("broken", "minions-ok"), exitOK, []string{"0 failed with 0 errors; 0 warnings"}, nil, ""},
		{"clean strict", append(treeArgs("broken", "minions-ok"), "--strict"), exitOK, nil, nil, ""},
		{"warnings only", treeArgs("lint", "minions"), exitOK, []string{"[unused-state]", "[unreached-sls]", "[missing-source]"}, nil, ""},
		{"warnings only, strict", append(treeArgs("lint", "minions"), "--strict"), exitWarnings, []string{"3 warnings"}, nil, ""},
		{"partial requisite", treeArgs("partial", "minions"), exitError,
			[]string{`db1: app.sls:6: app-conf: file.managed: requisite require not found`, "resolves for web1 but not for db1"}, nil, ""},
		// A Jinja variable undefined for one minion is an error of that
		// minion alone, as Salt's StrictUndefined makes it.
		{"undefined for one minion", treeArgs("undefined", "minions"), exitError,
			[]string{"web2: web.sls:5: render: Jinja variable 'dict object' has no attribute 'site'", "db1: ok (1 states)", "web1: ok (1 states)"},
			[]string{"web1: web.sls", "db1: web.sls"}, ""},
		{"named SLS", append(treeArgs("broken", "minions"), "common"), exitOK, []string{"db2: ok (1 states)"}, nil, ""},
		{"missing fixture dir", []string{"--file-root", renderTrees, "--minions", "nosuch"}, exitError, nil, nil, "give --minions a directory"},
		{"missing file root", []string{"--file-root", "nosuch", "--minions", filepath.Join(renderTrees, "broken/minions")}, exitError, nil, nil, "file root nosuch is not a directory"},
		{"bad fixture", []string{"--file-root", renderTrees, "--minions", filepath.Join(renderTrees, "fixtures/unknown_key")}, exitError, nil, nil, "field grain not found"},
		{"unknown format", append(treeArgs("broken", "minions"), "--out", "xml"), exitError, nil, nil, `unknown output format "xml"`},
		{"from master, no master", []string{"--from-master", "--socket", filepath.Join(renderTrees, "no-master.sock")}, exitError, nil, nil, "no master socket at"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := testRender(t, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, out, errOut)
			}
			for _, want := range c.stdout {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			for _, bad := range c.lacks {
				if strings.Contains(out, bad) {
					t.Errorf("stdout has %q:\n%s", bad, out)
				}
			}
			if !strings.Contains(errOut, c.stderr) {
				t.Errorf("stderr lacks %q:\n%s", c.stderr, errOut)
			}
		})
	}
}

func TestTestRenderGolden(t *testing.T) {
	for _, c := range []struct{ tree, format, golden string }{
		{"broken", "json", "render-broken.json"},
		{"broken", "junit", "render-broken.xml"},
		{"lint", "junit", "render-lint.xml"},
		{"broken", "text", "render-broken.txt"},
	} {
		t.Run(c.golden, func(t *testing.T) {
			_, out, errOut := testRender(t, append(treeArgs(c.tree, "minions"), "--out", c.format)...)
			if errOut != "" {
				t.Fatalf("stderr: %s", errOut)
			}
			golden := filepath.Join("testdata", "render", c.golden)
			checkGolden(t, golden, out)
		})
	}
}

func TestTestRenderJUnitShape(t *testing.T) {
	code, out, _ := testRender(t, append(treeArgs("broken", "minions"), "--out", "junit")...)
	if code != exitError {
		t.Fatalf("exit %d", code)
	}
	var doc recipetest.JUnitSuites
	if err := xml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JUnit XML: %v\n%s", err, out)
	}
	if doc.XMLName.Local != "testsuites" || len(doc.Suites) != 2 || doc.Suites[0].Name != "render" || doc.Suites[1].Name != "lint" {
		t.Fatalf("document shape %+v", doc)
	}
	render := doc.Suites[0]
	// One testcase per minion (3) and per error (1); the minion db2 and its error fail.
	if render.Tests != 4 || len(render.Cases) != 4 || render.Failures != 2 {
		t.Errorf("render suite: tests %d, cases %d, failures %d", render.Tests, len(render.Cases), render.Failures)
	}
	var failed []string
	for _, c := range render.Cases {
		if c.Failure != nil {
			failed = append(failed, c.Name)
			if !strings.Contains(c.Failure.Text, "db.sls:8: pg-conf: file.managed: unknown argument 'sorce'") {
				t.Errorf("%s: failure %+v lacks the error with file and line", c.Name, c.Failure)
			}
		}
	}
	if strings.Join(failed, "|") != "db2: compile|db2: db.sls:8: pg-conf" {
		t.Errorf("failed testcases %q", failed)
	}
	errCase := render.Cases[2]
	if errCase.File != "db.sls" || errCase.Line != 8 || errCase.Classname != "render.db2" {
		t.Errorf("error testcase %+v", errCase)
	}
	if lint := doc.Suites[1]; lint.Tests != 1 || lint.Failures != 0 || lint.Cases[0].SystemOut == "" {
		t.Errorf("lint suite without --strict: %+v", lint)
	}
	if doc.Tests != 5 || doc.Failures != 2 {
		t.Errorf("totals: tests %d failures %d", doc.Tests, doc.Failures)
	}

	_, out, _ = testRender(t, append(treeArgs("lint", "minions"), "--out", "junit", "--strict")...)
	doc = recipetest.JUnitSuites{}
	if err := xml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if lint := doc.Suites[1]; lint.Tests != 3 || lint.Failures != 3 {
		t.Errorf("lint suite with --strict: tests %d failures %d", lint.Tests, lint.Failures)
	}
}

// checkGolden compares out with the golden file, which -update rewrites.
func checkGolden(t *testing.T, golden, out string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if out != string(want) {
		t.Errorf("output differs from %s:\n%s", golden, out)
	}
}
