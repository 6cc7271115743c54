package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/proto/brinepb"
)

// jobInfo is what the job cache keeps about a job besides its returns.
type jobInfo struct {
	JID        string    `json:"jid"`
	Fun        string    `json:"fun"`
	Target     string    `json:"target"`
	TargetType string    `json:"target_type"`
	Minions    []string  `json:"minions"`
	Start      time.Time `json:"start"`
	// Origin is "" for a job the CLI asked for, "schedule" for one a
	// schedule ran (the master's, or a minion's own), "drift" for a
	// minion's drift correction.
	Origin string `json:"origin,omitempty"`
}

func (m *Master) saveJobInfo(ctx context.Context, jid string, rr *runRequest, ids []string, now time.Time) error {
	b, err := json.Marshal(jobInfo{JID: jid, Fun: rr.fun, Target: rr.target, TargetType: string(rr.kind), Minions: ids, Start: now,
		Origin: rr.origin})
	if err != nil {
		return err
	}
	if _, err := m.jobInfo.Put(ctx, jid, b); err != nil {
		return fmt.Errorf("job cache: %w", err)
	}
	return nil
}

// errBadJID is the error of a job id that cannot be one.
var errBadJID = errors.New("not a job id (letters, digits, '_' and '-', at most 64)")

func (m *Master) loadJobInfo(ctx context.Context, jid string) (*jobInfo, error) {
	if !job.ValidJID(jid) {
		return nil, fmt.Errorf("job %q: %w", clip(jid), errBadJID)
	}
	e, err := m.jobInfo.Get(ctx, jid)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("job %s is not in the job cache (unknown, or older than keep_jobs)", jid)
		}
		return nil, fmt.Errorf("job cache: %w", err)
	}
	var info jobInfo
	if err := json.Unmarshal(e.Value(), &info); err != nil {
		return nil, fmt.Errorf("job cache: job %s: %w", jid, err)
	}
	return &info, nil
}

func (info *jobInfo) summary(returned int) *brinepb.JobSummary {
	return &brinepb.JobSummary{Jid: info.JID, Fun: info.Fun, Target: info.Target, TargetType: info.TargetType,
		StartUnixMs: info.Start.UnixMilli(), Minions: info.Minions, Returned: int32(returned), Origin: info.Origin}
}

// returnCount counts the returns cached for a job.
func (m *Master) returnCount(ctx context.Context, jid string) (int, error) {
	s, err := m.js.Stream(ctx, bus.ReturnStream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(bus.ReturnsFor(jid)))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n, nil
}

// listJobs returns the newest jobs first.
func (m *Master) listJobs(ctx context.Context, limit int) ([]*brinepb.JobSummary, error) {
	lister, err := m.jobInfo.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("job cache: %w", err)
	}
	var jids []string
	for k := range lister.Keys() {
		if !job.ValidJID(k) {
			// Never ask the bus for it: a key too long for a request
			// would cost the master its connection.
			m.log.Warn("job cache: skipping an entry that names no job", "key", clip(k))
			continue
		}
		jids = append(jids, k)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(jids)))
	if limit > 0 && len(jids) > limit {
		jids = jids[:limit]
	}
	out := make([]*brinepb.JobSummary, 0, len(jids))
	for _, jid := range jids {
		info, err := m.loadJobInfo(ctx, jid)
		if err != nil {
			continue // expired between listing and reading
		}
		n, err := m.returnCount(ctx, jid)
		if err != nil {
			return nil, err
		}
		out = append(out, info.summary(n))
	}
	return out, nil
}

// getJob returns a job and every return cached for it.
func (m *Master) getJob(ctx context.Context, jid string) (*brinepb.GetJobResponse, error) {
	info, err := m.loadJobInfo(ctx, jid)
	if err != nil {
		return nil, err
	}
	n, err := m.returnCount(ctx, jid)
	if err != nil {
		return nil, err
	}
	resp := &brinepb.GetJobResponse{Job: info.summary(n)}
	if n == 0 {
		return resp, nil
	}
	cons, err := m.js.OrderedConsumer(ctx, bus.ReturnStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.ReturnsFor(jid)}, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return nil, fmt.Errorf("read job cache: %w", err)
	}
	for len(resp.Returns) < n {
		batch, err := cons.Fetch(n-len(resp.Returns), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read job cache: %w", err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			// Whose return it is comes from the subject, on which only
			// that minion (or the master) may publish, never from the body.
			rjid, id, ok := bus.ParseReturnSubject(msg.Subject())
			var r job.Return
			if !ok || rjid != jid || json.Unmarshal(msg.Data(), &r) != nil {
				m.log.Warn("job cache: skipping a bad return", "jid", jid, "subject", clip(msg.Subject()))
				continue
			}
			if r.Minion != id || r.JID != jid {
				m.log.Warn("job cache: a return names another minion or job than its subject", "jid", jid, "minion", id,
					"claims", clip(r.Minion), "claimed_jid", clip(r.JID))
			}
			r.Minion, r.JID = id, jid
			resp.Returns = append(resp.Returns, toProtoReturn(&r))
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, fmt.Errorf("read job cache: %w", err)
		}
		if got == 0 {
			break
		}
	}
	sort.Slice(resp.Returns, func(i, j int) bool { return resp.Returns[i].Minion < resp.Returns[j].Minion })
	return resp, nil
}
