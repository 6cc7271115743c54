package npm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

func TestSplitSpec(t *testing.T) {
	for _, tc := range []struct{ in, name, ver string }{
		{"sax", "sax", ""},
		{"coffee-script@1.0.1", "coffee-script", "1.0.1"},
		{"@davidodio/hello@2.3.0", "@davidodio/hello", "2.3.0"},
		{"@scope/pkg", "@scope/pkg", ""},
	} {
		if n, v := splitSpec(tc.in); n != tc.name || v != tc.ver {
			t.Errorf("splitSpec(%q) = %q, %q; want %q, %q", tc.in, n, v, tc.name, tc.ver)
		}
	}
}

// registry serves the package brinetiny (1.0.0 and 1.1.0, tarballs
// packed here as npm pack lays them out) as an npm registry over
// loopback HTTP. npm's cache and config point into a temporary directory.
func registry(t *testing.T) string {
	t.Helper()
	systest.RequireCommands(t, "npm", "node")
	tmp := t.TempDir()
	t.Setenv("HOME", tmp)
	t.Setenv("npm_config_cache", tmp+"/cache")
	t.Setenv("npm_config_userconfig", tmp+"/npmrc")
	t.Setenv("npm_config_update_notifier", "false")
	tarballs := map[string][]byte{}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	versions := map[string]any{}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		tgz := pack(t, v)
		tarballs["/brinetiny/-/brinetiny-"+v+".tgz"] = tgz
		sum := sha1.Sum(tgz)
		versions[v] = map[string]any{"name": "brinetiny", "version": v,
			"dist": map[string]any{"tarball": srv.URL + "/brinetiny/-/brinetiny-" + v + ".tgz", "shasum": hex.EncodeToString(sum[:])}}
	}
	doc, err := json.Marshal(map[string]any{"name": "brinetiny", "versions": versions, "dist-tags": map[string]any{"latest": "1.1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/brinetiny" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(doc)
			return
		}
		if b, ok := tarballs[r.URL.Path]; ok {
			_, _ = w.Write(b)
			return
		}
		http.NotFound(w, r)
	})
	return srv.URL + "/"
}

// pack builds brinetiny's package tarball at version v.
func pack(t *testing.T, v string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{
		"package/package.json": `{"name":"brinetiny","version":"` + v + `","main":"index.js","license":"MIT"}`,
		"package/index.js":     "module.exports = '" + v + "';\n",
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// version is brinetiny's version installed in dir, read from its
// package.json; "" when it is not there.
func version(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(dir + "/node_modules/brinetiny/package.json")
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Version string }
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p.Version
}

func expectComment(t *testing.T, o states.Outcome, want string) {
	t.Helper()
	if o.Comment != want {
		t.Fatalf("comment %q, want %q", o.Comment, want)
	}
}

// TestNpmReal installs, upgrades and removes a package from a registry
// served over loopback HTTP into a temporary dir with the real npm.
func TestNpmReal(t *testing.T) {
	reg := registry(t)
	dir := t.TempDir()
	with := map[string]any{"dir": dir, "registry": reg}

	o := statetest.Run(t, "npm.installed", "brinetiny@1.0.0", with, true)
	statetest.Expect(t, o, "None", true)
	expectComment(t, o, "NPM package(s) 'brinetiny@1.0.0' are set to be installed")
	if v := version(t, dir); v != "" {
		t.Fatalf("test mode installed %s", v)
	}

	o = statetest.Run(t, "npm.installed", "brinetiny@1.0.0", with, false)
	statetest.Expect(t, o, "true", true)
	expectComment(t, o, "Package(s) 'brinetiny@1.0.0' successfully installed")
	if v := version(t, dir); v != "1.0.0" {
		t.Fatalf("installed %q, want 1.0.0", v)
	}
	for _, name := range []string{"brinetiny@1.0.0", "brinetiny"} {
		for _, test := range []bool{true, false} {
			o = statetest.Run(t, "npm.installed", name, with, test)
			statetest.Expect(t, o, "true", false)
			expectComment(t, o, "Package(s) '"+name+"' satisfied by brinetiny@1.0.0")
		}
	}

	// Another version is installed over it, with pkgs.
	raw := map[string]any{"dir": dir, "registry": reg, "pkgs": []any{"brinetiny@1.1.0"}}
	o = statetest.Run(t, "npm.installed", "wanted", raw, false)
	statetest.Expect(t, o, "true", true)
	if v := version(t, dir); v != "1.1.0" {
		t.Fatalf("installed %q, want 1.1.0", v)
	}

	// A package the registry does not have fails with npm's reason.
	o = statetest.Run(t, "npm.installed", "brinenosuch", with, false)
	statetest.Expect(t, o, "false", false)
	if !strings.HasPrefix(o.Comment, "Error installing 'brinenosuch'") || !strings.Contains(o.Comment, "404") {
		t.Fatalf("comment %q, want Salt's failure and npm's reason", o.Comment)
	}

	rm := map[string]any{"dir": dir}
	o = statetest.Run(t, "npm.removed", "brinetiny", rm, true)
	statetest.Expect(t, o, "None", false)
	expectComment(t, o, "Package 'brinetiny' is set to be removed")
	o = statetest.Run(t, "npm.removed", "brinetiny", rm, false)
	statetest.Expect(t, o, "true", true)
	expectComment(t, o, "Package 'brinetiny' was successfully removed")
	if v := version(t, dir); v != "" {
		t.Fatalf("brinetiny %s left after npm.removed", v)
	}
	for _, test := range []bool{true, false} {
		o = statetest.Run(t, "npm.removed", "brinetiny", rm, test)
		statetest.Expect(t, o, "true", false)
		expectComment(t, o, "Package 'brinetiny' is not installed")
	}
}

// TestNpmNotInstalledYet: with no npm on PATH, test mode says the package
// would be installed; a real run fails naming the missing command.
func TestNpmNotInstalledYet(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := exec.LookPath("npm"); err == nil {
		t.Fatal("npm still on PATH")
	}
	o := statetest.Run(t, "npm.installed", "sax", map[string]any{}, true)
	statetest.Expect(t, o, "None", true)
	expectComment(t, o, "NPM package(s) 'sax' are set to be installed")
	o = statetest.Run(t, "npm.removed", "sax", map[string]any{}, true)
	statetest.Expect(t, o, "true", false)
	for _, fun := range []string{"npm.installed", "npm.removed"} {
		o = statetest.Run(t, fun, "sax", map[string]any{}, false)
		statetest.Expect(t, o, "false", false)
		if !strings.Contains(o.Comment, "npm command not found") {
			t.Errorf("%s: comment %q does not name the missing command", fun, o.Comment)
		}
	}
}
