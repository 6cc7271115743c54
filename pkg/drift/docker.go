package drift

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/brinecm/brine/pkg/dockerx"
)

// dockerEvents follows the Docker engine's event stream (/events) for
// containers and networks. Events carry the engine's time, which is
// what tells the minion's own changes (made between Pause and Resume)
// from drift, however late an event arrives.
type dockerEvents struct {
	w          *Watcher
	containers []Target
	networks   map[string][]Target
	all        []Target

	mu    sync.Mutex
	names map[string]string // container ID -> name, for network (dis)connects
}

// containerActions are the container events that can mean drift.
var containerActions = map[events.Action]string{
	events.ActionCreate: "created", events.ActionStart: "started", events.ActionDie: "stopped (died)",
	events.ActionDestroy: "removed", events.ActionRename: "renamed", events.ActionPause: "paused",
	events.ActionUnPause: "unpaused", events.ActionUpdate: "updated",
}

// networkActions are the network events that can mean drift.
var networkActions = map[events.Action]string{
	events.ActionCreate: "created", events.ActionDestroy: "removed", events.ActionRemove: "removed",
	events.ActionConnect: "connected", events.ActionDisconnect: "disconnected",
}

func startDocker(ctx context.Context, w *Watcher, g *generation, ts []Target) (source, error) {
	dc, err := dockerx.Connect(ctx, 0)
	if err != nil {
		return nil, err
	}
	// The stream needs a client without a time limit.
	stream, err := client.New(client.FromEnv, client.WithAPIVersion(dc.Version))
	if err != nil {
		_ = dc.Close()
		return nil, fmt.Errorf("configure Docker client: %w", err)
	}
	d := &dockerEvents{w: w, networks: map[string][]Target{}, all: ts, names: map[string]string{}}
	for _, t := range ts {
		if t.Kind == KindContainer {
			d.containers = append(d.containers, t)
		} else {
			d.networks[t.Name] = append(d.networks[t.Name], t)
		}
	}
	closeAll := func() { _ = dc.Close(); _ = stream.Close() }
	since := time.Now()
	res, err := dc.API.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range res.Items {
		if len(c.Names) > 0 {
			d.names[c.ID] = strings.TrimPrefix(c.Names[0], "/")
		}
	}
	ev := d.subscribe(ctx, stream, since)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer closeAll()
		d.run(ctx, stream, ev)
	}()
	return d, nil
}

// subscribe opens the event stream from since: the engine replays what
// happened after since, so nothing between arming and subscribing is lost.
func (d *dockerEvents) subscribe(ctx context.Context, api *client.Client, since time.Time) client.EventsResult {
	return api.Events(ctx, client.EventsListOptions{
		Since:   fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Filters: client.Filters{}.Add("type", string(events.ContainerEventType), string(events.NetworkEventType)),
	})
}

// run reads events until ctx ends, re-subscribing when the stream breaks;
// after that every target is re-checked. A stream that sent its error
// has ended.
func (d *dockerEvents) run(ctx context.Context, api *client.Client, ev client.EventsResult) {
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-ev.Messages:
			backoff = 100 * time.Millisecond
			d.event(m)
		case err := <-ev.Err:
			if ctx.Err() != nil {
				return
			}
			d.w.log.Warn("Docker event stream lost: subscribing again", "err", err, "in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			ev = d.subscribe(ctx, api, time.Now())
			for _, t := range d.all {
				d.w.hit(hit{id: t.ID, reason: "Docker event stream restarted: re-checking " + t.Name, at: time.Now()})
			}
		}
	}
}

// event matches one engine event against the targets.
func (d *dockerEvents) event(m events.Message) {
	at := time.Unix(0, m.TimeNano)
	if m.TimeNano == 0 {
		at = time.Unix(m.Time, 0)
	}
	switch m.Type {
	case events.ContainerEventType:
		name := m.Actor.Attributes["name"]
		d.mu.Lock()
		if m.Action == events.ActionDestroy {
			delete(d.names, m.Actor.ID)
		} else if name != "" {
			d.names[m.Actor.ID] = name
		}
		d.mu.Unlock()
		what, ok := containerActions[m.Action]
		if !ok {
			return
		}
		names := []string{name}
		if m.Action == events.ActionRename {
			names = append(names, strings.TrimPrefix(m.Actor.Attributes["oldName"], "/"))
		}
		for _, n := range names {
			for _, t := range d.containers {
				if containerOf(t, n) {
					d.w.hit(hit{id: t.ID, reason: fmt.Sprintf("container %s %s", n, what), at: at})
				}
			}
		}
	case events.NetworkEventType:
		what, ok := networkActions[m.Action]
		if !ok {
			return
		}
		network := m.Actor.Attributes["name"]
		if m.Action == events.ActionConnect || m.Action == events.ActionDisconnect {
			d.mu.Lock()
			name := d.names[m.Actor.Attributes["container"]]
			d.mu.Unlock()
			for _, t := range d.containers {
				if name != "" && containerOf(t, name) {
					d.w.hit(hit{id: t.ID, reason: fmt.Sprintf("container %s %s network %s", name, what, network), at: at})
				}
			}
			return
		}
		for _, t := range d.networks[network] {
			d.w.hit(hit{id: t.ID, reason: fmt.Sprintf("network %s %s", network, what), at: at})
		}
	}
}

// containerOf reports whether the container called name is one of t's:
// its name, or with replicas NAME-N.
func containerOf(t Target, name string) bool {
	if name == t.Name {
		return true
	}
	if !t.Replicas {
		return false
	}
	n, ok := strings.CutPrefix(name, t.Name+"-")
	if !ok || n == "" {
		return false
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// barrier has nothing to wait for: events carry the engine's time.
func (d *dockerEvents) barrier(context.Context) error { return nil }
