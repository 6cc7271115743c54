package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// On an external cluster the masters learn which minions are connected
// from the servers themselves: every server sends an event when a client
// of the minions' account connects or disconnects, and answers a request
// for that account's connections. Both name the client's NKey, which the
// server checked against the nonce before the callout authorized it, so
// a key is connected when some server holds a connection authenticated
// with it. The callout connection (account BRINE_AUTH) sees both through
// the system account's exports (ExternalConfig); minions see neither.

// connID names a connection in a cluster: its server and its id there.
type connID struct {
	server string
	cid    uint64
}

// Presence tracks the connections of the minions' account of an external
// cluster, by the NKey each authenticated with.
type Presence struct {
	nc  *nats.Conn
	log *slog.Logger

	resync sync.Mutex // one resynchronization at a time

	mu      sync.Mutex
	seq     uint64            // events applied so far
	conns   map[connID]string // open connection -> its NKey
	opened  map[connID]uint64 // open connection -> seq of the event or resync that added it
	perKey  map[string]int    // NKey -> open connections
	closed  map[connID]uint64 // disconnections seen during a resync, with their seq
	syncing bool              // a resynchronization is gathering the servers' answers
	subs    []*nats.Subscription
}

// WatchPresence follows the minions' connections on the cluster nc (a
// connection of the masters' callout account) is on: it subscribes to the
// connection events, then asks every server for the connections it
// holds, so that minions connected before the master started are known.
func WatchPresence(ctx context.Context, nc *nats.Conn, log *slog.Logger) (*Presence, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Presence{nc: nc, log: log, conns: map[connID]string{}, opened: map[connID]uint64{},
		perKey: map[string]int{}, closed: map[connID]uint64{}}
	for subject, open := range map[string]bool{minionConnectEvents: true, minionDisconnectEvents: false} {
		sub, err := nc.Subscribe(subject, func(msg *nats.Msg) { p.event(msg, open) })
		if err != nil {
			p.Stop()
			return nil, fmt.Errorf("presence: subscribe to %s: %w", subject, err)
		}
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			p.Stop()
			return nil, fmt.Errorf("presence: %s: %w", subject, err)
		}
		p.subs = append(p.subs, sub)
	}
	if err := nc.Flush(); err != nil {
		p.Stop()
		return nil, fmt.Errorf("presence: subscribe to the connection events: %w", err)
	}
	if err := p.Resync(ctx); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// Stop ends the subscriptions to the connection events.
func (p *Presence) Stop() {
	for _, s := range p.subs {
		_ = s.Unsubscribe()
	}
}

// Connected reports whether a connection authenticated with publicKey is
// open on some server of the cluster.
func (p *Presence) Connected(publicKey string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.perKey[publicKey] > 0
}

// event applies a connect (open) or disconnect event.
func (p *Presence) event(msg *nats.Msg, open bool) {
	var ev struct {
		Server server.ServerInfo `json:"server"`
		Client server.ClientInfo `json:"client"`
	}
	if err := json.Unmarshal(msg.Data, &ev); err != nil || ev.Server.ID == "" || ev.Client.ID == 0 {
		p.log.Warn("presence: a connection event that does not parse", "subject", msg.Subject, "err", err)
		return
	}
	id := connID{server: ev.Server.ID, cid: ev.Client.ID}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	if open {
		p.add(id, ev.Client.User, p.seq)
		return
	}
	p.remove(id)
	if p.syncing {
		p.closed[id] = p.seq
	}
}

// add records an open connection; the caller holds mu.
func (p *Presence) add(id connID, key string, seq uint64) {
	if key == "" {
		return // no NKey: not a client the callout authorized
	}
	if _, ok := p.conns[id]; ok {
		return
	}
	p.conns[id] = key
	p.opened[id] = seq
	p.perKey[key]++
}

// remove forgets a connection; the caller holds mu.
func (p *Presence) remove(id connID) {
	key, ok := p.conns[id]
	if !ok {
		return
	}
	delete(p.conns, id)
	delete(p.opened, id)
	if p.perKey[key]--; p.perKey[key] <= 0 {
		delete(p.perKey, key)
	}
}

// connzPage is how many connections one CONNZ answer lists.
const connzPage = 4096

