package minion

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	ossignal "os/signal"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/bus"
)

// Environment of the idle minion child process.
const (
	idleDirEnv    = "BRINE_IDLE_MINION_DIR"
	idleMasterEnv = "BRINE_IDLE_MINION_MASTER"
)

// TestMain runs the tests, or, in the child process of BenchmarkIdleMinion
// (its environment names a data directory), an idle minion alone in its
// process that reports its heap every second until SIGTERM.
func TestMain(m *testing.M) {
	if dir := os.Getenv(idleDirEnv); dir != "" {
		if err := runIdleMinion(dir, os.Getenv(idleMasterEnv)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runIdleMinion(dir, master string) error {
	ctx, stop := ossignal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	mn, err := New(Config{ID: "idle1", DataDir: dir, Masters: []string{master}})
	if err != nil {
		return err
	}
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"}}
		for ctx.Err() == nil {
			metrics.Read(sample)
			fmt.Printf("heap=%d total=%d\n", sample[0].Value.Uint64(), sample[1].Value.Uint64())
			time.Sleep(time.Second)
		}
	}()
	return mn.Run(ctx)
}

// BenchmarkIdleMinion runs a minion in a child process against a master
// bus on loopback, lets it sit idle and connected, and reports its resident
// set size and live heap (DESIGN.md's target: an idle minion under 20 MB
// RSS). Each iteration is one test.ping round trip through that minion.
func BenchmarkIdleMinion(b *testing.B) {
	ms := newMaster(b, true)
	dir := b.TempDir()
	mn, err := New(ms.minionConfig("idle1", dir))
	if err != nil {
		b.Fatal(err)
	}
	ms.preAccept(mn, "idle1")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), idleDirEnv+"="+dir, idleMasterEnv+"=nats://"+ms.listen)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	heap := make(chan uint64, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var h, total uint64
			if n, _ := fmt.Sscanf(sc.Text(), "heap=%d total=%d", &h, &total); n == 2 {
				select {
				case heap <- h:
				default:
				}
			}
		}
	}()

	ping := ms.newJob("idle1", "test.ping", nil, nil)
	ms.publish(ping)
	ms.waitReturn(ping.JID, "idle1")
	time.Sleep(3 * time.Second) // idle
	rss, err := residentBytes(cmd.Process.Pid, "VmRSS:")
	if err != nil {
		b.Fatal(err)
	}
	anon, err := residentBytes(cmd.Process.Pid, "RssAnon:")
	if err != nil {
		b.Fatal(err)
	}
	var live uint64
	for len(heap) > 0 {
		live = <-heap
	}
	for b.Loop() {
		j := ms.newJob("idle1", "test.ping", nil, nil)
		sub, err := ms.nc.SubscribeSync(bus.ReturnSubject(j.JID, "idle1"))
		if err != nil {
			b.Fatal(err)
		}
		ms.publish(j)
		if _, err := sub.NextMsg(10 * time.Second); err != nil {
			b.Fatalf("return of %s: %v", j.JID, err)
		}
		sub.Unsubscribe()
	}
	// After the loop: b.Loop resets the reported metrics when it starts.
	b.ReportMetric(float64(rss)/(1<<20), "MB-rss")
	b.ReportMetric(float64(anon)/(1<<20), "MB-anon")
	b.ReportMetric(float64(live)/(1<<20), "MB-heap")
	if rss > 20<<20 {
		b.Logf("idle minion RSS %.1f MB is over the 20 MB target", float64(rss)/(1<<20))
	}
}

// residentBytes reads a memory figure of a process from /proc/<pid>/status:
// field "VmRSS:" is the resident set size, "RssAnon:" its anonymous part
// (heap, stacks, runtime), the rest being pages of the executable.
func residentBytes(pid int, field string) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
