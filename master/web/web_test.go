package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/brinecm/brine/master"
	"github.com/brinecm/brine/minion"
	_ "github.com/brinecm/brine/modules/all"
	"github.com/brinecm/brine/pkg/config"
	"github.com/brinecm/brine/proto/brinepb"
	_ "github.com/brinecm/brine/states/all"
)

// env is a real master on its embedded bus, three real minions, the
// master's CLI API over its unix socket, and the web view on top.
type env struct {
	web     *Server
	dataDir string
	client  brinepb.MasterClient
	srv     *httptest.Server
	read    string // a token that may read
	run     string // a token that may run
}

func quietLog() *slog.Logger {
	if os.Getenv("BRINE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

func newEnv(t *testing.T, ids ...string) *env {
	t.Helper()
	dir := t.TempDir()
	root, err := filepath.Abs("testdata/states")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Master{DataDir: filepath.Join(dir, "master"), Socket: filepath.Join(dir, "master.sock"), Listen: "127.0.0.1:0",
		FileRoots: config.Roots{root}, PillarRoots: config.Roots{filepath.Join(dir, "pillar")}, AutoAccept: true}
	m, err := master.New(master.Options{Master: cfg, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("master: %v", err)
		}
	})
	select {
	case <-m.Ready():
	case err := <-done:
		t.Fatalf("master did not start: %v", err)
	}
	for _, id := range ids {
		mn, err := minion.New(minion.Config{ID: id, Masters: []string{m.BusURL()}, DataDir: filepath.Join(dir, id), Log: quietLog(),
			Grains: map[string]any{"os": "Debian", "osrelease": "13"}})
		if err != nil {
			t.Fatal(err)
		}
		mctx, mcancel := context.WithCancel(context.Background())
		mdone := make(chan struct{})
		go func() { _ = mn.Run(mctx); close(mdone) }()
		t.Cleanup(func() { mcancel(); <-mdone })
	}
	conn, err := grpc.NewClient("unix://"+cfg.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e := &env{dataDir: cfg.DataDir, client: brinepb.NewMasterClient(conn)}
	ws, err := New(Config{DataDir: cfg.DataDir, Client: e.client, Refresh: time.Nanosecond, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	e.web = ws
	e.srv = httptest.NewServer(ws.Handler())
	t.Cleanup(e.srv.Close)
	if e.read, err = NewToken(cfg.DataDir, false); err != nil {
		t.Fatal(err)
	}
	if e.run, err = NewToken(cfg.DataDir, true); err != nil {
		t.Fatal(err)
	}
	e.waitConnected(t, ids...)
	return e
}

// waitConnected waits until every minion answers test.ping.
func (e *env) waitConnected(t *testing.T, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := map[string]bool{}
		e.runCLI(t, "test.ping", 3*time.Second, func(r *brinepb.MinionReturn) { got[r.Minion] = string(r.ReturnJson) == "true" })
		all := true
		for _, id := range ids {
			all = all && got[id]
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("minions %v did not answer test.ping: %v", ids, got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runCLI runs fun on every minion as `brine '*' fun` does and returns the jid.
func (e *env) runCLI(t *testing.T, fun string, timeout time.Duration, each func(*brinepb.MinionReturn)) string {
	t.Helper()
	stream, err := e.client.Run(t.Context(), &brinepb.RunRequest{Target: "*", Fun: fun, ArgsJson: []byte("[]"),
		KwargsJson: []byte("{}"), TimeoutMs: timeout.Milliseconds()})
	if err != nil {
		t.Fatal(err)
	}
	var jid string
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			return jid
		}
		if err != nil {
			t.Fatalf("run %s: %v", fun, err)
		}
		if s := ev.GetStarted(); s != nil {
			jid = s.Jid
		}
		if r := ev.GetRet(); r != nil && each != nil {
			each(r)
		}
	}
}

// do sends a request with the given token ("" = none).
func (e *env) do(t *testing.T, method, path, token string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func (e *env) jobCount(t *testing.T) int {
	t.Helper()
	l, err := e.client.ListJobs(t.Context(), &brinepb.ListJobsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return len(l.Jobs)
}

func TestWebView(t *testing.T) {
	e := newEnv(t, "web1", "web2", "db1")
	hs := e.runCLI(t, "state.highstate", 30*time.Second, nil)
	if hs == "" {
		t.Fatal("no jid for the highstate")
	}
	endpoints := []string{"/", "/api/minions", "/minions/web1", "/api/minions/web1", "/jobs", "/api/jobs", "/jobs/" + hs,
		"/api/jobs/" + hs, "/events", "/api/events", "/network", "/network.svg", "/api/network", "/keys", "/api/keys"}

	t.Run("no or a bad token gets 401 and no data", func(t *testing.T) {
		for _, path := range endpoints {
			for _, tok := range []string{"", "brw_not-a-token", e.read + "x", "Basic abc"} {
				resp, body := e.do(t, "GET", path, tok, nil)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("GET %s with token %q: %d, want 401", path, tok, resp.StatusCode)
				}
				for _, leak := range []string{"web1", "db1", hs, "disk-check"} {
					// The login form keeps the asked-for path to return to it.
					if strings.Contains(body, leak) && !strings.Contains(path, leak) {
						t.Errorf("GET %s with token %q: the 401 shows %q", path, tok, leak)
					}
				}
			}
		}
	})

	t.Run("fleet", func(t *testing.T) {
		resp, body := e.do(t, "GET", "/api/minions", e.read, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		var rows []struct {
			ID            string     `json:"id"`
			Online        bool       `json:"online"`
			LastSeen      *time.Time `json:"last_seen"`
			OS            string     `json:"os"`
			LastHighstate *struct {
				JID       string    `json:"jid"`
				At        time.Time `json:"at"`
				Succeeded bool      `json:"succeeded"`
				Changed   int       `json:"changed"`
				Failed    int       `json:"failed"`
			} `json:"last_highstate"`
		}
		if err := json.Unmarshal([]byte(body), &rows); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if len(rows) != 3 || rows[0].ID != "db1" || rows[1].ID != "web1" || rows[2].ID != "web2" {
			t.Fatalf("minions %s", body)
		}
		for _, r := range rows {
			if !r.Online || r.LastSeen == nil || r.OS != "Debian 13" {
				t.Errorf("%s: online %v, last seen %v, os %q", r.ID, r.Online, r.LastSeen, r.OS)
			}
			if h := r.LastHighstate; h == nil || h.JID != hs || h.Succeeded || h.Changed != 1 || h.Failed != 1 || h.At.IsZero() {
				t.Errorf("%s: last highstate %+v, want jid %s, failed, 1 changed, 1 failed", r.ID, h, hs)
			}
		}
		if resp.Header.Get("X-Total-Count") != "3" {
			t.Errorf("X-Total-Count %q", resp.Header.Get("X-Total-Count"))
		}
		// Filters and paging happen on the server.
		for _, c := range []struct {
			query string
			want  string
		}{
			{"?q=web*", `"web1","web2"`},
			{"?q=db", `"db1"`},
			{"?per_page=1&page=2", `"web1"`},
			{"?status=offline", ``},
			{"?status=failed&per_page=2", `"db1","web1"`},
		} {
			_, body := e.do(t, "GET", "/api/minions"+c.query, e.read, nil)
			var got []struct{ ID string }
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("%s: %v", c.query, err)
			}
			var ids []string
			for _, g := range got {
				ids = append(ids, fmt.Sprintf("%q", g.ID))
			}
			if s := strings.Join(ids, ","); s != c.want {
				t.Errorf("/api/minions%s: %s, want %s", c.query, s, c.want)
			}
		}
		_, page := e.do(t, "GET", "/", e.read, nil)
		for _, id := range []string{"web1", "web2", "db1", "Debian 13", "/jobs/" + hs} {
			if !strings.Contains(page, id) {
				t.Errorf("the fleet page lacks %q", id)
			}
		}
	})

	t.Run("minion", func(t *testing.T) {
		resp, body := e.do(t, "GET", "/api/minions/web2", e.read, nil)
		var d struct {
			ID     string         `json:"id"`
			Grains map[string]any `json:"grains"`
			Runs   []Run          `json:"runs"`
			States []StateRow     `json:"last_highstate_states"`
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &d) != nil {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if d.ID != "web2" || d.Grains["id"] != "web2" || len(d.Runs) != 1 || d.Runs[0].JID != hs || len(d.States) != 2 {
			t.Errorf("minion web2: %s", body)
		}
		if resp, _ := e.do(t, "GET", "/api/minions/nosuch", e.read, nil); resp.StatusCode != 404 {
			t.Errorf("an unknown minion: %d, want 404", resp.StatusCode)
		}
	})

	t.Run("jobs", func(t *testing.T) {
		for _, c := range []struct {
			query string
			want  []string // functions listed
		}{
			{"?function=state.*", []string{"state.highstate"}},
			{"?result=failed", []string{"state.highstate"}},
			{"?function=test.ping&per_page=1", []string{"test.ping"}},
			{"?target=nosuch", nil},
		} {
			resp, body := e.do(t, "GET", "/api/jobs"+c.query, e.read, nil)
			var jobs []JobRow
			if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &jobs) != nil {
				t.Fatalf("%s: %d %s", c.query, resp.StatusCode, body)
			}
			var funs []string
			for _, j := range jobs {
				funs = append(funs, j.Fun)
			}
			if strings.Join(funs, ",") != strings.Join(c.want, ",") {
				t.Errorf("/api/jobs%s: %v, want %v", c.query, funs, c.want)
			}
		}
		if resp, body := e.do(t, "GET", "/api/jobs?result=maybe", e.read, nil); resp.StatusCode != 400 || !strings.Contains(body, "running, failed or done") {
			t.Errorf("a bad result filter: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("job", func(t *testing.T) {
		resp, body := e.do(t, "GET", "/api/jobs/"+hs, e.read, nil)
		var d JobDetail
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &d) != nil {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if d.Returned != 3 || len(d.Returns) != 3 || len(d.Missing) != 0 {
			t.Fatalf("job: %s", body)
		}
		for _, r := range d.Returns {
			var failed *StateRow
			for i := range r.States {
				if r.States[i].ID == "disk-check" {
					failed = &r.States[i]
				}
			}
			if failed == nil || failed.Result == nil || *failed.Result || failed.Comment != "disk <img src=x onerror=alert(1)> is full" {
				t.Errorf("%s: the failed state %+v", r.Minion, failed)
			}
		}
		_, page := e.do(t, "GET", "/jobs/"+hs, e.read, nil)
		// Escaping: the state ID and the comment are text, not markup.
		for _, want := range []string{"disk &lt;img src=x onerror=alert(1)&gt; is full", "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"} {
			if !strings.Contains(page, want) {
				t.Errorf("the job page lacks %q", want)
			}
		}
		for _, bad := range []string{"<img src=x", "<script>document"} {
			if strings.Contains(page, bad) {
				t.Errorf("the job page carries raw %q", bad)
			}
		}
		for path, code := range map[string]int{"/api/jobs/20990101000000000000": 404, "/api/jobs/bad%20jid": 400} {
			if resp, body := e.do(t, "GET", path, e.read, nil); resp.StatusCode != code {
				t.Errorf("%s: %d %s, want %d", path, resp.StatusCode, body, code)
			}
		}
	})

	t.Run("network and keys", func(t *testing.T) {
		resp, body := e.do(t, "GET", "/api/network", e.read, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `"tunnels":[]`) {
			t.Errorf("network without a mesh: %d %s", resp.StatusCode, body)
		}
		resp, body = e.do(t, "GET", "/api/keys", e.read, nil)
		var ks []KeyRow
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &ks) != nil || len(ks) != 3 {
			t.Fatalf("keys: %d %s", resp.StatusCode, body)
		}
		for _, k := range ks {
			if k.State != "accepted" || !strings.Contains(k.Fingerprint, ":") {
				t.Errorf("key %+v", k)
			}
		}
	})

	t.Run("a token without the run right gets 403 and nothing is published", func(t *testing.T) {
		evs, err := e.client.Events(t.Context(), &brinepb.EventsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		seen := make(chan string, 100)
		go func() {
			for {
				ev, err := evs.Recv()
				if err != nil {
					close(seen)
					return
				}
				seen <- ev.Tag
			}
		}()
		before := e.jobCount(t)
		for _, c := range []struct{ path, body string }{
			{"/api/run", `{"target": "*", "fun": "test.ping"}`},
			{"/api/keys/web1/reject", ``},
			{"/api/keys/web1/accept", ``},
		} {
			resp, body := e.do(t, "POST", c.path, e.read, strings.NewReader(c.body))
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "--run") {
				t.Errorf("POST %s with a read token: %d %s, want 403", c.path, resp.StatusCode, body)
			}
			if resp, _ := e.do(t, "POST", c.path, "", strings.NewReader(c.body)); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("POST %s without a token: %d, want 401", c.path, resp.StatusCode)
			}
		}
		// A run through the run token is the marker: every event before
		// its job.new would be one the refused requests caused.
		resp, body := e.do(t, "POST", "/api/run", e.run, strings.NewReader(`{"target": "web1", "fun": "test.ping"}`))
		var started struct {
			JID     string   `json:"jid"`
			Minions []string `json:"minions"`
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &started) != nil || started.JID == "" || len(started.Minions) != 1 {
			t.Fatalf("run with a run token: %d %s", resp.StatusCode, body)
		}
		for tag := range seen {
			if tag == "job.new" {
				break
			}
			if tag == "key" || strings.HasPrefix(tag, "job.") {
				t.Errorf("event %q before the allowed run: a refused request acted", tag)
			}
		}
		if got := e.jobCount(t); got != before+1 {
			t.Errorf("jobs in the cache: %d, want %d (the allowed run only)", got, before+1)
		}
		ks, err := e.client.ListKeys(t.Context(), &brinepb.ListKeysRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks.Keys {
			if k.State != "accepted" {
				t.Errorf("key %s is %s after refused key actions", k.Id, k.State)
			}
		}
		// With the run token, a key action goes through `brine key`'s path.
		if resp, body := e.do(t, "POST", "/api/keys/nosuch/accept", e.run, nil); resp.StatusCode != http.StatusConflict {
			t.Errorf("accept an unknown key: %d %s, want 409", resp.StatusCode, body)
		}
		if resp, body := e.do(t, "POST", "/api/run", e.run, strings.NewReader(`{"fun": "test.ping"}`)); resp.StatusCode != 400 || !strings.Contains(body, "target") {
			t.Errorf("a run without a target: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("events stream live", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/events?tag=job.*", nil)
		req.Header.Set("Authorization", "Bearer "+e.read)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		rd := bufio.NewReader(resp.Body)
		if _, err := rd.ReadString('\n'); err != nil { // the stream's opening comment
			t.Fatal(err)
		}
		jid := e.runCLI(t, "test.ping", 10*time.Second, nil)
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("the stream ended before the job's event: %v", err)
			}
			data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: ")
			if !ok {
				continue
			}
			var ev struct {
				Tag, Source string
				Data        map[string]any
			}
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatalf("event %s: %v", data, err)
			}
			if !strings.HasPrefix(ev.Tag, "job.") {
				t.Errorf("tag filter job.*: got %s", ev.Tag)
			}
			if ev.Tag == "job.new" && ev.Data["jid"] == jid && ev.Source == "master" {
				return
			}
		}
	})

	t.Run("login form sets an HttpOnly cookie", func(t *testing.T) {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.PostForm(e.srv.URL+"/login", map[string][]string{"token": {"brw_wrong"}, "next": {"/jobs"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
			t.Errorf("a bad token logs in: %d %v", resp.StatusCode, resp.Cookies())
		}
		resp, err = c.PostForm(e.srv.URL+"/login", map[string][]string{"token": {e.read}, "next": {"//evil.example/"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ck := resp.Cookies()
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/" || len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode {
			t.Fatalf("login: %d %q %+v", resp.StatusCode, resp.Header.Get("Location"), ck)
		}
		req, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+"/jobs", nil)
		req.AddCookie(ck[0])
		resp, err = c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), hs) {
			t.Errorf("the jobs page with the cookie: %d", resp.StatusCode)
		}
	})

	t.Run("drift is the master's report, as brine drift shows it", func(t *testing.T) {
		// The highstate failed: converged never, pending unknown.
		_, body := e.do(t, "GET", "/api/minions?q=web1", e.read, nil)
		if !strings.Contains(body, `"drift":{"last_converged":null,"corrected_24h":0,"corrected":[],"pending":null}`) {
			t.Errorf("drift before a test run: %s", body)
		}
		// A test=True highstate: one state would change, one would fail.
		stream, err := e.client.Run(t.Context(), &brinepb.RunRequest{Target: "*", Fun: "state.highstate", ArgsJson: []byte("[]"),
			KwargsJson: []byte(`{"test": true}`), TimeoutMs: 30000})
		if err != nil {
			t.Fatal(err)
		}
		var testJID string
		for {
			ev, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := ev.GetStarted(); s != nil {
				testJID = s.Jid
			}
		}
		want, err := e.client.Drift(t.Context(), &brinepb.DriftRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Minions) != 3 {
			t.Fatalf("brine drift: %v", want.Minions)
		}
		_, body = e.do(t, "GET", "/api/minions", e.read, nil)
		var rows []MinionRow
		if err := json.Unmarshal([]byte(body), &rows); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		for i, m := range want.Minions {
			got := rows[i].Drift
			if rows[i].ID != m.Minion || !m.PendingKnown || m.Pending != 1 || m.PendingJid != testJID {
				t.Fatalf("brine drift %s: %v (test run %s)", rows[i].ID, m, testJID)
			}
			if got.Pending == nil || *got.Pending != int(m.Pending) || got.PendingJID != m.PendingJid || got.LastConverged != nil ||
				got.Corrected24h != len(m.Corrected) {
				t.Errorf("%s: the view's drift %+v, brine drift's %v", m.Minion, got, m)
			}
		}
		_, page := e.do(t, "GET", "/minions/db1", e.read, nil)
		if !strings.Contains(page, "1 pending (test run <a href=\"/jobs/"+testJID+"\">") {
			t.Errorf("the minion page does not show the pending test run %s", testJID)
		}
		_, body = e.do(t, "GET", "/api/minions?status=drift", e.read, nil)
		if strings.Count(body, `"id"`) != 3 {
			t.Errorf("?status=drift: %s", body)
		}
	})
}
