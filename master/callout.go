package master

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/keys"
)

// With --nats the masters use an operator's NATS cluster and are its
// authorizer through auth callout. The two keys that takes, the callout's
// issuer (an account key) and the masters' callout user, are derived from
// the fleet's signing key: every master that holds it has them, and the
// operator's configuration (NATSConfig) names their public halves.

// Derivation labels of the callout keys.
const (
	calloutIssuerLabel = "brine auth callout issuer v1"
	calloutUserLabel   = "brine auth callout user v1"
)

// calloutName is the name of a master's callout connection.
const calloutName = "brine-auth-callout"

// calloutKeys derives the callout's issuer (account) and user keys from
// the fleet key's seed. Each is a hash of a label and the seed, so neither
// reveals the fleet key, and the fleet key never signs a JWT.
func calloutKeys(fleet nkeys.KeyPair) (issuer, user nkeys.KeyPair, err error) {
	seed, err := fleet.Seed()
	if err != nil {
		return nil, nil, fmt.Errorf("callout keys: %w", err)
	}
	_, raw, err := nkeys.DecodeSeed(seed)
	if err != nil {
		return nil, nil, fmt.Errorf("callout keys: %w", err)
	}
	derive := func(prefix nkeys.PrefixByte, label string) (nkeys.KeyPair, error) {
		h := sha256.Sum256(append([]byte(label+"\x00"), raw...))
		return nkeys.FromRawSeed(prefix, h[:])
	}
	if issuer, err = derive(nkeys.PrefixByteAccount, calloutIssuerLabel); err != nil {
		return nil, nil, fmt.Errorf("callout issuer key: %w", err)
	}
	if user, err = derive(nkeys.PrefixByteUser, calloutUserLabel); err != nil {
		return nil, nil, fmt.Errorf("callout user key: %w", err)
	}
	return issuer, user, nil
}

// NATSConfig is the part of an external nats-server configuration the
// fleet of the master with data dir dataDir needs (bus.ExternalConfig),
// with the fleet's callout keys. A data dir without a signing key gets
// one: it is the fleet's, to give every master of the fleet.
func NATSConfig(dataDir string) (string, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("nats config: master data dir: %w", err)
	}
	kp, err := keys.LoadOrCreate(filepath.Join(dataDir, "master.nk"))
	if err != nil {
		return "", fmt.Errorf("nats config: master key: %w", err)
	}
	issuer, user, err := calloutKeys(kp)
	if err != nil {
		return "", fmt.Errorf("nats config: %w", err)
	}
	ipub, err := issuer.PublicKey()
	if err != nil {
		return "", fmt.Errorf("nats config: %w", err)
	}
	upub, err := user.PublicKey()
	if err != nil {
		return "", fmt.Errorf("nats config: %w", err)
	}
	return bus.ExternalConfig(ipub, upub)
}

// serveCallout connects the master's callout connection to the external
// cluster and answers the servers' auth callout requests on it, before the
// master's own connection (which the callout authorizes too) is made.
func (m *Master) serveCallout(ctx context.Context) error {
	issuer, user, err := calloutKeys(m.key)
	if err != nil {
		return err
	}
	// Two signatures per connection: keep the private key derived.
	fast, err := newSigner(issuer)
	if err != nil {
		return fmt.Errorf("callout issuer key: %w", err)
	}
	co, err := bus.NewCallout(bus.CalloutConfig{Issuer: fast, Auth: authorizer{m},
		TTL: time.Duration(m.opts.NATSGrantTTL), Log: m.log})
	if err != nil {
		return err
	}
	// A reconnection may have missed connection events: look again.
	resync := make(chan struct{}, 1)
	reconnected := nats.ReconnectHandler(func(*nats.Conn) {
		select {
		case resync <- struct{}{}:
		default:
		}
	})
	nc, err := bus.Connect(ctx, bus.ClientConfig{URLs: m.opts.NATS, Name: calloutName, Key: user, Log: m.log,
		Extra: append(slices.Clip(m.opts.Extra), reconnected), OnError: func(err error) {
			m.log.Warn("auth callout connection", "err", err)
		}})
	if err != nil {
		return fmt.Errorf("auth callout: connect to the NATS cluster as the callout user (is the cluster configured with brine cluster nats-config?): %w", err)
	}
	if _, err := co.Serve(nc); err != nil {
		nc.Close()
		return err
	}
	m.callout, m.co = nc, co
	m.log.Info("auth callout: answering the cluster's connection requests", "cluster", m.opts.NATS)
	seen, err := bus.WatchPresence(ctx, nc, m.log)
	if err != nil {
		return fmt.Errorf("external cluster: %w", err)
	}
	m.seen = seen
	go m.resyncPresence(ctx, resync)
	return nil
}

// presenceResync is how often a master asks the servers of an external
// cluster for the minions' connections again: a server that dies sends
// no disconnection events for its clients, so this bounds how long they
// are still seen connected.
const presenceResync = 30 * time.Second

// resyncPresence asks the servers for the minions' connections every
// presenceResync, and at once when the callout connection reconnected.
func (m *Master) resyncPresence(ctx context.Context, now <-chan struct{}) {
	t := time.NewTicker(presenceResync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-now:
		}
		if err := m.seen.Resync(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("external cluster: the minions' connections", "err", err)
		}
	}
}

// kick closes the connections of a key whose role changed, so that they
// reconnect with the rights it has now: on the embedded server at once;
// on an external cluster, those this master's callout authorized, through
// the servers' kick service.
func (m *Master) kick(ctx context.Context, publicKey string) {
	switch {
	case m.srv != nil:
		m.srv.Kick(publicKey)
	case m.co != nil:
		m.co.Kick(ctx, publicKey)
	}
}

// externalReplicas is how many copies streams get on an external cluster:
// one per server the master's connection knows of, at most bus.MaxReplicas.
func externalReplicas(nc *nats.Conn) int {
	return min(max(len(nc.Servers()), 1), bus.MaxReplicas)
}
