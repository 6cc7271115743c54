package minion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/drift"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/pkg/wire"
)

// driftWatch is the minion's event-driven drift correction: with drift:
// {watch: True} (configuration file, or pillar over it) it watches what the
// last full highstate manages and re-applies, from the cached highstate,
// only the states whose objects changed, as jobs of origin "drift" that
// wait their turn with the other state runs.
type driftWatch struct {
	m *Minion

	mu      sync.Mutex
	ctx     context.Context // the minion's Run context; nil before start
	cfg     drift.Config    // the configuration w runs with
	w       *drift.Watcher  // nil while watching is off
	stopUse context.CancelFunc
	used    chan struct{} // closed when the consumer of w returned
}

func newDriftWatch(m *Minion) *driftWatch { return &driftWatch{m: m} }

// start arms the watcher from the cached highstate when the configuration
// turns watching on, so a restarted minion goes on watching what its last
// highstate manages. Watching stops when ctx ends.
func (d *driftWatch) start(ctx context.Context) {
	d.mu.Lock()
	d.ctx = ctx
	d.mu.Unlock()
	cached, err := d.m.cachedHighstate()
	if err != nil {
		if !errors.Is(err, errNoCache) {
			d.m.log.Warn("drift: the cached highstate is not usable: watching starts at the next highstate", "err", err)
		}
		d.configure(nil, nil)
		return
	}
	d.configure(cached.Pillar, cached.Lows)
}

// highstateDone re-arms the watcher after a full highstate (from a master
// job, a scheduled run or the offline cache) with that highstate's states
// and pillar, and forgets which states were flapping.
func (d *driftWatch) highstateDone(j *job.Job) {
	d.configure(j.Pillar, j.Lows)
}

// configure reads the drift configuration (file, then pillar over it),
// replaces the watcher when the configuration changed, and watches lows.
func (d *driftWatch) configure(pillar map[string]any, lowsJSON json.RawMessage) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil || d.ctx.Err() != nil {
		return
	}
	cfg, errs := d.m.driftConfig(pillar)
	for _, err := range errs {
		d.m.log.Error("drift: configuration ignored", "err", err)
	}
	if d.w != nil && (!cfg.Watch || cfg != d.cfg) {
		d.closeLocked()
	}
	if !cfg.Watch {
		return
	}
	var lows []sls.Low
	if len(lowsJSON) > 0 {
		if err := json.Unmarshal(lowsJSON, &lows); err != nil {
			d.m.log.Error("drift: cannot read the highstate's states: not watching", "err", err)
			return
		}
	}
	if d.w == nil {
		d.cfg = cfg
		d.w = drift.New(cfg, d.m.log)
		uctx, cancel := context.WithCancel(d.ctx)
		d.stopUse, d.used = cancel, make(chan struct{})
		go d.use(uctx, d.w, d.used)
	}
	if err := d.w.Watch(d.ctx, lows); err != nil {
		d.m.log.Warn("drift: not everything can be watched", "err", err)
	}
	d.w.Reset()
}

// closeLocked stops the watcher and its consumer; d.mu is held.
func (d *driftWatch) closeLocked() {
	if d.w == nil {
		return
	}
	d.stopUse()
	<-d.used
	d.w.Close()
	d.w = nil
}

// close stops watching for good.
func (d *driftWatch) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closeLocked()
	d.ctx = nil
}

// pause tells the watcher a state run starts: what changes until the
// returned function is called is the minion's own doing.
func (d *driftWatch) pause() func(context.Context) {
	d.mu.Lock()
	w := d.w
	d.mu.Unlock()
	if w == nil {
		return func(context.Context) {}
	}
	w.Pause()
	return func(ctx context.Context) {
		if err := w.Resume(ctx); err != nil && ctx.Err() == nil {
			d.m.log.Warn("drift: the run's own changes may be taken for drift", "err", err)
		}
	}
}

// use corrects the batches w delivers and reports its flapping states,
// until ctx ends.
func (d *driftWatch) use(ctx context.Context, w *drift.Watcher, done chan struct{}) {
	defer close(done)
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-w.Batches():
			d.correct(ctx, b)
		case f := <-w.Flaps():
			d.m.log.Warn("drift: a state keeps drifting: left alone until the next highstate",
				"state", f.ID, "corrections", f.Count, "window", f.Window, "reason", f.Reason)
			d.emit(wire.TagDriftFlapping, f.At, f.Flapping())
		}
	}
}

