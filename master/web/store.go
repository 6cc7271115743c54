package web

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/proto/brinepb"
)

// historyLen is how many state runs the index keeps per minion.
const historyLen = 20

// driftMaxAge is how long the master's drift report is kept while no state
// run returns: its 24-hour window of corrections moves on with time.
const driftMaxAge = time.Minute

// stateFuns are the functions whose returns are state runs.
var stateFuns = map[string]bool{"state.highstate": true, "state.apply": true, "state.sls": true, "state.sls_id": true}

// Run is one state run of one minion, as the job cache holds it.
type Run struct {
	JID       string    `json:"jid"`
	At        time.Time `json:"at"`
	Fun       string    `json:"fun"`
	Origin    string    `json:"origin,omitempty"`
	Succeeded int       `json:"succeeded"`
	Changed   int       `json:"changed"`
	Failed    int       `json:"failed"`
	Pending   int       `json:"pending"` // result null: test mode, would change
	Error     string    `json:"error,omitempty"`
	Highstate bool      `json:"highstate"` // a whole highstate, not a part of it
	// states are the run's results, kept for the network graph.
	states result.Highstate
}

// MinionRow is one minion of the fleet page.
type MinionRow struct {
	ID            string         `json:"id"`
	Online        bool           `json:"online"`
	LastSeen      *time.Time     `json:"last_seen"`
	OS            string         `json:"os"`
	LastHighstate *HighstateInfo `json:"last_highstate"`
	Drift         Drift          `json:"drift"`
	grains        map[string]any
}

// HighstateInfo is a minion's last highstate, per the contract.
type HighstateInfo struct {
	JID       string    `json:"jid"`
	At        time.Time `json:"at"`
	Succeeded bool      `json:"succeeded"`
	Changed   int       `json:"changed"`
	Failed    int       `json:"failed"`
}

// snapshot is the fleet as of one refresh.
type snapshot struct {
	at      time.Time
	minions []MinionRow // sorted by id
	byID    map[string]int
	jobs    []*brinepb.JobSummary // newest first
	runs    map[string][]Run      // per minion, newest first
}

// store keeps an index of the fleet built from the master's API (the job
// cache and the minion list) and refreshes it when it is older than
// refresh; only jobs whose return count changed are read again.
type store struct {
	c       brinepb.MasterClient
	refresh time.Duration
	now     func() time.Time

	mu       sync.Mutex
	snap     *snapshot
	read     map[string]int32 // jid -> returns already read
	runs     map[string][]Run
	lastSeen map[string]time.Time
	online   map[string]bool
	drift    map[string]Drift // the master's drift report, per minion
	driftAt  time.Time        // when it was asked for; zero: ask again
}

func newStore(c brinepb.MasterClient, refresh time.Duration) *store {
	return &store{c: c, refresh: refresh, now: time.Now, read: map[string]int32{}, runs: map[string][]Run{},
		lastSeen: map[string]time.Time{}, online: map[string]bool{}}
}

// get returns the current snapshot, refreshing it first when it is stale.
func (s *store) get(ctx context.Context) (*snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap != nil && s.now().Sub(s.snap.at) < s.refresh {
		return s.snap, nil
	}
	snap, err := s.rebuild(ctx)
	if err != nil {
		return nil, err
	}
	s.snap = snap
	return snap, nil
}

