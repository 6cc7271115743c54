package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/states"
)

const benchFiles = 1000

// benchStates decodes 1,000 file.managed states on files in dir, as the
// engine does once per run.
func benchStates(b *testing.B, dir string, raw func(i int) map[string]any) (*states.Entry, []any, []*states.Call) {
	e, _ := states.Lookup("file.managed")
	args := make([]any, benchFiles)
	calls := make([]*states.Call, benchFiles)
	for i := range benchFiles {
		a, err := e.Decode(raw(i))
		if err != nil {
			b.Fatal(err)
		}
		args[i] = a
		calls[i] = &states.Call{ID: fmt.Sprint(i), Name: filepath.Join(dir, fmt.Sprintf("f%04d.conf", i)), Env: env}
	}
	return e, args, calls
}

func benchRaw(i int) map[string]any {
	return map[string]any{
		"contents": fmt.Sprintf("# managed by brine\nserver_%d = 10.0.0.%d\nport = 80%02d\n", i, i%250, i%100),
		"mode":     "0644",
	}
}

// BenchmarkManagedNoChange applies 1,000 file.managed states that have
// nothing to change; ns/file is the cost of one.
func BenchmarkManagedNoChange(b *testing.B) {
	dir := b.TempDir()
	e, args, calls := benchStates(b, dir, benchRaw)
	ctx := context.Background()
	for i := range benchFiles {
		if o := e.Apply(ctx, calls[i], args[i]); !o.OK() {
			b.Fatal(o.Comment)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i := range benchFiles {
			if o := e.Apply(ctx, calls[i], args[i]); o.Changed() || !o.OK() {
				b.Fatalf("%s: %s %v", calls[i].Name, o.Comment, o.Changes)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchFiles), "ns/file")
}

// BenchmarkManagedCreate creates 1,000 files through file.managed per
// iteration (each written, fsynced and renamed into place).
func BenchmarkManagedCreate(b *testing.B) {
	root := b.TempDir()
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		b.StopTimer()
		dir := filepath.Join(root, fmt.Sprint(n))
		n++
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		e, args, calls := benchStates(b, dir, benchRaw)
		b.StartTimer()
		for i := range benchFiles {
			if o := e.Apply(ctx, calls[i], args[i]); !o.Changed() || !o.OK() {
				b.Fatalf("%s: %s", calls[i].Name, o.Comment)
			}
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchFiles), "ns/file")
}

// BenchmarkRecurseMergeNoChange applies file.recurse merging two state
// tree directories of 1,000 files each (half of the paths in both) onto a
// target that is already right; ns/file is the cost of one target file.
func BenchmarkRecurseMergeNoChange(b *testing.B) {
	tree, dir := b.TempDir(), b.TempDir()
	for _, src := range []string{"override", "base"} {
		for i := range benchFiles {
			n := i
			if src == "base" {
				n += benchFiles / 2
			}
			p := filepath.Join(tree, src, fmt.Sprintf("d%02d", n%20), fmt.Sprintf("f%04d.conf", n))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(src+"\n"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	e, _ := states.Lookup("file.recurse")
	args, err := e.Decode(map[string]any{"source": []any{"salt://override", "salt://base"}, "merge": true})
	if err != nil {
		b.Fatal(err)
	}
	call := &states.Call{ID: "t", Name: filepath.Join(dir, "target"), Env: sls.New(sls.Config{FileRoots: []string{tree}, ID: "m"})}
	ctx := context.Background()
	if o := e.Apply(ctx, call, args); !o.OK() || len(o.Changes) != benchFiles*3/2 {
		b.Fatalf("first run: %s, %d changes", o.Comment, len(o.Changes))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if o := e.Apply(ctx, call, args); o.Changed() || !o.OK() {
			b.Fatalf("%s %v", o.Comment, o.Changes)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchFiles*3/2), "ns/file")
}
