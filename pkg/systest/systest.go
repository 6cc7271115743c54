// Package systest gates tests that need parts of the real system (root,
// commands, daemons): on a developer's laptop such a test skips when the
// part is missing; in CI, where BRINE_REQUIRE_SYSTEM=1, it fails instead,
// because a skipped test there hides a missing install step.
package systest

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Required reports whether missing system parts must fail tests (CI).
func Required() bool { return os.Getenv("BRINE_REQUIRE_SYSTEM") == "1" }

// Require skips (or, when Required, fails) the test unless ok.
func Require(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if Required() {
		t.Fatalf("BRINE_REQUIRE_SYSTEM=1 but %s", what)
	}
	t.Skipf("skipped: %s (set BRINE_REQUIRE_SYSTEM=1 to make this an error)", what)
}

// RequireRoot needs the test to run as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "the test needs root")
}

// RequireCommands needs every named command on PATH.
func RequireCommands(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		_, err := exec.LookPath(n)
		Require(t, err == nil, "command "+n+" is not installed")
	}
}

// DeadPID returns a process id no process can have: one above the
// kernel's pid_max, so it stands for a writer or runner that is gone.
func DeadPID(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatalf("read the kernel's pid_max: %v", err)
	}
	max, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid_max %q: %v", b, err)
	}
	return max + 1
}
