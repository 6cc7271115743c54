package minion

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/brinecm/brine/pkg/job"
	"github.com/brinecm/brine/pkg/wire"
)

func TestNeedsTLS(t *testing.T) {
	cases := []struct {
		urls    []string
		want    bool
		wantErr string
	}{
		{nil, false, ""},
		{[]string{"nats://127.0.0.1:4222"}, false, ""},
		{[]string{"nats://localhost:4222", "nats://[::1]:4222"}, false, ""},
		{[]string{"nats://127.0.0.1"}, false, ""},
		{[]string{"tls://127.0.0.1:4222"}, true, ""},
		{[]string{"nats://10.0.0.5:4222"}, true, ""},
		{[]string{"nats://127.0.0.1:4222,nats://master.example.com:4222"}, true, ""},
		{[]string{"127.0.0.1:4222"}, false, ""},
		{[]string{"10.1.2.3:4222"}, true, ""},
		{[]string{"nats://"}, false, "no host"},
	}
	for _, c := range cases {
		got, err := needsTLS(c.urls)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("needsTLS(%q): error %v, want %q", c.urls, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("needsTLS(%q) = %v, %v; want %v", c.urls, got, err, c.want)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no id", Config{DataDir: t.TempDir()}, "empty"},
		{"bad id", Config{ID: "a/b", DataDir: t.TempDir()}, "not allowed"},
		{"master id", Config{ID: "master", DataDir: t.TempDir()}, "reserved"},
		{"no data dir", Config{ID: "web1"}, "no data directory"},
		{"bad url", Config{ID: "web1", DataDir: t.TempDir(), Masters: []string{"nats://%zz"}}, "master URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: %v, want an error about %q", err, c.want)
			}
		})
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, masterKeyFile), []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{ID: "web1", DataDir: dir}); err == nil || !strings.Contains(err.Error(), masterKeyFile) {
		t.Errorf("New with a corrupt pinned key: %v", err)
	}
}

