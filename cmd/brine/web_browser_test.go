package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/brinecm/brine/pkg/bus"
	"github.com/brinecm/brine/pkg/ovsx/ovstest"
	"github.com/brinecm/brine/pkg/systest"
)

// browser is a headless Chromium driven over the DevTools protocol.
type browser struct {
	t         *testing.T
	ctx       context.Context
	artifacts string
}

// newBrowser starts headless Chromium trusting only the certificate whose
// public key is spki (base64 SHA-256), the one the test verified against
// the bus CA.
func newBrowser(t *testing.T, spki string) *browser {
	t.Helper()
	systest.RequireCommands(t, "chromium")
	path, _ := exec.LookPath("chromium")
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // Chromium refuses to run as root with its sandbox
		chromedp.Flag("ignore-certificate-errors-spki-list", spki),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	dir := os.Getenv("BRINE_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return &browser{t: t, ctx: ctx, artifacts: dir}
}

// run runs actions, each step bounded so that a hung page fails the test.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("browser: evaluate %s: %v", expr, err)
	}
	return v
}

// screenshot saves the whole page as name.png under the artifacts.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.artifacts, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// webCert waits for the web view on addr and returns the SHA-256 of the
// public key of its certificate, which must verify against the bus CA.
func webCert(t *testing.T, dataDir, addr string) string {
	t.Helper()
	pool := x509.NewCertPool()
	var spki string
	waitFor(t, 30*time.Second, "the web view", func() bool {
		pem, err := os.ReadFile(bus.WebCAFile(dataDir))
		if err != nil || !pool.AppendCertsFromPEM(pem) {
			return false
		}
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			return false
		}
		defer conn.Close()
		sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
		spki = base64.StdEncoding.EncodeToString(sum[:])
		return true
	})
	return spki
}

