package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
