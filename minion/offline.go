package minion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/brinecm/brine/modules/state"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/wire"
)

// signedHighstateFile is the last highstate job the master signed for this
// minion, as it arrived (0600: it holds the minion's pillar). It is
// replaced by every highstate the master sends or compiles for this
// minion, and applied again, its signature checked, when the master
// cannot be reached.
const signedHighstateFile = "highstate.signed"

// ownJobTTL is how long a job the minion makes for itself is valid: it
// only bounds the job's record, the minion never sends it anywhere.
const ownJobTTL = time.Hour

// compileTimeout bounds the wait for the master to compile a state run
// the minion asked for (its recipe's calls back to the minion included).
const compileTimeout = 2 * time.Minute

// errNoCache is the error of an offline highstate with nothing cached.
var errNoCache = errors.New("the master cannot be reached and no highstate is cached yet: " +
	"the first highstate must come from the master (run brine '<this minion>' state.highstate, or wait for the master)")

// cacheHighstate keeps signed (a highstate job the master signed) as the
// last highstate, then reloads the schedule, which may come from its pillar.
func (m *Minion) cacheHighstate(signed []byte) {
	if err := writeFileAtomic(filepath.Join(m.cfg.DataDir, signedHighstateFile), signed); err != nil {
		m.log.Error("cannot cache the highstate", "err", err)
		return
	}
	if m.sched != nil {
		m.sched.reload()
	}
}

// cachedHighstate reads and verifies the cached highstate job. Its
// signature and minion must be right; its expiry is not checked (the
// point of the cache is to apply it after the master's job would have
// expired), but a job issued in the future is still refused.
func (m *Minion) cachedHighstate() (*job.Job, error) {
	data, err := os.ReadFile(filepath.Join(m.cfg.DataDir, signedHighstateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoCache
	}
	if err != nil {
		return nil, fmt.Errorf("read the cached highstate: %w", err)
	}
	key := m.master()
	if key == "" {
		return nil, errors.New("the cached highstate cannot be verified: no master key is pinned")
	}
	return openCached(data, key, m.cfg.ID, time.Now())
}

// openCached verifies a cached signed job at now, accepting it expired:
// it is then verified as of its own issue time.
func openCached(data []byte, key, id string, now time.Time) (*job.Job, error) {
	j, err := job.Open(data, key, id, now)
	if errors.Is(err, job.ErrExpired) {
		var s job.Signed
		var claimed struct {
			Issued time.Time `json:"issued"`
		}
		if json.Unmarshal(data, &s) == nil && json.Unmarshal(s.Payload, &claimed) == nil && claimed.Issued.Before(now) {
			j, err = job.Open(data, key, id, claimed.Issued)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("the cached highstate %s is refused: %w", signedHighstateFile, err)
	}
	return j, nil
}

// compileRemote asks the master to compile a state run for this minion
// and returns the signed job it answers with. It fails at once with
// errOffline when the minion has no accepted connection.
func (m *Minion) compileRemote(ctx context.Context, fun string, args []any, kwargs map[string]any) ([]byte, *job.Job, error) {
	if m.conn.Load() == nil {
		// Not connected yet since the minion started (run_on_start): give
		// the connection the time a state run gives it.
		wctx, cancel := context.WithTimeout(ctx, acceptWait)
		m.waitAccepted(wctx)
		cancel()
	}
	nc := m.conn.Load()
	if nc == nil || !m.accepted.Load() || !nc.IsConnected() {
		return nil, nil, errOffline
	}
	// Losing the connection ends the wait for the answer at once.
	status := nc.StatusChanged(nats.DISCONNECTED, nats.CLOSED)
	defer nc.RemoveStatusListener(status)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-status:
			cancel()
		case <-rctx.Done():
		}
	}()
	resp, err := m.fileRequest(rctx, nc, wire.FileRequest{Op: wire.OpCompile, Fun: fun, Args: args, Kwargs: kwargs}, compileTimeout)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s", errOffline, fetchFailure(err, compileTimeout))
	}
	if len(resp.CompileErrors) > 0 {
		return nil, nil, &compileError{errs: resp.CompileErrors}
	}
	if resp.Error != "" {
		return nil, nil, fmt.Errorf("the master cannot compile %s: %s", fun, resp.Error)
	}
	j, err := job.Open(resp.Data, m.master(), m.cfg.ID, time.Now())
	if err != nil {
		return nil, nil, fmt.Errorf("the master's compiled %s is refused: %w", fun, err)
	}
	return resp.Data, j, nil
}

// errOffline says the master could not be asked.
var errOffline = errors.New("not connected to the master")

// compileError is a recipe that did not compile on the master.
type compileError struct{ errs []string }

func (e *compileError) Error() string { return strings.Join(e.errs, "\n") }

