package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startScheduledMinion starts minion id (role db: the motd state only)
// with schedule (YAML, indented under schedule:) in its configuration file.
func (f *fleet) startScheduledMinion(id, schedule string) *proc {
	f.t.Helper()
	cfg := filepath.Join(f.dir, id+".yaml")
	writeFile(f.t, cfg, fmt.Sprintf("id: %s\nmaster: [%s]\ndata_dir: %s\ngrains:\n  role: db\n  root: %s\nschedule:\n%s",
		id, f.busURL, filepath.Join(f.dir, id), f.root(id), schedule))
	p := start(f.t, "minion", "--config", cfg, "--log-level", "info")
	f.minions[id] = p
	return p
}

// scheduledJobs returns the jobs `brine jobs list` shows with origin
// schedule for fun, each jid with the number of lines it is on.
func (f *fleet) scheduledJobs(fun string) map[string]int {
	f.t.Helper()
	code, out, errOut := f.brine("jobs", "list", "--limit", "100000")
	if code != 0 {
		f.t.Fatalf("jobs list: exit %d\n%s", code, errOut)
	}
	jobs := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		// jid date time fun target origin returned n/m
		if len(fields) >= 6 && fields[3] == fun && fields[5] == "schedule" {
			jobs[fields[0]]++
		}
	}
	return jobs
}

