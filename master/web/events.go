package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/brinecm/brine/proto/brinepb"
)

// EventBuffer is how many events the stream of one /api/events client holds
// for it while it reads slowly; beyond it, events are skipped and the
// client is told how many (see apiEvents).
const EventBuffer = 4096

// sseEvent is one event as the events page receives it.
type sseEvent struct {
	Tag    string          `json:"tag"`
	Source string          `json:"source"`
	Time   time.Time       `json:"time"`
	Data   json.RawMessage `json:"data"`
}

// queued is one event waiting for a client, with how many events were
// skipped just before it.
type queued struct {
	ev      *brinepb.Event
	skipped int
}

// eventQueue is a bounded queue between the master's event stream and one
// slow client: pushing never blocks, and what does not fit is counted.
type eventQueue struct {
	mu      sync.Mutex
	items   []queued
	max     int
	skipped int           // skipped since the last queued event
	wake    chan struct{} // signalled when items or skipped grow
}

func newEventQueue(max int) *eventQueue {
	return &eventQueue{max: max, wake: make(chan struct{}, 1)}
}

// push queues ev, or counts it as skipped when the queue is full.
func (q *eventQueue) push(ev *brinepb.Event) {
	q.mu.Lock()
	if len(q.items) >= q.max {
		q.skipped++
	} else {
		q.items = append(q.items, queued{ev: ev, skipped: q.skipped})
		q.skipped = 0
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns every queued event and, when events were skipped after the
// last of them, that count; it waits until there is something or ctx ends.
func (q *eventQueue) take(ctx context.Context, into []queued) ([]queued, int, error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 || q.skipped > 0 {
			into = append(into[:0], q.items...)
			clear(q.items)
			q.items = q.items[:0]
			skipped := q.skipped
			q.skipped = 0
			q.mu.Unlock()
			return into, skipped, nil
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-ctx.Done():
			return into[:0], 0, ctx.Err()
		}
	}
}

// apiEvents streams the event bus as server-sent events: one message per
// bus event, its data the event as JSON (tag, source, time, data). The
// master's stream is read without pause into a bounded queue, so a client
// that reads slower than events arrive never holds the master back: the
// events that do not fit are skipped, and the client gets an "skipped"
// event ({"skipped": N}) where they were.
func (s *Server) apiEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stream, err := s.cfg.Client.Events(ctx, &brinepb.EventsRequest{TagGlob: r.URL.Query().Get("tag")})
	if err != nil {
		s.apiError(w, "follow the events", err)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": brine events\n\n")
	if err := rc.Flush(); err != nil {
		return // the client left, or cannot stream
	}

	q := newEventQueue(EventBuffer)
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		defer cancel() // the master stopped: end the response too
		for {
			ev, err := stream.Recv()
			if err != nil {
				return
			}
			q.push(ev)
		}
	}()
	defer func() { cancel(); <-recvDone }()

	bw := bufio.NewWriterSize(w, 32<<10)
	var batch []queued
	for {
		var skipped int
		var err error
		if batch, skipped, err = q.take(ctx, batch); err != nil {
			return // the client left, or the master's stream ended
		}
		for _, it := range batch {
			if err := writeEvent(bw, it); err != nil {
				return
			}
		}
		if skipped > 0 {
			if err := writeSkipped(bw, skipped); err != nil {
				return
			}
		}
		if bw.Flush() != nil || rc.Flush() != nil {
			return
		}
	}
}

// writeEvent writes one queued event, after the marker of the events
// skipped before it.
func writeEvent(w *bufio.Writer, it queued) error {
	if it.skipped > 0 {
		if err := writeSkipped(w, it.skipped); err != nil {
			return err
		}
	}
	data := json.RawMessage(it.ev.DataJson)
	if !json.Valid(data) {
		data = json.RawMessage("null")
	}
	b, err := json.Marshal(sseEvent{it.ev.Tag, it.ev.Source, time.UnixMilli(it.ev.TimeUnixMs).UTC(), data})
	if err != nil {
		return nil // nothing of it can be shown
	}
	// One line of JSON: one "data:" field, the tag inside it.
	_, err = fmt.Fprintf(w, "data: %s\n\n", b)
	return err
}

// writeSkipped writes the marker of n skipped events.
func writeSkipped(w *bufio.Writer, n int) error {
	_, err := fmt.Fprintf(w, "event: skipped\ndata: {\"skipped\":%d}\n\n", n)
	return err
}
