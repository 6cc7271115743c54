package service

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

// TestMask masks and unmasks units on a temporary root as systemctl mask
// does: a /dev/null link; test mode changes nothing; re-applies change nothing.
func TestMask(t *testing.T) {
	root := t.TempDir()
	run := func(name string, runtime, masked, test bool) states.Outcome {
		return mask(context.Background(), root, &states.Call{ID: name, Name: name, Test: test}, &MaskArgs{Runtime: runtime}, masked)
	}
	link := filepath.Join(root, "etc/systemd/system/cron.service")
	statetest.Expect(t, run("cron", false, true, true), "None", true)
	if _, err := os.Lstat(link); err == nil {
		t.Fatal("test mode masked the unit")
	}
	statetest.Expect(t, run("cron", false, true, false), "true", true)
	if l, err := os.Readlink(link); err != nil || l != "/dev/null" {
		t.Fatalf("link %q %v", l, err)
	}
	statetest.Expect(t, run("cron", false, true, false), "true", false)
	statetest.Expect(t, run("cron", false, false, true), "None", true)
	statetest.Expect(t, run("cron", false, false, false), "true", true)
	statetest.Expect(t, run("cron", false, false, false), "true", false)
	if _, err := os.Lstat(link); err == nil {
		t.Error("unmask left the link")
	}
	statetest.Expect(t, run("apt-daily.timer", true, true, false), "true", true)
	if l, _ := os.Readlink(filepath.Join(root, "run/systemd/system/apt-daily.timer")); l != "/dev/null" {
		t.Errorf("runtime mask of a timer: link %q", l)
	}
	// A real unit file is not replaced by a mask.
	unit := filepath.Join(root, "etc/systemd/system/own.service")
	if err := os.WriteFile(unit, []byte("[Service]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	statetest.Expect(t, run("own", false, true, false), "false", false)
	for _, bad := range []string{"", "../x"} {
		statetest.Expect(t, run(bad, false, true, false), "false", false)
	}
}
