package state_test

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/states"
)

// requestRuntime is a runtime with a state tree holding deploy.sls (a
// file.managed of {tmp}/out/deploy from pillar) and a data dir.
func requestRuntime(t *testing.T) (rt *modules.Runtime, tmp string) {
	t.Helper()
	tmp = t.TempDir()
	tree := filepath.Join(tmp, "tree")
	write(t, filepath.Join(tree, "deploy.sls"), "deploy:\n  file.managed:\n    - name: "+
		filepath.Join(tmp, "out", "deploy")+"\n    - makedirs: true\n    - contents: {{ pillar.get('v', 'one') }}\n")
	return &modules.Runtime{ID: "m", Grains: map[string]any{"id": "m"}, FileRoots: []string{tree},
		Opts: map[string]any{"data_dir": filepath.Join(tmp, "data")}}, tmp
}

// TestStateRequest stages requests, checks, clears and runs them against
// real files: the test run changes nothing, the staged file is 0600, named
// requests are kept apart, and run_request applies with the staged
// arguments (overridden by its own) and clears only what it ran.
func TestStateRequest(t *testing.T) {
	rt, tmp := requestRuntime(t)
	out := filepath.Join(tmp, "out", "deploy")
	staged := filepath.Join(tmp, "data", "state_requests.json")

	h := call(t, rt, "state.request", []any{"deploy"}, nil).(result.Highstate)
	if len(h) != 1 || h[0].Result != nil {
		t.Fatalf("state.request returned %+v, want one state with result None", h)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatalf("state.request wrote %s; a request is a test run", out)
	}
	fi, err := os.Stat(staged)
	if err != nil {
		t.Fatalf("no staged request: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", staged, fi.Mode().Perm())
	}
	call(t, rt, "state.request", []any{"deploy"}, map[string]any{"name": "later", "pillar": map[string]any{"v": "two"}})

	all := call(t, rt, "state.check_request", nil, nil).(map[string]any)
	if got := slices.Sorted(maps.Keys(all)); !reflect.DeepEqual(got, []string{"default", "later"}) {
		t.Fatalf("state.check_request lists %v, want [default later]", got)
	}
	later := call(t, rt, "state.check_request", []any{"later"}, nil).(map[string]any)
	if want := map[string]any{"pillar": map[string]any{"v": "two"}, "test": true}; !reflect.DeepEqual(later["kwargs"], want) {
		t.Errorf("staged kwargs %v, want %v", later["kwargs"], want)
	}
	if _, err := modules.Call(t.Context(), rt, "state.check_request", []any{"nope"}, nil); err == nil {
		t.Error("state.check_request nope: no error for a request that is not staged")
	}
	if got := call(t, rt, "state.clear_request", []any{"nope"}, nil); got != false {
		t.Errorf("state.clear_request nope = %v, want false", got)
	}

	// A run with test=True of its own stays a test run, and clears the request.
	call(t, rt, "state.request", []any{"deploy"}, map[string]any{"name": "dry"})
	h = call(t, rt, "state.run_request", []any{"dry"}, map[string]any{"test": true}).(result.Highstate)
	if len(h) != 1 || h[0].Result != nil {
		t.Errorf("state.run_request dry test=True returned %+v, want result None", h)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatalf("a test run_request wrote %s", out)
	}
	if got := call(t, rt, "state.run_request", []any{"dry"}, nil); !reflect.DeepEqual(got, map[string]any{}) {
		t.Errorf("state.run_request of a request already run = %v, want {}", got)
	}

	// The staged pillar applies; the default request stays staged.
	h = call(t, rt, "state.run_request", []any{"later"}, nil).(result.Highstate)
	if len(h) != 1 || states.ResultString(h[0].Result) != "True" {
		t.Fatalf("state.run_request later returned %+v, want result True", h)
	}
	if got := read(t, out); got != "two\n" {
		t.Errorf("%s holds %q, want %q", out, got, "two\n")
	}
	if got := call(t, rt, "state.check_request", nil, nil).(map[string]any); !reflect.DeepEqual(slices.Sorted(maps.Keys(got)), []string{"default"}) {
		t.Errorf("state.check_request after running later lists %v, want [default]", slices.Sorted(maps.Keys(got)))
	}

	h = call(t, rt, "state.run_request", nil, nil).(result.Highstate)
	if len(h) != 1 || states.ResultString(h[0].Result) != "True" || len(h[0].Changes) == 0 {
		t.Fatalf("state.run_request returned %+v, want result True with changes", h)
	}
	if got := read(t, out); got != "one\n" {
		t.Errorf("%s holds %q, want %q", out, got, "one\n")
	}
	if _, err := os.Stat(staged); err == nil {
		t.Errorf("%s is still there after the last request ran", staged)
	}
	if got := call(t, rt, "state.check_request", nil, nil); !reflect.DeepEqual(got, map[string]any{}) {
		t.Errorf("state.check_request after the runs = %v, want {}", got)
	}
}

// TestStateRequestBadFile: a staged file that is not JSON is an error
// that names it and the way out.
func TestStateRequestBadFile(t *testing.T) {
	rt, tmp := requestRuntime(t)
	write(t, filepath.Join(tmp, "data", "state_requests.json"), "not json")
	for _, fun := range []string{"state.check_request", "state.run_request", "state.request"} {
		_, err := modules.Call(t.Context(), rt, fun, nil, nil)
		if err == nil {
			t.Errorf("%s: no error for a corrupt staged file", fun)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "state_requests.json") || !strings.Contains(msg, "state.clear_request") {
			t.Errorf("%s: error %q does not name the file and state.clear_request", fun, msg)
		}
	}
	if got := call(t, rt, "state.clear_request", nil, nil); got != true {
		t.Errorf("state.clear_request = %v, want true", got)
	}
	if got := call(t, rt, "state.check_request", nil, nil); !reflect.DeepEqual(got, map[string]any{}) {
		t.Errorf("state.check_request after clearing = %v, want {}", got)
	}
}
