package minion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/modules/state"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/wire"
)

// maxAttempts is how many times a queued job may be started before it is
// given up: a job that kills or restarts its own minion must not do so forever.
const maxAttempts = 3

// Return codes, as brine call's exit status.
const (
	retOK          = 0
	retError       = 1 // the function failed, or the states did not compile
	retStateFailed = 2 // a state failed
)

// queued is a job accepted and stored in the queue, as it is on disk.
type queued struct {
	Job      *job.Job  `json:"job"`
	Received time.Time `json:"received"`
	Attempts int       `json:"attempts"` // starts so far, counting the current one
	// Origin is what started a job the minion made itself ("schedule",
	// "drift"); "" for a job from the master.
	Origin string `json:"origin,omitempty"`
	// Signed is a highstate job as the master signed it, kept as the
	// cached highstate when the job runs.
	Signed []byte `json:"signed,omitempty"`

	done chan *job.Return // receives the return of a job the minion made itself, once finished
}

// stateJob reports whether j is a state run: states compiled by the master
// that run one at a time.
func stateJob(j *job.Job) bool {
	return len(j.Lows) > 0 || state.CompiledOnMaster(j.Fun)
}

// readOnly reports whether j only reads the system: such a job is neither
// queued nor its return kept in the outbox, as one lost in a crash changed
// nothing and is simply not returned. Every other job, state runs first of
// all, is on disk from its acknowledgement until its return is acknowledged.
func readOnly(j *job.Job) bool {
	if stateJob(j) {
		return false
	}
	e, ok := modules.Lookup(j.Fun)
	return ok && e.ReadOnly
}

// deliver handles one message from the job consumer: a signed job is
// verified, checked against replays, stored in the queue (unless it is
// read-only), acknowledged and then run. A job that fails a check is terminated, never delivered again,
// and reported as a job.rejected event.
func (m *Minion) deliver(ctx context.Context, msg *nats.Msg) {
	if ctx.Err() != nil {
		return // stopping: not acknowledged, so delivered again to the next run
	}
	if msg.Header.Get("Status") != "" { // consumer flow control or heartbeat
		if msg.Reply != "" {
			if err := msg.Respond(nil); err != nil {
				m.log.Debug("flow control answer", "err", err)
			}
		}
		return
	}
	now := time.Now()
	j, err := job.Open(msg.Data, m.master(), m.cfg.ID, now)
	if err == nil && (m.queue.has(j.JID) || m.outbox.has(j.JID)) {
		m.ack(ctx, msg, j.JID) // delivered again after a lost acknowledgement: already ours
		return
	}
	if err == nil {
		err = m.guard.Check(j, now)
		if errors.Is(err, job.ErrReplayed) && redelivered(msg) {
			// A job this minion took and finished whose acknowledgement
			// was lost; a replay is a new message, delivered once.
			m.ack(ctx, msg, j.JID)
			return
		}
	}
	if err != nil && !refused(err) {
		// Not the job's fault (the replay record cannot be written): the
		// consumer delivers it again later.
		m.log.Error("cannot take job now", "jid", claimedJID(msg.Data), "err", err)
		if !durable(msg) {
			return
		}
		if nerr := msg.NakWithDelay(retakeDelay); nerr != nil {
			m.log.Debug("negative acknowledgement", "err", nerr)
		}
		return
	}
	if err != nil {
		jid := claimedJID(msg.Data)
		m.log.Warn("job rejected", "jid", jid, "reason", err)
		if durable(msg) { // a job the master sent directly has nothing to terminate
			if terr := msg.Term(); terr != nil {
				m.log.Debug("terminate rejected job", "jid", jid, "err", terr)
			}
		}
		m.event(wire.TagJobRejected, map[string]any{"jid": jid, "reason": err.Error()})
		return
	}
	q := &queued{Job: j, Received: now.UTC(), Attempts: 1}
	if isHighstate(j) {
		q.Signed = msg.Data
	}
	if !readOnly(j) {
		if err := m.store(q); err != nil {
			// Still run it: only a crash before it finishes would lose it.
			m.log.Error("cannot store job in the queue", "jid", j.JID, "err", err)
		}
	}
	m.ack(ctx, msg, j.JID)
	m.dispatch(ctx, q)
}

