package master

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/brinecm/brine/pkg/bus"
)

// grainsCache holds every minion's latest grains, in memory for targeting
// and compiling, and in a KV bucket so a restarted master still knows them.
type grainsCache struct {
	mu sync.RWMutex
	m  map[string]map[string]any
	kv jetstream.KeyValue
}

func newGrainsCache() *grainsCache { return &grainsCache{m: map[string]map[string]any{}} }

// load reads the grains bucket into memory.
func (g *grainsCache) load(ctx context.Context, js jetstream.JetStream) error {
	kv, err := js.KeyValue(ctx, bus.GrainsBucket)
	if err != nil {
		return err
	}
	g.kv = kv
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return err
	}
	for key := range lister.Keys() {
		e, err := kv.Get(ctx, key)
		if err != nil {
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue
			}
			return err
		}
		var grains map[string]any
		if json.Unmarshal(e.Value(), &grains) == nil {
			if id, ok := grains["id"].(string); ok {
				g.set(id, grains)
			}
		}
	}
	return nil
}

// set stores a minion's grains and reports whether they differ from what
// was known.
func (g *grainsCache) set(id string, grains map[string]any) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.m[id]
	g.m[id] = grains
	return !reflect.DeepEqual(old, grains)
}

// get returns a minion's grains (nil when it never reported).
func (g *grainsCache) get(id string) map[string]any {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.m[id]
}

// handle stores grains a minion reported on its own subject: in memory at
// once, and in the bucket on the master's keyed pool, in order for each
// minion, so that a fleet reporting at once does not wait for each write.
func (g *grainsCache) handle(ctx context.Context, m *Master, msg *nats.Msg) {
	id, ok := bus.SubjectID(msg.Subject)
	if !ok {
		return
	}
	var grains map[string]any
	if err := json.Unmarshal(msg.Data, &grains); err != nil {
		m.log.Warn("bad grains", "minion", id, "err", err)
		return
	}
	grains["id"] = id // a minion's grains always carry the id it is authenticated as
	if g.set(id, grains) {
		m.work.do(ctx, id, func() { m.mesh.grainsChanged(ctx, id, grains) })
	}
	b, err := json.Marshal(grains)
	if err != nil {
		m.log.Warn("store grains", "minion", id, "err", err)
		return
	}
	m.work.do(ctx, id, func() {
		if g.kv == nil {
			return
		}
		if _, err := g.kv.Put(ctx, bus.GrainsKey(id), b); err != nil {
			m.log.Warn("store grains", "minion", id, "err", err)
		}
	})
}

// forget drops a deleted minion's grains.
func (g *grainsCache) forget(ctx context.Context, id string) {
	g.mu.Lock()
	delete(g.m, id)
	g.mu.Unlock()
	if g.kv != nil {
		_ = g.kv.Delete(ctx, bus.GrainsKey(id))
	}
}
