package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/keys"
	"github.com/brinecm/brine/proto/brinepb"
)

// The external mode: three plain nats-server processes, built from the
// module in go.mod and configured with what `brine cluster nats-config`
// prints, and two `brine master --nats` processes as their auth callout.

// natsServerBinary builds nats-server from the module brine embeds, once
// per test run.
func natsServerBinary(t *testing.T) string { return natsProgram.binary(t) }

// startBinary starts bin as a daemon stopped at cleanup.
func startBinary(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{log: &bytes.Buffer{}, mu: &sync.Mutex{}}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout = lockedBuffer{p.mu, p.log}
	p.cmd.Stderr = lockedBuffer{p.mu, p.log}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("output of %s %v:\n%s", filepath.Base(bin), args, p.output())
		}
	})
	return p
}

// externalFleet is an operator's NATS cluster of three servers and the
// brine masters that authorize it.
type externalFleet struct {
	*clusterFleet
	urls    []string // the servers' client URLs
	servers []*proc  // the nats-servers, n1 to n3
}

// newExternalFleet starts three nats-servers, each including the
// configuration brine cluster nats-config prints, and two masters with
// one fleet key.
func newExternalFleet(t *testing.T) *externalFleet {
	t.Helper()
	f := &externalFleet{clusterFleet: &clusterFleet{t: t, dir: t.TempDir(), minions: map[string]*proc{}}}
	natsBin := natsServerBinary(t)
	m1Dir := filepath.Join(f.dir, "master1")
	code, conf, errOut := f.brine(nil, "cluster", "nats-config", "--data-dir", m1Dir)
	if code != 0 {
		t.Fatalf("brine cluster nats-config: exit %d: %s", code, errOut)
	}
	writeFile(t, filepath.Join(f.dir, "brine.conf"), conf)
	// The second master holds the same fleet key: copied, as an operator does.
	seed, err := os.ReadFile(filepath.Join(m1Dir, "master.nk"))
	if err != nil {
		t.Fatal(err)
	}
	m2Dir := filepath.Join(f.dir, "master2")
	if err := os.MkdirAll(m2Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m2Dir, "master.nk"), seed, 0o600); err != nil {
		t.Fatal(err)
	}

	var routes []string
	clientPorts := make([]int, 3)
	for i := range 3 {
		clientPorts[i] = freePort(t)
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", freePort(t)))
		f.urls = append(f.urls, fmt.Sprintf("nats://127.0.0.1:%d", clientPorts[i]))
	}
	for i := range 3 {
		cfg := filepath.Join(f.dir, fmt.Sprintf("n%d.conf", i+1))
		writeFile(t, cfg, fmt.Sprintf(`server_name: n%[1]d
listen: 127.0.0.1:%[2]d
jetstream { store_dir: %[3]q }
cluster {
  name: operators
  listen: %[4]q
  routes: [ %[5]s ]
}
include ./brine.conf
`, i+1, clientPorts[i], filepath.Join(f.dir, fmt.Sprintf("js%d", i+1)),
			strings.TrimPrefix(routes[i], "nats-route://"), strings.Join(routes, ", ")))
		f.servers = append(f.servers, startBinary(t, natsBin, "-c", cfg))
	}
	for _, port := range clientPorts {
		waitFor(t, 30*time.Second, fmt.Sprintf("nats-server on port %d", port), func() bool {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	for i, dir := range []string{m1Dir, m2Dir} {
		m := &clusterMaster{dataDir: dir, socket: filepath.Join(f.dir, fmt.Sprintf("master%d.sock", i+1))}
		m.args = []string{"master", "--data-dir", dir, "--nats", f.urlList(i), "--socket", m.socket,
			"--file-root", "testdata/cluster/states", "--auto-accept", "--nats-grant-ttl", "1m", "--log-level", "info"}
		m.p = start(t, m.args...)
		f.masters = append(f.masters, m)
	}
	for _, m := range f.masters {
		waitFor(t, 60*time.Second, "master socket "+m.socket, func() bool { _, err := os.Stat(m.socket); return err == nil })
	}
	return f
}

// urlList is the servers' URLs, starting with server first.
func (f *externalFleet) urlList(first int) string {
	var us []string
	for i := range f.urls {
		us = append(us, f.urls[(first+i)%len(f.urls)])
	}
	return strings.Join(us, ",")
}

// startMinion starts minion id, listing server first first.
func (f *externalFleet) startMinion(id string, first int) {
	f.t.Helper()
	cfg := filepath.Join(f.dir, id+".yaml")
	writeFile(f.t, cfg, fmt.Sprintf("id: %s\nmaster: [%s]\ndata_dir: %s\ngrains:\n  root: %s\n",
		id, strings.ReplaceAll(f.urlList(first), ",", ", "), filepath.Join(f.dir, id), f.root(id)))
	f.minions[id] = start(f.t, "minion", "--config", cfg, "--log-level", "info")
}

// spy is a connection made with a minion's own key, as that minion's
// owner could make it, recording what the servers refuse it.
type spy struct {
	nc   *nats.Conn
	mu   sync.Mutex
	errs []string
}

// connectAs connects to the cluster with minion id's key.
func (f *externalFleet) connectAs(id string) (*spy, error) {
	kp, err := keys.LoadOrCreate(filepath.Join(f.dir, id, "minion.nk"))
	if err != nil {
		return nil, err
	}
	s := &spy{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s.nc, err = bus.Connect(ctx, bus.ClientConfig{URLs: f.urls, Name: id, Key: kp, Minion: true,
		Extra: []nats.Option{nats.MaxReconnects(0)},
		OnError: func(err error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.errs = append(s.errs, err.Error())
		}})
	if err != nil {
		return nil, err
	}
	f.t.Cleanup(s.nc.Close)
	return s, nil
}

// refused waits for the servers' permission violation naming subject.
func (s *spy) refused(t *testing.T, what, subject string) {
	t.Helper()
	waitFor(t, 10*time.Second, what+": a permission violation for "+subject, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, e := range s.errs {
			if strings.Contains(e, "ermissions Violation") && strings.Contains(e, `"`+subject+`"`) {
				return true
			}
		}
		return false
	})
}

// TestExternalNATSAuthCallout runs three plain nats-servers with the auth
// callout to two brine masters, and three minions on them: a highstate
// works; a minion's key reaches neither another minion's jobs, returns,
// files nor the job stream, exactly as on the embedded bus; a key
// rejected on one master is cut off on every server; with one master
// killed, the other authorizes alone.
func TestExternalNATSAuthCallout(t *testing.T) {
	f := newExternalFleet(t)
	ids := []string{"ea", "eb", "ec"}
	for i, id := range ids {
		f.startMinion(id, i)
	}
	m1, m2 := f.masters[0], f.masters[1]
	f.pingAll(m1, ids)
	f.pingAll(m2, ids)

	// A highstate through master 2, returns in master 1's job cache.
	code, out, errOut := f.brine(m2, "*", "state.highstate", "--timeout", "60s")
	if code != 0 {
		t.Fatalf("highstate: exit %d\n%s\n%s", code, out, errOut)
	}
	hjid := jid.FindString(out)
	if hjid == "" {
		t.Fatalf("no jid in the highstate's output:\n%s", out)
	}
	waitFor(t, 30*time.Second, "the highstate's returns in master 1's job cache", func() bool {
		return len(f.jobReturns(m1, hjid)) == len(ids)
	})
	for id, ok := range f.jobReturns(m1, hjid) {
		if !ok {
			t.Errorf("%s's highstate failed", id)
		}
	}
	for _, id := range ids {
		if n := f.lines(id, "runs"); n != 1 {
			t.Errorf("%s ran the highstate %d times, want once", id, n)
		}
	}

	// With its own key, ea tries what would reach eb.
	a, err := f.connectAs("ea")
	if err != nil {
		t.Fatalf("connect with ea's key: %v", err)
	}
	for _, subject := range []string{bus.DeliverSubject("eb"), bus.AllJobs, bus.AllReturns, bus.InboxPrefix("eb") + ".>", ">"} {
		if _, err := a.nc.SubscribeSync(subject); err != nil {
			t.Fatal(err)
		}
		a.refused(t, "subscribe", subject)
	}
	forged, _ := json.Marshal(job.Return{JID: hjid, Minion: "eb", Fun: "state.highstate", Return: json.RawMessage(`"FORGED BY ea"`), Success: true})
	for _, subject := range []string{bus.ReturnSubject(hjid, "eb"), bus.GrainsSubject("eb"), bus.EventSubject("eb", "minion.start"),
		bus.JobSubject("eb"), bus.AuthSubject("ea")} {
		if err := a.nc.Publish(subject, forged); err != nil {
			t.Fatal(err)
		}
		a.refused(t, "publish", subject)
	}
	// eb's files and pillar come through brine.fs.eb: ea cannot ask there.
	if _, err := a.nc.Request(bus.FileSubject("eb"), []byte(`{"op":"read","path":"salt://top.sls"}`), time.Second); err == nil {
		t.Error("ea's request on eb's file subject was answered")
	}
	a.refused(t, "file request", bus.FileSubject("eb"))
	for _, subject := range []string{"$JS.API.STREAM.INFO." + bus.JobStream, "$JS.API.CONSUMER.MSG.NEXT." + bus.JobStream + "." + bus.ConsumerName("eb")} {
		if _, err := a.nc.Request(subject, nil, time.Second); err == nil {
			t.Errorf("%s answered ea", subject)
		}
		a.refused(t, "JetStream API", subject)
	}
	// ea's own return subject files what it sends as ea's, never as eb's.
	if err := a.nc.Publish(bus.ReturnSubject(hjid, "ea"), forged); err != nil {
		t.Fatal(err)
	}
	if err := a.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	_, show, _ := f.brine(m2, "jobs", "show", hjid, "--out", "json")
	if got := returnedIDs(show)["eb"]; strings.Contains(string(got), "FORGED") {
		t.Errorf("ea's forgery is filed as eb's return: %s", got)
	}
	// The master's own connection's rights are the masters' alone.
	if err := a.nc.Publish(bus.LoggedEventSubject(bus.MasterID, "key"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	a.refused(t, "publish as the master", bus.LoggedEventSubject(bus.MasterID, "key"))

	// Reply subjects ea chooses on what it may send name the JetStream API
	// and eb's subjects: the masters' and JetStream's answers go back to ea
	// alone, through the server's reply mapping, and do nothing else.
	replies := []string{
		"$JS.API.STREAM.PURGE." + bus.JobStream,
		"$JS.API.STREAM.DELETE." + bus.ReturnStream,
		"$JS.API.CONSUMER.DELETE." + bus.JobStream + "." + bus.ConsumerName("eb"),
		bus.ReturnSubject(hjid, "eb"),
		bus.JobSubject("eb"),
	}
	for _, reply := range replies {
		for _, m := range []*nats.Msg{
			{Subject: bus.FileSubject("ea"), Data: []byte(`{"op":"master_key"}`)},
			{Subject: bus.ReturnSubject(job.NewJID(time.Now()), "ea"), Data: []byte(`{}`)},
			{Subject: "$JS.ACK." + bus.JobStream + "." + bus.ConsumerName("ea") + ".1.1.1.1700000000000000000.0"},
		} {
			m.Reply = reply
			if err := a.nc.PublishMsg(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := a.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	f.pingAll(m1, []string{"eb"})
	if got := f.jobReturns(m1, hjid); len(got) != len(ids) {
		t.Errorf("after ea's reply subjects, master 1 has %d returns of %s, want %d: %v", len(got), hjid, len(ids), got)
	}

	// Rejected on master 2: ec is cut off on every server, at once.
	before := len(f.minions["ec"].output())
	if code, out, errOut := f.brine(m2, "key", "reject", "ec"); code != 0 {
		t.Fatalf("brine key reject ec: exit %d\n%s\n%s", code, out, errOut)
	}
	waitFor(t, 30*time.Second, "ec refused by the servers", func() bool {
		return strings.Contains(f.minions["ec"].output()[before:], "authorization violation")
	})
	if s, err := f.connectAs("ec"); err == nil {
		s.nc.Close()
		t.Error("a connection with ec's rejected key was accepted")
	} else if !strings.Contains(err.Error(), "refused") {
		t.Errorf("connect with ec's rejected key: %v, want a refusal", err)
	}
	if got := f.ping(m1, []string{"ec"}); got["ec"] {
		t.Error("ec answered test.ping after its key was rejected")
	}

	// Master 1 dies: master 2 authorizes alone, new connections included.
	m1.p.kill()
	f.minions["ea"].stop()
	f.startMinion("ea", 1)
	f.startMinion("ed", 2)
	f.pingAll(m2, []string{"ea", "eb", "ed"})
	if s, err := f.connectAs("ec"); err == nil {
		s.nc.Close()
		t.Error("with master 1 gone, ec's rejected key was accepted")
	}
}

// connectedOn is what master m's minion list (the API the web UI reads)
// says of each accepted minion: connected or not.
func (f *externalFleet) connectedOn(m *clusterMaster) (map[string]bool, error) {
	c, done, err := dial(m.socket)
	if err != nil {
		return nil, err
	}
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.ListMinions(ctx, &brinepb.ListMinionsRequest{})
	if err != nil {
		return nil, err
	}
	got := map[string]bool{}
	for _, mi := range resp.Minions {
		got[mi.Id] = mi.Connected
	}
	return got, nil
}

// consumerDelivered is how many jobs minion id's durable consumer has
// delivered, as the masters' connection (the fleet key of dataDir) sees it.
func (f *externalFleet) consumerDelivered(dataDir, id string) uint64 {
	f.t.Helper()
	kp, err := keys.LoadOrCreate(filepath.Join(dataDir, "master.nk"))
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, bus.ClientConfig{URLs: f.urls, Name: "test-observer", Key: kp})
	if err != nil {
		f.t.Fatalf("connect with the fleet key: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := js.PushConsumer(ctx, bus.JobStream, bus.ConsumerName(id))
	if err != nil {
		f.t.Fatalf("%s's job consumer: %v", id, err)
	}
	return c.CachedInfo().Delivered.Consumer
}

// waitConnected waits until master m's minion list says exactly want.
func (f *externalFleet) waitConnected(m *clusterMaster, what string, want map[string]bool) {
	f.t.Helper()
	var got map[string]bool
	var err error
	waitFor(f.t, 60*time.Second, what, func() bool {
		got, err = f.connectedOn(m)
		return err == nil && maps.Equal(got, want)
	})
}

// TestExternalNATSPresence: with --nats, the masters know which minions
// are connected from the servers' connection events and lists: a stopped
// minion is listed as not connected on both masters, and a test.ping
// says so; a master started after its minions knows them at once. Minions
// reach none of the system events or requests the masters use.
func TestExternalNATSPresence(t *testing.T) {
	f := newExternalFleet(t)
	ids := []string{"pa", "pb"}
	for i, id := range ids {
		f.startMinion(id, i)
	}
	m1, m2 := f.masters[0], f.masters[1]
	f.pingAll(m1, ids)
	f.pingAll(m2, ids)
	for _, m := range f.masters {
		f.waitConnected(m, "both minions listed connected on "+m.socket, map[string]bool{"pa": true, "pb": true})
	}

	// A minion's own key reaches none of the servers' system events or
	// requests: not through the masters' account, not through its own.
	s, err := f.connectAs("pa")
	if err != nil {
		t.Fatalf("connect with pa's key: %v", err)
	}
	for _, subject := range []string{"$SYS.ACCOUNT.BRINE_MINIONS.CONNECT", "$SYS.ACCOUNT.BRINE_MINIONS.DISCONNECT", "$SYS.>"} {
		if _, err := s.nc.SubscribeSync(subject); err != nil {
			t.Fatal(err)
		}
		s.refused(t, "subscribe", subject)
	}
	for _, subject := range []string{"$SYS.REQ.ACCOUNT.BRINE_MINIONS.CONNZ", "$SYS.REQ.SERVER.PING.CONNZ",
		"$SYS.REQ.SERVER.PING.VARZ", "$SYS.REQ.SERVER.PING.JSZ", "$SYS.REQ.SERVER.PING"} {
		if _, err := s.nc.Request(subject, nil, time.Second); err == nil {
			t.Errorf("%s answered pa", subject)
		}
		s.refused(t, "request", subject)
	}
	s.nc.Close()

	// A read-only call to a connected minion goes straight to it, not
	// through its durable consumer.
	delivered := f.consumerDelivered(m1.dataDir, "pa")
	if got := f.ping(m2, []string{"pa"}); !got["pa"] {
		t.Fatalf("pa did not answer test.ping: %v", got)
	}
	if n := f.consumerDelivered(m1.dataDir, "pa"); n != delivered {
		t.Errorf("test.ping to connected pa went through its durable consumer: delivered %d, then %d", delivered, n)
	}

	// pb stops: neither master lists it connected, and a ping says so.
	f.minions["pb"].stop()
	for _, m := range f.masters {
		f.waitConnected(m, "pb listed not connected on "+m.socket, map[string]bool{"pa": true, "pb": false})
	}
	code, out, _ := f.brine(m2, "*", "test.ping", "--timeout", "3s")
	if code == 0 || !strings.Contains(out, "pb:\n    Minion did not return. [Not connected]") || !strings.Contains(out, "pa:\n    True") {
		t.Errorf("test.ping with pb stopped: exit %d, want pa's True and pb not connected:\n%s", code, out)
	}

	// A connection with pb's key that does not take deliveries: pb counts
	// as connected, the job sent straight to it bounces and goes through
	// its durable consumer, which hands it to pb once pb is back.
	s, err = f.connectAs("pb")
	if err != nil {
		t.Fatalf("connect with pb's key: %v", err)
	}
	f.waitConnected(m2, "pb's key listed connected on master 2", map[string]bool{"pa": true, "pb": true})
	delivered = f.consumerDelivered(m1.dataDir, "pb")
	_, out, errOut := f.brine(m2, "-L", "pb", "test.ping", "--timeout", "3s")
	pingJID := jid.FindString(errOut)
	if pingJID == "" || !strings.Contains(out, "pb:\n    Minion did not return. [No response]") {
		t.Fatalf("test.ping to pb's silent connection: want no response and a jid:\n%s\n%s", out, errOut)
	}
	s.nc.Close()
	f.startMinion("pb", 1)
	waitFor(t, 60*time.Second, "pb's return of the bounced test.ping in the job cache", func() bool {
		_, out, _ := f.brine(m1, "jobs", "show", pingJID, "--out", "json")
		return string(returnedIDs(out)["pb"]) == "true"
	})
	if n := f.consumerDelivered(m1.dataDir, "pb"); n <= delivered {
		t.Errorf("pb's consumer delivered %d jobs, then %d: the bounced test.ping did not go through it", delivered, n)
	}
	f.minions["pb"].stop()
	f.waitConnected(m1, "pb listed not connected on master 1", map[string]bool{"pa": true, "pb": false})

	// Master 1 restarts while pa runs: its first minion list already has
	// pa connected, from the servers' lists of their connections.
	m1.p.stop()
	m1.p = start(t, m1.args...)
	var first map[string]bool
	waitFor(t, 60*time.Second, "restarted master 1 answering", func() bool {
		first, err = f.connectedOn(m1)
		return err == nil
	})
	if want := map[string]bool{"pa": true, "pb": false}; !maps.Equal(first, want) {
		t.Errorf("restarted master 1 lists %v, want %v", first, want)
	}
	f.startMinion("pb", 2)
	f.waitConnected(m1, "pb listed connected again on master 1", map[string]bool{"pa": true, "pb": true})
}

// TestExternalNATSClusterStatus: with --nats, brine cluster status lists
// the operator's servers from their own answers: name, cluster,
// JetStream, the meta leader; a server that stops is listed offline.
func TestExternalNATSClusterStatus(t *testing.T) {
	f := newExternalFleet(t)
	names := []string{"n1", "n2", "n3"}
	serverNames := func(st bus.ClusterStatus) []string {
		var out []string
		for _, s := range st.Servers {
			out = append(out, s.Name)
		}
		return out
	}
	for _, m := range f.masters {
		st := f.waitStatus(m, "three servers, one meta leader", func(st bus.ClusterStatus) bool {
			return slices.Equal(serverNames(st), names) && st.Leader != "" && allCurrent(st, 3)
		})
		if !st.Clustered || st.Cluster != "operators" || !slices.Contains(names, st.Server) || st.Routes < 2 {
			t.Errorf("%s: status %+v, want cluster operators, asked one of %v with routes to the others", m.socket, st, names)
		}
		leaders := 0
		for _, s := range st.Servers {
			if s.Cluster != "operators" || !s.JetStream || s.Offline || !s.Current {
				t.Errorf("%s: server %+v, want cluster operators, JetStream on, current", m.socket, s)
			}
			if s.Leader {
				leaders++
				if s.Name != st.Leader {
					t.Errorf("%s: server %s marked leader, the meta leader is %s", m.socket, s.Name, st.Leader)
				}
			}
		}
		if leaders != 1 {
			t.Errorf("%s: %d servers marked leader, want 1: %+v", m.socket, leaders, st.Servers)
		}
	}
	code, out, errOut := f.brine(f.masters[0], "cluster", "status")
	if code != 0 {
		t.Fatalf("brine cluster status: exit %d: %s", code, errOut)
	}
	for _, n := range names {
		if !regexp.MustCompile(`(?m)^` + n + `\s+operators\s+on\s+(leader|current)\s`).MatchString(out) {
			t.Errorf("brine cluster status has no line for %s in cluster operators with JetStream on:\n%s", n, out)
		}
	}

	// n3 stops: the servers left say so.
	f.servers[2].stop()
	for _, m := range f.masters {
		st := f.waitStatus(m, "n3 offline", func(st bus.ClusterStatus) bool {
			for _, s := range st.Servers {
				if s.Name == "n3" {
					return s.Offline
				}
			}
			return false
		})
		if !slices.Equal(serverNames(st), names) {
			t.Errorf("%s: servers %v with n3 stopped, want %v", m.socket, serverNames(st), names)
		}
	}
}
