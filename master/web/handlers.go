package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/proto/brinepb"
)

// Paging defaults: lists are cut server-side, so a page of a 10,000
// minion fleet costs what a page of 100 costs.
const (
	defaultPerPage = 100
	maxPerPage     = 1000
)

// page is one page of a list.
type page struct {
	Page, PerPage, Total, Pages int
	Query                       string // the filters, for the page links
}

func (p page) Prev() int { return p.Page - 1 }
func (p page) Next() int {
	if p.Page >= p.Pages {
		return 0
	}
	return p.Page + 1
}

// paginate cuts n items into the page the request asks for.
func paginate(r *http.Request, n int) (page, int, int) {
	q := r.URL.Query()
	p := page{Page: 1, PerPage: defaultPerPage, Total: n}
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		p.Page = v
	}
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		p.PerPage = min(v, maxPerPage)
	}
	p.Pages = max(1, (n+p.PerPage-1)/p.PerPage)
	q.Del("page")
	p.Query = q.Encode()
	lo := min(n, (p.Page-1)*p.PerPage)
	return p, lo, min(n, lo+p.PerPage)
}

func setPageHeaders(w http.ResponseWriter, p page) {
	w.Header().Set("X-Total-Count", strconv.Itoa(p.Total))
	w.Header().Set("X-Page", strconv.Itoa(p.Page))
	w.Header().Set("X-Per-Page", strconv.Itoa(p.PerPage))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		// The client went away; nothing else to tell it.
		return
	}
}

// apiError answers an error of the master's API with the matching status.
func (s *Server) apiError(w http.ResponseWriter, what string, err error) {
	code := http.StatusBadGateway
	switch status.Code(err) {
	case codes.NotFound:
		code = http.StatusNotFound
	case codes.InvalidArgument:
		code = http.StatusBadRequest
	case codes.FailedPrecondition:
		code = http.StatusConflict
	}
	if st, ok := status.FromError(err); ok {
		err = errors.New(st.Message())
	}
	if code == http.StatusBadGateway {
		s.log.Warn("web: master API", "what", what, "err", err)
	}
	http.Error(w, fmt.Sprintf("%s: %v", what, err), code)
}

// ---- fleet

// filterMinions applies the fleet filters: q (a glob on the id, or a
// substring), status (online, offline, failed, drift).
func filterMinions(r *http.Request, all []MinionRow) []MinionRow {
	q := r.URL.Query()
	match, st := q.Get("q"), q.Get("status")
	if match == "" && st == "" {
		return all
	}
	out := make([]MinionRow, 0, len(all))
	for _, m := range all {
		if match != "" {
			ok, err := path.Match(match, m.ID)
			if err != nil || !ok {
				if !strings.Contains(m.ID, match) {
					continue
				}
			}
		}
		switch st {
		case "online":
			if !m.Online {
				continue
			}
		case "offline":
			if m.Online {
				continue
			}
		case "failed":
			if m.LastHighstate == nil || m.LastHighstate.Succeeded {
				continue
			}
		case "drift":
			if !m.Drift.Drifting() {
				continue
			}
		}
		out = append(out, m)
	}
	return out
}

type fleetData struct {
	Minions                []MinionRow
	Page                   page
	Q, Status              string
	Online, Offline, Total int
}

func (s *Server) fleet(w http.ResponseWriter, r *http.Request) (*fleetData, bool) {
	snap, err := s.store.get(r.Context())
	if err != nil {
		s.apiError(w, "read the fleet", err)
		return nil, false
	}
	rows := filterMinions(r, snap.minions)
	p, lo, hi := paginate(r, len(rows))
	d := &fleetData{Minions: rows[lo:hi], Page: p, Q: r.URL.Query().Get("q"), Status: r.URL.Query().Get("status"), Total: len(snap.minions)}
	for _, m := range snap.minions {
		if m.Online {
			d.Online++
		}
	}
	d.Offline = d.Total - d.Online
	return d, true
}

func (s *Server) apiMinions(w http.ResponseWriter, r *http.Request) {
	d, ok := s.fleet(w, r)
	if !ok {
		return
	}
	setPageHeaders(w, d.Page)
	writeJSON(w, d.Minions)
}

