package minion

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// processRuns reports whether pid runs (a zombie does not).
func processRuns(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// TestKilledMinionLeavesNoCommands: a minion process killed with SIGKILL
// while cmd.run runs takes the command's shell with it; what the shell
// started in the background dies when the minion starts again, and the
// job, still queued, runs again.
func TestKilledMinionLeavesNoCommands(t *testing.T) {
	ms := newMaster(t, true)
	dir := t.TempDir()
	first, err := New(ms.minionConfig("idle1", dir))
	if err != nil {
		t.Fatal(err)
	}
	ms.preAccept(first, "idle1")
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), idleDirEnv+"="+dir, idleMasterEnv+"=nats://"+ms.listen)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })

	work := t.TempDir()
	script := fmt.Sprintf(`if [ ! -e %[1]s/first ]; then touch %[1]s/first; echo $$ >%[1]s/shell; `+
		`sleep 300 & echo $! >%[1]s/pid.tmp; mv %[1]s/pid.tmp %[1]s/pid; wait; fi; echo done`, work)
	j := ms.newJob("idle1", "cmd.run", []any{script}, nil)
	ms.publish(j)
	var shell, sleeper int
	waitFor(t, 20*time.Second, "the command to start", func() bool {
		data, err := os.ReadFile(filepath.Join(work, "pid"))
		if err != nil {
			return false
		}
		sleeper, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil
	})
	t.Cleanup(func() { syscall.Kill(sleeper, syscall.SIGKILL) })
	data, err := os.ReadFile(filepath.Join(work, "shell"))
	if err != nil {
		t.Fatal(err)
	}
	if shell, err = strconv.Atoi(strings.TrimSpace(string(data))); err != nil {
		t.Fatal(err)
	}

	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	waitFor(t, 10*time.Second, "the shell to die with its minion", func() bool { return !processRuns(shell) })
	if !processRuns(sleeper) {
		t.Fatal("the background sleep died with the shell: this test no longer shows a left over command")
	}

	runMinion(t, ms.minionConfig("idle1", dir))
	waitFor(t, 10*time.Second, "the left over command to be killed", func() bool { return !processRuns(sleeper) })
	if r := ms.waitReturn(j.JID, "idle1"); string(r.Return) != `"done"` {
		t.Errorf("job run again returned %s", r.Return)
	}
	if records, _ := filepath.Glob(filepath.Join(dir, commandsDir, "*")); len(records) != 0 {
		t.Errorf("command records left: %v", records)
	}
}
