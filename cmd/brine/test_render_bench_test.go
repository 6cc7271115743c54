package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/recipetest"
	"github.com/brinecm/brine/pkg/sls"
)

// BenchmarkTestRender measures brine test render of a 200-SLS tree (three
// states each, Jinja on grains, a requisite) for 100 minion fixtures: the
// compile, the plan and the lints.
func BenchmarkTestRender(b *testing.B) {
	const nSLS, nMinions = 200, 100
	dir := b.TempDir()
	states := filepath.Join(dir, "states")
	if err := os.MkdirAll(states, 0o755); err != nil {
		b.Fatal(err)
	}
	var top strings.Builder
	top.WriteString("base:\n  '*':\n")
	for i := range nSLS {
		fmt.Fprintf(&top, "    - s%d\n", i)
		sls := fmt.Sprintf(`pkg-%[1]d:
  pkg.installed:
    - name: tool%[1]d
conf-%[1]d:
  file.managed:
    - name: /etc/s%[1]d.conf
    - contents: "host {{ grains['id'] }} os {{ grains['os'] }}"
    - require:
      - pkg: pkg-%[1]d
check-%[1]d:
  test.nop:
    - require:
      - file: conf-%[1]d
`, i)
		if err := os.WriteFile(filepath.Join(states, fmt.Sprintf("s%d.sls", i)), []byte(sls), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(states, "top.sls"), []byte(top.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	minions := make([]recipetest.Minion, nMinions)
	for i := range minions {
		id := fmt.Sprintf("m%03d", i)
		minions[i] = recipetest.Minion{ID: id, Grains: map[string]any{"id": id, "os": "Debian"}}
	}
	b.ResetTimer()
	for b.Loop() {
		// one render, one template cache, as brine test render runs
		tc := treeCompiler{fileRoots: []string{states}, pillarRoots: []string{filepath.Join(dir, "pillar")}, templates: sls.NewTemplateCache()}
		opts := recipetest.Options{Compile: tc.compile, FileRoots: []string{states}, Highstate: true, Coverage: true}
		rep, err := recipetest.Render(context.Background(), minions, opts)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Failed() || len(rep.Warnings) > 0 || rep.Minions[0].States != 3*nSLS {
			b.Fatalf("unexpected report: failed %v, %d warnings, %d states", rep.Failed(), len(rep.Warnings), rep.Minions[0].States)
		}
	}
}