// TestScheduleOnMinionProcess: a 1 s schedule entry fires on a `brine
// minion` process, every run is in the master's job cache with origin
// schedule and its return, and the bad entries beside it are reported by
// name and skipped.
func TestScheduleOnMinionProcess(t *testing.T) {
	f := newFleet(t, fleetOptions{autoAccept: true})
	p := f.startScheduledMinion("sched1", `  ping:
    function: test.ping
    seconds: 1
  typo:
    function: test.pnig
    seconds: 1
  negative:
    function: test.ping
    minutes: -1
  badcron:
    function: test.ping
    cron: '99 * * * *'
`)
	var jobs map[string]int
	waitFor(t, 60*time.Second, "two scheduled test.ping runs in the job cache", func() bool {
		jobs = f.scheduledJobs("test.ping")
		return len(jobs) >= 2
	})
	for jid, n := range jobs {
		if n != 1 {
			t.Errorf("job %s listed %d times", jid, n)
		}
		code, out, errOut := f.brine("jobs", "show", jid, "--out", "json")
		if code != 0 || !strings.Contains(out, `"sched1": true`) {
			t.Errorf("jobs show %s: exit %d\n%s\n%s", jid, code, out, errOut)
		}
	}
	for _, want := range []string{
		`schedule entry \"typo\": unknown function \"test.pnig\" (did you mean \"test.ping\"?)`,
		`schedule entry \"negative\": minutes: -1 is negative`,
		`schedule entry \"badcron\": cron: \"99 * * * *\" is not a cron expression`,
	} {
		if !strings.Contains(p.output(), want) {
			t.Errorf("the minion's log does not report %s", want)
		}
	}
	// schedule.list shows the entry that runs and why the others do not.
	code, out, errOut := f.brine("sched1", "schedule.list", "--out", "json")
	if code != 0 {
		t.Fatalf("schedule.list: exit %d\n%s\n%s", code, out, errOut)
	}
	var list map[string]struct {
		Schedule map[string]map[string]any `json:"schedule"`
		Errors   []string                  `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("schedule.list output: %v\n%s", err, out)
	}
	got := list["sched1"]
	if len(got.Schedule) != 1 || got.Schedule["ping"]["function"] != "test.ping" || len(got.Errors) != 3 {
		t.Errorf("schedule.list: %s", out)
	}
	// schedule.add persists; schedule.delete too; both act on the running schedule.
	if code, out, errOut := f.brine("sched1", "schedule.add", "later", "function=test.ping", "hours=1"); code != 0 {
		t.Fatalf("schedule.add: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := f.brine("sched1", "schedule.delete", "ping"); code != 0 {
		t.Fatalf("schedule.delete: exit %d\n%s\n%s", code, out, errOut)
	}
	saved, err := os.ReadFile(filepath.Join(f.dir, "sched1", "schedule.json"))
	if err != nil || !strings.Contains(string(saved), `"later"`) || !strings.Contains(string(saved), `"ping"`) {
		t.Errorf("schedule.json (%v):\n%s", err, saved)
	}
	_, out, _ = f.brine("sched1", "schedule.list", "--out", "json")
	if !strings.Contains(out, `"later"`) || strings.Contains(out, `"ping": {`) {
		t.Errorf("schedule.list after add and delete:\n%s", out)
	}
}

// TestScheduledHighstateWithoutMaster: a minion whose schedule runs
// state.highstate every 2 s keeps the highstate the master compiled; with
// the master stopped, a managed file edited by hand is restored by the next
// scheduled run from that cache, and once the master is back every return
// of those runs is in its job cache exactly once.
func TestScheduledHighstateWithoutMaster(t *testing.T) {
	f := newFleet(t, fleetOptions{autoAccept: true})
	f.startScheduledMinion("sched2", `  highstate:
    function: state.highstate
    seconds: 2
    maxrunning: 1
`)
	motd := filepath.Join(f.root("sched2"), "motd")
	want := "sched2 (db) says hello\n"
	waitFor(t, 60*time.Second, "a scheduled highstate to write motd", func() bool {
		got, err := os.ReadFile(motd)
		return err == nil && string(got) == want
	})
	cache := filepath.Join(f.dir, "sched2", "highstate.signed")
	st, err := os.Stat(cache)
	if err != nil {
		t.Fatalf("no cached highstate: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600 (it holds pillar)", cache, st.Mode().Perm())
	}
	online := f.scheduledJobs("state.highstate")
	if len(online) == 0 {
		t.Fatal("no scheduled highstate in the job cache while the master runs")
	}

	f.master.stop()
	outbox := filepath.Join(f.dir, "sched2", "outbox")
	before := listDir(t, outbox)
	writeFile(t, motd, "edited by hand\n")
	waitFor(t, 60*time.Second, "a scheduled run without the master to restore motd", func() bool {
		got, err := os.ReadFile(motd)
		return err == nil && string(got) == want
	})
	// The runs without the master wait in the outbox.
	var offline []string
	waitFor(t, 30*time.Second, "the offline runs' returns in the outbox", func() bool {
		offline = nil
		for jid := range listDir(t, outbox) {
			if !before[jid] {
				offline = append(offline, jid)
			}
		}
		return len(offline) >= 2
	})
	for _, jid := range offline {
		data, err := os.ReadFile(filepath.Join(outbox, jid))
		if err != nil {
			continue // sent already: cannot be, the master is down
		}
		if !strings.Contains(string(data), `"origin":"schedule"`) {
			t.Errorf("outbox return %s has no schedule origin:\n%.300s", jid, data)
		}
	}
	if out := f.minions["sched2"].output(); !strings.Contains(out, "applying the cached one") {
		t.Error("the minion's log does not say it applied the cached highstate")
	}

	f.master = start(t, f.args...)
	waitFor(t, 20*time.Second, "master socket", func() bool { _, err := os.Stat(f.socket); return err == nil })
	var jobs map[string]int
	waitFor(t, 90*time.Second, "the offline runs in the job cache", func() bool {
		jobs = f.scheduledJobs("state.highstate")
		for _, jid := range offline {
			if jobs[jid] == 0 {
				return false
			}
		}
		return true
	})
	for _, jid := range offline {
		if jobs[jid] != 1 {
			t.Errorf("offline run %s listed %d times", jid, jobs[jid])
		}
		code, out, errOut := f.brine("jobs", "show", jid, "--out", "json")
		if code != 0 {
			t.Errorf("jobs show %s: exit %d\n%s", jid, code, errOut)
			continue
		}
		if n := strings.Count(out, `"sched2":`); n != 1 {
			t.Errorf("job %s has %d returns from sched2, want 1:\n%.500s", jid, n, out)
		}
	}
}

// listDir returns the names in dir, leaving out temporary files.
func listDir(t *testing.T, dir string) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			names[e.Name()] = true
		}
	}
	return names
}
