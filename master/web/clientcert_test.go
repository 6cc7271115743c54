package web

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/bus"
)

// TestClientCertificates: over HTTPS, a client certificate of the bus CA
// logs in without a token, read-only unless its Common Name is one of the
// run clients; a certificate of another CA is refused in the handshake; a
// browser's cross-site request may not act with a certificate.
func TestClientCertificates(t *testing.T) {
	e := newEnv(t, "web1")
	tc, err := bus.WebTLS(e.dataDir, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(bus.WebCAFile(e.dataDir))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("no bus CA")
	}
	tc.ClientAuth, tc.ClientCAs = tls.VerifyClientCertIfGiven, roots
	e.web.cfg.RunClients = []string{"ops"}
	srv := httptest.NewUnstartedServer(e.web.Handler())
	srv.TLS = tc
	srv.StartTLS()
	t.Cleanup(srv.Close)

	client := func(dataDir, name string) *http.Client {
		tlsc := &tls.Config{RootCAs: roots}
		if name != "" {
			crt, key, err := bus.IssueWebClientCert(dataDir, name)
			if err != nil {
				t.Fatal(err)
			}
			pair, err := tls.X509KeyPair(crt, key)
			if err != nil {
				t.Fatal(err)
			}
			tlsc.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tlsc}}
	}
	nobody, viewer, ops := client("", ""), client(e.dataDir, "viewer"), client(e.dataDir, "ops")
	stranger := client(t.TempDir(), "ops") // the same name from another CA

	do := func(c *http.Client, method, path string, header map[string]string) (int, string) {
		t.Helper()
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader(`{"target": "web1", "fun": "test.ping"}`)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	before := e.jobCount(t)
	for _, c := range []struct {
		name   string
		client *http.Client
		method string
		path   string
		header map[string]string
		code   int
		has    string
	}{
		{"no certificate, no token", nobody, "GET", "/api/minions", nil, 401, "brine web token"},
		{"a bus CA certificate reads", viewer, "GET", "/api/minions", nil, 200, `"id":"web1"`},
		{"a bus CA certificate reads pages", viewer, "GET", "/", nil, 200, "/minions/web1"},
		{"a bad token beside a certificate", viewer, "GET", "/api/minions", map[string]string{"Authorization": "Bearer brw_bad"}, 401, ""},
		{"a read certificate may not run", viewer, "POST", "/api/run", nil, 403, "may only read"},
		{"a read certificate may not accept keys", viewer, "POST", "/api/keys/web1/reject", nil, 403, "may only read"},
		{"a run certificate from another site", ops, "POST", "/api/run", map[string]string{"Origin": "https://evil.example"}, 403, "own pages"},
		{"a run certificate in a cross-site fetch", ops, "POST", "/api/run", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "own pages"},
	} {
		code, body := do(c.client, c.method, c.path, c.header)
		if code != c.code || !strings.Contains(body, c.has) {
			t.Errorf("%s: %s %s: %d %q, want %d with %q", c.name, c.method, c.path, code, body, c.code, c.has)
		}
	}
	if got := e.jobCount(t); got != before {
		t.Fatalf("refused runs published %d jobs", got-before)
	}
	code, body := do(ops, "POST", "/api/run", nil)
	if code != 200 || !strings.Contains(body, `"jid"`) || !strings.Contains(body, `"web1"`) {
		t.Errorf("a run certificate runs: %d %s", code, body)
	}
	if got := e.jobCount(t); got != before+1 {
		t.Errorf("the run published %d jobs, want 1", got-before)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/minions", nil)
	if resp, err := stranger.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a certificate of another CA: %d, want the handshake refused", resp.StatusCode)
	}
}
