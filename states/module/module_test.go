package module_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/modules"
	_ "github.com/brinecm/brine/modules/all"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/states"
)

// apply writes sls as the tree's t.sls and applies it with state.sls,
// the way brine call --local does; it returns the states by ID.
func apply(t *testing.T, sls string, test bool) map[string]result.State {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "t.sls"), []byte(sls), 0o644); err != nil {
		t.Fatal(err)
	}
	rt := &modules.Runtime{ID: "m1", Grains: map[string]any{"id": "m1"}, FileRoots: []string{root}}
	out, err := modules.Call(context.Background(), rt, "state.sls", []any{"t"}, map[string]any{"test": test})
	if err != nil {
		t.Fatalf("state.sls: %v", err)
	}
	byID := map[string]result.State{}
	for _, s := range out.(result.Highstate) {
		byID[s.ID] = s
	}
	return byID
}

// TestModuleRun compiles and applies a real SLS file with both syntaxes
// of module.run, calling brine's real execution functions.
func TestModuleRun(t *testing.T) {
	dir := t.TempDir()
	present := filepath.Join(dir, "present")
	if err := os.WriteFile(present, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sls := fmt.Sprintf(`
new-syntax:
  module.run:
    - test.echo:
      - hello
    - file.file_exists:
      - path: %[1]s
old-syntax:
  module.run:
    - name: file.file_exists
    - path: %[1]s
old-args:
  module.run:
    - name: test.echo
    - args: [hi]
returns-false:
  module.run:
    - file.file_exists:
      - %[2]s
unknown:
  module.run:
    - name: nosuch.fun
mixed:
  module.run:
    - test.echo: [x]
    - args: [y]
`, present, filepath.Join(dir, "absent"))
	for _, tc := range []struct {
		id, result, comment string
		changes             map[string]any
	}{
		{"new-syntax", "True", "file.file_exists: Success, test.echo: Success", map[string]any{"test.echo": "hello", "file.file_exists": true}},
		{"old-syntax", "True", "file.file_exists: Success", map[string]any{"file.file_exists": true}},
		{"old-args", "True", "test.echo: Success", map[string]any{"test.echo": "hi"}},
		{"returns-false", "False", "file.file_exists: Failed", map[string]any{"file.file_exists": false}},
		{"unknown", "False", "Module function nosuch.fun threw an exception. Exception: 'nosuch.fun' is not available", nil},
		{"mixed", "False", "module.run: mixes function calls (test.echo) with the older syntax's arguments [args]", nil},
	} {
		got := apply(t, sls, false)[tc.id]
		if states.ResultString(got.Result) != tc.result || !strings.HasPrefix(got.Comment, tc.comment) || fmt.Sprint(got.Changes) != fmt.Sprint(tc.changes) {
			t.Errorf("%s: result %s comment %q changes %v\nwant %s %q %v", tc.id, states.ResultString(got.Result), got.Comment, got.Changes,
				tc.result, tc.comment, tc.changes)
		}
	}
	// Test mode runs nothing and says what it would run.
	got := apply(t, sls, true)["new-syntax"]
	if got.Result != nil || got.Comment != "Function file.file_exists, test.echo to be executed." {
		t.Errorf("test mode: result %v comment %q", got.Result, got.Comment)
	}
}
