package state_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/modules"
	_ "github.com/brinecm/brine/modules/state"
	"github.com/brinecm/brine/pkg/result"
	_ "github.com/brinecm/brine/states/file"
)

// benchTree writes an SLS with n file.managed states into a temporary
// state tree and returns the runtime and the directory the states manage.
func benchTree(b *testing.B, n int) (*modules.Runtime, string) {
	b.Helper()
	dir := b.TempDir()
	out := filepath.Join(dir, "out")
	var sls strings.Builder
	for i := range n {
		fmt.Fprintf(&sls, "f%04d:\n  file.managed:\n    - name: %s/f%04d\n    - contents: file %d managed by brine\n", i, out, i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.sls"), []byte(sls.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		b.Fatal(err)
	}
	return &modules.Runtime{ID: "bench", Grains: map[string]any{"id": "bench"}, FileRoots: []string{dir}}, out
}

func apply(b *testing.B, rt *modules.Runtime) result.Highstate {
	b.Helper()
	res, err := modules.Call(context.Background(), rt, "state.apply", []any{"bench"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := res.(result.Highstate)
	if h.Failed() {
		b.Fatalf("a state failed: %+v", h[0])
	}
	return h
}

// BenchmarkApply1000NoChange is a masterless state.apply of 1,000
// file.managed states that are already in place: compile, plan and check.
func BenchmarkApply1000NoChange(b *testing.B) {
	const n = 1000
	rt, _ := benchTree(b, n)
	apply(b, rt)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if h := apply(b, rt); len(h[0].Changes) != 0 {
			b.Fatal("no-change run changed something")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/state")
}

// BenchmarkApply1000First is the first run: every file is created.
func BenchmarkApply1000First(b *testing.B) {
	const n = 1000
	rt, out := benchTree(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		if err := os.RemoveAll(out); err != nil {
			b.Fatal(err)
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if h := apply(b, rt); len(h[0].Changes) == 0 {
			b.Fatal("first run changed nothing")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/state")
}
