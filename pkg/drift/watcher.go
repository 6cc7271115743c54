package drift

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/brinecm/brine/pkg/sls"
)

// Batch is the states to re-apply: their IDs, sorted, and for each what
// was seen to differ.
type Batch struct {
	IDs     []string
	Reasons map[string]string
}

// Flap reports a state that drifted again after FlapLimit corrections
// within FlapWindow: it is left alone until Reset.
type Flap struct {
	ID     string
	Count  int           // corrections within Window
	Window time.Duration // the flap window
	Reason string        // what differed this time
	At     time.Time
}

// maxReasons bounds the reasons kept per state and batch.
const maxReasons = 5

// netlinkSettle is how long after Resume netlink changes are still taken
// for the minion's own: the kernel queues them before the call that made
// them returns, but nothing marks where the queue stood at Resume.
const netlinkSettle = 100 * time.Millisecond

// spanKeep is how long the spans the minion was applying are remembered
// for Docker events, which carry the engine's time and may arrive late.
const spanKeep = time.Minute

// Watcher watches the targets of a highstate and delivers batches of the
// states whose objects changed. Create it with New; it runs until Close.
type Watcher struct {
	cfg     Config
	log     *slog.Logger
	hits    chan hit
	batches chan Batch
	flaps   chan Flap
	closed  chan struct{}
	loopEnd chan struct{}
	once    sync.Once

	armMu sync.Mutex // serializes Watch, Close and Resume's barriers
	gen   *generation

	mu       sync.Mutex
	paused   int
	pausedAt time.Time
	spans    []span                 // recent Pause..Resume spans
	history  map[string][]time.Time // deliveries per state within the flap window
	flapping map[string]bool
}

// span is a time the minion was applying.
type span struct{ from, to time.Time }

// hit is one change seen on a target.
type hit struct {
	id     string
	reason string
	at     time.Time // when it happened (Docker: the engine's time) or was seen
	settle time.Duration
}

// source is one running watch mechanism.
type source interface {
	// barrier returns once every change the source was told of before
	// the call has been passed on.
	barrier(ctx context.Context) error
}

// generation is the sources armed for one highstate.
type generation struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	sources []source
	targets []Target
}

// New returns a watcher with cfg (zero fields take the defaults). It
// watches nothing until Watch.
func New(cfg Config, logger *slog.Logger) *Watcher {
	def := DefaultConfig()
	if cfg.Debounce <= 0 {
		cfg.Debounce = def.Debounce
	}
	if cfg.FlapLimit <= 0 {
		cfg.FlapLimit = def.FlapLimit
	}
	if cfg.FlapWindow <= 0 {
		cfg.FlapWindow = def.FlapWindow
	}
	if logger == nil {
		logger = slog.Default()
	}
	w := &Watcher{
		cfg:      cfg,
		log:      logger.With("component", "drift"),
		hits:     make(chan hit, 1024),
		batches:  make(chan Batch),
		flaps:    make(chan Flap),
		closed:   make(chan struct{}),
		loopEnd:  make(chan struct{}),
		history:  map[string][]time.Time{},
		flapping: map[string]bool{},
	}
	go w.loop()
	return w
}

// Batches delivers the states to re-apply. A batch not yet received keeps
// growing with the changes seen meanwhile.
func (w *Watcher) Batches() <-chan Batch { return w.batches }

// Flaps delivers the states found flapping.
func (w *Watcher) Flaps() <-chan Flap { return w.flaps }

// Watch derives the targets of lows (a compiled highstate) and watches
// them, replacing what an earlier Watch watched. It returns once every
// watcher is armed, so a change made after it returns is seen. A
// mechanism that cannot be armed (Open vSwitch or Docker not running) is
// an error naming it; the others watch all the same. The watchers stop
// when ctx ends, at the next Watch or at Close. The flap record is kept:
// call Reset after a full highstate.
func (w *Watcher) Watch(ctx context.Context, lows []sls.Low) error {
	targets, terr := Targets(lows)
	w.armMu.Lock()
	defer w.armMu.Unlock()
	select {
	case <-w.closed:
		return errors.New("drift watcher: closed")
	default:
	}
	w.stop()
	gctx, cancel := context.WithCancel(ctx)
	g := &generation{cancel: cancel, targets: targets}
	errs := []error{terr}
	for _, arm := range []struct {
		what  string
		kinds []Kind
		start func(context.Context, *Watcher, *generation, []Target) (source, error)
	}{
		{"files (inotify)", []Kind{KindFile, KindTree}, startFiles},
		{"Open vSwitch (OVSDB monitor)", []Kind{KindBridge, KindPort}, startOVS},
		{"Docker (event stream)", []Kind{KindContainer, KindDockerNetwork}, startDocker},
		{"network (netlink)", []Kind{KindLink, KindAddress, KindRoute}, startNetlink},
	} {
		ts := byKind(targets, arm.kinds...)
		if len(ts) == 0 {
			continue
		}
		s, err := arm.start(gctx, w, g, ts)
		if err != nil {
			errs = append(errs, fmt.Errorf("drift: watch %s: %w", arm.what, err))
			continue
		}
		g.sources = append(g.sources, s)
	}
	w.gen = g
	w.log.Info("watching for drift", "targets", len(targets), "watchers", len(g.sources))
	return errors.Join(errs...)
}