func (s *Server) fleetPage(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.fleet(w, r); ok {
		s.render(w, r, "fleet", d)
	}
}

// ---- minion

// MinionDetail is one minion: its row, grains, last runs and the states of
// its last highstate.
type MinionDetail struct {
	MinionRow
	Grains map[string]any `json:"grains"`
	Runs   []Run          `json:"runs"`
	States []StateRow     `json:"last_highstate_states"`
}

// StateRow is one state of a run, as the highstate output shows it.
type StateRow struct {
	Key      string         `json:"key"`
	ID       string         `json:"id"`
	Function string         `json:"function"`
	Name     string         `json:"name"`
	Result   *bool          `json:"result"`
	Comment  string         `json:"comment"`
	Changes  map[string]any `json:"changes,omitempty"`
	Diff     string         `json:"diff,omitempty"`
	Duration float64        `json:"duration_ms"`
	Started  string         `json:"start_time"`
	Warnings []string       `json:"warnings,omitempty"`
}

func stateRows(h result.Highstate) []StateRow {
	out := make([]StateRow, 0, len(h))
	for i := range h {
		st := &h[i]
		diff, _ := st.Changes["diff"].(string)
		out = append(out, StateRow{Key: st.Key, ID: st.ID, Function: st.Function(), Name: st.Name, Result: st.Result,
			Comment: st.Comment, Changes: st.Changes, Diff: diff, Duration: st.Duration, Started: st.StartTime, Warnings: st.Warnings})
	}
	return out
}

func (s *Server) minion(w http.ResponseWriter, r *http.Request) (*MinionDetail, bool) {
	snap, err := s.store.get(r.Context())
	if err != nil {
		s.apiError(w, "read the fleet", err)
		return nil, false
	}
	id := r.PathValue("id")
	i, ok := snap.byID[id]
	if !ok {
		http.Error(w, fmt.Sprintf("no accepted minion %q", id), http.StatusNotFound)
		return nil, false
	}
	row := snap.minions[i]
	d := &MinionDetail{MinionRow: row, Grains: row.grains, Runs: snap.runs[id]}
	if hs := lastHighstate(d.Runs); hs != nil {
		d.States = stateRows(hs.states)
	}
	return d, true
}

func (s *Server) apiMinion(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.minion(w, r); ok {
		writeJSON(w, d)
	}
}

func (s *Server) minionPage(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.minion(w, r); ok {
		grains, _ := json.MarshalIndent(d.Grains, "", "  ")
		s.render(w, r, "minion", struct {
			*MinionDetail
			GrainsJSON string
		}{d, string(grains)})
	}
}

// ---- jobs

// JobRow is one job of the jobs list.
type JobRow struct {
	JID        string    `json:"jid"`
	Fun        string    `json:"fun"`
	Target     string    `json:"target"`
	TargetType string    `json:"target_type"`
	Origin     string    `json:"origin,omitempty"`
	Start      time.Time `json:"start"`
	Minions    int       `json:"minions"`
	Returned   int       `json:"returned"`
	// Result is "running" (returns missing), "failed" (a state run of the
	// job failed on some minion, as far as the index read it) or "done".
	Result string `json:"result"`
}

func (s *Server) jobRows(snap *snapshot) []JobRow {
	failed := map[string]bool{}
	for _, runs := range snap.runs {
		for _, r := range runs {
			if r.Failed > 0 || r.Error != "" {
				failed[r.JID] = true
			}
		}
	}
	out := make([]JobRow, 0, len(snap.jobs))
	for _, j := range snap.jobs {
		row := JobRow{JID: j.Jid, Fun: j.Fun, Target: j.Target, TargetType: j.TargetType, Origin: j.Origin,
			Start: time.UnixMilli(j.StartUnixMs).UTC(), Minions: len(j.Minions), Returned: int(j.Returned), Result: "done"}
		switch {
		case failed[j.Jid]:
			row.Result = "failed"
		case row.Returned < row.Minions:
			row.Result = "running"
		}
		out = append(out, row)
	}
	return out
}

type jobsData struct {
	Jobs                     []JobRow
	Page                     page
	Function, Target, Result string
}