func (s *store) rebuild(ctx context.Context) (*snapshot, error) {
	now := s.now()
	ml, err := s.c.ListMinions(ctx, &brinepb.ListMinionsRequest{})
	if err != nil {
		return nil, fmt.Errorf("list minions: %w", err)
	}
	jl, err := s.c.ListJobs(ctx, &brinepb.ListJobsRequest{})
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	live := make(map[string]bool, len(jl.Jobs))
	stateRunsChanged := false
	// Oldest first, so that runs go into each history in order.
	for _, j := range slices.Backward(jl.Jobs) {
		live[j.Jid] = true
		if !stateFuns[j.Fun] || j.Returned == s.read[j.Jid] {
			continue
		}
		resp, err := s.c.GetJob(ctx, &brinepb.GetJobRequest{Jid: j.Jid})
		if err != nil {
			continue // expired between listing and reading
		}
		s.read[j.Jid] = j.Returned
		stateRunsChanged = true
		for _, r := range resp.Returns {
			s.addRun(r.Minion, runOf(resp.Job, r))
			if at := time.UnixMilli(j.StartUnixMs); at.After(s.lastSeen[r.Minion]) {
				s.lastSeen[r.Minion] = at
			}
		}
	}
	for jid := range s.read {
		if !live[jid] {
			delete(s.read, jid)
			stateRunsChanged = true
		}
	}
	if stateRunsChanged || s.driftAt.IsZero() || now.Sub(s.driftAt) >= driftMaxAge {
		if err := s.refreshDrift(ctx, now); err != nil {
			return nil, err
		}
	}
	snap := &snapshot{at: now, jobs: jl.Jobs, runs: map[string][]Run{}, byID: map[string]int{}, minions: make([]MinionRow, 0, len(ml.Minions))}
	for _, mi := range ml.Minions {
		var grains map[string]any
		_ = json.Unmarshal(mi.GrainsJson, &grains) // grains a minion sent are shown as far as they decode
		if mi.Connected || s.online[mi.Id] {
			// Online now, or seen online at the previous refresh.
			s.lastSeen[mi.Id] = now
		}
		s.online[mi.Id] = mi.Connected
		row := MinionRow{ID: mi.Id, Online: mi.Connected, OS: osOf(grains), grains: grains}
		if t, ok := s.lastSeen[mi.Id]; ok {
			row.LastSeen = &t
		}
		runs := s.runs[mi.Id]
		snap.runs[mi.Id] = runs
		if hs := lastHighstate(runs); hs != nil {
			row.LastHighstate = &HighstateInfo{JID: hs.JID, At: hs.At, Succeeded: hs.Failed == 0 && hs.Error == "",
				Changed: hs.Changed, Failed: hs.Failed}
		}
		row.Drift = s.drift[mi.Id]
		if row.Drift.Corrected == nil {
			row.Drift.Corrected = []Correction{} // not in the report yet: nothing known
		}
		snap.minions = append(snap.minions, row)
	}
	slices.SortFunc(snap.minions, func(a, b MinionRow) int { return cmp.Compare(a.ID, b.ID) })
	for i, m := range snap.minions {
		snap.byID[m.ID] = i
	}
	return snap, nil
}

// refreshDrift asks the master for the drift of every accepted minion, as
// `brine drift` does.
func (s *store) refreshDrift(ctx context.Context, now time.Time) error {
	resp, err := s.c.Drift(ctx, &brinepb.DriftRequest{})
	if err != nil {
		return fmt.Errorf("drift report: %w", err)
	}
	s.drift = make(map[string]Drift, len(resp.Minions))
	for _, m := range resp.Minions {
		s.drift[m.Minion] = driftOf(m)
	}
	s.driftAt = now
	return nil
}

// addRun puts r into id's history (newest first), replacing the run of the
// same job (more returns arrived since), and keeps historyLen runs.
func (s *store) addRun(id string, r Run) {
	h := slices.DeleteFunc(s.runs[id], func(o Run) bool { return o.JID == r.JID })
	h = append(h, r)
	slices.SortStableFunc(h, func(a, b Run) int { return b.At.Compare(a.At) })
	if len(h) > historyLen {
		h = h[:historyLen]
	}
	s.runs[id] = h
}

// runOf summarises one minion's return of a state job.
func runOf(j *brinepb.JobSummary, r *brinepb.MinionReturn) Run {
	run := Run{JID: j.Jid, At: time.UnixMilli(j.StartUnixMs), Fun: j.Fun, Origin: j.Origin,
		Highstate: j.Fun == "state.highstate", Error: r.Error}
	states, err := decodeStates(r.ReturnJson)
	if err != nil {
		if run.Error == "" {
			run.Error = err.Error()
		}
		return run
	}
	run.states = states
	for _, st := range states {
		switch {
		case st.Result == nil:
			run.Pending++
		case !*st.Result:
			run.Failed++
		default:
			run.Succeeded++
			if len(st.Changes) > 0 {
				run.Changed++
			}
		}
	}
	return run
}

// decodeStates reads a state run's return; a return that is not one (a
// compile error's list of messages) is an error carrying its text.
func decodeStates(b []byte) (result.Highstate, error) {
	var h result.Highstate
	if err := json.Unmarshal(b, &h); err == nil {
		return h, nil
	}
	var msgs []string
	if err := json.Unmarshal(b, &msgs); err == nil && len(msgs) > 0 {
		return nil, fmt.Errorf("%s", msgs[0])
	}
	return nil, fmt.Errorf("the return is not a state run")
}

func lastHighstate(runs []Run) *Run {
	for i := range runs {
		if runs[i].Highstate && runs[i].Pending == 0 && runs[i].Origin != "drift" {
			return &runs[i]
		}
	}
	return nil
}

func osOf(grains map[string]any) string {
	os, _ := grains["os"].(string)
	if v, _ := grains["osrelease"].(string); v != "" && os != "" {
		return os + " " + v
	}
	return os
}