// TestPinMasterKey: the first key is pinned; the same key again is fine; a
// different key is refused with both keys named, and the pin stays.
func TestPinMasterKey(t *testing.T) {
	dir := t.TempDir()
	mn, err := New(Config{ID: "web1", DataDir: dir, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	a, b := newPub(t), newPub(t)
	if err := mn.pinMasterKey(a); err != nil {
		t.Fatal(err)
	}
	if err := mn.pinMasterKey(a); err != nil {
		t.Errorf("same key again: %v", err)
	}
	err = mn.pinMasterKey(b)
	if err == nil || !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b) {
		t.Fatalf("different key: %v, want an error naming %s and %s", err, a, b)
	}
	if mn.master() != a {
		t.Errorf("trusted key %s after refusing %s, want %s", mn.master(), b, a)
	}
	again, err := New(Config{ID: "web1", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if again.master() != a {
		t.Errorf("pinned key after restart %q, want %s", again.master(), a)
	}
}

func newPub(t *testing.T) string {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return pub
}

// TestMasterKeyChanged: a minion that pinned another master key refuses the
// master's and rejects its jobs.
func TestMasterKeyChanged(t *testing.T) {
	ms := newMaster(t, false)
	dir := t.TempDir()
	old := newPub(t)
	if err := os.WriteFile(filepath.Join(dir, masterKeyFile), []byte(old+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mn, err := New(ms.minionConfig("web1", dir))
	if err != nil {
		t.Fatal(err)
	}
	ms.preAccept(mn, "web1")
	runIt(t, mn)
	j := ms.newJob("web1", "test.ping", nil, nil)
	ms.publish(j)
	e := ms.waitEvent(wire.TagJobRejected, j.JID)
	if reason, _ := e.Data["reason"].(string); !strings.Contains(reason, "not signed by the trusted master") {
		t.Errorf("reason %q", reason)
	}
	pinned, _ := os.ReadFile(filepath.Join(dir, masterKeyFile))
	if strings.TrimSpace(string(pinned)) != old {
		t.Errorf("pin changed to %s", pinned)
	}
}

func TestIsHighstate(t *testing.T) {
	cases := []struct {
		fun    string
		args   []any
		kwargs map[string]any
		want   bool
	}{
		{"state.highstate", nil, nil, true},
		{"state.highstate", nil, map[string]any{"test": true}, false},
		{"state.apply", nil, nil, true},
		{"state.apply", nil, map[string]any{"mods": []any{}}, true},
		{"state.apply", []any{"web"}, nil, false},
		{"state.apply", nil, map[string]any{"mods": "web"}, false},
		{"state.sls", []any{"web"}, nil, false},
		{"test.ping", nil, nil, false},
	}
	for _, c := range cases {
		if got := isHighstate(&job.Job{Fun: c.fun, Args: c.args, Kwargs: c.kwargs}); got != c.want {
			t.Errorf("isHighstate(%s %v %v) = %v, want %v", c.fun, c.args, c.kwargs, got, c.want)
		}
	}
}

func TestReadOnly(t *testing.T) {
	cases := []struct {
		j    job.Job
		want bool
	}{
		{job.Job{Fun: "test.ping"}, true},
		{job.Job{Fun: "grains.items"}, true},
		{job.Job{Fun: "pkg.version", Args: []any{"curl"}}, true},
		{job.Job{Fun: "cmd.run", Args: []any{"true"}}, false},
		{job.Job{Fun: "pkg.install", Args: []any{"curl"}}, false},
		{job.Job{Fun: "state.highstate"}, false},
		{job.Job{Fun: "state.apply", Kwargs: map[string]any{"test": true}}, false},
		{job.Job{Fun: "test.ping", Lows: json.RawMessage(`[]`)}, false}, // carries states: a state run
		{job.Job{Fun: "no.such"}, false},
	}
	for _, c := range cases {
		if got := readOnly(&c.j); got != c.want {
			t.Errorf("readOnly(%s %v) = %v, want %v", c.j.Fun, c.j.Args, got, c.want)
		}
	}
}

func TestClaimedJID(t *testing.T) {
	payload, _ := json.Marshal(map[string]any{"jid": "20261122031500123456_9f86d081"})
	good, _ := json.Marshal(job.Signed{Payload: payload})
	evilPayload, _ := json.Marshal(map[string]any{"jid": "../../etc/passwd"})
	evil, _ := json.Marshal(job.Signed{Payload: evilPayload})
	cases := map[string]struct {
		data []byte
		want string
	}{
		"signed form": {good, "20261122031500123456_9f86d081"},
		"bad jid":     {evil, ""},
		"not json":    {[]byte("{"), ""},
		"empty":       {nil, ""},
	}
	for name, c := range cases {
		if got := claimedJID(c.data); got != c.want {
			t.Errorf("%s: claimedJID = %q, want %q", name, got, c.want)
		}
	}
}

func TestSpool(t *testing.T) {
	s := spool{t.TempDir()}
	for _, name := range []string{"b", "a", "c"} {
		if err := s.put(name, []byte(name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.dir, ".tmp-123"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.put("a", []byte("again")); err != nil {
		t.Fatal(err)
	}
	names, err := s.list()
	if err != nil || strings.Join(names, ",") != "a,b,c" {
		t.Fatalf("list: %v %v", names, err)
	}
	if got, _ := s.get("a"); string(got) != "again" {
		t.Errorf("get a: %q", got)
	}
	if fi, _ := os.Stat(filepath.Join(s.dir, "a")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if err := s.remove("b"); err != nil || s.has("b") {
		t.Errorf("remove b: %v, still there: %v", err, s.has("b"))
	}
	if err := s.remove("b"); err != nil {
		t.Errorf("removing a missing name: %v", err)
	}
	cleanTemp(s.dir)
	if _, err := os.Stat(filepath.Join(s.dir, ".tmp-123")); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
}

// TestRemoteFSOffline: while the minion is not connected to a master,
// state tree files come from the cache; a file never cached is an error
// saying so.
func TestRemoteFSOffline(t *testing.T) {
	dir := t.TempDir()
	mn, err := New(Config{ID: "web1", DataDir: dir, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	cached := filepath.Join(dir, filesDir, "web", "index.html")
	if err := os.MkdirAll(filepath.Dir(cached), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte("cached copy"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	files := &remoteFS{ctx: ctx, m: mn}
	got, err := fs.ReadFile(files, "web/index.html")
	if err != nil || string(got) != "cached copy" {
		t.Errorf("cached file: %q, %v", got, err)
	}
	f, err := files.Open("web/index.html")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := files.ReadFile("web/missing"); err == nil ||
		!strings.Contains(err.Error(), "cannot fetch salt://web/missing: not connected to the master (and no cached copy)") {
		t.Errorf("missing file: %v", err)
	}
	for _, bad := range []string{"../etc/passwd", "/etc/passwd", "."} {
		if _, err := files.ReadFile(bad); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("ReadFile(%q): %v, want invalid", bad, err)
		}
	}
}

// TestFetchFailsWhileConnected: a state tree file the master does not
// serve while the minion is connected fails the state that needs it, with
// the reason, even though a cached copy exists: a stale copy must not make
// a state report itself in the correct state.
func TestFetchFailsWhileConnected(t *testing.T) {
	cases := []struct {
		name  string
		cut   func(ms *master) // how the master's file server fails
		cause string
	}{
		{"no answer", func(ms *master) { ms.filesSilent.Store(true) }, "timeout after 300ms"},
		{"no file server", func(ms *master) {
			if err := ms.files.Unsubscribe(); err != nil {
				t.Fatal(err)
			}
			if err := ms.nc.Flush(); err != nil {
				t.Fatal(err)
			}
		}, "no file server answers on the bus"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ms := newMaster(t, false)
			dir := t.TempDir()
			mn, err := New(ms.minionConfig("web1", dir))
			if err != nil {
				t.Fatal(err)
			}
			mn.fileTimeout = 300 * time.Millisecond
			for _, f := range []string{"files/motd.j2", "files/map.jinja"} {
				p := filepath.Join(dir, filesDir, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("stale copy\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			ms.preAccept(mn, "web1")
			runIt(t, mn)
			waitFor(t, 10*time.Second, "acceptance", mn.accepted.Load)
			c.cut(ms)

			root, r, res, comment := applyMotd(t, ms)
			want := "cannot fetch salt://files/motd.j2 from the master: " + c.cause
			if res["result"] != false || !strings.Contains(comment, want) {
				t.Errorf("motd state: result %v, comment %q; want false and %q", res["result"], comment, want)
			}
			if r.Retcode != retStateFailed {
				t.Errorf("retcode %d, want %d", r.Retcode, retStateFailed)
			}
			if _, err := os.Stat(filepath.Join(root, "etc/motd")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("motd written from the stale copy (%v)", err)
			}
		})
	}
}

// TestFetchRetriesWhenRateLimited: a file the master's file server refuses
// for the minion's rate is asked for again after a short wait, within the
// file request timeout; past it the state fails saying why.
func TestFetchRetriesWhenRateLimited(t *testing.T) {
	for _, c := range []struct {
		name    string
		refuse  int32
		succeed bool
	}{
		{"a few refusals", 3, true},
		{"refused until the timeout", 1 << 30, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ms := newMaster(t, false)
			mn, err := New(ms.minionConfig("web1", t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			mn.fileTimeout = time.Second
			ms.preAccept(mn, "web1")
			runIt(t, mn)
			waitFor(t, 10*time.Second, "acceptance", mn.accepted.Load)
			ms.filesLimited.Store(c.refuse)

			_, _, res, comment := applyMotd(t, ms)
			if c.succeed {
				if res["result"] != true || ms.filesLimited.Load() >= 0 {
					t.Fatalf("motd state: result %v, comment %q, refusals left %d; want it applied after the refusals",
						res["result"], comment, ms.filesLimited.Load())
				}
				return
			}
			if res["result"] != false || !strings.Contains(comment, wire.RateLimited) {
				t.Fatalf("motd state: result %v, comment %q; want false and the rate limit", res["result"], comment)
			}
		})
	}
}

// applyMotd applies the test tree's highstate on web1 under a new root and
// returns that root, the return, and the motd state's result and comment.
func applyMotd(t *testing.T, ms *master) (root string, r *job.Return, res map[string]any, comment string) {
	t.Helper()
	root = t.TempDir()
	j := ms.stateJob("web1", "state.apply", nil, map[string]any{"root": root})
	ms.publish(j)
	r = ms.waitReturn(j.JID, "web1")
	res = decodeHighstate(t, r)["file_|-motd_|-"+root+"/etc/motd_|-managed"]
	comment, _ = res["comment"].(string)
	return root, r, res, comment
}
