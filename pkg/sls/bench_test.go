package sls

import (
	"context"
	"fmt"
	"os"
	"os/exec"
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
		lows, err := New(Config{FileRoots: []string{dir}, PyDSL: true}).SLS(ctx, "bench")
		if err != nil || len(lows) != 1000 {
			b.Fatalf("%d lows, %v", len(lows), err)
		}
	}
}

// BenchmarkPyDSL100 compiles one #!pydsl SLS declaring 100 states: one
// python3 process per compile.
func BenchmarkPyDSL100(b *testing.B) {
	if _, err := exec.LookPath("python3"); err != nil {
		b.Skip("no python3 on this host")
	}
	src := "#!pydsl\nfor i in range(100):\n    state('f%d' % i).file.managed('/tmp/brine-bench/f%d' % i, contents='hello %d' % i, mode='0644')\n"
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bench.sls"), []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		lows, err := New(Config{FileRoots: []string{dir}, PyDSL: true}).SLS(ctx, "bench")
		if err != nil || len(lows) != 100 {
			b.Fatalf("%d lows, %v", len(lows), err)
		}
	}
}
