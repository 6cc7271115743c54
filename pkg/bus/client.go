package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// ClientConfig configures a client connection to the bus.
type ClientConfig struct {
	URLs    []string      // server URLs; may be empty with an in-process option in Extra
	Name    string        // the minion id, or MasterID
	Key     nkeys.KeyPair // the NKey the connection authenticates with
	Minion  bool          // use the inbox prefix InboxPrefix(Name)
	PinFile string        // where the bus CA fingerprint is pinned (trust on first use); "" = no TLS
	Extra   []nats.Option // more options, e.g. Server.InProcess()
	Log     *slog.Logger  // nil = discard
	OnError func(error)   // called with asynchronous errors, such as permission violations
	// AliveInterval is how often the client pings its server: two pings
	// left unanswered drop the connection, and the client reconnects, to
	// another URL when there are several. It bounds how long a server
	// whose host vanished without closing its sockets holds the client.
	// 0 keeps the NATS default (2 minutes).
	AliveInterval time.Duration
}

// Reconnect back-off: doubling from reconnectBase up to reconnectMax, plus up
// to half as much random jitter so that a fleet does not reconnect in step.
const (
	reconnectBase = 250 * time.Millisecond
	reconnectMax  = 30 * time.Second
	dialTimeout   = 5 * time.Second
)

// backoff is the wait before reconnect attempt n (1-based).
func backoff(n int) time.Duration {
	d := reconnectMax
	if n < 16 {
		d = min(reconnectBase<<max(n-1, 0), reconnectMax)
	}
	return d + rand.N(d/2+1)
}

// Connect opens a client connection authenticated with cfg.Key. Once
// connected, the client reconnects forever with back-off and jitter, and
// each reconnection is authorized anew. Connect itself retries until the
// first connection succeeds or ctx ends, except for errors that retrying
// cannot fix: a refused key and a CA that does not match the pinned one.
func Connect(ctx context.Context, cfg ClientConfig) (*nats.Conn, error) {
	if cfg.Key == nil {
		return nil, errors.New("connect to bus: no key")
	}
	if cfg.Name == "" {
		return nil, errors.New("connect to bus: no name")
	}
	pub, err := cfg.Key.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("connect to bus: %w", err)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("bus_name", cfg.Name)
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.Nkey(pub, cfg.Key.Sign),
		nats.Timeout(dialTimeout),
		nats.MaxReconnects(-1),
		nats.IgnoreAuthErrorAbort(),
		nats.CustomReconnectDelay(backoff),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("bus: asynchronous error", "subject", subject, "err", err)
			if cfg.OnError != nil {
				cfg.OnError(err)
			}
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("bus: disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("bus: reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			log.Info("bus: connection closed", "err", nc.LastError())
		}),
	}
	if cfg.Minion {
		opts = append(opts, nats.CustomInboxPrefix(InboxPrefix(cfg.Name)))
	}
	if cfg.AliveInterval > 0 {
		opts = append(opts, nats.PingInterval(cfg.AliveInterval), nats.MaxPingsOutstanding(2))
	}
	var pin *pinner
	if cfg.PinFile != "" {
		pin = &pinner{file: cfg.PinFile, log: log}
		opts = append(opts, nats.Secure(pin.tlsConfig()))
	}
	opts = append(opts, cfg.Extra...)
	url := strings.Join(cfg.URLs, ",")

	for attempt := 1; ; attempt++ {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			log.Info("bus: connected", "url", nc.ConnectedUrlRedacted())
			return nc, nil
		}
		if pin != nil {
			if m := pin.lastMismatch(); m != nil {
				return nil, fmt.Errorf("connect to bus: %w", m)
			}
		}
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
			return nil, fmt.Errorf("connect to bus as %s: key %s refused: %w", cfg.Name, pub, err)
		}
		wait := backoff(attempt)
		log.Warn("bus: connect failed, retrying", "url", url, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to bus: %w (last error: %w)", ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}
