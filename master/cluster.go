package master

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/keys"
)

// Join tokens.
const (
	// DefaultTokenTTL is how long a join token is good for.
	DefaultTokenTTL = 15 * time.Minute
	// MaxTokenTTL bounds a join token's life: it hands out the fleet's signing key.
	MaxTokenTTL = 24 * time.Hour
	// tokenPrefix starts every join token (its format's version).
	tokenPrefix = "brinejoin1."
	// joinNamePrefix starts a joining master's connection name, which
	// carries its ticket: expiry and the fleet key's signature.
	joinNamePrefix = "brine-join:"
	// peersFile keeps, in the data dir, the routes a master learnt when it
	// joined, so that it finds the cluster again after a restart.
	peersFile = "cluster-peers.json"
	// scaleEvery is how often a clustered master checks that the streams
	// have as many replicas as the cluster allows (masters that join later
	// raise them).
	scaleEvery = 5 * time.Second
)

// joinToken is what a join token carries: the key the joining master
// connects with, the fleet's signature of that key and the expiry (the
// ticket), and the fingerprint of the bus CA it must find.
type joinToken struct {
	Seed    string `json:"s"`
	Expires int64  `json:"e"` // unix seconds
	Sig     string `json:"t"` // base64url signature of ticketText
	CA      string `json:"f,omitempty"`
}

// ticketText is what the fleet key signs for a join key.
func ticketText(publicKey string, expires int64) []byte {
	return []byte(joinNamePrefix + publicKey + ":" + strconv.FormatInt(expires, 10))
}

// ClusterToken makes a join token good for ttl (0: DefaultTokenTTL).
func (m *Master) ClusterToken(ttl time.Duration) (string, time.Time, error) {
	fp, err := bus.CAFingerprintOf(m.busDir())
	if err != nil {
		return "", time.Time{}, err
	}
	return makeToken(m.key, fp, ttl)
}

// JoinToken makes a join token from a master's data dir, running or not:
// the fleet's signing key and its bus CA are all it needs, so the first
// master of a cluster, which serves nothing until a second one joins,
// can hand out tokens. Only root reads the data dir.
func JoinToken(dataDir string, ttl time.Duration) (string, time.Time, error) {
	path := filepath.Join(dataDir, "master.nk")
	if _, err := os.Stat(path); err != nil {
		return "", time.Time{}, fmt.Errorf("join token: no master signing key in %s (%w): give the data dir of a master started with --cluster-listen", dataDir, err)
	}
	kp, err := keys.LoadOrCreate(path)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("join token: %w", err)
	}
	fp, err := bus.CAFingerprintOf(filepath.Join(dataDir, "bus"))
	if err != nil {
		return "", time.Time{}, err
	}
	if fp == "" {
		return "", time.Time{}, fmt.Errorf("join token: no bus CA in %s yet: start the master with --cluster-listen first", dataDir)
	}
	return makeToken(kp, fp, ttl)
}

// makeToken makes a join token signed by the fleet key.
func makeToken(fleet nkeys.KeyPair, caFP string, ttl time.Duration) (string, time.Time, error) {
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl < time.Second || ttl > MaxTokenTTL {
		return "", time.Time{}, fmt.Errorf("join token lifetime %s: give one between 1s and %s", ttl, MaxTokenTTL)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("join token key: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("join token key: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("join token key: %w", err)
	}
	exp := time.Now().Add(ttl).Truncate(time.Second)
	sig, err := fleet.Sign(ticketText(pub, exp.Unix()))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign join token: %w", err)
	}
	b, err := json.Marshal(joinToken{Seed: string(seed), Expires: exp.Unix(), Sig: base64.RawURLEncoding.EncodeToString(sig), CA: caFP})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("encode join token: %w", err)
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b), exp, nil
}

