package bus

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// calloutRequest is an authorization request as a nats-server sends it:
// signed by the server's key, for a client that signed the nonce with kp
// (sig overrides the signature when set).
func calloutRequest(t testing.TB, srvKey nkeys.KeyPair, kp nkeys.KeyPair, name, sig string) []byte {
	t.Helper()
	srvPub := mustPub(t, srvKey)
	userKey, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	rc := jwt.NewAuthorizationRequestClaims(srvPub)
	rc.Audience = CalloutSubject
	rc.UserNkey = mustPub(t, userKey)
	rc.Server = jwt.ServerID{Name: "n1", ID: srvPub}
	rc.ClientInformation = jwt.ClientInformation{Host: "192.0.2.7", ID: 42, Name: name, Nonce: "nonce-of-the-server"}
	rc.ConnectOptions = jwt.ConnectOptions{Name: name}
	if kp != nil {
		rc.ConnectOptions.Nkey = mustPub(t, kp)
		s, err := kp.Sign([]byte(rc.ClientInformation.Nonce))
		if err != nil {
			t.Fatal(err)
		}
		rc.ConnectOptions.SignedNonce = base64.RawURLEncoding.EncodeToString(s)
	}
	if sig != "" {
		rc.ConnectOptions.SignedNonce = sig
	}
	tok, err := rc.Encode(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(tok)
}

// TestCalloutGrants: the callout answers each kind of key with a user JWT
// that carries exactly the account and permissions GrantFor gives it on
// the embedded bus, signed by the fleet's issuer for the asking server
// and the user the server named; keys that may do nothing, or cannot
// prove they hold their key, get a refusal that says why.
func TestCalloutGrants(t *testing.T) {
	issuer, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := nkeys.CreateServer()
	if err != nil {
		t.Fatal(err)
	}
	master, _ := newKey(t)
	minion, _ := newKey(t)
	pending, _ := newKey(t)
	joiner, _ := newKey(t)
	rejected, _ := newKey(t)
	badID, _ := newKey(t)
	kt := newKeyTable()
	kt.set(mustPub(t, master), RoleAdmin, MasterID)
	kt.set(mustPub(t, minion), RoleMinion, "web1")
	kt.set(mustPub(t, pending), RolePending, "")
	kt.set(mustPub(t, joiner), RoleJoin, "")
	kt.set(mustPub(t, badID), RoleMinion, "no spaces")
	kt.set(mustPub(t, rejected), RoleNone, "")
	co, err := NewCallout(CalloutConfig{Issuer: issuer, Auth: kt, TTL: time.Minute, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		kp       nkeys.KeyPair
		client   string
		sig      string
		account  string
		perms    *server.Permissions
		refusal  string
		everyone bool // nil permissions: everything in the account
	}{
		{name: "master", kp: master, client: MasterID, account: MasterAccount, everyone: true},
		{name: "accepted minion", kp: minion, client: "web1", account: minionAccountName, perms: minionPermissions("web1")},
		{name: "pending key", kp: pending, client: "new1", account: minionAccountName, perms: pendingPermissions("new1")},
		{name: "joining master", kp: joiner, client: "brine-join:x", account: minionAccountName, perms: joinPermissions(mustPub(t, joiner))},
		{name: "rejected key", kp: rejected, client: "web2", refusal: "key is not allowed"},
		{name: "unusable id", kp: badID, client: "x", refusal: "unusable id"},
		{name: "pending key with a bad name", kp: pending, client: "a b", refusal: "pending key"},
		{name: "no key", client: "web1", refusal: "no NKey presented"},
		{name: "forged nonce signature", kp: minion, client: "web1", sig: base64.RawURLEncoding.EncodeToString(make([]byte, 64)), refusal: "nonce signature does not verify"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := calloutRequest(t, srvKey, c.kp, c.client, c.sig)
			rc, err := jwt.DecodeAuthorizationRequestClaims(string(req))
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			out, err := co.Answer(req, now)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := jwt.DecodeAuthorizationResponseClaims(string(out))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Issuer != mustPub(t, issuer) || resp.Subject != rc.UserNkey || resp.Audience != rc.Server.ID {
				t.Fatalf("response issuer %s subject %s audience %s; want %s %s %s",
					resp.Issuer, resp.Subject, resp.Audience, mustPub(t, issuer), rc.UserNkey, rc.Server.ID)
			}
			if c.refusal != "" {
				if resp.Jwt != "" || !strings.Contains(resp.Error, c.refusal) {
					t.Fatalf("response jwt %q error %q; want a refusal with %q", resp.Jwt, resp.Error, c.refusal)
				}
				return
			}
			if resp.Error != "" {
				t.Fatalf("refused: %s", resp.Error)
			}
			uc, err := jwt.DecodeUserClaims(resp.Jwt)
			if err != nil {
				t.Fatal(err)
			}
			if uc.Issuer != mustPub(t, issuer) || uc.Subject != rc.UserNkey || uc.Audience != c.account {
				t.Fatalf("user JWT issuer %s subject %s account %s; want %s %s %s",
					uc.Issuer, uc.Subject, uc.Audience, mustPub(t, issuer), rc.UserNkey, c.account)
			}
			if uc.Expires != now.Add(time.Minute).Unix() {
				t.Errorf("user JWT expires at %d, want %d", uc.Expires, now.Add(time.Minute).Unix())
			}
			want := jwtPermissions(c.perms)
			if !reflect.DeepEqual(uc.Permissions, want) {
				t.Errorf("permissions %+v, want %+v", uc.Permissions, want)
			}
			if c.everyone != (len(uc.Pub.Allow)+len(uc.Pub.Deny)+len(uc.Sub.Allow)+len(uc.Sub.Deny) == 0) {
				t.Errorf("permissions %+v: everything=%v", uc.Permissions, c.everyone)
			}
		})
	}
}

// TestCalloutIgnoresBadRequests: what is not a server's signed request
// gets no answer at all.
func TestCalloutIgnoresBadRequests(t *testing.T) {
	issuer, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	co, err := NewCallout(CalloutConfig{Issuer: issuer, Auth: newKeyTable()})
	if err != nil {
		t.Fatal(err)
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := nkeys.CreateServer()
	if err != nil {
		t.Fatal(err)
	}
	// A request naming no user for the answer.
	rc := jwt.NewAuthorizationRequestClaims(mustPub(t, srvKey))
	rc.ConnectOptions.Nkey = mustPub(t, user)
	noUser, err := rc.Encode(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string][]byte{
		"encrypted":             []byte("\x01\x02sealed"),
		"not a JWT":             []byte("eyJnot-a-jwt"),
		"no user to answer for": []byte(noUser),
		"empty":                 nil,
		"a user JWT, not a req": []byte(mustUserJWT(t, issuer)),
	} {
		if out, err := co.Answer(req, time.Now()); err == nil {
			t.Errorf("%s: answered %q", name, out)
		}
	}
	if _, err := NewCallout(CalloutConfig{Issuer: user, Auth: newKeyTable()}); err == nil {
		t.Error("a user key was taken as the callout issuer")
	}
}

func mustUserJWT(t *testing.T, issuer nkeys.KeyPair) string {
	t.Helper()
	u, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.NewUserClaims(mustPub(t, u)).Encode(issuer)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestExternalConfig: the configuration an operator includes is the
// golden one (-update rewrites it), nats-server takes it, and it links the
// accounts as the embedded bus does.
func TestExternalConfig(t *testing.T) {
	issuer := "ACKCBR3MS3CEN25KOYGWMTAHOMMUVHN5T7N6GEEPF5OUNUQ32PFKS5M5"
	user := "UCSUY373UAI3RMAXLVI2DOXICXSJQGYCVPL4M44UQRFMBVEZCQETH2Q4"
	conf, err := ExternalConfig(issuer, user)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "external.conf")
	if *update {
		if err := os.WriteFile(golden, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if conf != string(want) {
		t.Errorf("ExternalConfig differs from %s (run with -update if the change is meant):\n%s", golden, conf)
	}
	path := filepath.Join(t.TempDir(), "server.conf")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:-1\njetstream: {store_dir: "+t.TempDir()+"}\n"+conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server refuses the configuration: %v", err)
	}
	if opts.AuthCallout == nil || opts.AuthCallout.Issuer != issuer || opts.AuthCallout.Account != AuthAccount ||
		!reflect.DeepEqual(opts.AuthCallout.AuthUsers, []string{user}) {
		t.Fatalf("auth callout %+v", opts.AuthCallout)
	}
	if opts.SystemAccount != SystemAccount {
		t.Errorf("system account %q, want %q", opts.SystemAccount, SystemAccount)
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("the server did not start")
	}
	// The embedded bus links its accounts the same way.
	embedded := startServer(t, ServerConfig{Auth: newKeyTable()})
	for ext, emb := range map[string]string{MasterAccount: server.DEFAULT_GLOBAL_ACCOUNT, minionAccountName: minionAccountName} {
		got, want := accountLinksOf(t, ns, ext), accountLinksOf(t, embedded.ns, emb)
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("account %s links %v; the embedded bus's %s links %v", ext, got, emb, want)
		}
	}
}

// accountLinksOf lists an account's exports and imports but those of the
// server's system services: kind, subject and the other account (the
// embedded bus's global account is the masters'). Minions' access to what
// is imported from the system account is their permissions' to deny.
func accountLinksOf(t *testing.T, ns *server.Server, account string) []string {
	t.Helper()
	az, err := ns.Accountz(&server.AccountzOptions{Account: account})
	if err != nil || az.Account == nil {
		t.Fatalf("accountz %s: %v", account, err)
	}
	name := func(a string) string {
		if a == server.DEFAULT_GLOBAL_ACCOUNT {
			return MasterAccount
		}
		return a
	}
	var links []string
	for _, e := range az.Account.Exports {
		for _, to := range e.ApprovedAccounts {
			links = append(links, "export "+e.Type.String()+" "+string(e.Subject)+" to "+name(to))
		}
	}
	for _, i := range az.Account.Imports {
		if i.Account == server.DEFAULT_SYSTEM_ACCOUNT || i.Account == SystemAccount {
			continue // the server's own imports of its system services
		}
		links = append(links, "import "+i.Type.String()+" "+string(i.Subject)+" from "+name(i.Account))
	}
	slices.Sort(links)
	return links
}

// BenchmarkCalloutAnswer is what a master spends on one connection of an
// accepted minion: decode and check the server's request, verify the
// client's nonce signature, sign the user JWT and the answer.
func BenchmarkCalloutAnswer(b *testing.B) {
	issuer, err := nkeys.CreateAccount()
	if err != nil {
		b.Fatal(err)
	}
	srvKey, err := nkeys.CreateServer()
	if err != nil {
		b.Fatal(err)
	}
	minion, _ := newKey(b)
	kt := newKeyTable()
	kt.set(mustPub(b, minion), RoleMinion, "web1")
	co, err := NewCallout(CalloutConfig{Issuer: issuer, Auth: kt})
	if err != nil {
		b.Fatal(err)
	}
	req := calloutRequest(b, srvKey, minion, "web1", "")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := co.Answer(req, now); err != nil {
			b.Fatal(err)
		}
	}
}

