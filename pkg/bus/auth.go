package bus

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/brinecm/brine/pkg/ratelimit"
)

// Role is what a key may do on the bus.
type Role int

// Roles, from nothing to everything.
const (
	RoleNone    Role = iota // refuse the connection (rejected, denied, or unusable)
	RolePending             // may only publish its key request on AuthSubject
	RoleMinion              // an accepted minion: its own jobs, returns, events, grains and files
	RoleAdmin               // a master or an administrator: everything
	RoleJoin                // a master joining the cluster with a join token: it may only ask to join
)

// String names the role for logs.
func (r Role) String() string {
	switch r {
	case RolePending:
		return "pending"
	case RoleMinion:
		return "minion"
	case RoleAdmin:
		return "admin"
	case RoleJoin:
		return "join"
	default:
		return "none"
	}
}

// Authorizer maps a presented public key (and the client's claimed name) to a
// role and minion id. It is called once per connection attempt, so it must be
// fast and safe for concurrent use.
type Authorizer interface {
	Authorize(publicKey, name string) (role Role, id string)
}

// Grant is what a connection authorized with a role gets on the bus: the
// account it is placed in and its permissions. The embedded server and the
// auth callout of an external cluster both hand out exactly this.
type Grant struct {
	Role        Role
	ID          string              // the minion id (pending and accepted keys), MasterID for a master
	Account     string              // MasterAccount or minionAccountName
	Permissions *server.Permissions // nil: everything in Account
}

// MasterAccount is the account of the masters, which holds JetStream. On
// the embedded bus it is the server's global account; an external
// cluster's configuration names it so (ExternalAccounts).
const MasterAccount = "BRINE"

// pendingFlood refuses a flood of connections of keys that are not accepted.
const pendingFlood = "too many connections of keys that are not accepted from this address; retry later"

// GrantFor is what a key with role may do: role and id as the Authorizer
// answered for key, name the name the client claimed. A role that may do
// nothing, and an id that is not usable on the bus, are errors that say why.
func GrantFor(role Role, key, id, name string) (Grant, error) {
	g := Grant{Role: role, ID: id, Account: minionAccountName}
	switch role {
	case RoleAdmin:
		g.Account, g.ID = MasterAccount, MasterID
	case RoleMinion:
		if err := ValidID(id); err != nil {
			return Grant{}, fmt.Errorf("accepted key maps to an unusable id: %w", err)
		}
		g.Permissions = minionPermissions(id)
	case RoleJoin:
		g.Permissions = joinPermissions(key)
	case RolePending:
		if id == "" {
			g.ID = name
		}
		if err := ValidID(g.ID); err != nil {
			return Grant{}, fmt.Errorf("pending key: %w", err)
		}
		g.Permissions = pendingPermissions(g.ID)
	default:
		return Grant{}, errors.New("key is not allowed")
	}
	return g, nil
}

// minionPermissions are the subjects an accepted minion may use. It needs no
// JetStream API right at all: a JetStream publish is a plain publish whose
// acknowledgement comes back on the minion's own inbox.
func minionPermissions(id string) *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			ReturnSubject("*", id),
			EventSubject(id, ">"),
			GrainsSubject(id),
			FileSubject(id),
			ackPrefix(id) + ">",
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{
			DeliverSubject(id),
			InboxPrefix(id) + ".>",
		}},
	}
}

// How many connections of keys that are not accepted one remote address
// may open: a burst, then a few per second. A fleet starting behind one
// address retries with back-off; a flood of new keys is slowed to this.
const (
	pendingBurst = 64
	pendingRate  = 4
)

// pendingPermissions let a key that is not accepted ask to be, and nothing else.
func pendingPermissions(id string) *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{AuthSubject(id)}},
		Subscribe: &server.SubjectPermission{Deny: []string{">"}},
	}
}

// joinPermissions let a master holding a join token ask for the fleet's
// identity on its own join subject and hear the answer on its own inbox.
func joinPermissions(publicKey string) *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{JoinSubject(publicKey)}},
		Subscribe: &server.SubjectPermission{Allow: []string{JoinInbox(publicKey) + ".>"}},
	}
}

// monitorPermissions let the bus's own system-account connection watch disconnects.
func monitorPermissions() *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{}},
		Subscribe: &server.SubjectPermission{Allow: []string{disconnectEvents}},
	}
}

// disconnectEvents is the system-account subject of client disconnections.
const disconnectEvents = "$SYS.ACCOUNT.*.DISCONNECT"