// parseToken decodes a join token.
func parseToken(tok string) (joinToken, nkeys.KeyPair, error) {
	var jt joinToken
	body, ok := strings.CutPrefix(strings.TrimSpace(tok), tokenPrefix)
	if !ok {
		return jt, nil, errors.New("join token: not a brine join token (it starts with " + tokenPrefix + "; make one with brine cluster token on a running master)")
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err == nil {
		err = json.Unmarshal(b, &jt)
	}
	if err != nil {
		return jt, nil, fmt.Errorf("join token: damaged (%v): copy it whole", err)
	}
	kp, err := nkeys.FromSeed([]byte(jt.Seed))
	if err != nil {
		return jt, nil, fmt.Errorf("join token: bad key: %w", err)
	}
	if time.Now().Unix() >= jt.Expires {
		return jt, nil, fmt.Errorf("join token expired at %s: make a new one with brine cluster token", time.Unix(jt.Expires, 0).Format(time.RFC3339))
	}
	return jt, kp, nil
}

// joinTicket checks the ticket a joining master's connection carries in its
// name: signed by the fleet key for this very connection key, not expired.
func (m *Master) joinTicket(publicKey, name string) bool {
	rest, ok := strings.CutPrefix(name, joinNamePrefix)
	if !ok {
		return false
	}
	expS, sigS, ok := strings.Cut(rest, ":")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil || time.Now().Unix() >= exp {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigS)
	if err != nil {
		return false
	}
	return m.key.Verify(ticketText(publicKey, exp), sig) == nil
}

// joinReply is the fleet identity a master hands a joining one.
type joinReply struct {
	Seed    string   `json:"seed"`    // the fleet's job-signing key
	CACert  []byte   `json:"ca_cert"` // the bus CA, PEM
	CAKey   []byte   `json:"ca_key"`
	Routes  []string `json:"routes"` // host:port of cluster listeners; "" host = the join URL's host
	Cluster string   `json:"cluster"`
}

// handleJoin answers a joining master's request with the fleet's identity.
// Only a connection that presented a valid ticket can publish on a join
// subject, and only on its own; the reply goes back through the minion
// account's service import, to that connection alone.
func (m *Master) handleJoin(msg *nats.Msg) {
	pub, ok := bus.JoinKey(msg.Subject)
	if !ok || msg.Reply == "" {
		m.dropped("join request", "?", "bad subject", "subject", clip(msg.Subject))
		return
	}
	if m.opts.ClusterListen == "" {
		m.log.Warn("join request refused: this master runs without --cluster-listen", "key", pub)
		m.respondJSON(msg, map[string]string{"error": "this master is not clustered: start it with --cluster-listen"})
		return
	}
	seed, err := m.key.Seed()
	if err != nil {
		m.log.Error("join request: signing key", "err", err)
		return
	}
	ca, err := os.ReadFile(bus.CACertFile(m.busDir()))
	if err != nil {
		m.log.Error("join request: bus CA", "err", err)
		return
	}
	caKey, err := os.ReadFile(bus.CAKeyFile(m.busDir()))
	if err != nil {
		m.log.Error("join request: bus CA key", "err", err)
		return
	}
	routes := []string{m.opts.ClusterListen}
	if h, p, err := net.SplitHostPort(m.opts.ClusterListen); err == nil {
		if ip := net.ParseIP(h); h == "" || ip != nil && ip.IsUnspecified() {
			routes[0] = net.JoinHostPort("", p)
		}
	}
	routes = append(routes, m.opts.Peers...)
	m.log.Info("a master joins the cluster with a join token", "key", pub)
	m.respondJSON(msg, joinReply{Seed: string(seed), CACert: ca, CAKey: caKey, Routes: routes, Cluster: m.opts.ClusterName})
}

func (m *Master) respondJSON(msg *nats.Msg, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		m.log.Error("encode reply", "subject", msg.Subject, "err", err)
		return
	}
	if err := msg.Respond(b); err != nil {
		m.log.Warn("reply", "subject", msg.Subject, "err", err)
	}
}

// busDir is the embedded bus's data dir.
func (m *Master) busDir() string { return filepath.Join(m.opts.DataDir, "bus") }

// joined reports whether the data dir holds a fleet identity already: a
// bus CA (made by this master, or received when it joined).
func (m *Master) joined() bool {
	_, err := os.Stat(bus.CACertFile(m.busDir()))
	return err == nil
}

