package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/keys"
)

// keysBucket is the replicated KV bucket of minion keys: every master's key
// store follows it, so that an accept, reject or delete on any master holds
// on all of them (and on every server their authorizers answer for).
const keysBucket = "BRINE_KEYS"

// keysSeeded marks a bucket into which a master has copied its store, so
// that an empty bucket (every key deleted) is not seeded again.
const keysSeeded = "_seeded"

// keySync mirrors the master's key store and the keys bucket both ways.
// Bucket keys are "k.<id>" (an id's accepted, pending or rejected key) and
// "d.<id>" (its denied key); values are the keys as JSON.
type keySync struct {
	m  *Master
	kv jetstream.KeyValue
	mu sync.Mutex
	// last is the value of each bucket key as last read or written: a store
	// change equal to it came from the bucket and is not written back.
	last map[string]string
	// rev is the newest revision of each bucket key this master wrote or
	// applied: the watcher delivers this master's own writes back, and an
	// older one arriving after a newer write (a key submitted, then
	// accepted at once) must not take the key back to its older state.
	rev map[string]uint64
}

// bucketKey is where k lives in the keys bucket.
func bucketKey(id string, denied bool) string {
	if denied {
		return "d." + id
	}
	return "k." + id
}

// startKeySync opens the keys bucket, makes the store what the bucket holds
// (or, for the first master of a fleet, seeds the bucket with the store),
// and keeps both in step until ctx ends. It returns once the store holds
// the bucket's keys.
func (m *Master) startKeySync(ctx context.Context) error {
	kv, err := m.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: keysBucket,
		Description: "brine minion keys, shared by the masters", History: 1, Storage: jetstream.FileStorage,
		MaxValueSize: 4096, Replicas: bus.KeepReplicas(ctx, m.js, "KV_"+keysBucket, m.replicas())})
	if err != nil {
		return fmt.Errorf("keys bucket: %w", err)
	}
	ks := &keySync{m: m, kv: kv, last: map[string]string{}, rev: map[string]uint64{}}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch keys bucket: %w", err)
	}
	seen := map[string]bool{}
	seeded := false
	for e := range w.Updates() {
		if e == nil {
			break // the bucket's current keys are all in
		}
		if e.Key() == keysSeeded {
			seeded = true
			continue
		}
		seen[e.Key()] = true
		ks.apply(e)
	}
	if seeded {
		// The bucket is the truth: drop what it does not hold.
		for _, k := range m.keys.List() {
			if !seen[bucketKey(k.ID, k.State == keys.Denied)] {
				if err := m.keys.Unset(k.ID, k.State == keys.Denied); err != nil {
					m.log.Warn("keys: drop a key the fleet deleted", "minion", k.ID, "err", err)
				}
			}
		}
	}
	m.keys.Watch(ks.stored)
	if !seeded {
		for _, k := range m.keys.List() {
			ks.stored(k, "", k.State)
		}
		if _, err := kv.Put(ctx, keysSeeded, []byte("1")); err != nil {
			return fmt.Errorf("keys bucket: %w", err)
		}
	}
	go func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e != nil && e.Key() != keysSeeded {
					ks.apply(e)
				}
			}
		}
	}()
	return nil
}

// replicas is how many copies a bucket should have now.
func (m *Master) replicas() int {
	if m.srv == nil {
		if len(m.opts.NATS) > 0 && m.nc != nil {
			return externalReplicas(m.nc)
		}
		return 1
	}
	return m.srv.Replicas()
}

// apply makes the store hold what a bucket entry says.
func (ks *keySync) apply(e jetstream.KeyValueEntry) {
	denied, id, ok := parseBucketKey(e.Key())
	if !ok {
		ks.m.log.Warn("keys bucket: unknown entry", "key", clip(e.Key()))
		return
	}
	ks.mu.Lock()
	if e.Revision() <= ks.rev[e.Key()] {
		ks.mu.Unlock()
		return // older than what this master wrote or applied since
	}
	ks.rev[e.Key()] = e.Revision()
	if e.Operation() != jetstream.KeyValuePut {
		delete(ks.last, e.Key())
		ks.mu.Unlock()
		if err := ks.m.keys.Unset(id, denied); err != nil {
			ks.m.log.Warn("keys: remove a key another master deleted", "minion", id, "err", err)
		}
		return
	}
	ks.last[e.Key()] = string(e.Value())
	ks.mu.Unlock()
	var k keys.Key
	if err := json.Unmarshal(e.Value(), &k); err != nil || k.ID != id || (k.State == keys.Denied) != denied {
		ks.m.log.Warn("keys bucket: bad entry", "key", e.Key(), "err", err)
		return
	}
	if err := ks.m.keys.Set(k); err != nil {
		ks.m.log.Warn("keys: take a key another master changed", "minion", id, "err", err)
	}
}

// stored writes a change of the store to the bucket, unless the change
// came from the bucket.
func (ks *keySync) stored(k keys.Key, old, new keys.State) {
	denied := new == keys.Denied || new == "" && old == keys.Denied
	bk := bucketKey(k.ID, denied)
	ctx, cancel := context.WithTimeout(context.Background(), bucketWriteTimeout)
	defer cancel()
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if new == "" {
		if _, ok := ks.last[bk]; !ok {
			return
		}
		delete(ks.last, bk)
		if err := ks.kv.Delete(ctx, bk); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			ks.m.log.Error("keys bucket: delete", "minion", k.ID, "err", err)
		}
		return
	}
	b, err := json.Marshal(k)
	if err != nil {
		ks.m.log.Error("keys bucket: encode", "minion", k.ID, "err", err)
		return
	}
	if ks.last[bk] == string(b) {
		return
	}
	ks.last[bk] = string(b)
	rev, err := ks.kv.Put(ctx, bk, b)
	if err != nil {
		ks.m.log.Error("keys bucket: write; other masters do not see this change yet", "minion", k.ID, "state", new, "err", err)
		return
	}
	ks.rev[bk] = max(ks.rev[bk], rev)
}

// bucketWriteTimeout bounds one write of a key change to the bucket.
const bucketWriteTimeout = 10 * time.Second

func parseBucketKey(key string) (denied bool, id string, ok bool) {
	switch {
	case strings.HasPrefix(key, "d."):
		denied, id = true, key[2:]
	case strings.HasPrefix(key, "k."):
		id = key[2:]
	default:
		return false, "", false
	}
	return denied, id, keys.CheckID(id) == nil
}
