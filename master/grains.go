package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

// load reads the grains bucket into memory. What it cannot read is
// skipped with a log line: the minions report their grains again anyway,
// and a bad entry must never keep the master from starting.
func (g *grainsCache) load(ctx context.Context, js jetstream.JetStream, log *slog.Logger) {
	kv, err := js.KeyValue(ctx, bus.GrainsBucket)
	if err != nil {
		log.Warn("grains cache: bucket unavailable; starting without cached grains", "err", err)
		return
	}
	g.kv = kv
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		log.Warn("grains cache: cannot list; starting without cached grains", "err", err)
		return
	}
	for key := range lister.Keys() {
		id, ok := bus.GrainsKeyID(key)
		if !ok {
			// Never ask the bus for it: a key too long for a request
			// would cost the master its connection.
			log.Warn("grains cache: skipping an entry that names no minion", "key", clip(key))
			continue
		}
		e, err := kv.Get(ctx, key)
		if err != nil {
			if !errors.Is(err, jetstream.ErrKeyNotFound) {
				log.Warn("grains cache: skipping an entry", "minion", id, "err", err)
			}
			continue
		}
		grains, err := decodeGrains(e.Value())
		if err != nil {
			log.Warn("grains cache: skipping an entry", "minion", id, "err", err)
			continue
		}
		grains["id"] = id
		g.set(id, grains)
	}
}

// decodeGrains decodes a grains document: a JSON object of bounded size.
func decodeGrains(data []byte) (map[string]any, error) {
	if len(data) > bus.GrainsMaxSize {
		return nil, fmt.Errorf("grains of %d bytes, over the %d-byte limit", len(data), bus.GrainsMaxSize)
	}
	var grains map[string]any
	if err := json.Unmarshal(data, &grains); err != nil {
		return nil, fmt.Errorf("grains are not a JSON object: %w", err)
	}
	if grains == nil {
		return nil, errors.New("grains are not a JSON object: null")
	}
	return grains, nil
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
	if !ok || bus.ValidID(id) != nil {
		m.dropped("grains", "?", "bad subject", "subject", clip(msg.Subject))
		return
	}
	if !m.ingest.grains.Allow(id) {
		m.dropped("grains", id, "over its rate", "rate", grainsRate, "burst", grainsBurst)
		return
	}
	grains, err := decodeGrains(msg.Data)
	if err != nil {
		m.dropped("grains", id, "bad grains", "err", err)
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
