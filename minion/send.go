package minion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
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
// every reconnection; false when ctx is done first. A return the job cache
// refuses for good (retrying cannot help) is replaced by a small failure
// return saying why, so that it never holds back the returns after it.
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
	stored := func(f []byte) {
		if err := m.outbox.put(name, f); err != nil {
			m.log.Warn("cannot replace the refused return in the outbox", "jid", name, "err", err)
		}
	}
	if !m.sendReturn(ctx, &ret, stored) {
		return false
	}
	if err := m.outbox.remove(name); err != nil {
		m.log.Warn("cannot remove sent return from the outbox", "jid", name, "err", err)
	}
	return true
}

// sendReturn publishes ret until the job cache acknowledges it; false
// when ctx is done first. A return the job cache refuses for good is
// replaced by a small failure return saying why, handed to replaced (when
// not nil) before it is sent; should that be refused too, it is dropped.
func (m *Minion) sendReturn(ctx context.Context, ret *job.Return, replaced func([]byte)) bool {
	err := m.publishReturn(ctx, ret)
	if ctx.Err() != nil {
		return false
	}
	if err == nil {
		return true
	}
	m.log.Error("the job cache refuses a return: sending a failure return in its place", "jid", ret.JID, "err", err)
	f := failure(&job.Job{JID: ret.JID, Minion: ret.Minion, Fun: ret.Fun},
		fmt.Sprintf("the job's return could not be delivered: %v", err), ret.Started, ret.Finished)
	if replaced != nil {
		replaced(m.encodeReturn(f, maxReturn))
	}
	err = m.publishReturn(ctx, f)
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		m.log.Error("dropping a return the job cache refuses", "jid", ret.JID, "err", err)
	}
	return true
}

// publishReturn publishes ret, cut to what the connection carries,
// retrying with back-off and at every reconnection until the job cache
// acknowledges it. It returns nil once acknowledged, ctx's error when ctx
// is done first, and at once an error that retrying cannot fix (see
// refusedForGood).
func (m *Minion) publishReturn(ctx context.Context, ret *job.Return) error {
	b := backoff{lo: 250 * time.Millisecond, hi: 30 * time.Second}
	for {
		wake := m.changed.wait()
		if nc := m.conn.Load(); nc != nil && m.accepted.Load() {
			data := m.encodeReturn(ret, returnLimit(nc.MaxPayload()))
			js, err := jetstream.New(nc)
			if err == nil {
				pctx, cancel := context.WithTimeout(ctx, publishTimeout)
				err = bus.PublishReturn(pctx, js, ret.JID, m.cfg.ID, data)
				cancel()
			}
			if err == nil {
				m.log.Debug("return sent", "jid", ret.JID)
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if refusedForGood(err) {
				return err
			}
			m.log.Warn("cannot send return; retrying", "jid", ret.JID, "err", err)
		}
		if !sleep(ctx, b.next(), wake) {
			return ctx.Err()
		}
	}
}

// refusedForGood reports whether publishing a return failed in a way that
// publishing it again cannot fix: the message is larger than the server
// carries, or the stream rejects the message itself (a 400 answer, such as
// a message over the stream's size limit). Lost connections, timeouts and
// a stream that is missing or full for now are worth retrying.
func refusedForGood(err error) bool {
	if errors.Is(err, nats.ErrMaxPayload) {
		return true
	}
	var api *jetstream.APIError
	return errors.As(err, &api) && api.Code == 400
}