// join fetches the fleet's signing key and CA from the master at
// m.opts.Join with the join token, stores them in the data dir and takes
// the signing key as its own. A master that has a fleet identity already
// keeps it.
func (m *Master) join(ctx context.Context, token string) error {
	if m.joined() {
		m.log.Info("cluster: this master has the fleet identity already; --join ignored", "ca", bus.CACertFile(m.busDir()))
		return nil
	}
	if token == "" {
		return errors.New("join " + m.opts.Join + ": no join token: give --token (brine cluster token on a running master prints one)")
	}
	jt, kp, err := parseToken(token)
	if err != nil {
		return err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return fmt.Errorf("join token: %w", err)
	}
	u, err := url.Parse(m.opts.Join)
	if err != nil || u.Host == "" {
		return fmt.Errorf("join %q: want the bus URL of a running master (nats://host:4506)", m.opts.Join)
	}
	extra := []nats.Option{nats.CustomInboxPrefix(bus.JoinInbox(pub)), nats.MaxReconnects(0)}
	// Off loopback the bus runs TLS: the joining master trusts only the CA
	// the token names (on loopback the bus, like the token, stays on the host).
	need, err := bus.NeedsTLS(u.Host)
	switch {
	case err != nil:
		return fmt.Errorf("join %q: %w", m.opts.Join, err)
	case (need || u.Scheme == "tls") && jt.CA == "":
		return fmt.Errorf("join %s: the token carries no CA fingerprint, so it can only join over loopback", m.opts.Join)
	case need || u.Scheme == "tls":
		extra = append(extra, nats.Secure(bus.PinnedTLS(jt.CA)))
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	nc, err := bus.Connect(cctx, bus.ClientConfig{URLs: []string{m.opts.Join},
		Name: joinNamePrefix + strconv.FormatInt(jt.Expires, 10) + ":" + jt.Sig, Key: kp, Log: m.log, Extra: extra})
	if err != nil {
		return fmt.Errorf("join %s: %w (is the token expired, or made by another fleet?)", m.opts.Join, err)
	}
	defer nc.Close()
	msg, err := nc.RequestWithContext(cctx, bus.JoinSubject(pub), nil)
	if err != nil {
		return fmt.Errorf("join %s: ask for the fleet identity: %w", m.opts.Join, err)
	}
	var rep joinReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil || rep.Seed == "" {
		return fmt.Errorf("join %s: the master answered %q", m.opts.Join, clip(string(msg.Data)))
	}
	signer, err := nkeys.FromSeed([]byte(rep.Seed))
	if err != nil {
		return fmt.Errorf("join %s: fleet signing key: %w", m.opts.Join, err)
	}
	host := u.Hostname()
	var routes []string
	for _, r := range rep.Routes {
		if h, p, err := net.SplitHostPort(r); err == nil && h == "" {
			r = net.JoinHostPort(host, p)
		}
		if r != m.opts.ClusterListen {
			routes = append(routes, r)
		}
	}
	if err := writeJoined(m.opts.DataDir, m.busDir(), rep, routes); err != nil {
		return fmt.Errorf("join %s: %w", m.opts.Join, err)
	}
	if err := m.useKey(signer); err != nil {
		return err
	}
	if m.opts.ClusterName == "" {
		m.opts.ClusterName = rep.Cluster
	}
	m.log.Info("cluster: joined: fleet signing key and bus CA stored", "key", m.pub, "routes", routes)
	return nil
}

// writeJoined stores a joining master's fleet identity: the signing key,
// the CA and the routes to the cluster.
func writeJoined(dataDir, busDir string, rep joinReply, routes []string) error {
	if err := os.MkdirAll(filepath.Dir(bus.CACertFile(busDir)), 0o700); err != nil {
		return fmt.Errorf("bus TLS dir: %w", err)
	}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{filepath.Join(dataDir, "master.nk"), []byte(rep.Seed + "\n")},
		{bus.CAKeyFile(busDir), rep.CAKey},
		{bus.CACertFile(busDir), rep.CACert},
	} {
		if err := writeSecret(f.path, f.data); err != nil {
			return err
		}
	}
	b, err := json.Marshal(routes)
	if err != nil {
		return fmt.Errorf("encode routes: %w", err)
	}
	return writeSecret(filepath.Join(dataDir, peersFile), b)
}

// writeSecret writes a 0600 file through a temporary file.
func writeSecret(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// clusterPeers are the configured peers and those the master learnt when it
// joined, without duplicates or itself.
func (m *Master) clusterPeers() ([]string, error) {
	peers := slices.Clone(m.opts.Peers)
	b, err := os.ReadFile(filepath.Join(m.opts.DataDir, peersFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("cluster peers: %w", err)
	default:
		var learnt []string
		if err := json.Unmarshal(b, &learnt); err != nil {
			return nil, fmt.Errorf("cluster peers %s: %w (delete the file and give --peers)", filepath.Join(m.opts.DataDir, peersFile), err)
		}
		peers = append(peers, learnt...)
	}
	var out []string
	for _, p := range peers {
		p = strings.TrimSpace(p)
		if p != "" && p != m.opts.ClusterListen && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// useKey makes kp the master's signing and bus key.
func (m *Master) useKey(kp nkeys.KeyPair) error {
	key, err := newSigner(kp)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	pub, err := key.PublicKey()
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	m.key, m.pub = key, pub
	return nil
}

// scaleStreams keeps raising the streams' and buckets' replicas as masters
// join, until ctx ends.
func (m *Master) scaleStreams(ctx context.Context) {
	t := time.NewTicker(scaleEvery)
	defer t.Stop()
	for {
		raised, err := bus.ScaleStreams(ctx, m.js, m.srv.Replicas())
		if err != nil && ctx.Err() == nil {
			m.log.Warn("cluster: raise stream replicas", "err", err)
		}
		if len(raised) > 0 {
			m.log.Info("cluster: streams raised", "replicas", m.srv.Replicas(), "streams", raised)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ClusterStatus is the cluster as this master's server sees it (on an
// external cluster, as its servers describe themselves), with every
// stream's and bucket's replicas.
func (m *Master) ClusterStatus(ctx context.Context) (bus.ClusterStatus, error) {
	var st bus.ClusterStatus
	var err error
	switch {
	case m.srv != nil:
		st, err = m.srv.Status()
	case m.callout != nil:
		st, err = bus.ExternalStatus(ctx, m.callout)
	}
	if err != nil {
		return st, err
	}
	streams, err := bus.StreamsStatus(ctx, m.js)
	if err != nil {
		return st, err
	}
	st.Streams = streams
	return st, nil
}
