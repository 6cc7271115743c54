package cmdrun

import (
	"context"
	"encoding/json"
	"fmt"
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

// Environment of the helper process that stands in for a minion.
const (
	helperDirEnv = "BRINE_CMDRUN_HELPER_DIR" // the record directory
	helperCmdEnv = "BRINE_CMDRUN_HELPER_CMD" // the command it runs
)

// TestMain runs the tests, or, in a helper process (its environment names
// a record directory), runs one command as the minion does and waits.
func TestMain(m *testing.M) {
	if dir := os.Getenv(helperDirEnv); dir != "" {
		_, err := Run(WithGroupDir(context.Background(), dir), Spec{Cmd: os.Getenv(helperCmdEnv)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// killedMinion starts the helper running cmd, waits until cmd wrote the
// pid of the process it wants watched into the file named by $PIDFILE,
// SIGKILLs the helper and returns that pid and the record directory.
func killedMinion(t *testing.T, cmd string) (pid int, dir string) {
	t.Helper()
	dir = t.TempDir()
	pidFile := filepath.Join(t.TempDir(), "pid")
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperDirEnv+"="+dir, helperCmdEnv+"="+cmd, "PIDFILE="+pidFile)
	helper.Stderr = os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(pidFile)
		if err == nil && strings.HasSuffix(string(data), "\n") {
			if pid, err = strconv.Atoi(strings.TrimSpace(string(data))); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			helper.Process.Kill()
			t.Fatal("the helper's command did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if records, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(records) != 1 {
		t.Fatalf("records while the command runs: %v, want one", records)
	}
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	helper.Wait()
	return pid, dir
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.state != "Z"
}

// TestShellDiesWithItsRunner: the shell of a command dies with the process
// that ran it, at once, without any cleanup.
func TestShellDiesWithItsRunner(t *testing.T) {
	pid, dir := killedMinion(t, `echo $$ >"$PIDFILE.tmp" && mv "$PIDFILE.tmp" "$PIDFILE"; exec sleep 300`)
	waitGone(t, pid)
	// The next start finds nothing left to kill and clears the record.
	killed, err := KillLeftovers(dir)
	if err != nil || len(killed) != 0 {
		t.Errorf("KillLeftovers: killed %v, %v; want nothing", killed, err)
	}
	if records, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(records) != 0 {
		t.Errorf("records left: %v", records)
	}
}

// TestLeftoversKilledAtNextStart: what the shell started in the background
// outlives the runner (only the shell gets the parent death signal), and
// KillLeftovers, as the next start runs it, kills it.
func TestLeftoversKilledAtNextStart(t *testing.T) {
	pid, dir := killedMinion(t, `sleep 300 & echo $! >"$PIDFILE.tmp" && mv "$PIDFILE.tmp" "$PIDFILE"; wait`)
	records, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(records) != 1 {
		t.Fatalf("records: %v", records)
	}
	shell, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(records[0]), ".json"))
	waitGone(t, shell)
	if !alive(pid) {
		t.Fatal("the background sleep died with the shell: this test no longer shows the leftover case")
	}
	killed, err := KillLeftovers(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(killed, pid) {
		t.Errorf("killed %v, want %d among them", killed, pid)
	}
	waitGone(t, pid)
	if records, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(records) != 0 {
		t.Errorf("records left: %v", records)
	}
}

// TestRunRecordsWhileRunning: a recorded command's record exists while it
// runs and goes when it ends.
func TestRunRecordsWhileRunning(t *testing.T) {
	dir := t.TempDir()
	res, err := Run(WithGroupDir(context.Background(), dir),
		Spec{Cmd: `ls "$RECORDS"; echo "$` + groupEnv + `"`, Env: map[string]string{"RECORDS": dir}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(res.Stdout, "\n")
	if len(lines) != 2 || lines[0] != strconv.Itoa(res.Pid)+".json" || len(lines[1]) != 32 {
		t.Errorf("output %q: want the command's record, then its token", res.Stdout)
	}
	if records, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(records) != 0 {
		t.Errorf("records left after the command ended: %v", records)
	}
	if _, err := Run(WithGroupDir(context.Background(), filepath.Join(dir, "missing")), Spec{Cmd: "true"}); err == nil ||
		!strings.Contains(err.Error(), "record process group") {
		t.Errorf("unwritable record directory: %v, want an error", err)
	}
}

// TestKillLeftoversChecksIdentity: a recorded group is killed only when
// the process is the recorded one; records of another boot, of a runner
// still alive, and unreadable ones never kill.
func TestKillLeftoversChecksIdentity(t *testing.T) {
	boot, err := bootID()
	if err != nil {
		t.Fatal(err)
	}
	self, err := startTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadOwner := exec.Command("true")
	if err := deadOwner.Run(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		record     func(pid int, start uint64) any
		killed     bool
		recordKept bool
	}{
		{"the recorded process", func(pid int, start uint64) any {
			return groupRecord{Pgid: pid, Start: start, Boot: boot, Owner: deadOwner.Process.Pid}
		}, true, false},
		{"a recycled pid (other start time)", func(pid int, start uint64) any {
			return groupRecord{Pgid: pid, Start: start - 1, Token: "other", Boot: boot, Owner: deadOwner.Process.Pid}
		}, false, false},
		{"another boot", func(pid int, start uint64) any {
			return groupRecord{Pgid: pid, Start: start, Boot: "not-this-boot", Owner: deadOwner.Process.Pid}
		}, false, false},
		{"its runner still runs", func(pid int, start uint64) any {
			return groupRecord{Pgid: pid, Start: start, Boot: boot, Owner: os.Getpid(), OwnerStart: self}
		}, false, true},
		{"unreadable", func(int, uint64) any { return "not a record" }, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sleep := exec.Command("sleep", "300")
			sleep.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := sleep.Start(); err != nil {
				t.Fatal(err)
			}
			pid := sleep.Process.Pid
			t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
			start, err := startTime(pid)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			data, _ := json.Marshal(c.record(pid, start))
			record := filepath.Join(dir, strconv.Itoa(pid)+".json")
			if err := os.WriteFile(record, data, 0o600); err != nil {
				t.Fatal(err)
			}
			killed, err := KillLeftovers(dir)
			if c.name == "unreadable" {
				if err == nil || !strings.Contains(err.Error(), "unreadable") {
					t.Errorf("err = %v, want the record named unreadable", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(killed, pid); got != c.killed {
				t.Errorf("killed %v, want %d killed: %v", killed, pid, c.killed)
			}
			if c.killed {
				sleep.Wait()
			} else if !alive(pid) {
				t.Errorf("process %d died", pid)
			}
			if _, err := os.Stat(record); (err == nil) != c.recordKept {
				t.Errorf("record kept %v, want %v", err == nil, c.recordKept)
			}
		})
	}
	if killed, err := KillLeftovers(filepath.Join(t.TempDir(), "none")); err != nil || killed != nil {
		t.Errorf("missing directory: %v %v", killed, err)
	}
}
