package drift

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/sls"
)

// BenchmarkFileEditToBatch measures the latency from a managed file
// edited to its batch delivered, with debounce 100ms, and reports p50 and
// p99 (run with -benchtime=100x for 100 edits).
func BenchmarkFileEditToBatch(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "motd")
	if err := os.WriteFile(path, []byte("managed\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	w := New(Config{Debounce: 100 * time.Millisecond, FlapLimit: 1 << 30}, nil)
	defer w.Close()
	if err := w.Watch(b.Context(), []sls.Low{low("motd", "file.managed", path, nil)}); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		if err := os.WriteFile(path, []byte(strconv.Itoa(i)), 0o644); err != nil {
			b.Fatal(err)
		}
		select {
		case <-w.Batches():
		case <-time.After(guard):
			b.Fatal("no batch")
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkIdleWatcher runs a separate process watching 1,000 managed
// files (10 directories of 100) and reports its CPU use over
// BRINE_BENCH_IDLE (default 60s) as a percentage of one core, and its
// resident memory at the end.
func BenchmarkIdleWatcher(b *testing.B) {
	idle := 60 * time.Second
	if s := os.Getenv("BRINE_BENCH_IDLE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("BRINE_BENCH_IDLE: %v", err)
		}
		idle = d
	}
	dir := b.TempDir()
	for d := range 10 {
		for f := range 100 {
			p := filepath.Join(dir, fmt.Sprintf("d%d", d), fmt.Sprintf("f%d", f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("managed\n"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	bin := filepath.Join(b.TempDir(), "idlewatch")
	if out, err := exec.Command("go", "build", "-o", bin, "./internal/idlewatch").CombinedOutput(); err != nil {
		b.Fatalf("build idlewatch: %v\n%s", err, out)
	}
	for b.Loop() {
		cmd := exec.Command(bin, dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || line != "armed 1000\n" {
			_ = cmd.Process.Kill()
			b.Fatalf("idlewatch said %q, %v", line, err)
		}
		cpu0, t0 := cpuTicks(b, cmd.Process.Pid), time.Now()
		time.Sleep(idle)
		cpu1, elapsed := cpuTicks(b, cmd.Process.Pid), time.Since(t0)
		rss := rssKB(b, cmd.Process.Pid)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		const ticksPerSecond = 100 // USER_HZ on Linux
		b.ReportMetric(float64(cpu1-cpu0)/ticksPerSecond/elapsed.Seconds()*100, "cpu-%")
		b.ReportMetric(float64(rss)/1024, "rss-MB")
	}
}

// cpuTicks reads a process's user plus system time, in clock ticks.
func cpuTicks(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// rssKB reads a process's resident memory.
func rssKB(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
