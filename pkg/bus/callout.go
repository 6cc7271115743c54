package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/brinecm/brine/pkg/ratelimit"
)

// With an external NATS cluster the masters are its authorizer: every
// server asks them about each connecting client through auth callout
// (nats-server 2.10 and later), and they answer with a user JWT that
// places the client in the account and gives it the permissions GrantFor
// gives its key on the embedded bus.

// CalloutSubject is where a nats-server asks its auth callout service about
// a connecting client.
const CalloutSubject = "$SYS.REQ.USER.AUTH"

// calloutQueue makes one live master answer each callout request.
const calloutQueue = "brine-masters-callout"

// AuthAccount is the account of the masters' callout connections in an
// external cluster's configuration (ExternalConfig).
const AuthAccount = "BRINE_AUTH"

// SystemAccount is the system account an external cluster's configuration
// (ExternalConfig) names.
const SystemAccount = "SYS"

// kickSubjects are the servers' kick services: $SYS.REQ.SERVER.<id>.KICK.
const kickSubjects = "$SYS.REQ.SERVER.*.KICK"

// The servers' system events and requests the masters' callout
// connections see through the system account's exports: the minions'
// connections and disconnections, the minions' connections on every
// server, and every server's VARZ and JSZ.
const (
	minionConnectEvents    = "$SYS.ACCOUNT." + minionAccountName + ".CONNECT"
	minionDisconnectEvents = "$SYS.ACCOUNT." + minionAccountName + ".DISCONNECT"
	minionConnz            = "$SYS.REQ.ACCOUNT." + minionAccountName + ".CONNZ"
	serversVarz            = "$SYS.REQ.SERVER.PING.VARZ"
	serversJsz             = "$SYS.REQ.SERVER.PING.JSZ"
)

// systemLink is one of the system account's exports to the masters'
// callout account.
type systemLink struct {
	subject string
	service bool // a service, else a stream
	ping    bool // every server answers: the replies are a stream
}

// systemLinks are what the system account exports to the masters' callout
// account: the kick service, the minions' connection events, and the
// requests every server answers (the minions' connections, the servers'
// own state).
func systemLinks() []systemLink {
	return []systemLink{
		{subject: kickSubjects, service: true},
		{subject: minionConnz, service: true, ping: true},
		{subject: serversVarz, service: true, ping: true},
		{subject: serversJsz, service: true, ping: true},
		{subject: minionConnectEvents},
		{subject: minionDisconnectEvents},
	}
}

// DefaultGrantTTL is how long a user JWT the callout hands out is good for:
// the server closes the connection when it expires, and the client's
// reconnection is authorized anew, so a key rejected or deleted meanwhile
// is cut off within this long on every server.
const DefaultGrantTTL = 2 * time.Minute

// CalloutConfig configures the answers to an external cluster's auth callout.
type CalloutConfig struct {
	Issuer nkeys.KeyPair // account key the servers' auth_callout names as issuer
	Auth   Authorizer    // decides what each key may do
	TTL    time.Duration // life of a user JWT; 0 = DefaultGrantTTL
	Log    *slog.Logger  // nil = discard
}

// Callout answers auth callout requests of an external cluster.
type Callout struct {
	issuer  nkeys.KeyPair
	auth    Authorizer
	ttl     time.Duration
	log     *slog.Logger
	pending *ratelimit.Limiter // connections of keys that are not accepted, per remote address
	nc      *nats.Conn         // the callout connection, once serving

	mu      sync.Mutex
	granted map[string][]grantedConn // public key -> connections this callout authorized
	inserts int                      // records since the last sweep of expired ones
}

// grantedConn is a connection the callout authorized, until its grant expires.
type grantedConn struct {
	server  string // the server's id
	cid     uint64 // the connection's id on that server
	expires time.Time
}

// sweepEvery is how many grants the callout records between sweeps of
// the expired ones.
const sweepEvery = 1024

