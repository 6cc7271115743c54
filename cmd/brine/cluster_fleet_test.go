package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/bus"
)

// clusterFleet is three real `brine master` processes on one cluster and
// their minions, each minion given every master's URL.
type clusterFleet struct {
	t       *testing.T
	dir     string
	masters []*clusterMaster
	minions map[string]*proc
}

// clusterMaster is one master process and what it takes to restart it.
type clusterMaster struct {
	dataDir, socket, busURL string
	args                    []string
	p                       *proc
}

// newClusterFleet starts three masters: the first makes the fleet, the
// other two join it with join tokens.
func newClusterFleet(t *testing.T) *clusterFleet {
	t.Helper()
	f := &clusterFleet{t: t, dir: t.TempDir(), minions: map[string]*proc{}}
	for i := range 3 {
		busPort, clusterPort := freePort(t), freePort(t)
		m := &clusterMaster{
			dataDir: filepath.Join(f.dir, fmt.Sprintf("master%d", i+1)),
			socket:  filepath.Join(f.dir, fmt.Sprintf("master%d.sock", i+1)),
			busURL:  fmt.Sprintf("nats://127.0.0.1:%d", busPort),
		}
		m.args = []string{"master", "--data-dir", m.dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", busPort),
			"--cluster-listen", fmt.Sprintf("127.0.0.1:%d", clusterPort), "--socket", m.socket,
			"--file-root", "testdata/cluster/states", "--auto-accept", "--log-level", "info"}
		if i > 0 {
			// A token is made from the first master's data dir; the first
			// master serves joins before it has a quorum, and makes its key
			// and CA as it starts.
			var tok string
			waitFor(t, 30*time.Second, "a join token from master 1", func() bool {
				var code int
				code, tok, _ = f.brine(nil, "cluster", "token", "--data-dir", f.masters[0].dataDir)
				return code == 0
			})
			m.args = append(m.args, "--join", f.masters[0].busURL, "--token", strings.TrimSpace(tok))
		}
		m.p = start(t, m.args...)
		f.masters = append(f.masters, m)
	}
	for _, m := range f.masters {
		waitFor(t, 60*time.Second, "master socket "+m.socket, func() bool { _, err := os.Stat(m.socket); return err == nil })
	}
	f.waitStatus(f.masters[2], "three servers, every stream on three current replicas", func(st bus.ClusterStatus) bool {
		return len(st.Servers) == 3 && allCurrent(st, 3)
	})
	return f
}

// urls is every master's bus URL, starting with master first.
func (f *clusterFleet) urls(first int) string {
	var us []string
	for i := range f.masters {
		us = append(us, f.masters[(first+i)%len(f.masters)].busURL)
	}
	return strings.Join(us, ", ")
}

// startMinion starts (or restarts) minion id, listing master first first.
func (f *clusterFleet) startMinion(id string, first int) {
	f.t.Helper()
	cfg := filepath.Join(f.dir, id+".yaml")
	writeFile(f.t, cfg, fmt.Sprintf("id: %s\nmaster: [%s]\ndata_dir: %s\ngrains:\n  root: %s\n",
		id, f.urls(first), filepath.Join(f.dir, id), f.root(id)))
	f.minions[id] = start(f.t, "minion", "--config", cfg, "--log-level", "info")
}

func (f *clusterFleet) root(id string) string { return filepath.Join(f.dir, "root-"+id) }