// retakeDelay is how long a job this minion cannot take now waits before
// it is delivered again.
const retakeDelay = 30 * time.Second

// refused reports whether err rejects the job itself (as opposed to a local
// failure to take it).
func refused(err error) bool {
	for _, e := range []error{job.ErrMalformed, job.ErrUnsigned, job.ErrWrongSigner, job.ErrBadSignature,
		job.ErrWrongMinion, job.ErrExpired, job.ErrIssuedInFuture, job.ErrReplayed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// durable reports whether msg came through the minion's durable job
// consumer (which waits for an acknowledgement), rather than straight from
// the master, which sends read-only jobs to connected minions directly.
func durable(msg *nats.Msg) bool { return strings.HasPrefix(msg.Reply, "$JS.ACK.") }

// ack acknowledges a delivered job, waiting for the server to confirm.
func (m *Minion) ack(ctx context.Context, msg *nats.Msg, jid string) {
	if !durable(msg) {
		return
	}
	actx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	if err := msg.AckSync(nats.Context(actx)); err != nil {
		m.log.Warn("cannot acknowledge job; it will be delivered again and recognised", "jid", jid, "err", err)
	}
}

// redelivered reports whether the consumer delivered msg before.
func redelivered(msg *nats.Msg) bool {
	meta, err := msg.Metadata()
	return err == nil && meta.NumDelivered > 1
}

// claimedJID digs the job id out of a message that failed verification, to
// name it in the rejection event; "" when there is none that looks valid.
func claimedJID(data []byte) string {
	var s job.Signed
	var j struct {
		JID string `json:"jid"`
	}
	if json.Unmarshal(data, &s) != nil || json.Unmarshal(s.Payload, &j) != nil || !job.ValidJID(j.JID) {
		return ""
	}
	return j.JID
}

// store writes q to the queue.
func (m *Minion) store(q *queued) error {
	data, err := json.Marshal(q)
	if err != nil {
		return fmt.Errorf("encode job %s: %w", q.Job.JID, err)
	}
	return m.queue.put(q.Job.JID, data)
}

// requeue runs again the jobs left in the queue by the previous run (a
// crash, a stop while they ran, or a crash between acknowledgement and
// execution), in arrival order, before any new job.
func (m *Minion) requeue(ctx context.Context) error {
	names, err := m.queue.list()
	if err != nil {
		return err
	}
	var jobs []*queued
	for _, name := range names {
		if m.outbox.has(name) { // finished; only its return was not sent
			if err := m.queue.remove(name); err != nil {
				m.log.Warn("cannot remove finished job from the queue", "jid", name, "err", err)
			}
			continue
		}
		data, err := m.queue.get(name)
		var q queued
		if err == nil {
			err = json.Unmarshal(data, &q)
		}
		if err == nil && (q.Job == nil || q.Job.JID != name) {
			err = errors.New("not a queued job")
		}
		if err != nil {
			m.log.Error("dropping unreadable queued job", "file", name, "err", err)
			if err := m.queue.remove(name); err != nil {
				m.log.Warn("cannot remove unreadable queued job", "file", name, "err", err)
			}
			continue
		}
		jobs = append(jobs, &q)
	}
	slices.SortFunc(jobs, byArrival)
	for _, q := range jobs {
		q.Attempts++
		if q.Attempts > maxAttempts {
			m.log.Error("giving up a job interrupted too often", "jid", q.Job.JID, "fun", q.Job.Fun, "attempts", q.Attempts-1)
			now := time.Now().UTC()
			msg := fmt.Sprintf("job abandoned: interrupted %d times before it finished", q.Attempts-1)
			m.finish(q, failure(q.Job, msg, now, now), nil)
			continue
		}
		if err := m.store(q); err != nil {
			m.log.Warn("cannot update queued job", "jid", q.Job.JID, "err", err)
		}
		m.log.Info("running job left in the queue", "jid", q.Job.JID, "fun", q.Job.Fun, "attempt", q.Attempts)
		m.dispatch(ctx, q)
	}
	return nil
}

// byArrival orders queued jobs by arrival, then job id.
func byArrival(a, b *queued) int {
	if c := a.Received.Compare(b.Received); c != 0 {
		return c
	}
	return strings.Compare(a.Job.JID, b.Job.JID)
}

// dispatch starts a job: state runs wait their turn, anything else runs
// now. Once the minion is stopping, the job stays queued for the next start.
func (m *Minion) dispatch(ctx context.Context, q *queued) {
	if stateJob(q.Job) {
		m.states.push(q)
		return
	}
	m.jobsMu.Lock()
	defer m.jobsMu.Unlock()
	if m.stopping {
		return
	}
	m.jobs.Go(func() { m.execute(ctx, q) })
}

// stopJobs waits for the running jobs after preventing new ones.
func (m *Minion) stopJobs() {
	m.jobsMu.Lock()
	m.stopping = true
	m.jobsMu.Unlock()
	m.jobs.Wait()
}

// stateLoop runs state jobs one at a time, in arrival order.
func (m *Minion) stateLoop(ctx context.Context) {
	for {
		q := m.states.pop(ctx)
		if q == nil {
			return
		}
		m.execute(ctx, q)
	}
}

// execute runs a job and stores its return in the outbox, or sends the
// return of a read-only job at once. A job that ctx cut short stays in the
// queue and runs again at the next start.
func (m *Minion) execute(ctx context.Context, q *queued) {
	m.active.Add(1)
	defer func() {
		m.active.Add(-1)
		m.wakeRelease()
	}()
	j := q.Job
	log := m.log.With("jid", j.JID, "fun", j.Fun)
	started := time.Now().UTC()
	startedEv := map[string]any{"jid": j.JID, "fun": j.Fun}
	if q.Origin != "" {
		startedEv["origin"] = q.Origin
		log = log.With("origin", q.Origin)
	}
	m.event(wire.TagJobStarted, startedEv)
	log.Info("job started")
	if q.Signed != nil {
		m.cacheHighstate(q.Signed)
	}
	resume := func(context.Context) {}
	if stateJob(j) {
		// The run's own changes are not drift.
		resume = m.drift.pause()
	}
	ret, failed := m.call(ctx, j, q.Origin != "", log)
	if ctx.Err() != nil {
		resume(ctx)
		log.Warn("job interrupted; it runs again at the next start")
		return
	}
	if isHighstate(j) && q.Origin != job.OriginDrift && ret.Retcode != retError {
		// A full highstate that ran (a failed state included): watch
		// what it manages from now on.
		m.drift.highstateDone(j)
	}
	resume(ctx)
	ret.Started, ret.Finished = started, time.Now().UTC()
	ret.Origin = q.Origin
	if stateJob(j) {
		// What brine drift reads the job cache for.
		ret.Highstate = state.IsHighstate(j.Fun, j.Args, j.Kwargs) && q.Origin != job.OriginDrift
		ret.Test, _ = j.Kwargs["test"].(bool)
	}
	log.Info("job finished", "retcode", ret.Retcode, "duration", ret.Finished.Sub(started))
	if readOnly(j) && q.Origin == "" && !m.queue.has(j.JID) {
		m.reply(ctx, ret)
		return
	}
	m.finish(q, ret, failed)
	if q.done != nil {
		q.done <- ret
	}
}

// finish stores the return in the outbox, takes the job out of the queue,
// wakes the sender and reports failed states.
func (m *Minion) finish(q *queued, ret *job.Return, failed []string) {
	j := q.Job
	if err := m.outbox.put(j.JID, m.encodeReturn(ret, maxReturn)); err != nil {
		m.log.Error("cannot store return in the outbox", "jid", j.JID, "err", err)
	} else if err := m.queue.remove(j.JID); err != nil {
		m.log.Warn("cannot remove finished job from the queue", "jid", j.JID, "err", err)
	}
	select {
	case m.sendWake <- struct{}{}:
	default:
	}
	if len(failed) > 0 {
		m.event(wire.TagStateFailed, map[string]any{"jid": j.JID, "failed": failed})
	}
}

// reply sends the return of a read-only job straight from memory, until
// the job cache acknowledges it or ctx is done.
func (m *Minion) reply(ctx context.Context, ret *job.Return) {
	m.sendReturn(ctx, ret, nil)
}

// failure is the return of a job that failed with msg.
func failure(j *job.Job, msg string, started, finished time.Time) *job.Return {
	data, _ := json.Marshal(msg)
	return &job.Return{JID: j.JID, Minion: j.Minion, Fun: j.Fun, Return: data, Retcode: retError,
		Error: msg, Started: started, Finished: finished}
}

// call runs the job's function and builds its return (without times); for
// a state run it also lists the keys of the failed states. A job of the
// minion's own (own) reads state tree files from the cache at once when
// the master is not connected, instead of waiting for it.
func (m *Minion) call(ctx context.Context, j *job.Job, own bool, log *slog.Logger) (ret *job.Return, failed []string) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("job panicked", "panic", r, "stack", string(debug.Stack()))
			ret, failed = failure(j, fmt.Sprintf("%s: internal error: %v", j.Fun, r), time.Time{}, time.Time{}), nil
		}
	}()
	rt := m.runtime()
	if !stateJob(j) {
		out, err := modules.Call(ctx, rt, j.Fun, j.Args, j.Kwargs)
		if err != nil {
			return failure(j, err.Error(), time.Time{}, time.Time{}), nil
		}
		data, err := json.Marshal(out)
		if err != nil {
			return failure(j, fmt.Sprintf("%s: encode result: %v", j.Fun, err), time.Time{}, time.Time{}), nil
		}
		ret := &job.Return{JID: j.JID, Minion: j.Minion, Fun: j.Fun, Return: data, Retcode: retOK, Success: true}
		if f, ok := out.(interface{ Failed() bool }); ok && f.Failed() {
			// A result that carries failures of its own (saltcheck's
			// tests) fails the job, as it fails brine call.
			ret.Retcode, ret.Success = retStateFailed, false
		}
		return ret, nil
	}

	var lows []sls.Low
	if len(j.Lows) > 0 {
		if err := json.Unmarshal(j.Lows, &lows); err != nil {
			return failure(j, fmt.Sprintf("%s: decode compiled states: %v", j.Fun, err), time.Time{}, time.Time{}), nil
		}
	}
	files := &remoteFS{ctx: ctx, m: m, noWait: own}
	hs, err := state.RunCompiled(ctx, rt, files, j.Fun, lows, j.Pillar, j.Args, j.Kwargs)
	if err != nil {
		lines, _ := json.Marshal(strings.Split(err.Error(), "\n"))
		return &job.Return{JID: j.JID, Minion: j.Minion, Fun: j.Fun, Return: lines, Retcode: retError,
			Error: err.Error()}, nil
	}
	data, err := json.Marshal(hs)
	if err != nil {
		return failure(j, fmt.Sprintf("%s: encode result: %v", j.Fun, err), time.Time{}, time.Time{}), nil
	}
	ret = &job.Return{JID: j.JID, Minion: j.Minion, Fun: j.Fun, Return: data, Retcode: retOK, Success: true}
	for i := range hs {
		if !hs[i].Succeeded() {
			failed = append(failed, hs[i].Key)
		}
	}
	if len(failed) > 0 {
		ret.Retcode, ret.Success = retStateFailed, false
	}
	return ret, failed
}

// runtime is what execution functions see of this minion.
func (m *Minion) runtime() *modules.Runtime {
	return &modules.Runtime{
		ID:       m.cfg.ID,
		Grains:   m.currentGrains(),
		Opts:     map[string]any{"id": m.cfg.ID, "master": m.cfg.Masters, "grains": m.cfg.Grains, "data_dir": m.cfg.DataDir},
		Log:      m.log,
		Schedule: m.scheduleAPI(),
	}
}

// isHighstate reports whether j applies the whole highstate for real:
// state.highstate, or state.apply without SLS names, not in test mode.
func isHighstate(j *job.Job) bool {
	if test, _ := j.Kwargs["test"].(bool); test {
		return false
	}
	switch j.Fun {
	case "state.highstate":
		return true
	case "state.apply":
		mods, ok := j.Kwargs["mods"]
		return len(j.Args) == 0 && (!ok || mods == nil || mods == "" || isEmptyList(mods))
	}
	return false
}

func isEmptyList(v any) bool {
	l, ok := v.([]any)
	return ok && len(l) == 0
}
