package sls

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestCasesSharedCache compiles every run of every testdata case many
// times concurrently, all compilers of a case sharing one TemplateCache,
// and checks that each compile gives exactly what the same run gives
// with no cache: grains, pillar, opts and errors stay each minion's own.
func TestCasesSharedCache(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/case.yaml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, caseFile := range dirs {
		dir := filepath.Dir(caseFile)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(caseFile)
			if err != nil {
				t.Fatal(err)
			}
			var runs []caseRun
			if err := yaml.Unmarshal(raw, &runs); err != nil {
				t.Fatalf("case.yaml: %v", err)
			}
			// Runs that need host commands (pydsl's python3) render
			// outside the template cache, one process per SLS: TestCases
			// covers them.
			runs = slices.DeleteFunc(runs, func(cr caseRun) bool { return len(cr.Needs) > 0 })
			want := make([]runOut, len(runs))
			for i, cr := range runs {
				want[i] = compileCase(t, dir, cr, nil)
			}
			shared := NewTemplateCache()
			const rounds = 8
			got := make([][]runOut, rounds)
			var wg sync.WaitGroup
			for r := range rounds {
				got[r] = make([]runOut, len(runs))
				for i, cr := range runs {
					wg.Go(func() { got[r][i] = compileCase(t, dir, cr, shared) })
				}
			}
			wg.Wait()
			for r := range rounds {
				for i := range runs {
					if !reflect.DeepEqual(got[r][i], want[i]) {
						t.Errorf("round %d, %s: shared compile\n%+v\nwant\n%+v", r, runs[i].ID, got[r][i], want[i])
					}
				}
			}
		})
	}
}

// TestTemplateCacheRunSnapshot checks that the compilers of one run see a
// tree file as the run first read it, and that a new run (a new cache)
// sees its change.
func TestTemplateCacheRunSnapshot(t *testing.T) {
	dir := t.TempDir()
	write := func(motd string) {
		t.Helper()
		src := "motd:\n  file.managed:\n    - name: /etc/motd\n    - contents: \"" + motd + " {{ grains['id'] }}\"\n"
		if err := os.WriteFile(filepath.Join(dir, "motd.sls"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	contents := func(shared *TemplateCache, id string) any {
		t.Helper()
		lows, err := New(Config{FileRoots: []string{dir}, ID: id, Grains: map[string]any{"id": id}, Templates: shared}).SLS(context.Background(), "motd")
		if err != nil || len(lows) != 1 {
			t.Fatalf("compile for %s: %d lows, %v", id, len(lows), err)
		}
		return lows[0].Args["contents"]
	}
	write("old")
	run := NewTemplateCache()
	for _, tc := range []struct {
		name   string
		before func()
		cache  *TemplateCache
		id     string
		want   string
	}{
		{"first minion", func() {}, run, "a", "old a"},
		{"same run after a change", func() { write("new") }, run, "b", "old b"},
		{"next run", func() {}, NewTemplateCache(), "c", "new c"},
		{"no cache", func() {}, nil, "d", "new d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.before()
			if got := contents(tc.cache, tc.id); got != tc.want {
				t.Errorf("contents = %v, want %q", got, tc.want)
			}
		})
	}
}