// startExternal starts an in-process nats-server on loopback with the
// configuration ExternalConfig makes for the callout keys, and the
// callout answering on it with auth and grants good for ttl; it returns
// the server's client URL and the callout.
func startExternal(tb testing.TB, auth Authorizer, ttl time.Duration) (string, *Callout) {
	tb.Helper()
	issuer, err := nkeys.CreateAccount()
	if err != nil {
		tb.Fatal(err)
	}
	user, _ := newKey(tb)
	conf, err := ExternalConfig(mustPub(tb, issuer), mustPub(tb, user))
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "server.conf")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:-1\njetstream: {store_dir: "+strconv.Quote(tb.TempDir())+"}\n"+conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	opts.NoSigs = true
	ns, err := server.NewServer(opts)
	if err != nil {
		tb.Fatal(err)
	}
	ns.Start()
	tb.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		tb.Fatal("the server did not start")
	}
	co, err := NewCallout(CalloutConfig{Issuer: issuer, Auth: auth, TTL: ttl, Log: testLog(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := Connect(ctx, ClientConfig{URLs: []string{ns.ClientURL()}, Name: "callout", Key: user})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	if _, err := co.Serve(nc); err != nil {
		tb.Fatal(err)
	}
	return ns.ClientURL(), co
}

// has reports whether the connection saw an error that is target.
func (e *errLog) has(target error) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.ContainsFunc(e.errs, func(err error) bool { return errors.Is(err, target) })
}

// TestCalloutCutsOff: a key whose role changes loses its connection when
// the callout kicks it, or, kicked by no one, when its grant expires; its
// reconnection is authorized with the role it has then.
func TestCalloutCutsOff(t *testing.T) {
	for _, c := range []struct {
		name string
		ttl  time.Duration
		kick bool
	}{
		{"kicked", time.Hour, true},
		{"grant expired", 2 * time.Second, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			kt := newKeyTable()
			url, co := startExternal(t, kt, c.ttl)
			a, aPub := newKey(t)
			kt.set(aPub, RoleMinion, "a")
			errs := &errLog{}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			nc, err := Connect(ctx, ClientConfig{URLs: []string{url}, Name: "a", Key: a, Minion: true, OnError: errs.add})
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			// Accepted: its own subjects are fine.
			if _, err := nc.SubscribeSync(DeliverSubject("a")); err != nil {
				t.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			if n := errs.count(); n != 0 {
				t.Fatalf("accepted minion got %d errors: %v", n, errs.errs)
			}
			kt.set(aPub, RoleNone, "")
			if c.kick {
				if n := co.Kick(ctx, aPub); n != 1 {
					t.Fatalf("kick closed %d connections, want 1", n)
				}
				if n := co.Kick(ctx, aPub); n != 0 {
					t.Errorf("a second kick closed %d connections, want 0", n)
				}
			}
			waitFor(t, "a's reconnection refused", func() bool {
				return !nc.IsConnected() && errs.has(nats.ErrAuthorization)
			})
		})
	}
}

// BenchmarkCalloutConnect is one accepted minion's connection over
// loopback TCP and its close: "callout", to a nats-server whose auth
// callout the bus answers (nonce, callout request and answer); "embedded",
// to the embedded bus, which decides in process.
func BenchmarkCalloutConnect(b *testing.B) {
	kt := newKeyTable()
	minion, _ := newKey(b)
	kt.set(mustPub(b, minion), RoleMinion, "web1")
	for _, c := range []struct {
		name string
		url  func() string
	}{
		{"callout", func() string { url, _ := startExternal(b, kt, 0); return url }},
		{"embedded", func() string { return startServer(b, ServerConfig{Listen: "127.0.0.1:0", Auth: kt}).ClientURL() }},
	} {
		b.Run(c.name, func(b *testing.B) {
			url := c.url()
			ctx := context.Background()
			for b.Loop() {
				nc, err := Connect(ctx, ClientConfig{URLs: []string{url}, Name: "web1", Key: minion, Minion: true})
				if err != nil {
					b.Fatal(err)
				}
				nc.Close()
			}
		})
	}
}
