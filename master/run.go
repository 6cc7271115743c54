package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/brinecm/brine/pkg/mine"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/modules/state"
	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/keys"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/target"
	"github.com/brinecm/brine/pkg/wire"
	"github.com/brinecm/brine/proto/brinepb"
)

// CompileFailed is the error of a return whose recipe did not compile; its
// return is the list of compile errors.
const CompileFailed = "Data failed to compile"

// maxWait bounds how long a run waits for a minion that said it started a job.
const maxWait = 6 * time.Hour

// runRequest is a validated RunRequest.
type runRequest struct {
	target  string
	kind    target.Kind
	fun     string
	args    []any
	kwargs  map[string]any
	timeout time.Duration
	ttl     time.Duration
	batch   string
	async   bool
	origin  string // what asked for the job: "" (the CLI), "schedule"
}

func (m *Master) parseRun(req *brinepb.RunRequest) (*runRequest, error) {
	rr := &runRequest{target: req.Target, kind: target.Kind(req.TargetType), fun: req.Fun,
		timeout: time.Duration(req.TimeoutMs) * time.Millisecond, ttl: time.Duration(req.JobTtlMs) * time.Millisecond,
		batch: req.Batch, async: req.Async}
	if rr.kind == "" {
		rr.kind = target.Glob
	}
	if rr.timeout <= 0 {
		rr.timeout = time.Duration(m.opts.Timeout)
	}
	if rr.ttl <= 0 {
		rr.ttl = time.Duration(m.opts.JobTTL)
	}
	if rr.ttl < time.Second {
		return nil, fmt.Errorf("job ttl %s: at least one second", rr.ttl)
	}
	if !strings.Contains(rr.fun, ".") {
		return nil, fmt.Errorf("%q is not a function: expected module.function", rr.fun)
	}
	if len(req.ArgsJson) > 0 {
		if err := json.Unmarshal(req.ArgsJson, &rr.args); err != nil {
			return nil, fmt.Errorf("arguments: %w", err)
		}
	}
	if len(req.KwargsJson) > 0 {
		if err := json.Unmarshal(req.KwargsJson, &rr.kwargs); err != nil {
			return nil, fmt.Errorf("keyword arguments: %w", err)
		}
	}
	return rr, nil
}