// stop ends the current generation and waits for its goroutines.
func (w *Watcher) stop() {
	if w.gen == nil {
		return
	}
	w.gen.cancel()
	w.gen.wg.Wait()
	w.gen = nil
}

// Pause tells the watcher that the minion starts applying: what changes
// from now until Resume is the minion's own doing and not drift. Pauses
// nest.
func (w *Watcher) Pause() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.paused == 0 {
		w.pausedAt = time.Now()
	}
	w.paused++
}

// Resume ends a Pause. It first waits (bounded by ctx) until the watchers
// have passed on what they were told of before the call, so the minion's
// own changes are not taken for drift, however late they arrive; an error
// says the wait was cut short.
func (w *Watcher) Resume(ctx context.Context) error {
	w.armMu.Lock()
	var err error
	if w.gen != nil {
		for _, s := range w.gen.sources {
			err = errors.Join(err, s.barrier(ctx))
		}
	}
	w.armMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.paused == 0 {
		return errors.Join(err, errors.New("drift: Resume without Pause"))
	}
	w.paused--
	if w.paused == 0 {
		now := time.Now()
		w.spans = slices.DeleteFunc(w.spans, func(s span) bool { return now.Sub(s.to) > spanKeep })
		w.spans = append(w.spans, span{w.pausedAt, now})
	}
	return err
}

// Reset forgets the flap record: flapping states are watched again. Call
// it after a full highstate.
func (w *Watcher) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	clear(w.history)
	clear(w.flapping)
}

// Close stops every watcher. Batches and Flaps deliver nothing after it.
func (w *Watcher) Close() {
	w.once.Do(func() {
		w.armMu.Lock()
		close(w.closed)
		w.stop()
		w.armMu.Unlock()
		<-w.loopEnd
	})
}

// hit passes a change on, unless the minion made it or its state flaps.
func (w *Watcher) hit(h hit) {
	w.mu.Lock()
	drop := w.flapping[h.id] || (w.paused > 0 && !h.at.Before(w.pausedAt))
	for _, s := range w.spans {
		if !h.at.Before(s.from) && !h.at.After(s.to.Add(h.settle)) {
			drop = true
		}
	}
	w.mu.Unlock()
	if drop {
		w.log.Debug("change ignored", "state", h.id, "reason", h.reason)
		return
	}
	w.log.Debug("drift seen", "state", h.id, "reason", h.reason)
	select {
	case w.hits <- h:
	case <-w.closed:
	}
}

// loop debounces hits into batches and delivers batches and flap reports.
func (w *Watcher) loop() {
	defer close(w.loopEnd)
	pending := map[string][]string{}
	var ready *Batch
	var flaps []Flap
	var timer <-chan time.Time
	for {
		var out chan<- Batch
		var next Batch
		if ready != nil {
			out, next = w.batches, *ready
		}
		var fout chan<- Flap
		var f Flap
		if len(flaps) > 0 {
			fout, f = w.flaps, flaps[0]
		}
		select {
		case <-w.closed:
			return
		case h := <-w.hits:
			if len(pending) == 0 && timer == nil {
				timer = time.After(w.cfg.Debounce)
			}
			if rs := pending[h.id]; len(rs) < maxReasons && !slices.Contains(rs, h.reason) {
				pending[h.id] = append(rs, h.reason)
			} else if !slices.Contains(rs, h.reason) && !slices.Contains(rs, "…") {
				pending[h.id] = append(rs, "…")
			}
		case <-timer:
			timer = nil
			b, fl := w.cut(pending)
			pending = map[string][]string{}
			flaps = append(flaps, fl...)
			if len(b.IDs) > 0 {
				ready = merge(ready, b)
			}
		case out <- next:
			ready = nil
		case fout <- f:
			flaps = flaps[1:]
		}
	}
}

// cut turns the pending changes into a batch, counting each state's
// corrections and setting flapping ones aside.
func (w *Watcher) cut(pending map[string][]string) (Batch, []Flap) {
	now := time.Now()
	b := Batch{Reasons: map[string]string{}}
	var flaps []Flap
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(pending)) {
		reason := strings.Join(pending[id], "; ")
		if w.flapping[id] {
			continue
		}
		h := slices.DeleteFunc(w.history[id], func(t time.Time) bool { return now.Sub(t) > w.cfg.FlapWindow })
		if len(h) >= w.cfg.FlapLimit {
			w.flapping[id] = true
			delete(w.history, id)
			flaps = append(flaps, Flap{ID: id, Count: len(h), Window: w.cfg.FlapWindow, Reason: reason, At: now})
			w.log.Warn("state keeps drifting: left alone until the next highstate",
				"state", id, "corrections", len(h), "window", w.cfg.FlapWindow, "reason", reason)
			continue
		}
		w.history[id] = append(h, now)
		b.IDs = append(b.IDs, id)
		b.Reasons[id] = reason
	}
	return b, flaps
}

// merge adds b to a batch not yet delivered.
func merge(ready *Batch, b Batch) *Batch {
	if ready == nil {
		return &b
	}
	for _, id := range b.IDs {
		if r, ok := ready.Reasons[id]; ok {
			ready.Reasons[id] = r + "; " + b.Reasons[id]
			continue
		}
		ready.IDs = append(ready.IDs, id)
		ready.Reasons[id] = b.Reasons[id]
	}
	slices.Sort(ready.IDs)
	return ready
}
