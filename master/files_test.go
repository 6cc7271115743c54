package master

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/pkg/wire"
)

// fileTree is a copy of testdata/files with the symlinks the tests need,
// and a secret file beside it, outside the root.
type fileTree struct {
	root   string
	secret []byte
}

func newFileTree(t *testing.T) fileTree {
	t.Helper()
	root := copyTree(t, "testdata/files")
	outside := filepath.Join(filepath.Dir(root), "outside")
	if err := os.MkdirAll(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	secret := []byte("root:$y$secret:19000:0:99999:7:::\n")
	if err := os.WriteFile(filepath.Join(outside, "shadow"), secret, 0o600); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"in-rel":       "sub/app.conf",
		"in-abs":       filepath.Join(root, "motd"),
		"sub/up":       "../motd",
		"out-abs":      filepath.Join(outside, "shadow"),
		"out-rel":      "../outside/shadow",
		"out-dir":      outside,
		"dangling-out": filepath.Join(outside, "missing"),
	} {
		symlink(t, target, filepath.Join(root, filepath.FromSlash(link)))
	}
	return fileTree{root: root, secret: secret}
}

func TestFileServerRead(t *testing.T) {
	tree := newFileTree(t)
	second := t.TempDir()
	if err := os.WriteFile(filepath.Join(second, "only-second"), []byte("second root\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	motd, appConf := []byte("Welcome to a brine minion.\n"), []byte("listen = 8080\n")
	tests := []struct {
		name    string
		path    string
		follow  bool
		want    []byte
		wantErr string // substring; "notfound" for fs.ErrNotExist
	}{
		{"a file", "motd", false, motd, ""},
		{"a file in a directory", "sub/app.conf", false, appConf, ""},
		{"dot-dot is cleaned inside the tree", "../../motd", false, motd, ""},
		{"from the second root", "only-second", false, []byte("second root\n"), ""},
		{"relative symlink inside the root", "in-rel", false, appConf, ""},
		{"absolute symlink inside the root", "in-abs", false, motd, ""},
		{"symlink up to the root's top", "sub/up", false, motd, ""},
		{"absolute symlink out of the root", "out-abs", false, nil, "leads outside the file root"},
		{"relative symlink out of the root", "out-rel", false, nil, "leads outside the file root"},
		{"through a directory symlink out of the root", "out-dir/shadow", false, nil, "leads outside the file root"},
		{"absolute symlink out, followed", "out-abs", true, tree.secret, ""},
		{"relative symlink out, followed", "out-rel", true, tree.secret, ""},
		{"directory symlink out, followed", "out-dir/shadow", true, tree.secret, ""},
		{"inside symlink with follow", "in-rel", true, appConf, ""},
		{"dangling symlink", "dangling-out", false, nil, "notfound"},
		{"missing file", "nope", false, nil, "notfound"},
		{"a directory", "sub", false, nil, "not a regular file"},
		{"empty path", "", false, nil, "is not a file path in the state tree"},
		{"the root itself", "/", false, nil, "is not a file path in the state tree"},
		{"path too long", strings.Repeat("a/", maxFilePath), false, nil, "path is 2048 bytes long, at most 1024"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFileServer(config.Master{FileRoots: config.Roots{tree.root, second}, FollowSymlinksOutsideRoot: tc.follow})
			got, err := f.read(tc.path, 0)
			switch {
			case tc.wantErr == "notfound":
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("read %q = %q, %v; want not found", tc.path, got, err)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("read %q = %q, %v; want an error with %q", tc.path, got, err, tc.wantErr)
				}
			case err != nil:
				t.Fatalf("read %q: %v", tc.path, err)
			case !bytes.Equal(got, tc.want):
				t.Fatalf("read %q = %q, want %q", tc.path, got, tc.want)
			}
		})
	}

	f := newFileServer(config.Master{FileRoots: config.Roots{tree.root}})
	if _, err := f.read("motd", 4); err == nil || !strings.Contains(err.Error(), "more than the 4 the file server sends") {
		t.Errorf("a file over the size limit: %v", err)
	}
}

// admitStep is one step of an admission test.
type admitStep struct {
	op     string // "admit" or "release"
	id     string
	at     time.Duration // since the test's start
	want   string        // substring of the refusal; "" = admitted
	silent bool          // a refusal left unanswered
}

// admits is n requests of id in flight at once.
func admits(id string, n int) []admitStep {
	var s []admitStep
	for range n {
		s = append(s, admitStep{"admit", id, 0, "", false})
	}
	return s
}