// resolve returns the accepted minions a target matches, sorted.
func (m *Master) resolve(ctx context.Context, kind target.Kind, expr string) ([]string, error) {
	matcher, err := target.Compile(kind, expr, m.opts.Nodegroups)
	if err != nil {
		return nil, err
	}
	needsPillar := kind == target.Pillar || kind == target.PillarPCRE ||
		(kind == target.Compound || kind == target.Nodegroup) && (strings.Contains(expr, "I@") || strings.Contains(expr, "J@") || kind == target.Nodegroup)
	var ids []string
	for _, k := range m.keys.List() {
		if k.State != keys.Accepted {
			continue
		}
		mn := target.Minion{ID: k.ID, Grains: m.grainsOf(k.ID)}
		if needsPillar {
			p, err := sls.New(m.compileConfig(k.ID)).Pillar(ctx)
			if err != nil {
				m.log.Warn("pillar for targeting", "minion", k.ID, "err", err)
			}
			mn.Pillar = p
		}
		if matcher.Match(mn) {
			ids = append(ids, k.ID)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func (m *Master) grainsOf(id string) map[string]any {
	if g := m.grains.get(id); g != nil {
		return g
	}
	return map[string]any{"id": id}
}

func (m *Master) compileConfig(id string) sls.Config {
	return sls.Config{FileRoots: m.opts.FileRoots, PillarRoots: m.opts.PillarRoots, ID: id, Grains: m.grainsOf(id),
		Limits: m.compileLimits(), FileEnvs: m.opts.FileEnvs, PillarEnvs: m.opts.PillarEnvs, PyDSL: m.opts.PyDSL,
		TopMerging: m.opts.TopFileMergingStrategy, EnvOrder: m.opts.EnvOrder, DefaultTop: m.opts.DefaultTop,
		StateTopSaltenv: m.opts.StateTopSaltenv}
}

// compileLimits are the limits of the master's compiles, from its configuration.
func (m *Master) compileLimits() sls.Limits {
	return sls.Limits{FileBytes: m.opts.MaxSLSBytes, OutputBytes: m.opts.JinjaMaxOutputBytes,
		Steps: m.opts.JinjaMaxSteps, RenderTime: time.Duration(m.opts.JinjaMaxRenderTime)}
}

// runtimeFor is the master's view of a minion, for compiling its recipes:
// a template's calls to functions that are not Pure run on that minion
// (see remotecall.go), never on the master.
func (m *Master) runtimeFor(id string) *modules.Runtime {
	opts := map[string]any{"id": id, "strict_arguments": m.opts.StrictArguments, "pydsl": m.opts.PyDSL}
	m.opts.TopFiles.Map(opts)
	return &modules.Runtime{ID: id, Grains: m.grainsOf(id), FileRoots: m.opts.FileRoots,
		PillarRoots: m.opts.PillarRoots, Opts: opts, Log: m.log, Mine: fleetMine{m},
		Remote: m.remoteCall(id), Limits: m.compileLimits(), FileEnvs: m.opts.FileEnvs, PillarEnvs: m.opts.PillarEnvs}
}

// fleetMine is the master's mine: the cached grains of accepted minions.
type fleetMine struct{ m *Master }

// Get returns fun's value for every accepted minion tgt selects.
func (f fleetMine) Get(ctx context.Context, tgt string, kind target.Kind, fun string) (map[string]any, error) {
	if kind == "" {
		kind = target.Glob
	}
	ids, err := f.m.resolve(ctx, kind, tgt)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(ids))
	for _, id := range ids {
		if v, ok := mine.Value(f.m.grains.get(id), fun); ok {
			out[id] = v
		}
	}
	return out, nil
}

// onMaster lists functions the master answers for a minion itself: they
// read the state tree, which only the master has.
func onMaster(fun string) bool {
	switch fun {
	case "state.show_sls", "state.show_highstate", "state.show_lowstate", "state.show_low_sls", "state.show_states", "state.show_top":
		return true
	}
	return false
}

// prepare builds minion id's job, or, when the master answers itself (a
// compile error, a state.show_* function), that minion's return. Its
// compiles share templates with the rest of the batch.
func (m *Master) prepare(ctx context.Context, rr *runRequest, jid, id string, now time.Time, templates *sls.TemplateCache) (*job.Job, *job.Return) {
	j := &job.Job{JID: jid, Minion: id, Fun: rr.fun, Args: rr.args, Kwargs: rr.kwargs, Issued: now, Expires: now.Add(rr.ttl)}
	ret := func(data any, err error) *job.Return {
		r := &job.Return{JID: jid, Minion: id, Fun: rr.fun, Started: now, Finished: time.Now(), Success: err == nil}
		var errs sls.Errors
		switch {
		case errors.As(err, &errs):
			lines := make([]string, len(errs))
			for i, e := range errs {
				lines[i] = e.Error()
			}
			data, r.Retcode, r.Error = lines, 1, CompileFailed
		case err != nil:
			r.Retcode, r.Error = 1, err.Error()
		}
		if b, merr := json.Marshal(data); merr == nil {
			r.Return = b
		}
		return r
	}
	rt := m.runtimeFor(id)
	rt.Templates = templates
	switch {
	case onMaster(rr.fun):
		data, err := modules.Call(ctx, rt, rr.fun, rr.args, rr.kwargs)
		return nil, ret(data, err)
	case state.CompiledOnMaster(rr.fun):
		lows, pillar, err := state.CompileFor(ctx, rt, rr.fun, rr.args, rr.kwargs)
		if err != nil {
			return nil, ret(nil, err)
		}
		m.mesh.compiled(id, state.IsHighstate(rr.fun, rr.args, rr.kwargs), lows)
		b, err := json.Marshal(lows)
		if err != nil {
			return nil, ret(nil, fmt.Errorf("encode compiled states: %w", err))
		}
		j.Lows, j.Pillar = b, pillar
	}
	return j, nil
}

// badRequest is the error of a RunRequest that is not valid.
type badRequest struct{ err error }

func (e badRequest) Error() string { return e.err.Error() }
func (e badRequest) Unwrap() error { return e.err }

// Publish runs a request: it resolves the target, compiles, signs and
// publishes each targeted minion's job and, unless the request is async,
// streams every return to send as it arrives, then the list of minions that
// did not return. The CLI's Run call is served by it.
func (m *Master) Publish(ctx context.Context, req *brinepb.RunRequest, send func(*brinepb.RunEvent) error) error {
	rr, err := m.parseRun(req)
	if err != nil {
		return badRequest{err}
	}
	return m.run(ctx, rr, send)
}

// run publishes one job to the targeted minions and streams their returns.
func (m *Master) run(ctx context.Context, rr *runRequest, send func(*brinepb.RunEvent) error) error {
	ids, err := m.resolve(ctx, rr.kind, rr.target)
	if err != nil {
		return err
	}
	now := time.Now()
	jid := job.NewJID(now)
	if err := m.saveJobInfo(ctx, jid, rr, ids, now); err != nil {
		return err
	}
	m.event(wire.TagJobNew, map[string]any{"jid": jid, "fun": rr.fun, "target": rr.target, "minions": ids})
	if err := send(&brinepb.RunEvent{Event: &brinepb.RunEvent_Started{Started: &brinepb.JobStarted{Jid: jid, Minions: ids}}}); err != nil {
		return err
	}
	if len(ids) == 0 {
		return send(&brinepb.RunEvent{Event: &brinepb.RunEvent_Done{Done: &brinepb.JobDone{Jid: jid}}})
	}
	c, err := m.newCollector(jid)
	if err != nil {
		return err
	}
	defer c.close()
	var missing []*brinepb.Missing
	for _, batch := range batches(ids, rr.batch) {
		if err := m.publish(ctx, rr, jid, batch, now); err != nil {
			return err
		}
		if rr.async {
			continue
		}
		miss, err := m.collect(ctx, c, batch, rr.timeout, send)
		if err != nil {
			return err
		}
		missing = append(missing, miss...)
	}
	return send(&brinepb.RunEvent{Event: &brinepb.RunEvent_Done{Done: &brinepb.JobDone{Jid: jid, Missing: missing}}})
}

// batches splits ids for --batch N or N%.
func batches(ids []string, spec string) [][]string {
	n := len(ids)
	if spec != "" {
		if p, ok := strings.CutSuffix(spec, "%"); ok {
			if pct, err := strconv.Atoi(p); err == nil && pct > 0 {
				n = max(1, len(ids)*pct/100)
			}
		} else if v, err := strconv.Atoi(spec); err == nil && v > 0 {
			n = v
		}
	}
	var out [][]string
	for len(ids) > 0 {
		k := min(n, len(ids))
		out = append(out, ids[:k])
		ids = ids[k:]
	}
	return out
}

// compileWaiters is how many minions' recipes the master compiles at once
// at least: a compile may wait for its minion to answer a recipe's call
// (salt['cmd.run'](...)), and such waits must not hold the others up.
const compileWaiters = 32

// publish compiles, signs and publishes the job for each minion of a
// batch; returns the master computes itself go straight to the job cache.
func (m *Master) publish(ctx context.Context, rr *runRequest, jid string, ids []string, now time.Time) error {
	type out struct {
		id     string
		signed []byte
		ret    *job.Return
		err    error
	}
	outs := make([]out, len(ids))
	templates := sls.NewTemplateCache() // each file read and parsed once for the batch
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(len(ids), max(runtime.NumCPU(), compileWaiters)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				j, ret := m.prepare(ctx, rr, jid, ids[i], now, templates)
				o := out{id: ids[i], ret: ret}
				if j != nil {
					o.signed, o.err = job.Sign(m.key, j)
				}
				outs[i] = o
			}
		}()
	}
	for i := range ids {
		work <- i
	}
	close(work)
	wg.Wait()
	e, ok := modules.Lookup(rr.fun)
	direct := ok && e.ReadOnly
	var acks []jetstream.PubAckFuture
	var bounced *directSends // on an external cluster: direct jobs no minion heard
	if direct && m.srv == nil {
		var err error
		if bounced, err = newDirectSends(m.nc, len(ids)); err != nil {
			return err
		}
	}
	for _, o := range outs {
		switch {
		case o.err != nil:
			return fmt.Errorf("job for %s: %w", o.id, o.err)
		case o.ret != nil:
			b, err := json.Marshal(o.ret)
			if err != nil {
				return err
			}
			if err := bus.PublishReturn(ctx, m.js, jid, o.id, b); err != nil {
				return err
			}
		case direct && m.connected(o.id):
			// A read-only call to a connected minion goes straight to its
			// delivery subject: nothing to keep if it is lost, and no
			// durable consumer to pay for (they dominate a fleet-wide ping).
			if bounced != nil {
				if err := bounced.send(o.id, o.signed); err != nil {
					return err
				}
			} else if err := m.nc.Publish(bus.DeliverSubject(o.id), o.signed); err != nil {
				return fmt.Errorf("send job to %s: %w", o.id, err)
			}
		default:
			f, err := m.publishJob(ctx, o.id, o.signed, rr.ttl)
			if err != nil {
				return err
			}
			acks = append(acks, f)
		}
	}
	if bounced != nil {
		unheard, err := bounced.unheard()
		if err != nil {
			return err
		}
		for _, dj := range unheard {
			// Connected, but not subscribed yet: its durable consumer delivers it.
			m.log.Debug("read-only job heard by no one, sent through the job stream", "minion", dj.id, "jid", jid)
			f, err := m.publishJob(ctx, dj.id, dj.signed, rr.ttl)
			if err != nil {
				return err
			}
			acks = append(acks, f)
		}
	}
	select {
	case <-m.js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	for i, f := range acks {
		select {
		case err := <-f.Err():
			return fmt.Errorf("publish job %d of %d: %w", i+1, len(acks), err)
		default:
		}
	}
	return nil
}

// publishStallWait is how long one attempt to publish a job waits for room
// among the publications not yet acknowledged.
const publishStallWait = time.Second

// publishJob publishes minion id's signed job without waiting for its
// acknowledgement; while too many are unacknowledged, it waits for room.
func (m *Master) publishJob(ctx context.Context, id string, signed []byte, ttl time.Duration) (jetstream.PubAckFuture, error) {
	for {
		f, err := m.js.PublishAsync(bus.JobSubject(id), signed, jetstream.WithMsgTTL(ttl), jetstream.WithStallWait(publishStallWait))
		if errors.Is(err, jetstream.ErrTooManyStalledMsgs) && ctx.Err() == nil {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("publish job for %s: %w", id, err)
		}
		return f, nil
	}
}

// collector receives a job's returns and its minions' job.started events.
type collector struct {
	jid     string
	returns chan *nats.Msg
	started chan *nats.Msg
	subs    []*nats.Subscription
}

func (m *Master) newCollector(jid string) (*collector, error) {
	c := &collector{jid: jid, returns: make(chan *nats.Msg, 1<<16), started: make(chan *nats.Msg, 1<<16)}
	for subj, ch := range map[string]chan *nats.Msg{
		bus.ReturnsFor(jid):                             c.returns,
		bus.LoggedEventSubject("*", wire.TagJobStarted): c.started,
	} {
		sub, err := m.nc.ChanSubscribe(subj, ch)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("subscribe to returns: %w", err)
		}
		c.subs = append(c.subs, sub)
	}
	if err := m.nc.Flush(); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *collector) close() {
	for _, s := range c.subs {
		_ = s.Unsubscribe()
	}
}

