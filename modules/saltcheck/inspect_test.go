package saltcheck

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/brinecm/brine/modules"
	_ "github.com/brinecm/brine/modules/cmd" // cmd.run, called by the timeout test
	"github.com/brinecm/brine/pkg/testfs"
)

// TestInspect locates and validates tests without running them: source
// lines (the rendered line for an ID a template makes), the tests of an
// included SLS, and each problem with its file, line and test ID.
func TestInspect(t *testing.T) {
	rt := runtime()
	infos, err := Inspect(context.Background(), rt, []string{"web"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, i := range infos {
		got[i.ID] = i.SLS + " " + i.File + ":" + strconv.Itoa(i.Line)
	}
	want := map[string]string{
		"echo_hello": "web web/saltcheck-tests/init.tst:1",
		"minion_id":  "web web/saltcheck-tests/init.tst:8",
		"echo_alpha": "web web/saltcheck-tests/init.tst:15",
		"echo_beta":  "web web/saltcheck-tests/init.tst:21",
		"conf_echo":  "web web/saltcheck-tests/conf.tst:1",
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %q, want %q", id, got[id], w)
		}
	}
	if len(infos) != len(want) {
		t.Errorf("%d tests, want %d: %v", len(infos), len(want), got)
	}

	tests := []struct {
		name  string
		files map[string]string
		sls   []string
		wants []string
	}{
		{
			name: "unknown assertion and function",
			files: map[string]string{
				"top.sls": "base:\n  '*':\n    - web\n", "web/init.sls": "x:\n  test.nop: []\n",
				"web/saltcheck-tests/init.tst": "# tests\none:\n  module_and_function: test.echo\n  args: [x]\n  assertion: assertEquals\n  expected_return: x\n" +
					"two:\n  module_and_function: test.ecko\n  assertion: assertTrue\n",
			},
			wants: []string{
				"web/saltcheck-tests/init.tst:2: test one: invalid test: unknown assertion 'assertEquals' (did you mean 'assertEqual'?)",
				"web/saltcheck-tests/init.tst:7: test two: invalid test: module_and_function 'test.ecko' is not available",
			},
		},
		{
			name:  "not YAML",
			files: map[string]string{"web/init.sls": "x:\n  test.nop: []\n", "web/saltcheck-tests/init.tst": "a:\n  assertion: assertEqual: x\n"},
			sls:   []string{"web"},
			wants: []string{"web/saltcheck-tests/init.tst:2: not valid YAML (after Jinja)"},
		},
		{
			name: "an ID in two files",
			files: map[string]string{
				"web/init.sls": "include:\n  - web.conf\n", "web/conf.sls": "x:\n  test.nop: []\n",
				"web/saltcheck-tests/init.tst": "same:\n  module_and_function: test.echo\n  args: [x]\n  assertion: assertNotEmpty\n",
				"web/saltcheck-tests/conf.tst": "\nsame:\n  module_and_function: test.echo\n  args: [y]\n  assertion: assertNotEmpty\n",
			},
			sls:   []string{"web"},
			wants: []string{"test ID 'same' is already defined in web/saltcheck-tests/"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := &modules.Runtime{ID: "web1", Grains: map[string]any{"id": "web1"}, FileRoots: []string{testfs.Temp(t, tt.files)}, Opts: map[string]any{}}
			_, err := Inspect(context.Background(), rt, tt.sls, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestRunPillarAndTimeout: pillar= reaches the test files' templates, and
// timeout= fails a test whose function does not return in time while the
// other tests pass.
func TestRunPillarAndTimeout(t *testing.T) {
	root := testfs.Temp(t, map[string]string{
		"lab/init.sls": "x:\n  test.nop: []\n",
		"lab/saltcheck-tests/init.tst": "place:\n  module_and_function: test.echo\n  args: [{{ pillar.get('place', 'nowhere') }}]\n  assertion: assertEqual\n  expected_return: the lab\n" +
			"slow:\n  module_and_function: cmd.run\n  args: ['sleep 30']\n  assertion: assertEmpty\n",
	})
	rt := &modules.Runtime{ID: "web1", Grains: map[string]any{"id": "web1"}, FileRoots: []string{root}, Opts: map[string]any{}}
	out, err := modules.Call(context.Background(), rt, "saltcheck.run_state_tests", []any{"lab"},
		map[string]any{"pillar": map[string]any{"place": "the lab"}, "timeout": 0.3})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := statuses(t, out)
	if got["lab/place"] != "Pass" {
		t.Errorf("place: %q, want Pass (the pillar reached the template)", got["lab/place"])
	}
	if want := "Fail: timed out after 300ms (timeout=0.3)"; !strings.HasPrefix(got["lab/slow"], want) {
		t.Errorf("slow: %q, want %q...", got["lab/slow"], want)
	}
	for _, bad := range []any{-1, "soon"} {
		if _, err := modules.Call(context.Background(), rt, "saltcheck.run_state_tests", []any{"lab"}, map[string]any{"timeout": bad}); err == nil {
			t.Errorf("timeout=%v: no error", bad)
		}
	}
}