// cycles is n requests of id, each answered before the next.
func cycles(id string, n int) []admitStep {
	var s []admitStep
	for range n {
		s = append(s, admitStep{"admit", id, 0, "", false}, admitStep{"release", id, 0, "", false})
	}
	return s
}

func TestFileServerAdmit(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	refused := func(id string, n int) []admitStep {
		var s []admitStep
		for range n {
			s = append(s, admitStep{"admit", id, 0, "already being served", false})
		}
		return s
	}
	tests := []struct {
		name  string
		steps []admitStep
	}{
		{"a minion may have fileInFlight requests in flight, no more",
			append(admits("m1", fileInFlight), admitStep{"admit", "m1", 0, "requests of this minion are already being served", false})},
		{"another minion is not held back by the first one's share",
			append(admits("m1", fileInFlight), admitStep{"admit", "m1", 0, "already being served", false}, admitStep{"admit", "m2", 0, "", false})},
		{"an answered request frees its place",
			append(admits("m1", fileInFlight), admitStep{"release", "m1", 0, "", false}, admitStep{"admit", "m1", 0, "", false})},
		{"the rate limit holds when the requests are answered at once",
			append(cycles("m1", fileBurst), admitStep{"admit", "m1", 0, "more than 1000 requests a second", false},
				admitStep{"admit", "m2", 0, "", false},
				admitStep{"admit", "m1", time.Second / fileRate, "", false})},
		{"a minion that keeps being refused is refused silently, and told again later",
			slices.Concat(admits("m1", fileInFlight), refused("m1", fileRefusalBurst),
				[]admitStep{{"admit", "m1", 0, "already being served", true},
					{"admit", "m2", 0, "", false},
					{"admit", "m1", time.Second / fileRefusals, "already being served", false},
					{"admit", "m1", time.Second / fileRefusals, "already being served", true}})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFileServer(config.Master{})
			for i, s := range tc.steps {
				if s.op == "release" {
					f.release(s.id)
					continue
				}
				got, answer := f.admit(s.id, t0.Add(s.at))
				if s.want == "" && got != "" || s.want != "" && !strings.Contains(got, s.want) {
					t.Fatalf("step %d: admit %s = %q, want %q", i, s.id, got, s.want)
				}
				if got != "" && answer == s.silent {
					t.Fatalf("step %d: admit %s: refusal answered = %v, want %v", i, s.id, answer, !s.silent)
				}
			}
		})
	}

	// A minion with nothing in flight takes no room.
	f := newFileServer(config.Master{})
	f.admit("idle", t0)
	f.release("idle")
	f.admit("busy", t0)
	if _, ok := f.inFlight["idle"]; ok || f.inFlight["busy"] != 1 || f.admitted != 1 {
		t.Errorf("in flight %v, admitted %d; want busy alone", f.inFlight, f.admitted)
	}
}

// fileRequest asks the master's file server as a minion does, on the
// minion's own inbox.
func fileRequest(t *testing.T, mn *testMinion, data []byte) wire.FileResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg, err := mn.nc.RequestWithContext(ctx, bus.FileSubject(mn.id), data)
	if err != nil {
		t.Fatalf("%s: file request %.60q: %v", mn.id, data, err)
	}
	var resp wire.FileResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		t.Fatalf("%s: bad answer %q: %v", mn.id, msg.Data, err)
	}
	return resp
}

