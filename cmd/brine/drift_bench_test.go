package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchDaemon is a brine daemon a benchmark started; it is stopped at
// cleanup.
type benchDaemon struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func startBenchDaemon(b *testing.B, bin string, args ...string) *benchDaemon {
	b.Helper()
	d := &benchDaemon{cmd: exec.Command(bin, args...), out: &bytes.Buffer{}}
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = d.cmd.Process.Kill()
			<-done
		}
	})
	return d
}

// benchWait polls ok every millisecond until it holds, or fails b after d.
func benchWait(b *testing.B, d time.Duration, what string, ok func() bool) {
	b.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// statusKB reads a "Name: N kB" line of a process's /proc status.
func statusKB(b *testing.B, pid int, name string) int {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				b.Fatalf("%s %q: %v", name, rest, err)
			}
			return n
		}
	}
	b.Fatalf("no %s in /proc status", name)
	return 0
}

// reportRSS reports a process's resident set (MB), and of it the
// anonymous memory (heap, stacks) and the pages of files (the executable),
// each metric's name starting with prefix; and its peak resident set.
func reportRSS(b *testing.B, pid int, prefix string) {
	b.Helper()
	for _, m := range []struct{ field, unit string }{
		{"VmRSS", "rss_MB"}, {"RssAnon", "rss_anon_MB"}, {"RssFile", "rss_file_MB"},
	} {
		b.ReportMetric(float64(statusKB(b, pid, m.field))/1024, prefix+m.unit)
	}
	b.ReportMetric(float64(statusKB(b, pid, "VmHWM"))/1024, "peak_rss_MB")
}

// BenchmarkMinionIdleRSS reports the resident set of an idle `brine
// minion` connected to a real master: once it answers (before any state
// run) and -drift.idle after a highstate of 1,000 managed files, without
// drift watching and with it (watching those 1,000 files). The targets are
// 20 MB without drift and 30 MB watching 1,000 files.
//
//	go test ./cmd/brine -run '^$' -bench MinionIdleRSS -drift.idle 20s
func BenchmarkMinionIdleRSS(b *testing.B) {
	for _, watch := range []bool{false, true} {
		b.Run(fmt.Sprintf("drift=%t", watch), func(b *testing.B) {
			f := startBenchFleet(b, watch)
			pid := f.minion.cmd.Process.Pid
			time.Sleep(*driftIdle)
			reportRSS(b, pid, "connected_")
			if out, err := f.cli("drift-bench", "state.highstate", "--out", "summary", "--timeout", "120s"); err != nil {
				b.Fatalf("highstate: %v\n%s", err, out)
			}
			if got, err := os.ReadFile(filepath.Join(f.root, "d9", "f999")); err != nil || string(got) != "file 999\n" {
				b.Fatalf("a managed file after the highstate: %q %v", got, err)
			}
			time.Sleep(*driftIdle)
			reportRSS(b, pid, "idle_")
			b.ReportMetric(0, "ns/op")
			if strings.Contains(f.minion.out.String(), "level=ERROR") {
				b.Errorf("the minion logged errors:\n%s", f.minion.out.String())
			}
		})
	}
}

// benchFleet is a real `brine master` and a `brine minion` (id
// drift-bench) whose highstate manages 1,000 files under root.
type benchFleet struct {
	minion *benchDaemon
	root   string
	cli    func(args ...string) (string, error)
}

