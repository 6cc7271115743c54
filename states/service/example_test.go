package service

import (
	"context"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/states"
	_ "github.com/brinecm/brine/states/pkg"
)

// TestWebserverExampleCompiles compiles examples/states/webserver, with
// and without a pillar, and checks the recipe's shape: the package, its
// configuration and start page, and the service watching the configuration.
func TestWebserverExampleCompiles(t *testing.T) {
	for _, pillar := range []map[string]any{nil, {"webserver": map[string]any{"port": 8080, "docroot": "/srv/www", "title": "Hi"}}} {
		c := sls.New(sls.Config{FileRoots: []string{"../../examples/states"}, ID: "web1",
			Grains: map[string]any{"id": "web1", "os_family": "Debian"}, Pillar: pillar})
		lows, err := c.SLS(context.Background(), "webserver")
		plan, err := states.Prepare(lows, err)
		if err != nil {
			t.Fatalf("pillar %v: %v", pillar, err)
		}
		want := map[string]string{
			"webserver-package": "pkg.installed lighttpd",
			"webserver-config":  "file.managed /etc/lighttpd/lighttpd.conf",
			"webserver-index":   "file.managed /var/www/html/index.html",
			"webserver-service": "service.running lighttpd",
		}
		if pillar != nil {
			want["webserver-index"] = "file.managed /srv/www/index.html"
		}
		got := map[string]string{}
		for _, l := range plan.Lows() {
			got[l.ID] = l.Function() + " " + l.Name
		}
		for id, w := range want {
			if got[id] != w {
				t.Errorf("%s = %q, want %q", id, got[id], w)
			}
		}
		var watches bool
		for _, l := range plan.Lows() {
			for _, r := range l.Reqs {
				if l.ID == "webserver-service" && r.Kind == "watch" && r.Target == "webserver-config" {
					watches = true
				}
			}
		}
		if !watches {
			t.Error("the service does not watch its configuration")
		}
	}
}

// TestWebserverExampleTemplate renders the example's lighttpd configuration.
func TestWebserverExampleTemplate(t *testing.T) {
	ctx := context.Background()
	c := sls.New(sls.Config{FileRoots: []string{"../../examples/states"}, ID: "web1", Grains: map[string]any{"id": "web1"}})
	src, err := c.Source(ctx, "salt://webserver/files/lighttpd.conf.j2")
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Render(ctx, "jinja", "webserver/files/lighttpd.conf.j2", src, map[string]any{"port": 8080, "docroot": "/srv/www"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"managed by brine on web1", "server.port          = 8080\n", `server.document-root = "/srv/www"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendered configuration lacks %q:\n%s", want, out)
		}
	}
}
