package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// call runs `brine call --local` in-process against a testdata tree with
// pillar root pointing at a fresh directory, and returns exit code, stdout,
// stderr and that root.
func call(t *testing.T, tree string, args ...string) (int, string, string, string) {
	t.Helper()
	root := t.TempDir()
	full := append([]string{"call", "--local", "--config", "/dev/null", "--id", "minion1",
		"--file-root", filepath.Join("testdata", tree), "--pillar-root", filepath.Join(root, "no-pillar")}, args...)
	for _, a := range args {
		if strings.HasPrefix(a, "state.") {
			full = append(full, "pillar={root: "+root+"}")
			break
		}
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), full, &out, &errOut)
	return code, out.String(), errOut.String(), root
}

func TestCallExitStatus(t *testing.T) {
	cases := []struct {
		name, tree string
		args       []string
		code       int
		stdout     []string // substrings
	}{
		{"highstate applies", "good", []string{"state.highstate"}, exitOK, []string{"ID: index", "Result: True", "Succeeded: 1 (changed=1)"}},
		{"failing state", "failing", []string{"state.apply", "web"}, exitStateFailed, []string{"Result: False", "Failed:    1"}},
		{"malformed yaml", "bad_yaml", []string{"state.apply", "web"}, exitError, []string{"Data failed to compile:", "web.sls:3: invalid YAML"}},
		{"unknown function", "bad_function", []string{"state.apply", "web"}, exitError,
			[]string{`web.sls:3: site: unknown state function "file.manged" (did you mean "file.managed"?)`}},
		// As in Salt, a state with an unknown argument runs and warns, and
		// a state whose requisite is missing fails alone; strict_arguments
		// makes an unknown argument refuse the run.
		{"unknown argument", "bad_arg", []string{"state.apply", "web"}, exitOK,
			[]string{"Warnings:", "unknown argument 'sorce' (did you mean 'source'?)"}},
		{"unknown argument, strict", "bad_arg", []string{"state.apply", "web", "--config", "testdata/strict_arguments.yaml"}, exitError,
			[]string{"web.sls:6: site: file.managed: unknown argument 'sorce' (did you mean 'source'?)"}},
		{"missing requisite", "missing_req", []string{"state.apply", "web"}, exitStateFailed,
			[]string{"ID: untouched", "Result: True", "ID: site", "Result: False", "The following requisites were not found"}},
		{"cycle", "cycle", []string{"state.apply", "web"}, exitError, []string{"web.sls:3: a: requisite cycle: a (web.sls:3) -> b (web.sls:7) -> a (web.sls:3)"}},
		{"missing sls", "good", []string{"state.apply", "nosuch"}, exitError, []string{"nosuch"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut, root := call(t, c.tree, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, out, errOut)
			}
			for _, want := range c.stdout {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if c.code == exitError {
				if _, err := os.Stat(filepath.Join(root, "must-not-exist")); err == nil {
					t.Error("a recipe that does not compile changed the system")
				}
			}
		})
	}
}

func TestCallTestModeChangesNothing(t *testing.T) {
	code, out, _, root := call(t, "good", "state.highstate", "test=True")
	if code != exitOK || !strings.Contains(out, "Result: None") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(root, "www")); err == nil {
		t.Error("test mode created files")
	}
}

func TestCallJSON(t *testing.T) {
	code, out, errOut, root := call(t, "good", "--out", "json", "state.apply", "web")
	if code != exitOK {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	var doc map[string]map[string]map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not Salt's JSON shape: %v\n%s", err, out)
	}
	key := "file_|-index_|-" + filepath.Join(root, "www/index.html") + "_|-managed"
	r, ok := doc["local"][key]
	if !ok {
		t.Fatalf("no %s in %s", key, out)
	}
	for _, field := range []string{"__id__", "__run_num__", "__sls__", "changes", "comment", "duration", "name", "result", "start_time"} {
		if _, ok := r[field]; !ok {
			t.Errorf("result lacks %s", field)
		}
	}
	if r["__sls__"] != "web" || r["result"] != true {
		t.Errorf("result %v", r)
	}
	got, err := os.ReadFile(filepath.Join(root, "www/index.html"))
	if err != nil || string(got) != "hello from minion1\n" {
		t.Errorf("file content %q, %v", got, err)
	}
}

func TestCallFunctions(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--out", "json", "test.ping"}, `"local": true`},
		{[]string{"--out", "json", "test.echo", "hello world"}, `"local": "hello world"`},
		{[]string{"--out", "json", "grains.get", "id"}, `"local": "minion1"`},
		{[]string{"--out", "json", "cmd.retcode", "exit 3"}, `"local": 3`},
		{[]string{"--out", "json", "state.show_top"}, `"web"`},
		{[]string{"--out", "json", "sys.list_functions", "test"}, `"test.ping"`},
		{[]string{"--out", "json", "state.single", "test.succeed_with_changes", "x"}, `"test_|-x_|-x_|-succeed_with_changes"`},
	}
	for _, c := range cases {
		code, out, errOut, _ := call(t, "good", c.args...)
		if code != exitOK || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, stdout lacks %q:\n%s%s", c.args, code, c.want, out, errOut)
		}
	}
}

func TestCallUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"nodot"},
		{"no.such"},
		{"test.echo"}, // missing argument
		{"--out", "bogus", "test.ping"},
	} {
		code, out, errOut, _ := call(t, "good", args...)
		if code != exitError || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q", args, code, errOut, out)
		}
	}
}

func TestParseCallArgs(t *testing.T) {
	fun, pos, kw, err := parseCallArgs([]string{"state.apply", "web,db", "test=True", "pillar={a: 1}", "count=3", "name=x=y"})
	if err != nil {
		t.Fatal(err)
	}
	if fun != "state.apply" || len(pos) != 1 || pos[0] != "web,db" {
		t.Errorf("fun %q pos %v", fun, pos)
	}
	if kw["test"] != true || kw["count"] != 3 || kw["name"] != "x=y" {
		t.Errorf("kwargs %v", kw)
	}
	if m, ok := kw["pillar"].(map[string]any); !ok || m["a"] != 1 {
		t.Errorf("pillar %v", kw["pillar"])
	}
}

func TestIsKwarg(t *testing.T) {
	cases := []struct {
		arg  string
		want bool
	}{
		{"test=True", true},
		{"_x=1", true},
		{"a1_B=", true},
		{"name=x=y", true},
		{"=x", false},
		{"1a=x", false},
		{"a-b=x", false},
		{"web,db", false},
		{"pillar", false},
		{"", false},
		{"a b=c", false},
	}
	for _, c := range cases {
		if got := isKwarg(c.arg); got != c.want {
			t.Errorf("isKwarg(%q) = %v, want %v", c.arg, got, c.want)
		}
	}
}
