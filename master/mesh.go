package master

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/mine"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/target"
	"github.com/brinecm/brine/proto/brinepb"
)

// TagMeshReapply is the master's event when it re-applies mesh states
// because peers joined, left or moved (data: minions, sls, reason).
const TagMeshReapply = "mesh.reapply"

// meshUse is one mesh state the master compiled for a minion: where it is
// defined, how its peers are found, and the peers it was given.
type meshUse struct {
	sls     string
	match   target.Matcher
	ipKey   string
	members map[string]string // peer id -> address
}

// meshes remembers the mesh states the master last compiled for each
// minion, and re-applies them when the fleet changes under them: a peer
// joins (its grains arrive and the target selects it), leaves (its key is
// deleted or rejected) or changes address. Changes within the delay are
// gathered into one state.sls per minion. It is the master's reaction to
// membership, so that nobody writes interconnects by hand.
type meshes struct {
	m     *Master
	delay time.Duration

	mu      sync.Mutex
	uses    map[string][]meshUse       // minion -> its mesh states
	pending map[string]map[string]bool // minion -> SLS files to re-apply
	reasons []string
	timer   *time.Timer
	stopped bool
}

func newMeshes(m *Master, c config.Master) *meshes {
	if c.MeshReapply != nil && !*c.MeshReapply {
		return nil
	}
	d := time.Duration(c.MeshReapplyDelay)
	if d <= 0 {
		d = config.DefaultMeshDelay
	}
	return &meshes{m: m, delay: d, uses: map[string][]meshUse{}, pending: map[string]map[string]bool{}}
}

// compiled records the mesh states among the states compiled for minion
// id. A highstate replaces what was known of the minion; a run of some SLS
// files replaces what was known of those files.
func (ms *meshes) compiled(id string, highstate bool, lows []sls.Low) {
	if ms == nil {
		return
	}
	var found []meshUse
	files := map[string]bool{}
	for _, l := range lows {
		files[l.SLS] = true
		tgt, ok := l.Args["peers"].(string)
		ips, resolved := l.Args[mine.PeerIPsArg].(map[string]any)
		if !ok || !resolved {
			continue
		}
		kind := target.Compound
		if k, ok := l.Args["tgt_type"].(string); ok {
			kind = target.Kind(k)
		}
		matcher, err := target.Compile(kind, tgt, ms.m.opts.Nodegroups)
		if err != nil {
			continue // the compile would have failed
		}
		u := meshUse{sls: l.SLS, match: matcher, members: map[string]string{}}
		u.ipKey, _ = l.Args["peer_ip"].(string)
		for peer, ip := range ips {
			u.members[peer], _ = ip.(string)
		}
		found = append(found, u)
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	kept := found
	if !highstate {
		for _, u := range ms.uses[id] {
			if !files[u.sls] {
				kept = append(kept, u)
			}
		}
	}
	if len(kept) == 0 {
		delete(ms.uses, id)
	} else {
		ms.uses[id] = kept
	}
}

// grainsChanged reacts to minion id's new grains: every mesh whose target
// now selects it and did not, or selects it at another address, is
// re-applied; so is a mesh that counted it and no longer selects it.
// A minion with no mesh of its own that a mesh's target selects gets that
// mesh's SLS too when the top file assigns it.
func (ms *meshes) grainsChanged(ctx context.Context, id string, grains map[string]any) {
	if ms == nil {
		return
	}
	mn := target.Minion{ID: id, Grains: grains}
	ms.mu.Lock()
	var newcomerSLS []string
	_, known := ms.uses[id]
	for owner, uses := range ms.uses {
		for _, u := range uses {
			selected := u.match.Match(mn)
			addr := ""
			if a, err := mine.Address(grains, u.ipKey); err == nil {
				addr = a.String()
			}
			if selected && !known && owner != id {
				newcomerSLS = append(newcomerSLS, u.sls)
			}
			if owner == id {
				continue
			}
			old, member := u.members[id]
			if selected != member || (selected && old != addr) {
				ms.schedule(owner, u.sls, id+" changed")
			}
		}
	}
	ms.mu.Unlock()
	if len(newcomerSLS) == 0 {
		return
	}
	cfg := ms.m.compileConfig(id)
	cfg.Grains = grains
	top, err := sls.New(cfg).Top(ctx)
	if err != nil {
		ms.m.log.Warn("mesh: top file for a new peer", "minion", id, "err", err)
		return
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for _, f := range newcomerSLS {
		if slices.Contains(top, f) {
			ms.schedule(id, f, id+" joined")
		}
	}
}

// left reacts to minion id leaving the fleet: every mesh that counted it
// is re-applied, and what was known of its own meshes is dropped.
func (ms *meshes) left(id string) {
	if ms == nil {
		return
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	delete(ms.uses, id)
	delete(ms.pending, id)
	for owner, uses := range ms.uses {
		for _, u := range uses {
			if _, ok := u.members[id]; ok {
				ms.schedule(owner, u.sls, id+" left")
			}
		}
	}
}

// schedule queues sls for re-application on minion id; ms.mu is held.
func (ms *meshes) schedule(id, file, reason string) {
	if ms.pending[id] == nil {
		ms.pending[id] = map[string]bool{}
	}
	ms.pending[id][file] = true
	if !slices.Contains(ms.reasons, reason) {
		ms.reasons = append(ms.reasons, reason)
	}
	if ms.timer == nil && !ms.stopped {
		ms.timer = time.AfterFunc(ms.delay, ms.flush)
	}
}

// stop cancels a re-application not yet started; the master is stopping.
func (ms *meshes) stop() {
	if ms == nil {
		return
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.stopped = true
	if ms.timer != nil {
		ms.timer.Stop()
	}
}

// flush re-applies what was scheduled: one asynchronous state.sls per
// minion, with the SLS files of its meshes that changed.
func (ms *meshes) flush() {
	ms.mu.Lock()
	pending, reasons := ms.pending, ms.reasons
	ms.pending, ms.reasons, ms.timer = map[string]map[string]bool{}, nil, nil
	ms.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range slices.Sorted(maps.Keys(pending)) {
		files := slices.Sorted(maps.Keys(pending[id]))
		args := make([]any, len(files))
		for i, f := range files {
			args[i] = f
		}
		rr := &runRequest{target: id, kind: target.List, fun: "state.sls", args: args,
			timeout: time.Duration(ms.m.opts.Timeout), ttl: time.Duration(ms.m.opts.JobTTL), async: true}
		ms.m.log.Info("mesh: re-applying", "minion", id, "sls", files, "because", reasons)
		ms.m.event(TagMeshReapply, map[string]any{"minion": id, "sls": files, "reason": reasons})
		if err := ms.m.run(ctx, rr, func(*brinepb.RunEvent) error { return nil }); err != nil {
			ms.m.log.Error("mesh: re-apply", "minion", id, "err", err)
		}
	}
}
