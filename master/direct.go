package master

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/brinecm/brine/pkg/bus"
)

// On an external cluster a minion counts as connected from the moment its
// server announces the connection, a moment before it subscribes to its
// deliveries: a read-only job sent straight to it then could reach no
// one. So each such job carries a reply subject of the master's, and a
// server that delivers a message with a reply to no one answers "no
// responders" (503) there, before it answers the next PING: after a
// flush, every job no minion heard has bounced, and goes through the
// minion's durable consumer instead.

// directSends are the read-only jobs of one batch sent straight to
// minions, and the subscription that catches those no one heard.
type directSends struct {
	nc    *nats.Conn
	inbox string
	sub   *nats.Subscription
	ch    chan *nats.Msg
	sent  []directJob
}

// directJob is a signed job sent straight to its minion.
type directJob struct {
	id     string
	signed []byte
}

// newDirectSends subscribes to the bounces of up to n direct jobs.
func newDirectSends(nc *nats.Conn, n int) (*directSends, error) {
	d := &directSends{nc: nc, inbox: nc.NewInbox(), ch: make(chan *nats.Msg, n)}
	sub, err := nc.ChanSubscribe(d.inbox+".*", d.ch)
	if err != nil {
		return nil, fmt.Errorf("subscribe to undelivered jobs: %w", err)
	}
	d.sub = sub
	return d, nil
}

// send publishes minion id's signed job on its delivery subject.
func (d *directSends) send(id string, signed []byte) error {
	msg := &nats.Msg{Subject: bus.DeliverSubject(id), Reply: d.inbox + "." + strconv.Itoa(len(d.sent)), Data: signed}
	if err := d.nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("send job to %s: %w", id, err)
	}
	d.sent = append(d.sent, directJob{id: id, signed: signed})
	return nil
}

// unheard waits until the servers have handled every job sent, and
// returns those no minion subscription received.
func (d *directSends) unheard() ([]directJob, error) {
	defer func() { _ = d.sub.Unsubscribe() }()
	if len(d.sent) == 0 {
		return nil, nil
	}
	if err := d.nc.Flush(); err != nil {
		return nil, fmt.Errorf("send jobs to their minions: %w", err)
	}
	var out []directJob
	for {
		select {
		case msg := <-d.ch:
			i, err := strconv.Atoi(strings.TrimPrefix(msg.Subject, d.inbox+"."))
			if err != nil || i < 0 || i >= len(d.sent) || msg.Header.Get("Status") != "503" {
				continue
			}
			out = append(out, d.sent[i])
		default:
			return out, nil
		}
	}
}
