package cmdrun

import (
	"context"
	"errors"
	"github.com/brinecm/brine/pkg/systest"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func requireRoot(t *testing.T) {
	t.Helper()
	systest.RequireRoot(t)
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		spec    Spec
		want    Result // Pid is not compared
		wantErr string
	}{
		{name: "stdout", spec: Spec{Cmd: "echo hello"}, want: Result{Stdout: "hello"}},
		{name: "one newline trimmed", spec: Spec{Cmd: "printf 'a\\n\\n'"}, want: Result{Stdout: "a\n"}},
		{name: "stderr and retcode", spec: Spec{Cmd: "echo oops >&2; exit 3"}, want: Result{Stderr: "oops", Retcode: 3}},
		{name: "default cwd is /", spec: Spec{Cmd: "pwd"}, want: Result{Stdout: "/"}},
		{name: "cwd", spec: Spec{Cmd: "pwd", Cwd: dir}, want: Result{Stdout: dir}},
		{name: "env added", spec: Spec{Cmd: `echo "$BRINE_X-$PATH_SET"`, Env: map[string]string{"BRINE_X": "1", "PATH_SET": "y"}}, want: Result{Stdout: "1-y"}},
		{name: "env keeps the environment", spec: Spec{Cmd: `test -n "$PATH" && echo ok`, Env: map[string]string{"A": "b"}}, want: Result{Stdout: "ok"}},
		{name: "stdin", spec: Spec{Cmd: "tr a-z A-Z", Stdin: "shout\n"}, want: Result{Stdout: "SHOUT"}},
		{name: "no stdin reads nothing", spec: Spec{Cmd: "cat; echo done"}, want: Result{Stdout: "done"}},
		{name: "shell", spec: Spec{Cmd: `echo $0`, Shell: "/bin/sh"}, want: Result{Stdout: "/bin/sh"}},
		{name: "signal", spec: Spec{Cmd: "kill -9 $$"}, want: Result{Retcode: 128 + 9}},
		{name: "missing shell", spec: Spec{Cmd: "true", Shell: "/nonexistent/sh"}, want: Result{Retcode: -1}, wantErr: "start"},
		{name: "missing cwd", spec: Spec{Cmd: "true", Cwd: dir + "/missing"}, want: Result{Retcode: -1}, wantErr: "start"},
		{name: "unknown runas", spec: Spec{Cmd: "true", Runas: "no-such-user-brine"}, want: Result{Retcode: -1}, wantErr: `runas user "no-such-user-brine" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Run(context.Background(), tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.wantErr == "" && got.Pid <= 0 {
				t.Errorf("pid = %d, want a real pid", got.Pid)
			}
			got.Pid = 0
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRunAsNobody(t *testing.T) {
	requireRoot(t)
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("look up nobody: %v", err)
	}
	// t.TempDir's parent is private to root: use a directory nobody can enter.
	dir, err := os.MkdirTemp("", "brine-runas-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Spec{Cmd: `id -u; id -g; echo "$HOME $USER"; pwd`, Runas: "nobody", Cwd: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := u.Uid + "\n" + u.Gid + "\n" + u.HomeDir + " nobody\n" + dir
	if res.Stdout != want || res.Retcode != 0 {
		t.Errorf("got %+v, want stdout %q", res, want)
	}
	// nobody cannot write where only root may.
	res, err = Run(context.Background(), Spec{Cmd: "touch " + dir + "/x", Runas: "nobody", Cwd: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Retcode == 0 {
		t.Error("nobody could write into a root-owned 0755 directory")
	}
}

func TestRunAsCurrentUserNeedsNoPrivileges(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Spec{Cmd: "id -u", Runas: u.Username})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != strconv.Itoa(os.Geteuid()) {
		t.Errorf("id -u = %q", res.Stdout)
	}
}

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	start := time.Now()
	// The background sleep is in the command's process group and must die too.
	res, err := Run(context.Background(), Spec{
		Cmd:     "sleep 30 & echo $!; echo started; wait",
		Timeout: 300 * time.Millisecond,
	})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Errorf("err = %q", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %s to time out", elapsed)
	}
	if res.Retcode != -1 {
		t.Errorf("retcode = %d, want -1", res.Retcode)
	}
	lines := strings.Split(res.Stdout, "\n")
	if len(lines) != 2 || lines[1] != "started" {
		t.Fatalf("output so far not kept: %q", res.Stdout)
	}
	child, err := strconv.Atoi(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	waitGone(t, child)
}

func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	res, err := Run(ctx, Spec{Cmd: "echo before; sleep 30"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if errors.Is(err, ErrTimeout) {
		t.Error("a cancellation is not a timeout")
	}
	if res.Stdout != "before" || res.Retcode != -1 {
		t.Errorf("got %+v", res)
	}
}

// waitGone waits for a process to disappear (zombies are reaped by init).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("process %d still runs after the timeout", pid)
}

func BenchmarkRunTrue(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), Spec{Cmd: "true"}); err != nil {
			b.Fatal(err)
		}
	}
}
