package sls

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkCompile1000 compiles one Jinja-free SLS with 1,000 file.managed
// states, as `brine call` does on every run.
func BenchmarkCompile1000(b *testing.B) {
	var sb strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&sb, "motd_%d:\n  file.managed:\n    - name: /tmp/brine-bench/f%d\n    - contents: hello %d\n    - mode: 0644\n    - require:\n      - file: dir\n\n", i, i, i)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bench.sls"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		lows, err := New(Config{FileRoots: []string{dir}}).SLS(ctx, "bench")
		if err != nil || len(lows) != 1000 {
			b.Fatalf("%d lows, %v", len(lows), err)
		}
	}
}
