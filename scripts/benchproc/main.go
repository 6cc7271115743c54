// Command benchproc measures whole `brine call --local` processes against
// plain Go programs doing the least the same job needs: a state.apply of N
// file.managed states (first run, then no-change run) versus a program that
// only writes the N files, and one that only stats, reads and compares them.
//
//	go run ./scripts/benchproc -brine bin/brine -n 1000 -runs 20
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) == 3 && (os.Args[1] == "plain-write" || os.Args[1] == "plain-compare") {
		if err := plain(os.Args[1], os.Args[2]); err != nil {
			log.Fatal(err)
		}
		return
	}
	brine := flag.String("brine", "bin/brine", "brine binary")
	n := flag.Int("n", 1000, "number of file.managed states")
	runs := flag.Int("runs", 20, "timed runs per measurement")
	flag.Parse()
	if err := measure(*brine, *n, *runs); err != nil {
		log.Fatal(err)
	}
}

func content(i int) []byte { return []byte(fmt.Sprintf("file %d managed by brine\n", i)) }

// plain is the baseline program: write, or stat+read+compare, the files
// listed in dir/list.
func plain(mode, dir string) error {
	list, err := os.ReadFile(filepath.Join(dir, "list"))
	if err != nil {
		return err
	}
	for i, p := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		want := content(i)
		if mode == "plain-write" {
			if err := os.WriteFile(p, want, 0o644); err != nil {
				return err
			}
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return err
		}
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s differs", p)
		}
	}
	return nil
}

func measure(brine string, n, runs int) error {
	tree, err := os.MkdirTemp("", "brine-benchproc")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tree)
	target := filepath.Join(tree, "out")
	var sls, list strings.Builder
	for i := range n {
		p := filepath.Join(target, fmt.Sprintf("f%04d", i))
		fmt.Fprintf(&sls, "f%04d:\n  file.managed:\n    - name: %s\n    - contents: %q\n", i, p, strings.TrimSuffix(string(content(i)), "\n"))
		list.WriteString(p + "\n")
	}
	if err := os.WriteFile(filepath.Join(tree, "bench.sls"), []byte(sls.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tree, "list"), []byte(list.String()), 0o644); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	brineCmd := []string{brine, "call", "--local", "--config", "/dev/null", "--id", "bench",
		"--file-root", tree, "--pillar-root", filepath.Join(tree, "nopillar"), "--out", "summary", "state.apply", "bench"}
	// reset empties the target and flushes what earlier runs wrote, so
	// that no run pays for the write-back of another.
	reset := func() error {
		if err := os.RemoveAll(target); err != nil {
			return err
		}
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		syscall.Sync()
		return nil
	}
	rows := []struct {
		name  string
		cmd   []string
		fresh bool
	}{
		{"brine first run (creates the files)", brineCmd, true},
		{"plain Go: write the files", []string{self, "plain-write", tree}, true},
		{"brine no-change run", brineCmd, false},
		{"plain Go: stat+read+compare", []string{self, "plain-compare", tree}, false},
	}
	results := map[string]time.Duration{}
	for _, r := range rows {
		var times []time.Duration
		for range runs {
			if r.fresh {
				if err := reset(); err != nil {
					return err
				}
			}
			start := time.Now()
			out, err := exec.Command(r.cmd[0], r.cmd[1:]...).CombinedOutput()
			d := time.Since(start)
			if err != nil {
				return fmt.Errorf("%s: %v\n%s", r.name, err, out)
			}
			times = append(times, d)
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		results[r.name] = times[len(times)/2]
		fmt.Printf("%-40s median %7.2f ms  (min %.2f, max %.2f, %d runs, %d files)\n", r.name,
			ms(times[len(times)/2]), ms(times[0]), ms(times[len(times)-1]), runs, n)
	}
	fmt.Printf("first run / plain write:   %.2fx (target 1.5x)\n",
		float64(results[rows[0].name])/float64(results[rows[1].name]))
	fmt.Printf("no-change / plain compare: %.2fx (target 2x)\n",
		float64(results[rows[2].name])/float64(results[rows[3].name]))
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