// jobs lists the job cache with the filters function (a glob), target (a
// substring) and result (running, failed, done).
func (s *Server) jobs(w http.ResponseWriter, r *http.Request) (*jobsData, bool) {
	snap, err := s.store.get(r.Context())
	if err != nil {
		s.apiError(w, "read the job cache", err)
		return nil, false
	}
	q := r.URL.Query()
	d := &jobsData{Function: q.Get("function"), Target: q.Get("target"), Result: q.Get("result")}
	switch d.Result {
	case "", "running", "failed", "done":
	default:
		http.Error(w, fmt.Sprintf("result=%q: want running, failed or done", d.Result), http.StatusBadRequest)
		return nil, false
	}
	rows := slices.DeleteFunc(s.jobRows(snap), func(j JobRow) bool {
		if d.Function != "" {
			if ok, err := path.Match(d.Function, j.Fun); err != nil || !ok {
				return true
			}
		}
		if d.Target != "" && !strings.Contains(j.Target, d.Target) {
			return true
		}
		return d.Result != "" && j.Result != d.Result
	})
	p, lo, hi := paginate(r, len(rows))
	d.Jobs, d.Page = rows[lo:hi], p
	return d, true
}

func (s *Server) apiJobs(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.jobs(w, r); ok {
		setPageHeaders(w, d.Page)
		writeJSON(w, d.Jobs)
	}
}

func (s *Server) jobsPage(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.jobs(w, r); ok {
		s.render(w, r, "jobs", d)
	}
}

// JobDetail is one job and every return, per minion, per state.
type JobDetail struct {
	JID      string         `json:"jid"`
	Fun      string         `json:"fun"`
	Target   string         `json:"target"`
	Origin   string         `json:"origin,omitempty"`
	Start    time.Time      `json:"start"`
	Minions  []string       `json:"minions"`
	Returned int            `json:"returned"`
	Missing  []string       `json:"missing"`
	Returns  []MinionResult `json:"returns"`
}

// MinionResult is one minion's return of a job.
type MinionResult struct {
	Minion  string          `json:"minion"`
	Success bool            `json:"success"`
	Retcode int32           `json:"retcode"`
	Error   string          `json:"error,omitempty"`
	States  []StateRow      `json:"states,omitempty"`
	Return  json.RawMessage `json:"return,omitempty"` // a return that is not a state run
}

func (s *Server) job(w http.ResponseWriter, r *http.Request) (*JobDetail, bool) {
	resp, err := s.cfg.Client.GetJob(r.Context(), &brinepb.GetJobRequest{Jid: r.PathValue("jid")})
	if err != nil {
		s.apiError(w, "read the job", err)
		return nil, false
	}
	j := resp.Job
	d := &JobDetail{JID: j.Jid, Fun: j.Fun, Target: j.Target, Origin: j.Origin, Start: time.UnixMilli(j.StartUnixMs).UTC(),
		Minions: j.Minions, Returned: len(resp.Returns), Missing: []string{}}
	got := map[string]bool{}
	for _, ret := range resp.Returns {
		got[ret.Minion] = true
		mr := MinionResult{Minion: ret.Minion, Success: ret.Success, Retcode: ret.Retcode, Error: ret.Error}
		if stateFuns[j.Fun] {
			if states, err := decodeStates(ret.ReturnJson); err == nil {
				mr.States = stateRows(states)
			} else if mr.Error == "" {
				mr.Error = err.Error()
			}
		}
		if mr.States == nil {
			mr.Return = json.RawMessage(ret.ReturnJson)
		}
		d.Returns = append(d.Returns, mr)
	}
	for _, id := range j.Minions {
		if !got[id] {
			d.Missing = append(d.Missing, id)
		}
	}
	return d, true
}

func (s *Server) apiJob(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.job(w, r); ok {
		writeJSON(w, d)
	}
}

func (s *Server) jobPage(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.job(w, r); ok {
		s.render(w, r, "job", d)
	}
}

// ---- events

func (s *Server) eventsPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "events", struct{ Tag string }{r.URL.Query().Get("tag")})
}

// ---- keys

