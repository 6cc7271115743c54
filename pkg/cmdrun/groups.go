package cmdrun

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// groupEnv is the variable that marks every process of a recorded
// command: its value is the record's token, inherited by the command's
// children, so a recycled pid or process group is never taken for theirs.
const groupEnv = "BRINE_CMD_GROUP"

// groupDirKey is the context key of the recorder.
type groupDirKey struct{}

// recorder writes the records of one process's commands into dir. What
// is the same for every command (the boot, the recording process's start
// time) is read once, when the recorder is made.
type recorder struct {
	dir        string
	boot       string
	ownerStart uint64
	err        error // why this process cannot record its commands
}

// WithGroupDir returns a context under which Run records the process group
// of every command it starts in dir (one file per command, removed when
// the command ends), so that KillLeftovers can kill, after a crash of the
// process that ran them, the commands that outlived it. dir must exist.
func WithGroupDir(ctx context.Context, dir string) context.Context {
	r := &recorder{dir: dir}
	if r.ownerStart, r.err = startTime(os.Getpid()); r.err == nil {
		r.boot, r.err = bootID()
	}
	return context.WithValue(ctx, groupDirKey{}, r)
}

// groupRecorder is the recorder ctx carries, nil for none.
func groupRecorder(ctx context.Context) *recorder {
	r, _ := ctx.Value(groupDirKey{}).(*recorder)
	return r
}

// groupRecord is a running command's process group, as recorded on disk.
type groupRecord struct {
	Pgid       int    `json:"pgid"`        // the shell's pid, leader of the group
	Start      uint64 `json:"start"`       // the shell's start time (clock ticks after boot)
	Token      string `json:"token"`       // the value of groupEnv in the command's processes
	Boot       string `json:"boot"`        // the kernel's boot id: records of another boot are void
	Owner      int    `json:"owner"`       // pid of the process that ran the command
	OwnerStart uint64 `json:"owner_start"` // and its start time
	Cmd        string `json:"cmd"`
}

// newToken returns a random token for groupEnv.
func newToken() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b)
}

// record records the process group of a command just started.
func (r *recorder) record(pid int, token, cmd string) (path string, err error) {
	if r.err != nil {
		return "", fmt.Errorf("record process group of %q: %w", cmd, r.err)
	}
	start, err := startTime(pid)
	if err != nil {
		return "", fmt.Errorf("record process group of %q: %w", cmd, err)
	}
	data, err := json.Marshal(groupRecord{Pgid: pid, Start: start, Token: token, Boot: r.boot,
		Owner: os.Getpid(), OwnerStart: r.ownerStart, Cmd: cmd})
	if err != nil {
		return "", fmt.Errorf("record process group of %q: %w", cmd, err)
	}
	path = filepath.Join(r.dir, strconv.Itoa(pid)+".json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("record process group of %q: %w", cmd, err)
	}
	return path, nil
}

// KillLeftovers kills the commands recorded in dir (see WithGroupDir) that
// still run although the process that ran them is gone, as after a crash
// or a SIGKILL of the minion, and clears their records. A process is
// killed only when it is in the recorded process group and is either the
// recorded shell (same pid and start time) or carries the record's token
// in its environment, so a recycled pid is never killed. Records of a
// process that still runs stay. It returns the pids it killed.
func KillLeftovers(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read command records: %w", err)
	}
	boot, err := bootID()
	if err != nil {
		return nil, fmt.Errorf("kill leftover commands: %w", err)
	}
	var killed []int
	var errs []error
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		var rec groupRecord
		data, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(data, &rec)
		}
		if err == nil && rec.Pgid <= 0 {
			err = errors.New("no process group")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("command record %s is unreadable (removed): %w", path, err))
		} else if rec.Boot == boot {
			if sameProcess(rec.Owner, rec.OwnerStart) {
				continue // its owner still runs: the command is not left over
			}
			k, err := killGroup(rec)
			killed = append(killed, k...)
			if err != nil {
				errs = append(errs, err)
				continue // keep the record: try again next time
			}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove command record: %w", err))
		}
	}
	return killed, errors.Join(errs...)
}

// killGroup kills the processes of rec's group that are rec's command's.
func killGroup(rec groupRecord) ([]int, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	mark := []byte(groupEnv + "=" + rec.Token + "\x00")
	var killed []int
	var errs []error
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.pgrp != rec.Pgid || st.state == "Z" {
			continue
		}
		ours := pid == rec.Pgid && st.start == rec.Start
		if !ours && rec.Token != "" {
			env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			ours = err == nil && (bytes.HasPrefix(env, mark) || bytes.Contains(env, append([]byte{0}, mark...)))
		}
		if !ours {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill left over process %d of %q: %w", pid, rec.Cmd, err))
			continue
		}
		killed = append(killed, pid)
	}
	return killed, errors.Join(errs...)
}

// procStat is what KillLeftovers reads of /proc/<pid>/stat.
type procStat struct {
	state string
	pgrp  int
	start uint64 // clock ticks after boot
}

// readStat reads a process's state, process group and start time.
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// "pid (comm) state ppid pgrp ...": comm may hold anything, even ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	pgrp, err := strconv.Atoi(f[2])
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: process group %q", pid, f[2])
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: start time %q", pid, f[19])
	}
	return procStat{state: f[0], pgrp: pgrp, start: start}, nil
}

// startTime is a process's start time, in clock ticks after boot.
func startTime(pid int) (uint64, error) {
	st, err := readStat(pid)
	return st.start, err
}

// sameProcess reports whether pid still runs and started at start.
func sameProcess(pid int, start uint64) bool {
	st, err := readStat(pid)
	return err == nil && st.state != "Z" && st.start == start
}

// bootID identifies the running kernel's boot.
func bootID() (string, error) {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("read boot id: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}
