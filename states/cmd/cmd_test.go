package cmd

import (
	"context"
	"github.com/brinecm/brine/pkg/systest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

func apply(t *testing.T, name string, raw map[string]any, testMode bool) states.Outcome {
	t.Helper()
	return statetest.Apply(t, "cmd.run", raw, &states.Call{ID: "id", Name: name, Test: testMode})
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		cmd     string
		args    map[string]any
		ok      bool
		retcode int
		stdout  string
		stderr  string
	}{
		{"success", "echo hello", nil, true, 0, "hello", ""},
		{"failure", "echo bad >&2; exit 2", nil, false, 2, "", "bad"},
		{"quotes in comment", `echo "a b"`, nil, true, 0, "a b", ""},
		{"cwd", "pwd", map[string]any{"cwd": dir}, true, 0, dir, ""},
		{"env map", `echo "$A$B"`, map[string]any{"env": map[string]any{"A": "x", "B": 1}}, true, 0, "x1", ""},
		{"env list of maps", `echo "$A$B"`, map[string]any{"env": []any{map[string]any{"A": "y"}, map[string]any{"B": "z"}}}, true, 0, "yz", ""},
		{"stdin", "cat", map[string]any{"stdin": "in"}, true, 0, "in", ""},
		{"shell", `echo "$0"`, map[string]any{"shell": "/bin/sh"}, true, 0, "/bin/sh", ""},
		{"success_retcodes", "exit 3", map[string]any{"success_retcodes": []any{2, 3}}, true, 0, "", ""},
		{"hide_output", "echo secret; echo s2 >&2", map[string]any{"hide_output": true, "output_loglevel": "quiet"}, true, 0, "", ""},
		{"success_retcodes single", "exit 3", map[string]any{"success_retcodes": 3}, true, 0, "", ""},
		{"success_retcodes other", "exit 4", map[string]any{"success_retcodes": []any{2, 3}}, false, 4, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := apply(t, tt.cmd, tt.args, false)
			if o.Result == nil || *o.Result != tt.ok {
				t.Errorf("result = %v, want %v (%+v)", o.Result, tt.ok, o)
			}
			if want := `Command "` + tt.cmd + `" run`; o.Comment != want {
				t.Errorf("comment = %q, want %q", o.Comment, want)
			}
			ch := o.Changes
			if ch["retcode"] != tt.retcode || ch["stdout"] != tt.stdout || ch["stderr"] != tt.stderr {
				t.Errorf("changes = %v", ch)
			}
			if pid, _ := ch["pid"].(int); pid <= 0 {
				t.Errorf("pid = %v", ch["pid"])
			}
		})
	}
}

func TestRunChangesTheSystem(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "marker")
	o := apply(t, "touch "+marker, nil, false)
	if !o.OK() {
		t.Fatal(o.Comment)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("command did not run: %v", err)
	}
}

func TestRunTestMode(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	o := apply(t, "touch "+marker, nil, true)
	if o.Result != nil {
		t.Errorf("result = %v, want null", *o.Result)
	}
	if want := `Command "touch ` + marker + `" would have been executed`; o.Comment != want {
		t.Errorf("comment = %q, want %q", o.Comment, want)
	}
	// Salt reports the command as the change it would make, so that
	// prereq and onchanges on a cmd.run fire in test runs.
	if want := map[string]any{"cmd": "touch " + marker}; !reflect.DeepEqual(o.Changes, want) {
		t.Errorf("changes in test mode: %v, want %v", o.Changes, want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Error("test mode ran the command")
	}
}

func TestRunTimeout(t *testing.T) {
	o := apply(t, "echo started; sleep 20", map[string]any{"timeout": 0.3}, false)
	if o.Result == nil || *o.Result {
		t.Fatalf("result = %v, want false", o.Result)
	}
	if !strings.Contains(o.Comment, "timed out after 300ms") {
		t.Errorf("comment = %q", o.Comment)
	}
	if o.Changes["stdout"] != "started" || o.Changes["retcode"] != -1 {
		t.Errorf("changes = %v", o.Changes)
	}
}

func TestRunAsNobody(t *testing.T) {
	systest.RequireRoot(t)
	o := apply(t, "id -un", map[string]any{"runas": "nobody", "cwd": "/"}, false)
	if !o.OK() || o.Changes["stdout"] != "nobody" {
		t.Errorf("outcome = %+v", o)
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    map[string]any
		comment string
	}{
		{"missing cwd", map[string]any{"cwd": "/nonexistent/brine"}, `Desired working directory "/nonexistent/brine" is not available`},
		{"unknown runas", map[string]any{"runas": "no-such-user-brine"}, `runas user "no-such-user-brine" does not exist`},
		{"missing shell", map[string]any{"shell": "/nonexistent/sh"}, "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := apply(t, "true", tt.args, false)
			if o.Result == nil || *o.Result || !strings.Contains(o.Comment, tt.comment) {
				t.Errorf("outcome = %+v, want failure with %q", o, tt.comment)
			}
		})
	}
}

func TestBadArguments(t *testing.T) {
	e, _ := states.Lookup("cmd.run")
	tests := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"cdw": "/"}, "unknown argument 'cdw' (did you mean 'cwd'?)"},
		{map[string]any{"success_retcodes": []any{"x"}}, "expected exit codes"},
		{map[string]any{"timeout": "soon"}, "argument 'timeout'"},
		{map[string]any{"env": "A=b"}, "argument 'env'"},
	}
	for _, tt := range tests {
		if _, err := e.Decode(tt.args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Decode(%v) err = %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestModWatchRuns(t *testing.T) {
	e, _ := states.Lookup("cmd.run")
	if !e.HasModWatch() {
		t.Fatal("cmd.run has no mod_watch")
	}
	marker := filepath.Join(t.TempDir(), "m")
	args, _ := e.Decode(nil)
	o := e.ModWatch(context.Background(), &states.Call{Name: "touch " + marker}, args)
	if !o.OK() {
		t.Fatal(o.Comment)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Error("mod_watch did not run the command")
	}
}