func readRequest(t *testing.T, path string) []byte {
	t.Helper()
	b, err := json.Marshal(wire.FileRequest{Op: wire.OpRead, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func listRequest(t *testing.T, path string) []byte {
	t.Helper()
	b, err := json.Marshal(wire.FileRequest{Op: wire.OpList, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFileServerReplySubjects: a minion that names another subject as the
// reply subject of its file request gets nothing answered there, so it
// cannot use the master's rights to delete streams or consumers or to
// write another minion's grains. (The request reaches the master through
// the minions' service import, with a reply the server made; the file
// server would also drop a reply outside the minion's inbox, which
// TestOwnInbox and TestFileServerAdmit cover.)
func TestFileServerReplySubjects(t *testing.T) {
	tree := newFileTree(t)
	m, minions := startFileMaster(t, config.Master{FileRoots: config.Roots{tree.root}}, "m1", "m2")
	m1, m2 := minions["m1"], minions["m2"]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// m2 reports its grains, and the master stores them.
	grains := map[string]any{"id": "m2", "role": "db", "os": "Debian"}
	gb, err := json.Marshal(grains)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.nc.Publish(bus.GrainsSubject("m2"), gb); err != nil {
		t.Fatal(err)
	}
	stored := func() []byte {
		e, err := m.grains.kv.Get(ctx, bus.GrainsKey("m2"))
		if err != nil {
			return nil
		}
		return e.Value()
	}
	for stored() == nil {
		select {
		case <-ctx.Done():
			t.Fatal("m2's grains never reached the grains bucket")
		case <-time.After(10 * time.Millisecond):
		}
	}
	storedBefore := stored()

	// An administrator's connection watches the subjects m1 aims at.
	targets := []string{
		"$JS.API.STREAM.DELETE." + bus.ReturnStream,
		"$JS.API.CONSUMER.DELETE." + bus.JobStream + "." + bus.ConsumerName("m2"),
		bus.GrainsSubject("m2"),
	}
	watch := map[string]*nats.Subscription{}
	for _, subj := range targets {
		sub, err := m.nc.SubscribeSync(subj)
		if err != nil {
			t.Fatal(err)
		}
		watch[subj] = sub
	}
	if err := m.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	req := readRequest(t, "motd")
	for _, reply := range targets {
		for _, r := range [][]byte{req, listRequest(t, "sub")} {
			if err := m1.nc.PublishRequest(bus.FileSubject("m1"), reply, r); err != nil {
				t.Fatalf("m1 publishes with reply %s: %v", reply, err)
			}
		}
	}
	// The file server's subscription takes requests in order: once m1's
	// request on its own inbox is answered, the three before it were handled.
	if resp := fileRequest(t, m1, req); string(resp.Data) != "Welcome to a brine minion.\n" {
		t.Fatalf("m1's own request: %+v", resp)
	}
	if err := m.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for subj, sub := range watch {
		if n, _, err := sub.Pending(); err != nil || n != 0 {
			t.Errorf("%d messages published on %s (err %v)", n, subj, err)
		}
	}
	if _, err := m.js.Stream(ctx, bus.ReturnStream); err != nil {
		t.Errorf("stream %s: %v", bus.ReturnStream, err)
	}
	if _, err := m.js.PushConsumer(ctx, bus.JobStream, bus.ConsumerName("m2")); err != nil {
		t.Errorf("m2's job consumer: %v", err)
	}
	if got := m.grains.get("m2"); fmt.Sprint(got) != fmt.Sprint(grains) {
		t.Errorf("m2's grains are now %v, want %v", got, grains)
	}
	if got := stored(); !bytes.Equal(got, storedBefore) {
		t.Errorf("m2's stored grains are now %s, want %s", got, storedBefore)
	}
	for _, err := range m1.errs.all() {
		t.Errorf("m1 got an asynchronous error: %v", err)
	}
}

// TestFileServerFlood: while m1 floods the file server, m2's request is
// answered, and correctly; each of m1's requests is served or refused, and
// the answers m1 gets are the file or "rate limited".
func TestFileServerFlood(t *testing.T) {
	const flood = 5000
	tree := newFileTree(t)
	m, minions := startFileMaster(t, config.Master{FileRoots: config.Roots{tree.root}}, "m1", "m2")
	m1, m2 := minions["m1"], minions["m2"]

	var (
		mu              sync.Mutex
		served, limited int
		other           []string
	)
	sub, err := m1.nc.Subscribe(bus.InboxPrefix("m1")+".flood.*", func(msg *nats.Msg) {
		var resp wire.FileResponse
		err := json.Unmarshal(msg.Data, &resp)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil && string(resp.Data) == "Welcome to a brine minion.\n":
			served++
		case err == nil && strings.HasPrefix(resp.Error, "rate limited: "):
			limited++
		default:
			other = append(other, string(msg.Data))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		t.Fatal(err)
	}
	if err := m1.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	refusedBefore := m.files.refused.Load()
	req := readRequest(t, "motd")
	for i := range flood {
		if err := m1.nc.PublishRequest(bus.FileSubject("m1"), fmt.Sprintf("%s.flood.%d", bus.InboxPrefix("m1"), i), req); err != nil {
			t.Fatalf("flood request %d: %v", i, err)
		}
	}
	if err := m1.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	resp := fileRequest(t, m2, readRequest(t, "sub/app.conf"))
	latency := time.Since(start)
	if resp.Error != "" || string(resp.Data) != "listen = 8080\n" {
		t.Fatalf("m2's request during m1's flood: %+v", resp)
	}

	// Every request of m1 is either refused or served, and a served one answered.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		refused := int(m.files.refused.Load() - refusedBefore)
		mu.Lock()
		done := served+len(other)+refused == flood
		answered := served + len(other)
		mu.Unlock()
		if done {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("of m1's %d requests, %d were answered and %d refused", flood, answered, refused)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := m1.nc.Flush(); err != nil { // the refusals' answers, if any, are in
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if refused := int(m.files.refused.Load() - refusedBefore); limited > refused {
		t.Errorf("m1 got %d refusals for %d refused requests", limited, refused)
	}
	if served == 0 {
		t.Error("none of m1's requests was served")
	}
	if len(other) > 0 {
		t.Errorf("%d unexpected answers to m1, first: %s", len(other), other[0])
	}
	t.Logf("m2 answered in %s during a flood of %d requests from m1 (%d served, %d refused, %d of them answered)",
		latency, flood, served, m.files.refused.Load()-refusedBefore, limited)
}

// TestFileServerAnswers: what a minion gets for good and bad requests, with
// and without follow_symlinks_outside_root, on the real bus.
func TestFileServerAnswers(t *testing.T) {
	tree := newFileTree(t)
	motd := []byte("Welcome to a brine minion.\n")
	type answer struct {
		data     []byte
		notFound bool
		err      string // substring of the error
	}
	tests := []struct {
		name    string
		request []byte
		refuse  answer // default configuration
		follow  answer // follow_symlinks_outside_root: True
	}{
		{"a file", readRequest(t, "motd"), answer{data: motd}, answer{data: motd}},
		{"a symlink inside the root", readRequest(t, "in-abs"), answer{data: motd}, answer{data: motd}},
		{"a symlink out of the root", readRequest(t, "out-abs"),
			answer{err: "out-abs is a symlink that leads outside the file root (set follow_symlinks_outside_root: True"},
			answer{data: tree.secret}},
		{"a missing file", readRequest(t, "nope"), answer{notFound: true}, answer{notFound: true}},
		{"a path too long", readRequest(t, strings.Repeat("x", maxFilePath+1)),
			answer{err: "bad request: path is 1025 bytes long, at most 1024 are allowed"},
			answer{err: "bad request: path is 1025 bytes long"}},
		{"a request too big", []byte(`{"op":"read","path":"motd","x":"` + strings.Repeat("x", maxFileRequest) + `"}`),
			answer{err: "bad request: 4130 bytes, the file server accepts at most 4096"},
			answer{err: "bad request: 4130 bytes"}},
		{"not JSON", []byte("salt://motd"), answer{err: "bad request: invalid character"}, answer{err: "bad request: invalid character"}},
		{"an unknown operation", []byte(`{"op":"write","path":"motd"}`),
			answer{err: `bad request: unknown operation "write" ("read", "list", "master_key" or "compile")`},
			answer{err: `unknown operation "write"`}},
		{"an empty path", readRequest(t, ""), answer{err: `"" is not a file path in the state tree`}, answer{err: "is not a file path"}},
	}
	for _, follow := range []bool{false, true} {
		t.Run(fmt.Sprintf("follow=%v", follow), func(t *testing.T) {
			_, minions := startFileMaster(t, config.Master{FileRoots: config.Roots{tree.root}, FollowSymlinksOutsideRoot: follow}, "m1")
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					want := tc.refuse
					if follow {
						want = tc.follow
					}
					got := fileRequest(t, minions["m1"], tc.request)
					switch {
					case want.err != "":
						if !strings.Contains(got.Error, want.err) || got.Data != nil {
							t.Errorf("answer %+v, want an error with %q", got, want.err)
						}
					case got.Error != "" || got.NotFound != want.notFound || !bytes.Equal(got.Data, want.data):
						t.Errorf("answer %+v, want %+v", got, want)
					}
				})
			}
		})
	}
}

// entriesString is a listing as "name(dir) mode" words, for comparisons.
func entriesString(es []wire.FileEntry) string {
	var b strings.Builder
	for _, e := range es {
		kind := ""
		if e.Dir {
			kind = "/"
		}
		fmt.Fprintf(&b, "%s%s:%04o ", e.Name, kind, e.Mode)
	}
	return strings.TrimSpace(b.String())
}

// TestFileServerList lists directories of the file roots as the master's
// file server does, with the checks reads have.
func TestFileServerList(t *testing.T) {
	tree := newFileTree(t)
	if err := os.Chmod(filepath.Join(tree.root, "sub", "app.conf"), 0o751|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(tree.root, "empty"), 0o710); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(tree.root, "empty"), 0o710); err != nil {
		t.Fatal(err)
	}
	second := t.TempDir()
	for name, mode := range map[string]os.FileMode{"only-second": 0o640, "motd": 0o600} {
		if err := os.WriteFile(filepath.Join(second, name), []byte("second\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(second, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	top := "dangling-out:0777 empty/:0710 in-abs:0644 in-rel:2751 motd:0644 only-second:0640 out-abs:0600 out-dir/:0700 out-rel:0600 sub/:0755"
	tests := []struct {
		name    string
		path    string
		follow  bool
		want    string
		wantErr string // substring; "notfound" for fs.ErrNotExist
	}{
		{"the top, merged over the roots, first root first", "", false,
			"empty/:0710 in-abs:0644 in-rel:2751 motd:0644 only-second:0640 sub/:0755", ""},
		{"the top as .", ".", false, "empty/:0710 in-abs:0644 in-rel:2751 motd:0644 only-second:0640 sub/:0755", ""},
		{"a directory with a symlink up", "sub", false, "app.conf:2751 up:0644", ""},
		{"dot-dot is cleaned inside the tree", "../../sub/", false, "app.conf:2751 up:0644", ""},
		{"an empty directory", "empty", false, "", ""},
		{"the top with follow lists symlinks out", "", true, strings.Replace(top, "dangling-out:0777 ", "", 1), ""},
		{"a directory symlink out of the root", "out-dir", false, "", "leads outside the file root"},
		{"a directory symlink out, followed", "out-dir", true, "shadow:0600", ""},
		{"a missing directory", "nope", false, "", "notfound"},
		{"a file", "motd", false, "", "motd is not a directory"},
		{"an absolute path stays in the tree", "/sub", false, "app.conf:2751 up:0644", ""},
		{"path too long", strings.Repeat("a/", maxFilePath), false, "", "path is 2048 bytes long, at most 1024"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFileServer(config.Master{FileRoots: config.Roots{tree.root, second}, FollowSymlinksOutsideRoot: tc.follow})
			got, _, err := f.list(tc.path, 0)
			switch {
			case tc.wantErr == "notfound":
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("list %q = %v, %v; want not found", tc.path, got, err)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("list %q = %v, %v; want an error with %q", tc.path, got, err, tc.wantErr)
				}
			case err != nil:
				t.Fatalf("list %q: %v", tc.path, err)
			case entriesString(got) != tc.want:
				t.Fatalf("list %q = %s\nwant        %s", tc.path, entriesString(got), tc.want)
			}
		})
	}

	f := newFileServer(config.Master{FileRoots: config.Roots{tree.root}})
	_, skipped, err := f.list("", 0)
	if err != nil || !slices.Equal(skipped, []string{"dangling-out", "out-abs", "out-dir", "out-rel"}) {
		t.Errorf("symlinks left out of the top: %q, %v", skipped, err)
	}
	if _, _, err := f.list("", 10); err == nil || !strings.Contains(err.Error(), "more than the 10 the file server sends") {
		t.Errorf("a listing over the size limit: %v", err)
	}
	big := filepath.Join(tree.root, "big")
	if err := os.Mkdir(big, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range wire.MaxListEntries + 1 {
		if err := os.WriteFile(filepath.Join(big, fmt.Sprint(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.list("big", 0); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("big has more than %d entries", wire.MaxListEntries)) {
		t.Errorf("a directory over the entry limit: %v", err)
	}
}

// TestFileServerListAnswers: a minion lists directories through the real
// master's file server, which refuses what it refuses reads for.
func TestFileServerListAnswers(t *testing.T) {
	tree := newFileTree(t)
	_, minions := startFileMaster(t, config.Master{FileRoots: config.Roots{tree.root}}, "m1")
	m1 := minions["m1"]
	tests := []struct {
		path     string
		want     string
		notFound bool
		err      string
	}{
		{path: "sub", want: "app.conf:0644 up:0644"},
		{path: "", want: "in-abs:0644 in-rel:0644 motd:0644 sub/:0755"},
		{path: "../..", want: "in-abs:0644 in-rel:0644 motd:0644 sub/:0755"},
		{path: "out-dir", err: "out-dir is a symlink that leads outside the file root (set follow_symlinks_outside_root: True"},
		{path: "nope", notFound: true},
		{path: "motd", err: "motd is not a directory"},
		{path: strings.Repeat("x", maxFilePath+1), err: "bad request: path is 1025 bytes long"},
	}
	for _, tc := range tests {
		got := fileRequest(t, m1, listRequest(t, tc.path))
		switch {
		case tc.err != "":
			if !strings.Contains(got.Error, tc.err) || got.Entries != nil {
				t.Errorf("list %.40q: answer %+v, want an error with %q", tc.path, got, tc.err)
			}
		case got.Error != "" || got.NotFound != tc.notFound || entriesString(got.Entries) != tc.want:
			t.Errorf("list %.40q: answer %+v (%s), want %q", tc.path, got, entriesString(got.Entries), tc.want)
		}
	}
}