// authenticator is the server's custom client authentication: it checks that
// the client signed the server's nonce with the NKey it presents, asks the
// Authorizer what that key may do, and records the connection for Kick and
// Connected.
type authenticator struct {
	auth       Authorizer
	log        *slog.Logger
	monitorKey string                         // public key of the bus's own monitor connection
	pending    *ratelimit.Limiter             // pending connections per remote address
	sysAccount func() *server.Account         // the server's system account, once started
	minions    *server.Account                // the account of minion connections, once started
	mu         sync.Mutex                     // guards byKey and byCID
	byKey      map[string]map[uint64]struct{} // public key -> client ids
	byCID      map[uint64]string              // client id -> public key
}

func newAuthenticator(auth Authorizer, log *slog.Logger, monitorKey string) *authenticator {
	return &authenticator{
		auth:       auth,
		log:        log,
		monitorKey: monitorKey,
		pending:    ratelimit.New(pendingRate, pendingBurst),
		byKey:      make(map[string]map[uint64]struct{}),
		byCID:      make(map[uint64]string),
	}
}

// Check implements server.Authentication.
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	opts := c.GetOpts()
	key, name := opts.Nkey, opts.Name
	if c.Kind() != server.CLIENT {
		return a.refuse(c, key, name, "not a client connection")
	}
	if key == "" {
		return a.refuse(c, key, name, "no NKey presented")
	}
	if !signedNonce(key, opts.Sig, c.GetNonce()) {
		return a.refuse(c, key, name, "nonce signature does not verify")
	}
	if key == a.monitorKey {
		c.RegisterUser(&server.User{Username: "brine-bus-monitor", Account: a.sysAccount(), Permissions: monitorPermissions()})
		return true
	}
	role, id := a.auth.Authorize(key, name)
	g, err := GrantFor(role, key, id, name)
	if err != nil {
		return a.refuse(c, key, name, err.Error())
	}
	if role == RolePending {
		if host := remoteHost(c); host != "" && !a.pending.Allow(host) {
			return a.refuse(c, key, name, pendingFlood)
		}
	}
	user := &server.User{Username: key, Permissions: g.Permissions}
	if g.Account == minionAccountName {
		if a.minions == nil {
			return a.refuse(c, key, name, "the bus is still starting")
		}
		user.Account = a.minions
	}
	c.RegisterUser(user)
	a.track(c.GetID(), key)
	a.log.Debug("bus: client authenticated", "key", key, "name", name, "role", role, "id", g.ID, "cid", c.GetID())
	return true
}

// refuse logs why a connection is refused and returns false.
func (a *authenticator) refuse(c server.ClientAuthentication, key, name, reason string) bool {
	addr := ""
	if ra := c.RemoteAddress(); ra != nil {
		addr = ra.String()
	}
	a.log.Info("bus: connection refused", "key", key, "name", name, "remote", addr, "reason", reason)
	return false
}

// remoteHost is the client's IP address; "" for a connection in process
// (the master's own minions in a simulation), which no one outside can open.
func remoteHost(c server.ClientAuthentication) string {
	ra := c.RemoteAddress()
	if ra == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(ra.String())
	if err != nil || net.ParseIP(host) == nil {
		return ""
	}
	return host
}

// signedNonce reports whether sig (base64, as nats clients send it) is key's
// signature of nonce.
func signedNonce(key, sig string, nonce []byte) bool {
	if len(nonce) == 0 || sig == "" {
		return false
	}
	pub, err := nkeys.FromPublicKey(key)
	if err != nil {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		if raw, err = base64.StdEncoding.DecodeString(sig); err != nil {
			return false
		}
	}
	return pub.Verify(nonce, raw) == nil
}

func (a *authenticator) track(cid uint64, key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	set := a.byKey[key]
	if set == nil {
		set = make(map[uint64]struct{})
		a.byKey[key] = set
	}
	set[cid] = struct{}{}
	a.byCID[cid] = key
}

// forget drops a closed connection.
func (a *authenticator) forget(cid uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key, ok := a.byCID[cid]
	if !ok {
		return
	}
	delete(a.byCID, cid)
	set := a.byKey[key]
	delete(set, cid)
	if len(set) == 0 {
		delete(a.byKey, key)
	}
}

// connections returns the ids of key's open connections.
func (a *authenticator) connections(key string) []uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	cids := make([]uint64, 0, len(a.byKey[key]))
	for cid := range a.byKey[key] {
		cids = append(cids, cid)
	}
	return cids
}

func (a *authenticator) connected(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.byKey[key]) > 0
}
