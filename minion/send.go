package minion

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/job"
)

// publishTimeout bounds one attempt to publish a return and get its
// acknowledgement.
const publishTimeout = 10 * time.Second

// sendLoop sends the returns in the outbox, oldest first, each until the
// job cache acknowledges it (which may take a master restart), then removes
// it. It stops when ctx is done; what is left is sent at the next start.
func (m *Minion) sendLoop(ctx context.Context) {
	for {
		names, err := m.outbox.list()
		if err != nil {
			m.log.Error("cannot read the outbox", "err", err)
		}
		for _, name := range names {
			if !m.send(ctx, name) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-m.sendWake:
		}
	}
}

// send publishes one return from the outbox, retrying with back-off and at
// every reconnection; false when ctx is done first.
func (m *Minion) send(ctx context.Context, name string) bool {
	data, err := m.outbox.get(name)
	var ret job.Return
	if err == nil {
		err = json.Unmarshal(data, &ret)
	}
	if err != nil || ret.JID != name {
		m.log.Error("dropping unreadable return from the outbox", "file", name, "err", err)
		if err := m.outbox.remove(name); err != nil {
			m.log.Warn("cannot remove unreadable return", "file", name, "err", err)
		}
		return true
	}
	if !m.publishReturn(ctx, name, data) {
		return false
	}
	if err := m.outbox.remove(name); err != nil {
		m.log.Warn("cannot remove sent return from the outbox", "jid", name, "err", err)
	}
	return true
}

// publishReturn publishes the return of job jid, retrying with back-off
// and at every reconnection until the job cache acknowledges it; false when
// ctx is done first.
func (m *Minion) publishReturn(ctx context.Context, jid string, data []byte) bool {
	b := backoff{lo: 250 * time.Millisecond, hi: 30 * time.Second}
	for {
		wake := m.changed.wait()
		if nc := m.conn.Load(); nc != nil && m.accepted.Load() {
			js, err := jetstream.New(nc)
			if err == nil {
				pctx, cancel := context.WithTimeout(ctx, publishTimeout)
				err = bus.PublishReturn(pctx, js, jid, m.cfg.ID, data)
				cancel()
			}
			if err == nil {
				m.log.Debug("return sent", "jid", jid)
				return true
			}
			if ctx.Err() != nil {
				return false
			}
			m.log.Warn("cannot send return; retrying", "jid", jid, "err", err)
		}
		if !sleep(ctx, b.next(), wake) {
			return false
		}
	}
}
