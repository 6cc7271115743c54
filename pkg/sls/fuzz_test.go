package sls

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzCompile feeds arbitrary bytes as an SLS file (which also serves as
// the top file and a pillar file) through parsing and compilation: it must
// never panic, and what it returns must be well formed.
func FuzzCompile(f *testing.F) {
	// No python3: a #!pydsl input must not run what the fuzzer wrote.
	f.Setenv("PATH", f.TempDir())
	seeds, _ := filepath.Glob("testdata/*/tree/*.sls")
	more, _ := filepath.Glob("testdata/*/tree/*/*.sls")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		other := []byte("other:\n  file.managed:\n    - name: /o\n    - require: [{pkg: x}]\n")
		c := New(Config{ID: "m1", Grains: map[string]any{"os": "Debian"}})
		c.states.roots = []fs.FS{fstest.MapFS{
			"fuzz.sls":       {Data: data},
			"top.sls":        {Data: data},
			"other.sls":      {Data: other},
			"inc/init.sls":   {Data: data},
			"inc/nested.sls": {Data: other},
		}}
		c.pillars.roots = []fs.FS{fstest.MapFS{
			"top.sls":  {Data: data},
			"fuzz.sls": {Data: data},
		}}
		ctx := context.Background()
		for _, compile := range []func() ([]Low, error){
			func() ([]Low, error) { return c.SLS(ctx, "fuzz", "other", "inc") },
			func() ([]Low, error) { return c.Highstate(ctx) },
		} {
			lows, err := compile()
			for i, l := range lows {
				if l.Index != i || l.ID == "" || l.Module == "" || l.Fun == "" || l.Args == nil || l.ArgPos == nil {
					t.Fatalf("malformed low %d: %+v", i, l)
				}
			}
			if err == nil {
				continue
			}
			es, ok := err.(Errors)
			if !ok || len(es) == 0 {
				t.Fatalf("error is %T %v, want non-empty Errors", err, err)
			}
			for _, e := range es {
				if e.Msg == "" || strings.HasPrefix(e.Pos.File, "/") {
					t.Fatalf("malformed error %#v", e)
				}
			}
		}
	})
}