// brine runs the CLI against master m (nil: no master) and returns the
// exit code and output.
func (f *clusterFleet) brine(m *clusterMaster, args ...string) (int, string, string) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, brineBinary(f.t), args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	if m != nil {
		cmd.Env = append(cmd.Env, "BRINE_SOCKET="+m.socket)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		f.t.Fatalf("brine %v: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

// status is `brine cluster status --out json` on m.
func (f *clusterFleet) status(m *clusterMaster) (bus.ClusterStatus, error) {
	var st bus.ClusterStatus
	code, out, errOut := f.brine(m, "cluster", "status", "--out", "json")
	if code != 0 {
		return st, fmt.Errorf("exit %d: %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("brine cluster status --out json: %w\n%s", err, out)
	}
	return st, nil
}

// waitStatus waits until m's cluster status satisfies ok.
func (f *clusterFleet) waitStatus(m *clusterMaster, what string, ok func(bus.ClusterStatus) bool) bus.ClusterStatus {
	f.t.Helper()
	var last bus.ClusterStatus
	var lastErr error
	deadline := time.Now().Add(90 * time.Second)
	for {
		last, lastErr = f.status(m)
		if lastErr == nil && ok(last) {
			return last
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s; last status %+v, error %v", what, last, lastErr)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// allCurrent tells whether every stream and bucket has n replicas, a
// leader, and every replica online, current and without lag.
func allCurrent(st bus.ClusterStatus, n int) bool {
	if len(st.Streams) == 0 {
		return false
	}
	for _, s := range st.Streams {
		if s.Replicas != n || s.Leader == "" || len(s.Peers) != n {
			return false
		}
		for _, p := range s.Peers {
			if p.Offline || !p.Current || p.Lag != 0 {
				return false
			}
		}
	}
	return true
}

// ping returns the minions that answered test.ping through m.
func (f *clusterFleet) ping(m *clusterMaster, ids []string) map[string]bool {
	_, out, _ := f.brine(m, "-L", strings.Join(ids, ","), "test.ping", "--timeout", "3s", "--out", "json")
	got := map[string]bool{}
	for id, v := range returnedIDs(out) {
		got[id] = string(v) == "true"
	}
	return got
}

func (f *clusterFleet) pingAll(m *clusterMaster, ids []string) {
	f.t.Helper()
	waitFor(f.t, 60*time.Second, "every minion to answer test.ping", func() bool {
		got := f.ping(m, ids)
		for _, id := range ids {
			if !got[id] {
				return false
			}
		}
		return true
	})
}

// lines is the number of lines of a minion's file, 0 when it is missing.
func (f *clusterFleet) lines(id, name string) int {
	b, err := os.ReadFile(filepath.Join(f.root(id), name))
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// jobReturns is the minions that returned for jid in master m's job cache
// (brine jobs show --out json), and whether each one's states all passed.
func (f *clusterFleet) jobReturns(m *clusterMaster, id string) map[string]bool {
	_, out, _ := f.brine(m, "jobs", "show", id, "--out", "json")
	got := map[string]bool{}
	for id, v := range returnedIDs(out) {
		got[id] = !bytes.Contains(v, []byte(`"result": false`)) && bytes.Contains(v, []byte(`"result": true`))
	}
	return got
}

// jid matches a job id.
var jid = regexp.MustCompile(`\d{20}_[0-9a-f]{16}`)

// cachedJob matches a line of brine jobs list: jid, date, time, function.
var cachedJob = regexp.MustCompile(`(?m)^(\d{20}_[0-9a-f]{16})\s+\S+\s+\S+\s+(\S+)\s`)

// jobsOf lists the jids of fun (state.highstate, state.sls) in m's job cache.
func (f *clusterFleet) jobsOf(m *clusterMaster, fun string) []string {
	_, out, _ := f.brine(m, "jobs", "list")
	var jids []string
	for _, l := range cachedJob.FindAllStringSubmatch(out, -1) {
		if l[2] == fun {
			jids = append(jids, l[1])
		}
	}
	return jids
}

// TestClusterFleetMasterKilledMidHighstate runs three masters and ten
// minions as real processes: a highstate is asked of master 1, which is
// killed with SIGKILL while every minion runs it. Every minion's return
// lands in the job cache of the surviving masters, every minion runs the
// job exactly once, and the minions reach the survivors by themselves. A
// job published while some minions were down is delivered to them once
// through another server. Master 1 restarts, catches up and serves again.
func TestClusterFleetMasterKilledMidHighstate(t *testing.T) {
	f := newClusterFleet(t)
	var ids []string
	for i := range 10 {
		id := fmt.Sprintf("m%02d", i)
		ids = append(ids, id)
		// Minions list the masters in different orders, so they spread
		// over the three servers and some start on master 1.
		f.startMinion(id, i%3)
	}
	m1, m2, m3 := f.masters[0], f.masters[1], f.masters[2]
	f.pingAll(m1, ids)

	// The highstate, asked of master 1; the CLI loses its master midway.
	var (
		wg      sync.WaitGroup
		cliOut  string
		cliCode int
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		cliCode, cliOut, _ = f.brine(m1, "*", "state.highstate", "--timeout", "60s")
	}()
	waitFor(t, 60*time.Second, "every minion to start the highstate", func() bool {
		for _, id := range ids {
			if f.lines(id, "runs") == 0 {
				return false
			}
		}
		return true
	})
	m1.p.kill()
	wg.Wait()

	if cliCode == 0 {
		t.Errorf("the CLI whose master was killed exited 0:\n%s", cliOut)
	}
	var jids []string
	waitFor(t, 60*time.Second, "the highstate in master 2's job cache", func() bool {
		jids = f.jobsOf(m2, "state.highstate")
		return len(jids) > 0
	})
	if len(jids) != 1 || !strings.Contains(cliOut, jids[0]) {
		t.Fatalf("master 2's job cache has highstates %v, the CLI printed\n%s", jids, cliOut)
	}
	hjid := jids[0]
	waitFor(t, 60*time.Second, "all ten returns in master 2's job cache", func() bool {
		return len(f.jobReturns(m2, hjid)) == len(ids)
	})
	// Each survivor serves all ten returns; right after the kill the
	// streams may still be electing new leaders, so each is asked until it
	// answers in full (or the deadline reports what is missing).
	for _, m := range []*clusterMaster{m2, m3} {
		var got map[string]bool
		var code int
		var out, errOut string
		deadline := time.Now().Add(60 * time.Second)
		for {
			got = f.jobReturns(m, hjid)
			code, out, errOut = f.brine(m, "jobs", "show", hjid)
			complete := code == 0 && !strings.Contains(out, "did not return")
			for _, id := range ids {
				complete = complete && got[id]
			}
			if complete || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		for _, id := range ids {
			if !got[id] {
				t.Errorf("brine jobs show %s on %s: %s missing or failed (%v)", hjid, m.socket, id, got)
			}
		}
		if code != 0 || strings.Contains(out, "did not return") {
			t.Errorf("brine jobs show %s on %s: exit %d\n%s\n%s", hjid, m.socket, code, out, errOut)
		}
	}
	for _, id := range ids {
		if n := f.lines(id, "runs"); n != 1 {
			t.Errorf("%s ran the highstate %d times, want once", id, n)
		}
		if _, err := os.Stat(filepath.Join(f.root(id), "done")); err != nil {
			t.Errorf("%s did not finish the highstate: %v", id, err)
		}
	}

	// The minions that were on master 1 found another server by themselves.
	f.pingAll(m2, ids)
	// brine cluster status on a survivor shows master 1 behind on every
	// stream, and a leader for each among the survivors.
	st := f.waitStatus(m3, "master 1 behind on every stream", func(st bus.ClusterStatus) bool {
		behind := map[string]bool{}
		for _, s := range st.Streams {
			n := 0
			for _, p := range s.Peers {
				if p.Offline || !p.Current {
					behind[p.Name] = true
					n++
				}
			}
			if n != 1 || s.Leader == "" || behind[s.Leader] {
				return false
			}
		}
		return len(st.Servers) == 3 && len(st.Streams) > 0 && len(behind) == 1
	})
	if st.Leader == "" {
		t.Errorf("no JetStream meta leader with two of three masters: %+v", st)
	}

	// A job for minions that are down waits in the replicated job stream;
	// they come back listing master 1 first and get it, once, elsewhere.
	late := ids[:3]
	for _, id := range late {
		f.minions[id].stop()
	}
	code, out, errOut := f.brine(m3, "-L", strings.Join(late, ","), "state.sls", "late", "--async")
	if code != 0 {
		t.Fatalf("brine state.sls late --async: exit %d\n%s\n%s", code, out, errOut)
	}
	lateJID := jid.FindString(out)
	if lateJID == "" {
		t.Fatalf("no jid in %q", out)
	}
	for _, id := range late {
		f.startMinion(id, 0)
	}
	waitFor(t, 60*time.Second, "the late job's returns", func() bool {
		return len(f.jobReturns(m2, lateJID)) == len(late)
	})
	for _, id := range late {
		if n := f.lines(id, "late"); n != 1 {
			t.Errorf("%s ran the late job %d times, want once", id, n)
		}
	}

	// Master 1 comes back with its data dir: it catches up and serves.
	m1.p = start(t, m1.args...)
	f.waitStatus(m1, "master 1 back and every replica current", func(st bus.ClusterStatus) bool {
		return len(st.Servers) == 3 && allCurrent(st, 3)
	})
	if got := f.jobReturns(m1, hjid); len(got) != len(ids) {
		t.Errorf("restarted master 1 has %d returns of %s, want %d: %v", len(got), hjid, len(ids), got)
	}
	f.pingAll(m1, ids)
	for _, id := range ids {
		if n := f.lines(id, "runs"); n != 1 {
			t.Errorf("%s ran the highstate %d times after master 1 came back, want once", id, n)
		}
	}
}