// ownJob builds a job this minion runs on its own (its schedule, a drift
// correction), with a job id made here. A state run is compiled by the
// master for this minion; a highstate the master cannot compile now (it
// is down or unreachable) is the cached one, verified.
func (m *Minion) ownJob(ctx context.Context, fun string, args []any, kwargs map[string]any) (*job.Job, error) {
	now := time.Now().UTC()
	j := &job.Job{JID: job.NewJID(now), Minion: m.cfg.ID, Fun: fun, Args: args, Kwargs: kwargs, Issued: now, Expires: now.Add(ownJobTTL)}
	if !state.CompiledOnMaster(fun) {
		return j, nil
	}
	highstate := state.IsHighstate(fun, args, kwargs)
	// The pillar a run is given (kwargs pillar=...) changes the compile
	// but is not part of the highstate to cache.
	signed, compiled, err := m.compileRemote(ctx, fun, args, kwargs)
	switch {
	case err == nil:
		if highstate && kwargs["pillar"] == nil {
			m.cacheHighstate(signed)
		}
	case errors.Is(err, errOffline) && highstate:
		m.log.Warn("the master cannot compile the highstate now: applying the cached one", "reason", err)
		compiled, err = m.cachedHighstate()
		if err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	j.Lows, j.Pillar = compiled.Lows, compiled.Pillar
	if len(j.Lows) == 0 {
		j.Lows = json.RawMessage("[]")
	}
	return j, nil
}

// RunOwn runs fun as a job of this minion's own, with a job id made here
// and the given origin (job.OriginSchedule, job.OriginDrift): it emits the
// usual events, runs with the state runs in turn, and its return goes to
// the master's job cache through the outbox (waiting there while the bus
// is down). It returns the return once the job is done, or ctx's error.
func (m *Minion) RunOwn(ctx context.Context, fun string, args []any, kwargs map[string]any, origin string) (*job.Return, error) {
	j, err := m.ownJob(ctx, fun, args, kwargs)
	if err != nil {
		now := time.Now().UTC()
		jid := job.NewJID(now)
		f := failure(&job.Job{JID: jid, Minion: m.cfg.ID, Fun: fun}, err.Error(), now, now)
		var ce *compileError
		if errors.As(err, &ce) {
			lines, _ := json.Marshal(ce.errs)
			f.Return, f.Error = lines, "Data failed to compile"
		}
		f.Origin = origin
		m.finish(&queued{Job: &job.Job{JID: jid, Minion: m.cfg.ID, Fun: fun}}, f, nil)
		return f, nil
	}
	return m.runLocal(ctx, j, origin)
}

// ApplyCached applies the cached highstate (as the master last compiled
// and signed it) restricted to the states whose IDs are in ids (all of
// them when ids is empty), as a job of this minion's own with the given
// origin, e.g. job.OriginDrift. It never asks the master: a correction
// must not wait for it. Requisites on states left out are dropped, so a
// state runs alone; kwargs may set test=True. The return also reaches the
// master's job cache through the outbox. It fails when no highstate is
// cached or none of ids is in it.
func (m *Minion) ApplyCached(ctx context.Context, ids []string, origin string, kwargs map[string]any) (*job.Return, error) {
	cached, err := m.cachedHighstate()
	if err != nil {
		return nil, err
	}
	lows := cached.Lows
	if len(ids) > 0 {
		lows, err = restrict(cached.Lows, ids)
		if err != nil {
			return nil, err
		}
	}
	now := time.Now().UTC()
	j := &job.Job{JID: job.NewJID(now), Minion: m.cfg.ID, Fun: "state.apply", Kwargs: kwargs, Lows: lows,
		Pillar: cached.Pillar, Issued: now, Expires: now.Add(ownJobTTL)}
	return m.runLocal(ctx, j, origin)
}

// restrict keeps the compiled states whose ID is in ids, and of their
// requisites those on states kept.
func restrict(data json.RawMessage, ids []string) (json.RawMessage, error) {
	var lows []sls.Low
	if err := json.Unmarshal(data, &lows); err != nil {
		return nil, fmt.Errorf("decode the cached highstate: %w", err)
	}
	var kept []sls.Low
	for _, l := range lows {
		if slices.Contains(ids, l.ID) {
			kept = append(kept, l)
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("none of the states %s is in the cached highstate", strings.Join(ids, ", "))
	}
	for i := range kept {
		var reqs []sls.Req
		for _, r := range kept[i].Reqs {
			if reqKept(r, kept) {
				reqs = append(reqs, r)
			}
		}
		kept[i].Reqs = reqs
	}
	return json.Marshal(kept)
}

// reqKept reports whether requisite r names a state among kept.
func reqKept(r sls.Req, kept []sls.Low) bool {
	for _, l := range kept {
		if r.Module == "sls" {
			if l.SLS == r.Target {
				return true
			}
			continue
		}
		if r.Module != "" && r.Module != l.Module {
			continue
		}
		for _, v := range []string{l.ID, l.Name} {
			if ok, _ := path.Match(r.Target, v); ok || v == r.Target {
				return true
			}
		}
	}
	return false
}

// runLocal queues j, a job of this minion's own, runs it in turn and
// waits for its return.
func (m *Minion) runLocal(ctx context.Context, j *job.Job, origin string) (*job.Return, error) {
	q := &queued{Job: j, Received: time.Now().UTC(), Attempts: 1, Origin: origin, done: make(chan *job.Return, 1)}
	if err := m.store(q); err != nil {
		m.log.Error("cannot store job in the queue", "jid", j.JID, "err", err)
	}
	m.dispatch(ctx, q)
	select {
	case ret := <-q.done:
		return ret, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