// KeyRow is one minion key.
type KeyRow struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	Fingerprint string `json:"fingerprint"`
}

func (s *Server) keys(w http.ResponseWriter, r *http.Request) ([]KeyRow, bool) {
	resp, err := s.cfg.Client.ListKeys(r.Context(), &brinepb.ListKeysRequest{})
	if err != nil {
		s.apiError(w, "list keys", err)
		return nil, false
	}
	st := r.URL.Query().Get("state")
	out := []KeyRow{}
	for _, k := range resp.Keys {
		if st == "" || k.State == st {
			out = append(out, KeyRow{ID: k.Id, State: k.State, Fingerprint: k.Fingerprint})
		}
	}
	return out, true
}

func (s *Server) apiKeys(w http.ResponseWriter, r *http.Request) {
	if ks, ok := s.keys(w, r); ok {
		p, lo, hi := paginate(r, len(ks))
		setPageHeaders(w, p)
		writeJSON(w, ks[lo:hi])
	}
}

func (s *Server) keysPage(w http.ResponseWriter, r *http.Request) {
	ks, ok := s.keys(w, r)
	if !ok {
		return
	}
	var pending, other []KeyRow
	for _, k := range ks {
		if k.State == "pending" {
			pending = append(pending, k)
		} else {
			other = append(other, k)
		}
	}
	s.render(w, r, "keys", struct {
		Pending, Other []KeyRow
		CanRun         bool
	}{pending, other, canRun(r)})
}

// apiKeyAction accepts or rejects a key, as `brine key accept|reject` does.
func (s *Server) apiKeyAction(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	if action != "accept" && action != "reject" {
		http.Error(w, fmt.Sprintf("key action %q: want accept or reject", action), http.StatusNotFound)
		return
	}
	resp, err := s.cfg.Client.KeyAction(r.Context(), &brinepb.KeyActionRequest{Action: action, Id: r.PathValue("id")})
	if err != nil {
		s.apiError(w, action+" key "+r.PathValue("id"), err)
		return
	}
	s.log.Info("web: key action", "action", action, "ids", resp.Ids)
	writeJSON(w, map[string]any{"action": action, "ids": resp.Ids})
}

// RunRequest is the body of POST /api/run.
type RunRequest struct {
	Target     string         `json:"target"`
	TargetType string         `json:"target_type"`
	Fun        string         `json:"fun"`
	Args       []any          `json:"args"`
	Kwargs     map[string]any `json:"kwargs"`
}

// apiRun publishes a job as the CLI does (asynchronously) and returns its
// jid; its returns go to the job cache.
func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	var req RunRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, fmt.Sprintf("run: the body must be JSON {\"target\", \"target_type\", \"fun\", \"args\", \"kwargs\"}: %v", err), http.StatusBadRequest)
		return
	}
	if req.Target == "" || req.Fun == "" {
		http.Error(w, `run: "target" and "fun" are required, e.g. {"target": "web*", "fun": "state.highstate"}`, http.StatusBadRequest)
		return
	}
	if req.Args == nil {
		req.Args = []any{}
	}
	if req.Kwargs == nil {
		req.Kwargs = map[string]any{}
	}
	args, err := json.Marshal(req.Args)
	if err != nil {
		http.Error(w, fmt.Sprintf("run: args: %v", err), http.StatusBadRequest)
		return
	}
	kwargs, err := json.Marshal(req.Kwargs)
	if err != nil {
		http.Error(w, fmt.Sprintf("run: kwargs: %v", err), http.StatusBadRequest)
		return
	}
	stream, err := s.cfg.Client.Run(r.Context(), &brinepb.RunRequest{Target: req.Target, TargetType: req.TargetType, Fun: req.Fun,
		ArgsJson: args, KwargsJson: kwargs, Async: true})
	if err != nil {
		s.apiError(w, "run", err)
		return
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			s.apiError(w, "run", err)
			return
		}
		if st := ev.GetStarted(); st != nil {
			s.log.Info("web: run", "jid", st.Jid, "fun", req.Fun, "target", req.Target)
			writeJSON(w, map[string]any{"jid": st.Jid, "minions": st.Minions})
			return
		}
	}
}