// TestWebViewInBrowser drives the web view of a real `brine master --http`
// with three minions on an Open vSwitch overlay from headless Chromium: it
// logs in with a token, sees the fleet, watches a highstate started from
// the CLI come in on the jobs page, reads a failed state's comment on the
// job page and finds the mesh on the network page.
func TestWebViewInBrowser(t *testing.T) {
	ovstest.Switch(t)
	systest.RequireCommands(t, "chromium")
	hosts := map[string]string{"web1": "192.0.2.31", "web2": "192.0.2.32", "web3": "192.0.2.33"}
	ids := []string{"web1", "web2", "web3"}
	for _, id := range ids {
		ovstest.RemoveBridges(t, "brw-"+id)
	}

	dir := t.TempDir()
	f := &fleet{t: t, dir: dir, socket: filepath.Join(dir, "master.sock"), minions: map[string]*proc{}}
	port, httpAddr := freePort(t), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	f.busURL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	dataDir := filepath.Join(dir, "master")
	pillar := filepath.Join(dir, "pillar")
	if err := os.MkdirAll(pillar, 0o755); err != nil {
		t.Fatal(err)
	}
	f.master = start(t, "master", "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--socket", f.socket,
		"--file-root", "testdata/web/states", "--pillar-root", pillar, "--auto-accept", "--http", httpAddr, "--log-level", "info")
	spki := webCert(t, dataDir, httpAddr)
	// The returns come one by one: web1 at once, web2 and web3 later.
	for i, id := range ids {
		f.startMinionWith(id, map[string]string{"role": "docker", "underlay_ip": hosts[id], "settle": fmt.Sprint(i * 4)})
	}
	f.pingAll(ids...)
	waitFor(t, 30*time.Second, "the grains of the three", func() bool {
		_, out, _ := f.brine("-G", "role:docker", "grains.get", "underlay_ip", "--out", "json")
		return len(returnedIDs(out)) == 3
	})
	code, tok, errOut := f.brine("web", "token", "--data-dir", dataDir)
	tok = strings.TrimSpace(tok)
	if code != 0 || !strings.HasPrefix(tok, "brw_") {
		t.Fatalf("brine web token: %d %q %s", code, tok, errOut)
	}

	b := newBrowser(t, spki)
	base := "https://" + httpAddr

	// Without a token the fleet page is the login form; the token logs in.
	b.run("open the fleet page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(`input[name=token]`))
	b.screenshot("01-login")
	if rows := eval[int](b, `document.querySelectorAll("#minions tr[data-id]").length`); rows != 0 {
		t.Fatalf("the login form shows %d minions", rows)
	}
	b.run("log in", chromedp.SendKeys(`input[name=token]`, tok), chromedp.Submit(`input[name=token]`),
		chromedp.WaitVisible(`#minions`))

	// The fleet page lists the three, online.
	fleet := eval[[]string](b, `Array.from(document.querySelectorAll("#minions tr[data-id]"), tr => tr.dataset.id + " " + tr.children[1].textContent)`)
	if want := []string{"web1 online", "web2 online", "web3 online"}; !slices.Equal(fleet, want) {
		t.Errorf("the fleet page lists %q, want %q", fleet, want)
	}
	b.screenshot("02-fleet")

	// A highstate from the CLI appears on the open jobs page, and its
	// returned count rises as the minions return.
	b.run("open the jobs page", chromedp.Navigate(base+"/jobs"), chromedp.WaitVisible(`#jobs`))
	code, out, errOut := f.brine("-G", "role:docker", "state.highstate", "--async")
	m := regexp.MustCompile(`job ID: (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("brine state.highstate --async: %d %s %s", code, out, errOut)
	}
	jid := m[1]
	var seen []string
	cell := fmt.Sprintf(`(document.querySelector('#jobs tr[data-jid=%q] .returned') || {}).textContent || ""`, jid)
	waitFor(t, 90*time.Second, "the job to show 3/3 returned", func() bool {
		got := eval[string](b, cell)
		if got != "" && (len(seen) == 0 || seen[len(seen)-1] != got) {
			seen = append(seen, got)
			if len(seen) == 2 {
				b.screenshot("03-jobs-progress")
			}
		}
		return got == "3/3"
	})
	if len(seen) < 2 || !strings.HasSuffix(seen[0], "/3") || seen[0] == "3/3" {
		t.Errorf("the jobs page showed returned %q: want it to rise to 3/3 while the page stays open", seen)
	}
	if result := eval[string](b, fmt.Sprintf(`document.querySelector('#jobs tr[data-jid=%q] .result').textContent`, jid)); result != "failed" {
		t.Errorf("the job's result on the jobs page is %q, want failed (web3's disk-check)", result)
	}
	b.screenshot("04-jobs-done")

	// The job page shows web3's failed state with its comment, as text.
	b.run("open the job page", chromedp.Navigate(base+"/jobs/"+jid), chromedp.WaitVisible(`section.return[data-minion=web3]`))
	failed := eval[[]string](b, `Array.from(document.querySelectorAll('section.return tr.failed'), tr => tr.closest('section').dataset.minion + " " + tr.children[0].textContent + ": " + tr.querySelector('.comment').textContent)`)
	if want := []string{"web3 disk-check: /srv is 100% full: remove old releases"}; !slices.Equal(failed, want) {
		t.Errorf("the job page's failed states: %q, want %q", failed, want)
	}
	b.screenshot("05-job")

	// The network page draws the three hosts, their bridges and a tunnel
	// between every two.
	b.run("open the network page", chromedp.Navigate(base+"/network"), chromedp.WaitVisible(`#graph svg`))
	graph := eval[struct {
		Hosts   []string `json:"hosts"`
		Bridges []string `json:"bridges"`
		Tunnels []string `json:"tunnels"`
	}](b, `({
		hosts: Array.from(document.querySelectorAll('#graph svg g.host'), g => g.dataset.id + " " + g.textContent),
		bridges: Array.from(document.querySelectorAll('#graph svg g.bridge'), g => g.dataset.host + " " + g.textContent),
		tunnels: Array.from(document.querySelectorAll('#graph svg line.tunnel'), l => l.dataset.a + "-" + l.dataset.b),
	})`)
	if want := []string{"web1 web1192.0.2.31", "web2 web2192.0.2.32", "web3 web3192.0.2.33"}; !slices.Equal(graph.Hosts, want) {
		t.Errorf("hosts in the SVG: %q, want %q", graph.Hosts, want)
	}
	// The three minions share this host's Open vSwitch, where tests running
	// alongside add bridges of their own: the mesh's bridges are brw-*.
	var ours []string
	for _, b := range graph.Bridges {
		if _, name, _ := strings.Cut(b, " "); strings.HasPrefix(name, "brw-") {
			ours = append(ours, b)
		}
	}
	if want := []string{"web1 brw-web1", "web2 brw-web2", "web3 brw-web3"}; !slices.Equal(ours, want) {
		t.Errorf("mesh bridges in the SVG: %q (all: %q), want %q", ours, graph.Bridges, want)
	}
	if want := []string{"web1-web2", "web1-web3", "web2-web3"}; !slices.Equal(graph.Tunnels, want) {
		t.Errorf("tunnels in the SVG: %q, want %q", graph.Tunnels, want)
	}
	b.screenshot("06-network")

	// brine web cert: the master takes the bus CA's client certificate as
	// a read-only login.
	certDir := t.TempDir()
	if code, out, errOut := f.brine("web", "cert", "viewer", "--data-dir", dataDir, "--out", certDir); code != 0 {
		t.Fatalf("brine web cert: %d %s %s", code, out, errOut)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(certDir, "viewer.crt"), filepath.Join(certDir, "viewer.key"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(bus.WebCAFile(dataDir))
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("bus CA: %v", err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}}
	for _, c := range []struct {
		method, path string
		code         int
	}{{"GET", "/api/minions", http.StatusOK}, {"POST", "/api/run", http.StatusForbidden}} {
		req, err := http.NewRequestWithContext(t.Context(), c.method, base+c.path, strings.NewReader(`{"target": "web1", "fun": "test.ping"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s with a client certificate: %v", c.method, c.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || (c.method == "GET" && strings.Count(string(body), `"id"`) != 3) {
			t.Errorf("%s %s with a client certificate: %d %s, want %d", c.method, c.path, resp.StatusCode, body, c.code)
		}
	}
}
