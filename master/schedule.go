package master

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/schedule"
	"github.com/brinecm/brine/pkg/target"
	"github.com/brinecm/brine/pkg/wire"
	"github.com/brinecm/brine/proto/brinepb"
)

// originQueue is the queue group of the masters' filing of jobs minions
// started themselves: with several masters on one bus, one files each.
const originQueue = "brine-masters-origins"

// jobFiledMsg is the debug log line of a minion's own job filed in the job
// cache (the scheduled fleet benchmark counts them).
const jobFiledMsg = "job cache: filed a job a minion ran on its own"

// handleOrigin files in the job cache a job a minion ran on its own (its
// schedule, a drift correction) when the job's first return arrives: the
// job is named by the return's subject, its minion too, and its origin by
// the return. Returns of jobs the master published carry no origin and
// are left alone; a job already filed (a return sent again) is not filed
// twice.
func (m *Master) handleOrigin(ctx context.Context, msg *nats.Msg) {
	if !bytes.Contains(msg.Data, []byte(`"origin":`)) {
		return // the master's own jobs: filed when published
	}
	jid, id, ok := bus.ParseReturnSubject(msg.Subject)
	if !ok || !job.ValidJID(jid) || bus.ValidID(id) != nil {
		return
	}
	var r struct {
		Fun     string    `json:"fun"`
		Origin  string    `json:"origin"`
		Started time.Time `json:"started"`
	}
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		return
	}
	switch r.Origin {
	case job.OriginSchedule, job.OriginDrift:
	default:
		m.dropped("job origin", id, "unknown origin", "origin", clip(r.Origin))
		return
	}
	start := r.Started
	if now := time.Now().UTC(); start.IsZero() || start.Sub(now).Abs() > 24*time.Hour {
		start = now
	}
	info := jobInfo{JID: jid, Fun: clip(r.Fun), Target: id, TargetType: string(target.List), Minions: []string{id},
		Start: start, Origin: r.Origin}
	b, err := json.Marshal(info)
	if err != nil {
		return
	}
	if _, err := m.jobInfo.Create(ctx, jid, b); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			m.log.Warn("job cache: cannot file a minion's job", "jid", jid, "minion", id, "err", err)
		}
		return
	}
	m.log.Debug(jobFiledMsg, "jid", jid, "minion", id, "origin", r.Origin)
	m.event(wire.TagJobNew, map[string]any{"jid": jid, "fun": info.Fun, "target": id, "minions": info.Minions, "origin": r.Origin})
}

// startSchedule runs the master's schedule until ctx is done: each due
// entry is published to its target as the CLI would publish it, without
// waiting for the returns, with origin "schedule". Entries that cannot run
// are logged, named, and left out.
func (m *Master) startSchedule(ctx context.Context) func() {
	entries, errs := schedule.ParseNode(cmp.Or(m.opts.Source, "master configuration"), &m.opts.Schedule, schedule.Options{
		Known: func(name string) bool { _, ok := modules.Lookup(name); return ok }, Targets: true})
	for _, err := range errs {
		m.log.Error("master schedule", "err", err)
	}
	if len(entries) == 0 {
		return func() {}
	}
	r := schedule.NewRunner(nil, func(ctx context.Context, e *schedule.Entry) { m.runScheduled(ctx, e) }, m.log)
	r.Set(entries)
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	m.log.Info("master schedule running", "entries", len(entries))
	return func() { <-done }
}

// runScheduled publishes one run of a master schedule entry.
func (m *Master) runScheduled(ctx context.Context, e *schedule.Entry) {
	rr := &runRequest{target: e.Target, kind: target.Kind(e.TgtType), fun: e.Function, args: e.Args, kwargs: e.Kwargs,
		timeout: time.Duration(m.opts.Timeout), ttl: time.Duration(m.opts.JobTTL), async: true, origin: job.OriginSchedule}
	if rr.kind == "" {
		rr.kind = target.Glob
	}
	var jid string
	err := m.run(ctx, rr, func(ev *brinepb.RunEvent) error {
		if s := ev.GetStarted(); s != nil {
			jid = s.Jid
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		m.log.Error("master schedule: run failed", "entry", e.Name, "fun", e.Function, "target", e.Target, "err", err)
		return
	}
	m.log.Info("master schedule: job published", "entry", e.Name, "fun", e.Function, "target", e.Target, "jid", jid)
}