// startBenchFleet builds brine as `make build` does, starts a master and a
// minion, with drift: {watch: True, debounce: 100ms} when watch, and waits
// until the minion answers.
func startBenchFleet(b *testing.B, watch bool) *benchFleet {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "brine")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	socket := filepath.Join(dir, "master.sock")
	cfg := filepath.Join(dir, "master.yaml")
	if err := os.WriteFile(cfg, []byte("{}\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	startBenchDaemon(b, bin, "master", "--config", cfg, "--data-dir", filepath.Join(dir, "master"), "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--socket", socket, "--file-root", "testdata/drift/states", "--pillar-root", "testdata/drift/pillar", "--log-level", "warning", "--auto-accept")
	benchWait(b, 20*time.Second, "master socket", func() bool { _, err := os.Stat(socket); return err == nil })
	root := filepath.Join(dir, "root")
	mcfg := filepath.Join(dir, "minion.yaml")
	if err := os.WriteFile(mcfg, []byte(fmt.Sprintf("id: drift-bench\nmaster: [nats://127.0.0.1:%d]\ndata_dir: %s\ngrains:\n  root: %s\n  files: 1000\ndrift:\n  watch: %t\n  debounce: 100ms\n  flap_limit: 1000000\n",
		port, filepath.Join(dir, "minion"), root, watch)), 0o644); err != nil {
		b.Fatal(err)
	}
	f := &benchFleet{root: root}
	f.minion = startBenchDaemon(b, bin, "minion", "--config", mcfg, "--log-level", "warning")
	f.cli = func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "BRINE_SOCKET="+socket, "NO_COLOR=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	benchWait(b, 60*time.Second, "the minion to answer", func() bool {
		out, err := f.cli("drift-bench", "test.ping", "--timeout", "3s")
		return err == nil && strings.Contains(out, "True")
	})
	return f
}

// BenchmarkDriftCorrection runs a real `brine master` and a `brine
// minion` that manages 1,000 files (in 10 directories) with drift:
// {watch: True, debounce: 100ms}. It edits one managed file b.N times and
// measures each time from the edit until the file is restored by the
// minion, reporting p50 and p99 (ms); then it lets the minion idle for
// -drift.idle and reports its RSS and the CPU it used meanwhile.
//
//	go test ./cmd/brine -run '^$' -bench DriftCorrection -benchtime 100x
func BenchmarkDriftCorrection(b *testing.B) {
	f := startBenchFleet(b, true)
	mn, root := f.minion, f.root
	if out, err := f.cli("drift-bench", "state.highstate", "--out", "summary", "--timeout", "60s"); err != nil {
		b.Fatalf("highstate: %v\n%s", err, out)
	}
	path := filepath.Join(root, "d7", "f7")
	want := "file 7\n"
	if got, err := os.ReadFile(path); err != nil || string(got) != want {
		b.Fatalf("%s after the highstate: %q %v", path, got, err)
	}

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if err := os.WriteFile(path, []byte(fmt.Sprintf("edit %d\n", i)), 0o644); err != nil {
			b.Fatal(err)
		}
		benchWait(b, 30*time.Second, "the file restored", func() bool {
			got, err := os.ReadFile(path)
			return err == nil && string(got) == want
		})
		lat = append(lat, time.Since(start))
		// The minion's own write must not come back as drift: let the
		// correction's run end before the next edit.
		time.Sleep(50 * time.Millisecond)
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(0, "ns/op")

	idle := *driftIdle
	cpu0 := cpuTicks(b, mn.cmd.Process.Pid)
	time.Sleep(idle)
	cpu1 := cpuTicks(b, mn.cmd.Process.Pid)
	reportRSS(b, mn.cmd.Process.Pid, "idle_")
	// Clock ticks are 1/100 s on Linux.
	b.ReportMetric(float64(cpu1-cpu0)/100/idle.Seconds()*100, "idle_cpu_%")
	if strings.Contains(mn.out.String(), "level=ERROR") {
		b.Errorf("the minion logged errors:\n%s", mn.out.String())
	}
}

// cpuTicks reads a process's user and system CPU time in clock ticks.
func cpuTicks(b *testing.B, pid int) int {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command's closing parenthesis: state is the
	// first, utime and stime the 12th and 13th.
	_, rest, ok := strings.Cut(string(data), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		b.Fatalf("unreadable /proc/%d/stat: %q", pid, data)
	}
	u, err1 := strconv.Atoi(fields[11])
	s, err2 := strconv.Atoi(fields[12])
	if err1 != nil || err2 != nil {
		b.Fatalf("unreadable /proc/%d/stat: %q", pid, data)
	}
	return u + s
}

// driftIdle is how long BenchmarkDriftCorrection lets the minion idle.
var driftIdle = flag.Duration("drift.idle", 60*time.Second, "how long BenchmarkDriftCorrection measures the idle minion")
