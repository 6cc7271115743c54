package minion

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/keys"
	"github.com/brinecm/brine/pkg/wire"
)

// TestKeyAndAcceptance: the first start creates a 0600 seed, a restart keeps
// the key, the minion stays pending until the master accepts its key, then
// answers test.ping, reports its grains and a start event.
func TestKeyAndAcceptance(t *testing.T) {
	ms := newMaster(t, false)
	dir := t.TempDir()
	cfg := ms.minionConfig("web1", dir)

	first, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, seedFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("seed mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.PublicKey() != first.PublicKey() || !strings.HasPrefix(first.PublicKey(), "U") {
		t.Fatalf("restart changed the key: %s then %s", first.PublicKey(), again.PublicKey())
	}
	if got, want := first.Fingerprint(), keys.Fingerprint(first.PublicKey()); got != want {
		t.Errorf("fingerprint %s, want %s", got, want)
	}

	mn := runIt(t, again)
	waitFor(t, 10*time.Second, "key request", func() bool {
		k, ok := ms.store.Get("web1")
		return ok && k.State == keys.Pending && k.PublicKey == mn.PublicKey()
	})
	// Pending: still asking, nothing pinned, no job can reach it.
	time.Sleep(1500 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(dir, masterKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("master key pinned while pending (%v)", err)
	}
	if mn.accepted.Load() {
		t.Fatal("minion believes it is accepted while pending")
	}

	ms.accept("web1")
	j := ms.newJob("web1", "test.ping", nil, nil)
	ms.publish(j)
	r := ms.waitReturn(j.JID, "web1")
	if string(r.Return) != "true" || r.Retcode != 0 || !r.Success || r.Fun != "test.ping" || r.Minion != "web1" {
		t.Errorf("test.ping return: %+v (%s)", r, r.Return)
	}
	if r.Started.IsZero() || r.Finished.Before(r.Started) {
		t.Errorf("bad times: started %v finished %v", r.Started, r.Finished)
	}
	pinned, err := os.ReadFile(filepath.Join(dir, masterKeyFile))
	if err != nil || strings.TrimSpace(string(pinned)) != ms.pub {
		t.Errorf("pinned master key %q (%v), want %s", pinned, err, ms.pub)
	}
	start := ms.waitEvent(wire.TagStart, "")
	if start.Source != "web1" || start.Data["version"] == nil {
		t.Errorf("start event %+v", start)
	}
	ms.waitEvent(wire.TagJobStarted, j.JID)
	var g map[string]any
	waitFor(t, 5*time.Second, "grains", func() bool { g = ms.grainsOf("web1"); return g != nil })
	if g["id"] != "web1" || g["role"] != "test" || g["kernel"] != "Linux" {
		t.Errorf("grains: id %v role %v kernel %v", g["id"], g["role"], g["kernel"])
	}
	waitFor(t, 5*time.Second, "empty queue and outbox", func() bool {
		q, _ := mn.queue.list()
		o, _ := mn.outbox.list()
		return len(q) == 0 && len(o) == 0
	})
}

// TestStateApply applies a compiled highstate whose file.managed reads a
// salt:// Jinja template (which imports another file) from the master.
func TestStateApply(t *testing.T) {
	ms := newMaster(t, false)
	dir := t.TempDir()
	mn, err := New(ms.minionConfig("web1", dir))
	if err != nil {
		t.Fatal(err)
	}
	ms.preAccept(mn, "web1")
	runIt(t, mn)

	root := t.TempDir()
	j := ms.stateJob("web1", "state.apply", nil, map[string]any{"root": root})
	ms.publish(j)
	r := ms.waitReturn(j.JID, "web1")
	if r.Retcode != 0 || !r.Success {
		t.Fatalf("state.apply: retcode %d: %s %s", r.Retcode, r.Error, r.Return)
	}
	hs := decodeHighstate(t, r)
	res, ok := hs["file_|-motd_|-"+root+"/etc/motd_|-managed"]
	if !ok || res["result"] != true {
		t.Fatalf("motd result: %v", hs)
	}
	got, err := os.ReadFile(filepath.Join(root, "etc/motd"))
	if err != nil || string(got) != "Welcome to web1 (lab)\n" {
		t.Errorf("motd %q (%v)", got, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "etc/motd")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("motd mode: %v %v", fi, err)
	}
	for _, f := range []string{"files/motd.j2", "files/map.jinja"} {
		if _, err := os.Stat(filepath.Join(dir, filesDir, f)); err != nil {
			t.Errorf("%s not cached: %v", f, err)
		}
	}
	// The highstate is cached as the master signed it, readable by root only.
	cached, err := mn.cachedHighstate()
	if err != nil {
		t.Fatalf("cached highstate: %v", err)
	}
	if cached.JID != j.JID || cached.Pillar["site"] != "lab" || !strings.Contains(string(cached.Lows), "salt://files/motd.j2") {
		t.Errorf("cached highstate: jid %s pillar %v lows %s", cached.JID, cached.Pillar, cached.Lows)
	}
	if fi, err := os.Stat(filepath.Join(dir, signedHighstateFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, want mode 0600 (it holds pillar)", signedHighstateFile, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, signedHighstateFile))
	if err != nil {
		t.Fatal(err)
	}

	// A state that fails: retcode 2 and a state.failed event.
	bad := ms.stateJob("web1", "state.sls", []any{"broken"}, map[string]any{"root": root})
	ms.publish(bad)
	r = ms.waitReturn(bad.JID, "web1")
	if r.Retcode != 2 || r.Success {
		t.Errorf("failing state: retcode %d success %v: %s", r.Retcode, r.Success, r.Return)
	}
	e := ms.waitEvent(wire.TagStateFailed, bad.JID)
	if failed, _ := e.Data["failed"].([]any); len(failed) != 1 {
		t.Errorf("state.failed event %+v", e)
	}
	// state.sls is not a highstate: the cache still holds the first run.
	data2, _ := os.ReadFile(filepath.Join(dir, signedHighstateFile))
	if string(data2) != string(data) {
		t.Error("state.sls replaced the saved highstate")
	}
}

// TestOfflineJob: a job published while the minion is stopped runs when it
// starts again.
func TestOfflineJob(t *testing.T) {
	ms := newMaster(t, false)
	dir := t.TempDir()
	cfg := ms.minionConfig("db1", dir)
	mn := runMinion(t, cfg)
	ms.preAccept(mn.Minion, "db1")
	first := ms.newJob("db1", "test.echo", []any{"first"}, nil)
	ms.publish(first)
	ms.waitReturn(first.JID, "db1")
	mn.stop(t)

	j := ms.newJob("db1", "test.echo", []any{"while you were out"}, nil)
	ms.publish(j)
	time.Sleep(300 * time.Millisecond)
	if _, ok := ms.lookupReturn(j.JID, "db1"); ok {
		t.Fatal("a stopped minion returned")
	}
	runMinion(t, ms.minionConfig("db1", dir))
	r := ms.waitReturn(j.JID, "db1")
	if string(r.Return) != `"while you were out"` {
		t.Errorf("return %s", r.Return)
	}
}

// TestStateJobsRunOneAtATime: a second state job waits for the first; other
// functions do not wait.
func TestStateJobsRunOneAtATime(t *testing.T) {
	ms := newMaster(t, false)
	mn := runMinion(t, ms.minionConfig("web1", t.TempDir()))
	ms.preAccept(mn.Minion, "web1")

	a := ms.stateJob("web1", "state.sls", []any{"slow"}, nil)
	b := ms.stateJob("web1", "state.sls", []any{"slow"}, nil)
	ping := ms.newJob("web1", "test.ping", nil, nil)
	ms.publish(a)
	ms.publish(b)
	ms.publish(ping)
	ra, rb := ms.waitReturn(a.JID, "web1"), ms.waitReturn(b.JID, "web1")
	rp := ms.waitReturn(ping.JID, "web1")
	for _, r := range []*job.Return{ra, rb} {
		if r.Retcode != 0 {
			t.Fatalf("%s: retcode %d: %s", r.JID, r.Retcode, r.Return)
		}
	}
	if rb.Started.Before(ra.Finished) {
		t.Errorf("second state job started at %v, before the first finished at %v", rb.Started, ra.Finished)
	}
	if ra.Finished.Sub(ra.Started) < 400*time.Millisecond {
		t.Errorf("first state job took %v, want at least the 400ms sleep", ra.Finished.Sub(ra.Started))
	}
	if !rp.Finished.Before(rb.Finished) {
		t.Errorf("test.ping (finished %v) waited for the state jobs (second finished %v)", rp.Finished, rb.Finished)
	}
}

// TestRejectedJobs: jobs that fail verification or the replay guard are
// never executed and each is reported as a job.rejected event.
func TestRejectedJobs(t *testing.T) {
	ms := newMaster(t, false)
	mn := runMinion(t, ms.minionConfig("web1", t.TempDir()))
	ms.preAccept(mn.Minion, "web1")
	other, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}

	// The replayed job runs once, legitimately, first.
	replayRoot := t.TempDir()
	replayed := ms.stateJob("web1", "state.sls", []any{"touch"}, map[string]any{"root": replayRoot})
	replayedSigned, err := job.Sign(ms.kp, replayed)
	if err != nil {
		t.Fatal(err)
	}
	ms.publishRaw("web1", replayedSigned)
	if r := ms.waitReturn(replayed.JID, "web1"); r.Retcode != 0 {
		t.Fatalf("first run of the replayed job: %s", r.Return)
	}
	if err := os.Remove(filepath.Join(replayRoot, "touched")); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		reason string
		make   func(root string) (jid string, data []byte)
	}{
		{"unsigned", "unsigned", func(root string) (string, []byte) {
			j := ms.stateJob("web1", "state.sls", []any{"touch"}, map[string]any{"root": root})
			payload, _ := json.Marshal(j)
			data, _ := json.Marshal(job.Signed{Payload: payload})
			return j.JID, data
		}},
		{"signed by another key", "not signed by the trusted master", func(root string) (string, []byte) {
			j := ms.stateJob("web1", "state.sls", []any{"touch"}, map[string]any{"root": root})
			data, err := job.Sign(other, j)
			if err != nil {
				t.Fatal(err)
			}
			return j.JID, data
		}},
		{"tampered", "bad job signature", func(root string) (string, []byte) {
			j := ms.stateJob("web1", "state.sls", []any{"touch"}, map[string]any{"root": root})
			data, _ := job.Sign(ms.kp, j)
			var s job.Signed
			json.Unmarshal(data, &s)
			s.Payload = []byte(strings.Replace(string(s.Payload), `"fun":"state.sls"`, `"fun":"state.apply"`, 1))
			data, _ = json.Marshal(s)
			return j.JID, data
		}},
		{"for another minion", "another minion", func(root string) (string, []byte) {
			j := ms.stateJob("web2", "state.sls", []any{"touch"}, map[string]any{"root": root})
			data, _ := job.Sign(ms.kp, j)
			return j.JID, data
		}},
		{"expired", "expired", func(root string) (string, []byte) {
			j := ms.stateJob("web1", "state.sls", []any{"touch"}, map[string]any{"root": root})
			j.Issued, j.Expires = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
			data, _ := job.Sign(ms.kp, j)
			return j.JID, data
		}},
		{"replayed", "replayed", func(string) (string, []byte) {
			return replayed.JID, replayedSigned
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			if c.name == "replayed" {
				root = replayRoot
			}
			jid, data := c.make(root)
			before := ms.returnCount()
			ms.publishRaw("web1", data)
			e := ms.waitEvent(wire.TagJobRejected, jid)
			if reason, _ := e.Data["reason"].(string); !strings.Contains(reason, c.reason) {
				t.Errorf("reason %q, want it to mention %q", reason, c.reason)
			}
			// Give a wrongly executed job the time to show.
			time.Sleep(300 * time.Millisecond)
			if _, err := os.Stat(filepath.Join(root, "touched")); !os.IsNotExist(err) {
				t.Errorf("rejected job was executed: %v", err)
			}
			if ms.hasEvent(wire.TagJobStarted, jid) && c.name != "replayed" {
				t.Error("rejected job started")
			}
			if n := ms.returnCount(); n != before {
				t.Errorf("rejected job returned (%d returns, was %d)", n, before)
			}
		})
	}
}

// TestCrashBetweenAckAndExecution: a job left in the queue (acknowledged,
// never run) runs at the next start, before anything else.
func TestCrashBetweenAckAndExecution(t *testing.T) {
	ms := newMaster(t, false)
	dir := t.TempDir()
	mn, err := New(ms.minionConfig("web1", dir))
	if err != nil {
		t.Fatal(err)
	}
	ms.preAccept(mn, "web1")
	root := t.TempDir()
	j := ms.stateJob("web1", "state.sls", []any{"touch"}, map[string]any{"root": root})
	if err := mn.store(&queued{Job: j, Received: time.Now().UTC(), Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	runIt(t, mn)
	r := ms.waitReturn(j.JID, "web1")
	if r.Retcode != 0 {
		t.Fatalf("retcode %d: %s", r.Retcode, r.Return)
	}
	if got, err := os.ReadFile(filepath.Join(root, "touched")); err != nil || string(got) != "touched\n" {
		t.Errorf("touched %q (%v)", got, err)
	}
	waitFor(t, 5*time.Second, "empty queue", func() bool {
		q, _ := mn.queue.list()
		return len(q) == 0
	})
}

// TestInterruptedTooOften: a job that was started maxAttempts times without
// finishing is given up with an error return instead of running again.
func TestInterruptedTooOften(t *testing.T) {
	ms := newMaster(t, false)
	dir := t.TempDir()
	mn, err := New(ms.minionConfig("web1", dir))
	if err != nil {
		t.Fatal(err)
	}
	ms.preAccept(mn, "web1")
	root := t.TempDir()
	j := ms.stateJob("web1", "state.sls", []any{"touch"}, map[string]any{"root": root})
	if err := mn.store(&queued{Job: j, Received: time.Now().UTC(), Attempts: maxAttempts}); err != nil {
		t.Fatal(err)
	}
	runIt(t, mn)
	r := ms.waitReturn(j.JID, "web1")
	if r.Retcode != 1 || !strings.Contains(r.Error, "interrupted 3 times") {
		t.Errorf("return %+v", r)
	}
	if _, err := os.Stat(filepath.Join(root, "touched")); !os.IsNotExist(err) {
		t.Errorf("abandoned job ran: %v", err)
	}
}

// TestOutboxAcrossBusOutage: a return made while the bus is down is kept in
// the outbox and delivered when the bus comes back; a return left in the
// outbox by a previous run is sent at start.
func TestOutboxAcrossBusOutage(t *testing.T) {
	ms := newMaster(t, true)
	dir := t.TempDir()
	mn, err := New(ms.minionConfig("web1", dir))
	if err != nil {
		t.Fatal(err)
	}
	ms.preAccept(mn, "web1")

	// A return left behind by a previous run.
	leftover := ms.newJob("web1", "test.ping", nil, nil)
	data, _ := json.Marshal(job.Return{JID: leftover.JID, Minion: "web1", Fun: "test.ping", Return: []byte("true"), Success: true})
	if err := mn.outbox.put(leftover.JID, data); err != nil {
		t.Fatal(err)
	}
	runIt(t, mn)
	if r := ms.waitReturn(leftover.JID, "web1"); string(r.Return) != "true" {
		t.Errorf("leftover return %s", r.Return)
	}

	j := ms.newJob("web1", "cmd.run", []any{"sleep 1; echo done"}, nil)
	ms.publish(j)
	ms.waitEvent(wire.TagJobStarted, j.JID)
	ms.stop()
	waitFor(t, 10*time.Second, "return in the outbox", func() bool { return mn.outbox.has(j.JID) })
	time.Sleep(time.Second) // a few failed attempts
	if !mn.outbox.has(j.JID) {
		t.Fatal("return left the outbox while the bus was down")
	}
	ms.start()
	r := ms.waitReturn(j.JID, "web1")
	if string(r.Return) != `"done"` || r.Retcode != 0 {
		t.Errorf("return %+v %s", r, r.Return)
	}
	waitFor(t, 10*time.Second, "empty outbox", func() bool { return !mn.outbox.has(j.JID) })
}

// TestReadOnlyJobsSkipTheDisk: a read-only job is neither queued nor kept
// in the outbox (the spool directories are not touched), while any other
// job goes through both; both kinds are returned.
func TestReadOnlyJobsSkipTheDisk(t *testing.T) {
	ms := newMaster(t, false)
	dir := t.TempDir()
	mn, err := New(ms.minionConfig("web1", dir))
	if err != nil {
		t.Fatal(err)
	}
	ms.preAccept(mn, "web1")
	runIt(t, mn)
	modTimes := func() [2]time.Time {
		var out [2]time.Time
		for i, d := range []string{queueDir, outboxDir} {
			st, err := os.Stat(filepath.Join(dir, d))
			if err != nil {
				t.Fatal(err)
			}
			out[i] = st.ModTime()
		}
		return out
	}
	cases := []struct {
		fun     string
		args    []any
		want    string
		spooled bool
	}{
		{"test.ping", nil, "true", false},
		{"test.echo", []any{"hi"}, `"hi"`, false},
		{"cmd.run", []any{"echo done"}, `"done"`, true},
	}
	for _, c := range cases {
		before := modTimes()
		time.Sleep(10 * time.Millisecond) // a later write has a later time
		j := ms.newJob("web1", c.fun, c.args, nil)
		ms.publish(j)
		if r := ms.waitReturn(j.JID, "web1"); string(r.Return) != c.want || !r.Success {
			t.Errorf("%s return %s (success %v), want %s", c.fun, r.Return, r.Success, c.want)
		}
		waitFor(t, 5*time.Second, "empty queue and outbox", func() bool {
			q, _ := mn.queue.list()
			o, _ := mn.outbox.list()
			return len(q) == 0 && len(o) == 0
		})
		if touched := modTimes() != before; touched != c.spooled {
			t.Errorf("%s: spool directories touched %v, want %v", c.fun, touched, c.spooled)
		}
	}
}

// TestFailedResultFailsTheJob: a function whose result carries failures
// (a saltcheck test that fails) fails its job, as it fails brine call.
func TestFailedResultFailsTheJob(t *testing.T) {
	ms := newMaster(t, false)
	mn, err := New(ms.minionConfig("web1", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ms.preAccept(mn, "web1")
	runIt(t, mn)
	waitFor(t, 10*time.Second, "acceptance", mn.accepted.Load)
	for _, c := range []struct {
		expected string
		retcode  int
		success  bool
	}{
		{"hi", retOK, true},
		{"bye", retStateFailed, false},
	} {
		test := map[string]any{"module_and_function": "test.echo", "args": []any{"hi"}, "assertion": "assertEqual", "expected_return": c.expected}
		j := ms.newJob("web1", "saltcheck.run_test", nil, map[string]any{"test": test})
		ms.publish(j)
		r := ms.waitReturn(j.JID, "web1")
		if r.Retcode != c.retcode || r.Success != c.success {
			t.Errorf("expecting %q: retcode %d, success %v (%s); want %d, %v", c.expected, r.Retcode, r.Success, r.Return, c.retcode, c.success)
		}
	}
}
