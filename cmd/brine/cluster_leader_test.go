package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/bus"
)

// isServer reports whether name is master m's server in the cluster: its
// name ends in the port of its --cluster-listen.
func (m *clusterMaster) isServer(name string) bool {
	i := slices.Index(m.args, "--cluster-listen")
	if i < 0 || i+1 >= len(m.args) {
		return false
	}
	_, port, ok := strings.Cut(m.args[i+1], ":")
	return ok && strings.HasSuffix(name, "-"+port)
}

// masterOf is the master whose server is named name, nil if none is.
func (f *clusterFleet) masterOf(name string) *clusterMaster {
	for _, m := range f.masters {
		if m.isServer(name) {
			return m
		}
	}
	return nil
}

// streamLeader is the leader of stream in st, "" when it has none.
func streamLeader(st bus.ClusterStatus, stream string) string {
	for _, s := range st.Streams {
		if s.Name == stream {
			return s.Leader
		}
	}
	return ""
}

// TestClusterFleetStreamLeaderKilled runs three masters and ten minions as
// real processes and kills, with SIGKILL, the master whose server leads
// the returns stream while every minion runs a highstate, the CLI talking
// to another master: every return lands in the job cache, each minion runs
// the job once, and the CLI, whose master lives, reports all ten.
func TestClusterFleetStreamLeaderKilled(t *testing.T) {
	f := newClusterFleet(t)
	var ids []string
	for i := range 10 {
		id := fmt.Sprintf("l%02d", i)
		ids = append(ids, id)
		f.startMinion(id, i%3)
	}
	f.pingAll(f.masters[0], ids)

	st, err := f.status(f.masters[0])
	if err != nil {
		t.Fatal(err)
	}
	leader := f.masterOf(streamLeader(st, bus.ReturnStream))
	if leader == nil {
		t.Fatalf("no master leads %s: %+v", bus.ReturnStream, st.Streams)
	}
	// The CLI talks to a master that leads neither the returns nor, when
	// one does not, the jobs.
	var cli *clusterMaster
	for _, m := range f.masters {
		if m == leader {
			continue
		}
		if cli == nil || f.masterOf(streamLeader(st, bus.JobStream)) == cli {
			cli = m
		}
	}
	t.Logf("%s leads %s; the CLI asks %s", streamLeader(st, bus.ReturnStream), bus.ReturnStream, cli.socket)

	var (
		wg      sync.WaitGroup
		cliOut  string
		cliErr  string
		cliCode int
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		cliCode, cliOut, cliErr = f.brine(cli, "*", "state.highstate", "--timeout", "60s")
	}()
	waitFor(t, 60*time.Second, "every minion to start the highstate", func() bool {
		for _, id := range ids {
			if f.lines(id, "runs") == 0 {
				return false
			}
		}
		return true
	})
	leader.p.kill()
	wg.Wait()

	if cliCode != 0 {
		t.Errorf("the CLI, whose master lives, exited %d:\n%s\n%s", cliCode, cliOut, cliErr)
	}
	hjid := jid.FindString(cliOut)
	if hjid == "" {
		t.Fatalf("no jid in the CLI's output:\n%s", cliOut)
	}
	if strings.Contains(cliOut, "did not return") {
		t.Errorf("the CLI lost returns:\n%s", cliOut)
	}
	for _, m := range f.masters {
		if m == leader {
			continue
		}
		got := map[string]bool{}
		waitFor(t, 60*time.Second, "all ten returns in "+m.socket, func() bool {
			got = f.jobReturns(m, hjid)
			return len(got) == len(ids)
		})
		for _, id := range ids {
			if !got[id] {
				t.Errorf("brine jobs show %s on %s: %s missing or failed (%v)", hjid, m.socket, id, got)
			}
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
	// The returns stream has a new leader among the survivors.
	f.waitStatus(cli, "a surviving leader of "+bus.ReturnStream, func(st bus.ClusterStatus) bool {
		l := streamLeader(st, bus.ReturnStream)
		return l != "" && !leader.isServer(l)
	})
}
