package master

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/keys"
	"github.com/brinecm/brine/pkg/wire"
)

// authorizer tells the bus what each key may do, from the key store.
type authorizer struct{ m *Master }

// Authorize maps a connecting key to its role on the bus.
func (a authorizer) Authorize(publicKey, name string) (bus.Role, string) {
	if publicKey == a.m.pub {
		return bus.RoleAdmin, bus.MasterID
	}
	if strings.HasPrefix(name, joinNamePrefix) {
		if a.m.joinTicket(publicKey, name) {
			return bus.RoleJoin, ""
		}
		return bus.RoleNone, ""
	}
	k, ok := a.m.keys.Lookup(publicKey)
	if !ok {
		return bus.RolePending, name
	}
	switch k.State {
	case keys.Accepted:
		return bus.RoleMinion, k.ID
	case keys.Pending:
		return bus.RolePending, k.ID
	}
	return bus.RoleNone, ""
}

// handleAuth files a minion's request to be accepted.
func (m *Master) handleAuth(msg *nats.Msg) {
	id, ok := bus.SubjectID(msg.Subject)
	if !ok || bus.ValidID(id) != nil {
		m.dropped("key request", "?", "bad subject", "subject", clip(msg.Subject))
		return
	}
	var req wire.AuthRequest
	if err := json.Unmarshal(msg.Data, &req); err != nil {
		m.log.Warn("bad key request", "minion", id, "err", err)
		return
	}
	if err := req.Verify(id); err != nil {
		m.log.Warn("refused key request", "minion", id, "err", err)
		return
	}
	st, err := m.keys.Submit(id, req.PublicKey)
	if err != nil {
		m.log.Warn("key request", "minion", id, "err", err)
		return
	}
	if st == keys.Pending && m.opts.AutoAccept {
		if err := m.keys.Accept(id); err != nil {
			m.log.Warn("auto-accept", "minion", id, "err", err)
		}
	}
}

// consumerRetry bounds how long a clustered master tries to create an
// accepted minion's job consumer.
const consumerRetry = time.Minute

// authQueue is the queue group of the masters' key requests: with several
// masters on one bus, one decides on each request (auto-accept included),
// and the replicated key bucket tells the others, instead of every master
// writing its own answer over the others'.
const authQueue = "brine-masters-auth"

// keyChanged reacts to key store changes: an accepted minion gets its job
// consumer and is reconnected with its new rights; a rejected, denied or
// deleted one is cut off. An accepted key taken back is cut off at once, in
// the store's call; the rest runs on the master's keyed pool, in order for
// each minion, so that accepting thousands of keys does not wait for each
// consumer in turn.
func (m *Master) keyChanged(ctx context.Context, k keys.Key, old, new keys.State) {
	m.log.Info("key changed", "minion", k.ID, "from", old, "to", new)
	m.event(wire.TagKey, map[string]any{"id": k.ID, "state": string(new), "old": string(old)})
	if new == keys.Pending {
		return // a new request: nothing to cut off
	}
	if old == keys.Accepted {
		m.kick(ctx, k.PublicKey)
	}
	if old == keys.Accepted {
		m.mesh.left(k.ID)
	}
	m.work.do(ctx, k.ID, func() { m.applyKeyChange(ctx, k, new) })
}

// applyKeyChange creates or removes the job consumer of a key that changed
// state, then closes the key's connections so that they reconnect with the
// rights the key has now.
func (m *Master) applyKeyChange(ctx context.Context, k keys.Key, new keys.State) {
	switch new {
	case keys.Accepted:
		// On a cluster the job stream may be electing a leader or
		// moving replicas (insufficient resources until it is done):
		// try again for a while.
		rctx, cancel := context.WithTimeout(ctx, consumerRetry)
		err := m.retryCluster(rctx, func(ctx context.Context) error { return bus.EnsureMinionConsumer(ctx, m.js, k.ID) })
		cancel()
		if err != nil {
			m.log.Error("job consumer", "minion", k.ID, "err", err)
		}
	case "":
		if err := bus.RemoveMinionConsumer(ctx, m.js, k.ID); err != nil {
			m.log.Error("job consumer", "minion", k.ID, "err", err)
		}
		m.grains.forget(ctx, k.ID)
	}
	m.kick(ctx, k.PublicKey)
}

// event publishes a master-side event.
func (m *Master) event(tag string, data map[string]any) {
	b, err := json.Marshal(wire.Event{Tag: tag, Source: bus.MasterID, Time: time.Now(), Data: data})
	if err != nil {
		m.log.Error("encode event", "tag", tag, "err", err)
		return
	}
	if err := m.nc.Publish(bus.LoggedEventSubject(bus.MasterID, tag), b); err != nil {
		m.log.Warn("publish event", "tag", tag, "err", err)
	}
}

// joinQueue makes one master of a cluster answer each join request.
const joinQueue = "brine-join"

// subscribe starts the master's subscriptions: key requests, grains,
// events and the file server. Every handler is guarded: a message that
// makes one fail is logged and dropped.
func (m *Master) subscribe(ctx context.Context) error {
	for _, s := range []struct {
		subject, queue string
		h              nats.MsgHandler
	}{
		// One master of a cluster answers each key request: the key
		// bucket carries its decision to the others.
		{bus.AllAuth, authQueue, m.handleAuth},
		{bus.AllGrains, "", func(msg *nats.Msg) { m.grains.handle(ctx, m, msg) }},
		// Before the file server answers (a minion sends returns only once
		// it has), so no return of a job a minion started is missed.
		{bus.AllReturns, originQueue, func(msg *nats.Msg) { m.handleOrigin(ctx, msg) }},
		{bus.AllFiles, "", m.files.handler(m)},
		{bus.AllEvents, eventQueue, m.handleEvent},
	} {
		sub, err := m.nc.QueueSubscribe(s.subject, s.queue, guarded(m.log, s.subject, s.h))
		if err != nil {
			return fmt.Errorf("subscribe to %s: %w", s.subject, err)
		}
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			return err
		}
	}
	return m.nc.Flush()
}
