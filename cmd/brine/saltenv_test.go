package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/testfs"
)

// TestCallSaltenvs runs `brine call --local` with a minion configuration
// whose file_roots and pillar_roots have a dev environment beside base.
func TestCallSaltenvs(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	files := map[string]string{
		"base/top.sls":        "base:\n  '*':\n    - motd\ndev:\n  '*':\n    - app\n",
		"base/motd.sls":       out + "/motd:\n  file.managed:\n    - source: salt://x\n    - makedirs: True\n",
		"base/x":              "base x\n",
		"dev/app.sls":         out + "/app:\n  file.managed:\n    - source: salt://x\n    - template: jinja\n    - makedirs: True\n",
		"dev/x":               "dev x {{ saltenv }} {{ pillar.tier }}\n",
		"pillar/top.sls":      "base:\n  '*':\n    - tier\n",
		"pillar/tier.sls":     "tier: base\n",
		"pillar-dev/top.sls":  "dev:\n  '*':\n    - tier\n",
		"pillar-dev/tier.sls": "tier: dev\n",
	}
	testfs.Write(t, dir, files)
	cfg := filepath.Join(dir, "minion")
	conf := "id: minion1\nfile_roots:\n  base: [" + filepath.Join(dir, "base") + "]\n  dev: [" + filepath.Join(dir, "dev") + "]\n" +
		"pillar_roots:\n  base: [" + filepath.Join(dir, "pillar") + "]\n  dev: [" + filepath.Join(dir, "pillar-dev") + "]\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	brine := func(args ...string) (int, string) {
		var o, e bytes.Buffer
		code := run(context.Background(), append([]string{"call", "--local", "--config", cfg, "--out", "json"}, args...), &o, &e)
		return code, o.String() + e.String()
	}
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		files map[string]string // contents below out
		holds string            // the output holds this
	}{
		{name: "highstate merges base's and dev's top data", args: []string{"state.highstate"},
			files: map[string]string{"motd": "base x\n", "app": "dev x dev dev\n"}},
		{name: "sls in dev with the base pillar alone", args: []string{"state.sls", "app", "saltenv=dev", "pillarenv=base"},
			files: map[string]string{"app": "dev x dev base\n"}},
		{name: "unknown saltenv", args: []string{"state.sls", "app", "saltenv=qa"}, code: 1,
			holds: "saltenv 'qa' does not exist: the environments of file_roots are base, dev"},
		{name: "opts show every environment", args: []string{"config.get", "file_roots:dev"}, holds: filepath.Join(dir, "dev")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.RemoveAll(out); err != nil {
				t.Fatal(err)
			}
			code, output := brine(tc.args...)
			if code != tc.code || !strings.Contains(output, tc.holds) {
				t.Fatalf("exit %d, output %s; want exit %d and %q", code, output, tc.code, tc.holds)
			}
			for name, want := range tc.files {
				if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(b) != want {
					t.Errorf("%s = %q (%v), want %q", name, b, err, want)
				}
			}
		})
	}
	var o, e bytes.Buffer
	if code := run(context.Background(), []string{"test", "render", "--config", cfg}, &o, &e); code != 0 {
		t.Errorf("brine test render: exit %d: %s%s", code, o.String(), e.String())
	}
}
