package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/keys"
	"github.com/brinecm/brine/pkg/result"
	"github.com/brinecm/brine/pkg/target"
	"github.com/brinecm/brine/proto/brinepb"
)

// correctedWindow is how far back brine drift lists corrections.
const correctedWindow = 24 * time.Hour

// Drift reports the drift of the targeted minions from the job cache.
func (a *api) Drift(ctx context.Context, req *brinepb.DriftRequest) (*brinepb.DriftResponse, error) {
	var ids []string
	if req.Target == "" {
		for _, k := range a.m.keys.List() {
			if k.State == keys.Accepted {
				ids = append(ids, k.ID)
			}
		}
		sort.Strings(ids)
	} else {
		kind := target.Kind(req.TargetType)
		if kind == "" {
			kind = target.Glob
		}
		var err error
		if ids, err = a.m.resolve(ctx, kind, req.Target); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	out, err := a.m.driftReport(ctx, ids, time.Now())
	if err != nil {
		return nil, status.Error(codes.Unknown, err.Error())
	}
	return &brinepb.DriftResponse{Minions: out}, nil
}

// driftReport reads the job cache, newest job first, for each of ids:
//   - last converged: the end of the newest full highstate (any origin,
//     test or not) in which every state's result is True: no state failed
//     and none had changes still to make;
//   - corrected: each state a drift run (origin drift) re-applied with
//     changes and result True, within correctedWindow of now;
//   - pending: the states the newest test=True highstate would change
//     (result None), unknown when the job cache holds none.
//
// Only returns that say what run they are (Highstate, Test, Origin) count.
func (m *Master) driftReport(ctx context.Context, ids []string, now time.Time) ([]*brinepb.MinionDrift, error) {
	byID := make(map[string]*brinepb.MinionDrift, len(ids))
	out := make([]*brinepb.MinionDrift, len(ids))
	for i, id := range ids {
		out[i] = &brinepb.MinionDrift{Minion: id}
		byID[id] = out[i]
	}
	if len(ids) == 0 {
		return out, nil
	}
	lister, err := m.jobInfo.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("brine drift: list the job cache: %w", err)
	}
	var jids []string
	for k := range lister.Keys() {
		if job.ValidJID(k) {
			jids = append(jids, k)
		}
	}
	// Job ids begin with their time (UTC): newest first.
	sort.Sort(sort.Reverse(sort.StringSlice(jids)))
	stream, err := m.js.Stream(ctx, bus.ReturnStream)
	if err != nil {
		return nil, fmt.Errorf("brine drift: open the job cache: %w", err)
	}
	since := now.Add(-correctedWindow)
	for _, jid := range jids {
		if jidTime(jid).Before(since) && complete(out) {
			break // older than the window, and every answer found
		}
		info, err := m.loadJobInfo(ctx, jid)
		if err != nil || (info.Fun != "state.highstate" && info.Fun != "state.apply") {
			continue // expired meanwhile, or not a run drift reports on
		}
		for _, id := range info.Minions {
			d := byID[id]
			if d == nil {
				continue
			}
			r, err := cachedReturn(ctx, stream, jid, id)
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgNotFound) {
					continue // not returned (yet)
				}
				return nil, fmt.Errorf("brine drift: read the return of %s from %s: %w", jid, id, err)
			}
			addRun(d, jid, r, since)
		}
	}
	for _, d := range out {
		sort.SliceStable(d.Corrected, func(i, j int) bool { return d.Corrected[i].AtUnixMs < d.Corrected[j].AtUnixMs })
	}
	return out, nil
}

// complete reports whether every minion's last convergence and pending
// count are known.
func complete(out []*brinepb.MinionDrift) bool {
	for _, d := range out {
		if d.LastConvergedUnixMs == 0 || !d.PendingKnown {
			return false
		}
	}
	return true
}

// jidTime is the time a job id begins with; the zero time when it does not.
func jidTime(jid string) time.Time {
	stamp, _, _ := strings.Cut(jid, "_")
	if len(stamp) != len("20060102150405000000") {
		return time.Time{}
	}
	t, err := time.Parse("20060102150405.000000", stamp[:14]+"."+stamp[14:])
	if err != nil {
		return time.Time{}
	}
	return t
}

// cachedReturn reads minion id's return of job jid from the job cache.
func cachedReturn(ctx context.Context, s jetstream.Stream, jid, id string) (*job.Return, error) {
	msg, err := s.GetLastMsgForSubject(ctx, bus.ReturnSubject(jid, id))
	if err != nil {
		return nil, err
	}
	var r job.Return
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		return nil, fmt.Errorf("not a return: %w", err)
	}
	return &r, nil
}

// addRun counts one run of a minion, newer runs having been counted first.
func addRun(d *brinepb.MinionDrift, jid string, r *job.Return, since time.Time) {
	var states map[string]result.State
	if json.Unmarshal(r.Return, &states) != nil {
		states = nil // a compile error or a failure: converged neither
	}
	switch {
	case r.Origin == job.OriginDrift:
		if r.Finished.Before(since) {
			return
		}
		for key, s := range states {
			if s.Result != nil && *s.Result && len(s.Changes) > 0 {
				s.Key = key
				d.Corrected = append(d.Corrected, &brinepb.DriftCorrection{Id: s.ID, State: s.Function(),
					AtUnixMs: r.Finished.UnixMilli(), Jid: jid})
			}
		}
	case r.Highstate:
		if r.Test && !d.PendingKnown && states != nil {
			d.PendingKnown, d.PendingJid = true, jid
			for _, s := range states {
				if s.Result == nil {
					d.Pending++
				}
			}
		}
		if d.LastConvergedUnixMs == 0 && converged(r, states) {
			d.LastConvergedUnixMs = r.Finished.UnixMilli()
		}
	}
}

// converged reports whether a highstate left nothing to do: it ran, and
// every state's result is True.
func converged(r *job.Return, states map[string]result.State) bool {
	if r.Retcode != 0 || states == nil || r.Finished.IsZero() {
		return false
	}
	for _, s := range states {
		if s.Result == nil || !*s.Result {
			return false
		}
	}
	return true
}