// collect streams the returns of ids until each has returned, or the
// timeout passed and it is neither running the job nor connected.
func (m *Master) collect(ctx context.Context, c *collector, ids []string, timeout time.Duration, send func(*brinepb.RunEvent) error) ([]*brinepb.Missing, error) {
	pending := make(map[string]bool, len(ids))
	for _, id := range ids {
		pending[id] = true
	}
	started := map[string]bool{}
	var missing []*brinepb.Missing
	deadline := time.Now().Add(timeout)
	hardStop := time.Now().Add(maxWait)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for len(pending) > 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case msg := <-c.returns:
			_, id, ok := bus.ParseReturnSubject(msg.Subject)
			if !ok || !pending[id] {
				continue
			}
			var r job.Return
			if err := json.Unmarshal(msg.Data, &r); err != nil || r.Minion != id || r.JID != c.jid {
				m.log.Warn("bad return", "minion", id, "jid", c.jid, "err", err)
				continue
			}
			delete(pending, id)
			if err := send(&brinepb.RunEvent{Event: &brinepb.RunEvent_Ret{Ret: toProtoReturn(&r)}}); err != nil {
				return nil, err
			}
		case msg := <-c.started:
			id, _, ok := bus.ParseLoggedEventSubject(msg.Subject)
			var ev wire.Event
			if ok && pending[id] && json.Unmarshal(msg.Data, &ev) == nil && ev.Data["jid"] == c.jid {
				started[id] = true
			}
		case now := <-tick.C:
			if now.Before(deadline) || len(c.returns) > 0 {
				continue // returns that already arrived are read before anyone is given up
			}
			for id := range pending {
				conn := m.connected(id)
				if started[id] && conn && now.Before(hardStop) {
					continue // still running the job
				}
				delete(pending, id)
				missing = append(missing, &brinepb.Missing{Minion: id, Connected: conn})
			}
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i].Minion < missing[j].Minion })
	return missing, nil
}

func toProtoReturn(r *job.Return) *brinepb.MinionReturn {
	return &brinepb.MinionReturn{Jid: r.JID, Minion: r.Minion, Fun: r.Fun, ReturnJson: r.Return,
		Retcode: int32(r.Retcode), Success: r.Success, Error: r.Error}
}