// Resync asks every server for the minions' connections it holds and
// makes them the known ones: connections no server lists any more (those
// of a server that died, whose disconnections nobody announced) are
// forgotten, and those no event announced are added. Events that arrive
// meanwhile win over the answers.
func (p *Presence) Resync(ctx context.Context) error {
	p.resync.Lock()
	defer p.resync.Unlock()
	p.mu.Lock()
	start := p.seq
	p.syncing = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.syncing = false
		clear(p.closed)
		p.mu.Unlock()
	}()

	listed := map[connID]string{}
	for offset := 0; ; offset += connzPage {
		body, err := json.Marshal(server.ConnzEventOptions{ConnzOptions: server.ConnzOptions{
			Username: true, Offset: offset, Limit: connzPage}})
		if err != nil {
			return fmt.Errorf("presence: encode the connections request: %w", err)
		}
		replies, err := pingServers(ctx, p.nc, minionConnz, body)
		if err != nil {
			return fmt.Errorf("presence: ask the servers for the minions' connections: %w", err)
		}
		more := false
		for _, r := range replies {
			var cz server.Connz
			if err := r.decode(&cz); err != nil {
				return fmt.Errorf("presence: connections of server %s: %w", r.Server.Name, err)
			}
			for _, c := range cz.Conns {
				listed[connID{server: r.Server.ID, cid: c.Cid}] = c.AuthorizedUser
			}
			more = more || cz.Total > offset+len(cz.Conns) && len(cz.Conns) > 0
		}
		if !more {
			break
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	for id, seq := range p.opened {
		if _, ok := listed[id]; !ok && seq <= start {
			p.remove(id) // known before the request, listed by no server
		}
	}
	for id, key := range listed {
		if _, gone := p.closed[id]; !gone {
			p.add(id, key, start)
		}
	}
	return nil
}

// serverReply is one server's answer to a request of its system account.
type serverReply struct {
	Server server.ServerInfo `json:"server"`
	Data   json.RawMessage   `json:"data"`
	Error  *server.ApiError  `json:"error"`
}

// decode decodes the answer's data into v, or returns the server's error.
func (r serverReply) decode(v any) error {
	if r.Error != nil {
		return fmt.Errorf("server %s: %s", r.Server.Name, r.Error.Description)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		return fmt.Errorf("server %s: decode its answer: %w", r.Server.Name, err)
	}
	return nil
}

// How long pingServers waits: for the first answer, and after each
// answer for another one (the servers answer at once, so a quiet spell
// means they all have).
const (
	pingFirst = 5 * time.Second
	pingQuiet = 300 * time.Millisecond
)

// pingServers sends a request every server of the cluster answers and
// gathers their answers, one per server.
func pingServers(ctx context.Context, nc *nats.Conn, subject string, body []byte) ([]serverReply, error) {
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("subscribe to the answers: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, fmt.Errorf("subscribe to the answers: %w", err)
	}
	if err := nc.PublishRequest(subject, inbox, body); err != nil {
		return nil, fmt.Errorf("request %s: %w", subject, err)
	}
	var out []serverReply
	seen := map[string]bool{}
	for wait := pingFirst; ; wait = pingQuiet {
		wctx, cancel := context.WithTimeout(ctx, wait)
		msg, err := sub.NextMsgWithContext(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("request %s: %w", subject, ctx.Err())
		case errors.Is(err, context.DeadlineExceeded) && len(out) > 0:
			slices.SortFunc(out, func(a, b serverReply) int { return strings.Compare(a.Server.Name, b.Server.Name) })
			return out, nil
		case errors.Is(err, context.DeadlineExceeded):
			return nil, fmt.Errorf("request %s: no server answered in %s: every server must include what brine cluster nats-config prints (run it again after upgrading brine: the system account exports more)", subject, pingFirst)
		case err != nil:
			return nil, fmt.Errorf("request %s: %w", subject, err)
		}
		var r serverReply
		if err := json.Unmarshal(msg.Data, &r); err != nil || r.Server.ID == "" {
			return nil, errors.Join(fmt.Errorf("request %s: an answer that is not a server's", subject), err)
		}
		if !seen[r.Server.ID] {
			seen[r.Server.ID] = true
			out = append(out, r)
		}
	}
}