// NewCallout checks cfg and prepares the answers.
func NewCallout(cfg CalloutConfig) (*Callout, error) {
	if cfg.Auth == nil {
		return nil, errors.New("auth callout: no authorizer")
	}
	if cfg.Issuer == nil {
		return nil, errors.New("auth callout: no issuer key")
	}
	pub, err := cfg.Issuer.PublicKey()
	if err != nil || !nkeys.IsValidPublicAccountKey(pub) {
		return nil, fmt.Errorf("auth callout: the issuer must be an account key (A...), got %q: %v", pub, err)
	}
	c := &Callout{issuer: cfg.Issuer, auth: cfg.Auth, ttl: cfg.TTL, log: cfg.Log,
		pending: ratelimit.New(pendingRate, pendingBurst), granted: map[string][]grantedConn{}}
	if c.ttl <= 0 {
		c.ttl = DefaultGrantTTL
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Serve answers the callout requests that reach nc, a connection of the
// callout's auth user, in a queue group shared with the other masters, so
// that one live master answers each. It returns once the subscription is
// in place on the server.
func (c *Callout) Serve(nc *nats.Conn) (*nats.Subscription, error) {
	sub, err := nc.QueueSubscribe(CalloutSubject, calloutQueue, func(msg *nats.Msg) {
		resp, err := c.Answer(msg.Data, time.Now())
		if err != nil {
			c.log.Warn("auth callout: request not answered", "err", err)
			return
		}
		if err := msg.Respond(resp); err != nil {
			c.log.Warn("auth callout: answer", "err", err)
		}
	})
	if err == nil {
		err = sub.SetPendingLimits(-1, -1)
	}
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("serve the auth callout on %s: %w", CalloutSubject, err)
	}
	c.mu.Lock()
	c.nc = nc
	c.mu.Unlock()
	return sub, nil
}

// record remembers a connection the callout authorized.
func (c *Callout) record(key, server string, cid uint64, expires, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inserts++
	if c.inserts >= sweepEvery {
		c.inserts = 0
		for k, conns := range c.granted {
			if conns = live(conns, now); len(conns) == 0 {
				delete(c.granted, k)
			} else {
				c.granted[k] = conns
			}
		}
	}
	c.granted[key] = append(live(c.granted[key], now), grantedConn{server: server, cid: cid, expires: expires})
}

// live drops the connections whose grant has expired: the server has
// closed them, or authorized them again (and recorded them anew).
func live(conns []grantedConn, now time.Time) []grantedConn {
	out := conns[:0]
	for _, gc := range conns {
		if now.Before(gc.expires) {
			out = append(out, gc)
		}
	}
	return out
}

// kickTimeout bounds a server's answer to one kick request.
const kickTimeout = 2 * time.Second

// Kick asks the servers to close every connection of publicKey this
// callout authorized whose grant has not expired, so that they reconnect
// and are authorized with the role the key has now. It returns how many
// the servers closed. A connection another master authorized is that
// master's to close (each master sees every key change); one whose master
// is gone is closed by its server when its grant expires.
func (c *Callout) Kick(ctx context.Context, publicKey string) int {
	c.mu.Lock()
	conns := live(c.granted[publicKey], time.Now())
	delete(c.granted, publicKey)
	nc := c.nc
	c.mu.Unlock()
	if nc == nil {
		return 0
	}
	n := 0
	for _, gc := range conns {
		body, err := json.Marshal(server.KickClientReq{CID: gc.cid})
		if err != nil {
			c.log.Error("auth callout: encode a kick request", "err", err)
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, kickTimeout)
		msg, err := nc.RequestWithContext(rctx, fmt.Sprintf("$SYS.REQ.SERVER.%s.KICK", gc.server), body)
		cancel()
		var resp server.ServerAPIResponse
		if err == nil {
			err = json.Unmarshal(msg.Data, &resp)
		}
		if err == nil && resp.Error != nil {
			err = errors.New(resp.Error.Description)
		}
		if err != nil {
			// Gone already, most often; else its grant's expiry closes it.
			c.log.Debug("auth callout: kick", "key", publicKey, "server", gc.server, "cid", gc.cid, "err", err)
			continue
		}
		n++
	}
	if n > 0 {
		c.log.Info("auth callout: kicked", "key", publicKey, "connections", n)
	}
	return n
}

// Answer decodes a callout request and returns the signed response: a user
// JWT with the key's grant, or a refusal that says why. A request that is
// not a valid authorization request from a server gets no answer (an error).
func (c *Callout) Answer(req []byte, now time.Time) ([]byte, error) {
	if !bytes.HasPrefix(req, []byte("eyJ")) {
		return nil, errors.New("the request is not a JWT: encrypted requests are not supported, remove xkey from the servers' auth_callout")
	}
	rc, err := jwt.DecodeAuthorizationRequestClaims(string(req))
	if err != nil {
		return nil, fmt.Errorf("decode the request: %w", err)
	}
	vr := jwt.CreateValidationResults()
	rc.Validate(vr)
	if errs := vr.Errors(); len(errs) > 0 {
		return nil, fmt.Errorf("invalid request from server %s: %w", rc.Server.Name, errs[0])
	}
	key, name := rc.ConnectOptions.Nkey, rc.ConnectOptions.Name
	ujwt, g, refusal := c.grant(rc, key, name, now)
	resp := jwt.NewAuthorizationResponseClaims(rc.UserNkey)
	resp.Audience = rc.Server.ID
	if refusal != "" {
		c.log.Info("auth callout: connection refused", "key", key, "name", name, "remote", rc.ClientInformation.Host,
			"server", rc.Server.Name, "reason", refusal)
		resp.Error = refusal
	} else {
		c.log.Debug("auth callout: client authorized", "key", key, "name", name, "role", g.Role, "id", g.ID,
			"account", g.Account, "server", rc.Server.Name)
		resp.Jwt = ujwt
	}
	tok, err := resp.Encode(c.issuer)
	if err != nil {
		return nil, fmt.Errorf("sign the answer: %w", err)
	}
	return []byte(tok), nil
}

// grant checks the client's proof of its key and makes its user JWT, or
// says why it is refused.
func (c *Callout) grant(rc *jwt.AuthorizationRequestClaims, key, name string, now time.Time) (string, Grant, string) {
	if key == "" {
		return "", Grant{}, "no NKey presented"
	}
	if !signedNonce(key, rc.ConnectOptions.SignedNonce, []byte(rc.ClientInformation.Nonce)) {
		return "", Grant{}, "nonce signature does not verify (the server must send a nonce: give the auth account an nkey user)"
	}
	role, id := c.auth.Authorize(key, name)
	g, err := GrantFor(role, key, id, name)
	if err != nil {
		return "", Grant{}, err.Error()
	}
	if role == RolePending && rc.ClientInformation.Host != "" && !c.pending.AllowAt(rc.ClientInformation.Host, now) {
		return "", Grant{}, pendingFlood
	}
	uc := jwt.NewUserClaims(rc.UserNkey)
	uc.Name = key
	uc.Audience = g.Account
	uc.IssuedAt = now.Unix()
	expires := now.Add(c.ttl)
	uc.Expires = expires.Unix()
	uc.Permissions = jwtPermissions(g.Permissions)
	tok, err := uc.Encode(c.issuer)
	if err != nil {
		return "", Grant{}, "the master could not sign a user JWT: " + err.Error()
	}
	c.record(key, rc.Server.ID, rc.ClientInformation.ID, expires, now)
	return tok, g, ""
}

// jwtPermissions are p as a user JWT carries them; nil p is everything.
func jwtPermissions(p *server.Permissions) jwt.Permissions {
	var jp jwt.Permissions
	if p == nil {
		return jp
	}
	if p.Publish != nil {
		jp.Pub.Allow = jwt.StringList(p.Publish.Allow)
		jp.Pub.Deny = jwt.StringList(p.Publish.Deny)
	}
	if p.Subscribe != nil {
		jp.Sub.Allow = jwt.StringList(p.Subscribe.Allow)
		jp.Sub.Deny = jwt.StringList(p.Subscribe.Deny)
	}
	if p.Response != nil {
		jp.Resp = &jwt.ResponsePermission{MaxMsgs: p.Response.MaxMsgs, Expires: p.Response.Expires}
	}
	return jp
}

// accountLink is a subject one account exports and the other imports.
type accountLink struct {
	subject   string
	service   bool // a service (requests whose replies the server routes back) rather than a stream
	toMinions bool // the masters' account exports it to the minions' one, rather than the reverse
}

// accountLinks join the masters' account and the minions' one. Requests
// from minions (returns, job acknowledgements, file requests, join
// requests) reach the masters' account through service imports, so their
// replies are subjects the server makes, which lead back to the requester
// alone: a minion cannot have JetStream or the master answer, with the
// master's rights, on a subject it chose. What minions only send (events,
// grains, key requests) and what they only receive (job deliveries) are
// streams, which carry no reply of the sender's.
func accountLinks() []accountLink {
	return []accountLink{
		{subject: prefixReturn + ">", service: true, toMinions: true},
		{subject: ackAll, service: true, toMinions: true},
		{subject: prefixFile + "*", service: true, toMinions: true},
		{subject: AllJoin, service: true, toMinions: true},
		{subject: prefixDeliver + "*", toMinions: true},
		{subject: AllEvents},
		{subject: AllGrains},
		{subject: AllAuth},
	}
}

// ExternalConfig is the part of an external nats-server's configuration a
// brine fleet needs, the same on every server of the cluster: the masters'
// account (with JetStream), the minions' account and the links between
// them, the account of the masters' callout connections (authUser, an
// nkey user), and the auth callout whose answers issuer signs.
func ExternalConfig(issuer, authUser string) (string, error) {
	if !nkeys.IsValidPublicAccountKey(issuer) {
		return "", fmt.Errorf("nats config: issuer %q is not an account public key", issuer)
	}
	if !nkeys.IsValidPublicUserKey(authUser) {
		return "", fmt.Errorf("nats config: auth user %q is not a user public key", authUser)
	}
	// exports and imports of each account, as config lines
	lines := map[string]*[2][]string{MasterAccount: {}, minionAccountName: {}}
	for _, l := range accountLinks() {
		kind := "stream"
		if l.service {
			kind = "service"
		}
		from, to := MasterAccount, minionAccountName
		if !l.toMinions {
			from, to = to, from
		}
		lines[from][0] = append(lines[from][0], fmt.Sprintf("      {%s: %q, accounts: [%s]}\n", kind, l.subject, to))
		lines[to][1] = append(lines[to][1], fmt.Sprintf("      {%s: {account: %s, subject: %q}}\n", kind, from, l.subject))
	}
	links := func(acct string) string {
		return "    exports: [\n" + strings.Join(lines[acct][0], "") + "    ]\n    imports: [\n" + strings.Join(lines[acct][1], "") + "    ]\n"
	}
	var sysExports, authImports strings.Builder
	for _, l := range systemLinks() {
		kind, resp := "stream", ""
		if l.service {
			kind = "service"
		}
		if l.ping {
			resp = ", response_type: stream"
		}
		fmt.Fprintf(&sysExports, "      {%s: %q, accounts: [%s]%s}\n", kind, l.subject, AuthAccount, resp)
		fmt.Fprintf(&authImports, "      {%s: {account: %s, subject: %q}}\n", kind, SystemAccount, l.subject)
	}
	return fmt.Sprintf(`# brine: the accounts and the auth callout of a brine fleet on this cluster
# (brine cluster nats-config). Include it in every server's configuration.
accounts {
  # The masters; JetStream holds the jobs, the returns and the keys here.
  %[1]s {
    jetstream: enabled
%[2]s  }
  # Every minion, with the permissions the masters give its key.
  %[3]s {
%[4]s  }
  # The masters' callout connections: the one nkey user of the fleet. They
  # may ask a server to close a connection whose key was rejected, see the
  # minions connect and disconnect, and ask every server for the minions'
  # connections and its own state.
  %[5]s {
    users: [ {nkey: %[6]s} ]
    imports: [
%[9]s    ]
  }
  # The system account (name yours here, and in system_account, if you
  # have one), exporting to the masters the servers' kick service, the
  # minions' connection events and the servers' monitoring requests.
  %[8]s {
    exports: [
%[10]s    ]
  }
}
system_account: %[8]s
authorization {
  auth_callout {
    # The fleet's callout key: only the masters sign with it.
    issuer: %[7]s
    auth_users: [ %[6]s ]
    account: %[5]s
  }
}
`, MasterAccount, links(MasterAccount), minionAccountName, links(minionAccountName),
		AuthAccount, authUser, issuer, SystemAccount, authImports.String(), sysExports.String()), nil
}