// correct re-applies one batch's states from the cached highstate and
// reports it as drift/detected, then drift/corrected.
func (d *driftWatch) correct(ctx context.Context, b drift.Batch) {
	seen := time.Now()
	log := d.m.log.With("states", b.IDs)
	log.Info("drift detected", "reasons", b.Reasons)
	d.emit(wire.TagDriftDetected, seen, b.Detected())
	ret, err := d.m.ApplyCached(ctx, b.IDs, job.OriginDrift, nil)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("drift: cannot correct", "err", err)
		}
		return
	}
	c := corrected(b, ret)
	c.DurationMS = float64(time.Since(seen).Microseconds()) / 1000
	log.Info("drift corrected", "jid", ret.JID, "retcode", ret.Retcode, "duration_ms", c.DurationMS)
	d.emit(wire.TagDriftCorrected, time.Now(), c)
}

// corrected describes the run that re-applied b as a drift/corrected
// event's data: one entry per state result.
func corrected(b drift.Batch, ret *job.Return) drift.Corrected {
	c := drift.Corrected{JID: ret.JID, States: []drift.CorrectedState{}}
	var results map[string]struct {
		ID      string         `json:"__id__"`
		RunNum  int            `json:"__run_num__"`
		Result  *bool          `json:"result"`
		Changes map[string]any `json:"changes"`
	}
	if json.Unmarshal(ret.Return, &results) != nil {
		// Not a highstate (the states did not run): every state of the
		// batch failed, with the job's error.
		f := false
		for _, id := range b.IDs {
			c.States = append(c.States, drift.CorrectedState{ID: id, Reason: b.Reasons[id], Result: &f,
				Changes: map[string]any{"error": ret.Error}})
		}
		return c
	}
	keys := slices.SortedFunc(maps.Keys(results), func(a, b string) int { return results[a].RunNum - results[b].RunNum })
	for _, k := range keys {
		r := results[k]
		cs := drift.CorrectedState{ID: r.ID, Reason: b.Reasons[r.ID], Result: r.Result}
		if len(r.Changes) > 0 {
			cs.Changes = r.Changes
		}
		c.States = append(c.States, cs)
	}
	return c
}

// emit publishes a drift event.
func (d *driftWatch) emit(tag string, at time.Time, data any) {
	ev, err := drift.Event(d.m.cfg.ID, tag, at, data)
	if err != nil {
		d.m.log.Warn("drift: cannot encode event", "tag", tag, "err", err)
		return
	}
	d.m.event(tag, ev.Data)
}

// driftConfig is the drift: configuration: the configuration file's, with
// the entries of the pillar's drift: mapping over it. A source with a
// mistake is left out, and its errors (naming the file and line, or the
// pillar key) are returned.
func (m *Minion) driftConfig(pillar map[string]any) (drift.Config, []error) {
	merged := map[string]any{}
	var errs []error
	if path := m.cfg.ConfigFile; path != "" {
		file, err := fileDriftConfig(path)
		if err != nil {
			errs = append(errs, err)
		}
		maps.Copy(merged, file)
	}
	if raw, ok := pillar["drift"]; ok && raw != nil {
		p, isMap := raw.(map[string]any)
		if !isMap {
			errs = append(errs, fmt.Errorf("pillar: drift: must be a mapping of watch, debounce, flap_limit, flap_window, not %T (fix the pillar)", raw))
		} else {
			p = wholeNumbers(p)
			if _, err := drift.ParseConfig(p); err != nil {
				errs = append(errs, fmt.Errorf("pillar: %w (fix the pillar)", err))
			} else {
				maps.Copy(merged, p)
			}
		}
	}
	cfg, err := drift.ParseConfig(merged)
	if err != nil { // cannot be: each source parsed alone
		return drift.DefaultConfig(), append(errs, err)
	}
	return cfg, errs
}

// fileDriftConfig reads the drift: mapping of the configuration file at
// path, checked; nil when it has none.
func fileDriftConfig(path string) (map[string]any, error) {
	cfg, err := config.LoadMinion(path)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	n := &cfg.Drift
	if n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil, nil
	}
	var check drift.Config
	if err := n.Decode(&check); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: line %d: drift: %w", path, n.Line, err)
	}
	return m, nil
}

// wholeNumbers turns the whole float64 numbers of a pillar mapping (as
// JSON decodes every number) into ints, as YAML would have read them.
func wholeNumbers(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			v = int(f)
		}
		out[k] = v
	}
	return out
}
