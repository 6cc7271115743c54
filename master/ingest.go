package master

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/ratelimit"
)

// How much each minion may send the master: a burst, then a rate per
// second. A minion over its share is dropped (with a log line at most
// once a minute) without slowing the others.
const (
	eventBurst  = 200
	eventRate   = 20
	grainsBurst = 20
	grainsRate  = 1
	// dropLogEvery bounds how often a minion's dropped messages are logged.
	dropLogEvery = time.Minute
)

// eventQueue is the queue group of the masters' event ingestion: with
// several masters on one bus, each event is logged once.
const eventQueue = "brine-masters-events"

// ingestLimits are the master's per-minion limits on what minions send it.
type ingestLimits struct {
	events, grains *ratelimit.Limiter
	dropLog        *ratelimit.Limiter // one log line per minion and kind a minute
}

func newIngestLimits() ingestLimits {
	return ingestLimits{
		events:  ratelimit.New(eventRate, eventBurst),
		grains:  ratelimit.New(grainsRate, grainsBurst),
		dropLog: ratelimit.New(1/dropLogEvery.Seconds(), 1),
	}
}

// dropped logs, at most once a minute per minion and reason, that a
// minion's message was dropped.
func (m *Master) dropped(kind, id, reason string, args ...any) {
	if m.ingest.dropLog.Allow(kind + "\x00" + id + "\x00" + reason) {
		m.log.Warn("dropped a minion's "+kind, append([]any{"minion", id, "reason", reason}, args...)...)
	}
}

// guarded runs h for each message and turns a panic into a log line: no
// message may stop the master.
func guarded(log *slog.Logger, name string, h nats.MsgHandler) nats.MsgHandler {
	return func(msg *nats.Msg) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("handler failed on a message", "handler", name, "subject", clip(msg.Subject),
					"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			}
		}()
		h(msg)
	}
}

// clip shortens what a sender chose before it goes into a log line.
func clip(s string) string {
	const n = 160
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("...(%d bytes)", len(s))
}

// handleEvent logs a minion's event: the source and tag are the ones its
// subject names (the bus lets a minion publish on its own subjects only),
// the body must be an event, and each minion has its share of the rate.
func (m *Master) handleEvent(msg *nats.Msg) {
	id, tag, ok := bus.ParseEventSubject(msg.Subject)
	if !ok || bus.ValidID(id) != nil {
		m.dropped("event", "?", "bad subject", "subject", clip(msg.Subject))
		return
	}
	if err := bus.ValidTag(tag); err != nil {
		m.dropped("event", id, "bad tag", "err", err)
		return
	}
	if len(msg.Data) > bus.EventMaxSize {
		m.dropped("event", id, "too large", "bytes", len(msg.Data), "limit", bus.EventMaxSize)
		return
	}
	if !m.ingest.events.Allow(id) {
		m.dropped("event", id, "over its rate", "rate", eventRate, "burst", eventBurst)
		return
	}
	// The data stays as the minion encoded it: only the fields the
	// master vouches for are set anew.
	var ev struct {
		Tag    string          `json:"tag"`
		Source string          `json:"source"`
		Time   time.Time       `json:"time"`
		Data   json.RawMessage `json:"data,omitempty"`
	}
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		m.dropped("event", id, "not an event", "err", err)
		return
	}
	if len(ev.Data) > 0 && ev.Data[0] != '{' && string(ev.Data) != "null" {
		m.dropped("event", id, "its data is not an object")
		return
	}
	now := time.Now().UTC()
	if ev.Time.IsZero() || ev.Time.Sub(now).Abs() > 24*time.Hour {
		ev.Time = now
	}
	ev.Tag, ev.Source = tag, id
	b, err := json.Marshal(ev)
	if err != nil {
		m.dropped("event", id, "cannot encode", "err", err)
		return
	}
	if err := m.nc.Publish(bus.LoggedEventSubject(id, tag), b); err != nil {
		m.log.Warn("log event", "minion", id, "tag", tag, "err", err)
	}
}
