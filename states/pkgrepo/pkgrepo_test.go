package pkgrepo

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/pkgmgr"
	"github.com/brinecm/brine/pkg/pkgmgr/debtest"
	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

func TestParseAndRender(t *testing.T) {
	tests := []struct {
		line, oneLine, deb822, file string
	}{
		{"deb http://deb.debian.org/debian bookworm main contrib",
			"deb http://deb.debian.org/debian bookworm main contrib",
			"Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main contrib\n",
			"deb.debian.org_debian_bookworm.list"},
		{"  deb  [arch=amd64,arm64 signed-by=/etc/apt/keyrings/nginx.asc]  https://nginx.org/packages/debian/ bookworm nginx ",
			"deb [arch=amd64,arm64 signed-by=/etc/apt/keyrings/nginx.asc] https://nginx.org/packages/debian/ bookworm nginx",
			"Types: deb\nURIs: https://nginx.org/packages/debian/\nSuites: bookworm\nComponents: nginx\nArchitectures: amd64 arm64\nSigned-By: /etc/apt/keyrings/nginx.asc\n",
			"nginx.org_packages_debian_bookworm.list"},
		{"deb-src [trusted=yes] file:/srv/repo ./", "deb-src [trusted=yes] file:/srv/repo ./",
			"Types: deb-src\nURIs: file:/srv/repo\nSuites: ./\nTrusted: yes\n", "srv_repo.list"},
	}
	for _, tt := range tests {
		s, err := parseLine(tt.line)
		if err != nil {
			t.Fatalf("parseLine(%q): %v", tt.line, err)
		}
		if got := s.line(); got != tt.oneLine {
			t.Errorf("line = %q, want %q", got, tt.oneLine)
		}
		if got := s.deb822(); got != tt.deb822 {
			t.Errorf("deb822 = %q, want %q", got, tt.deb822)
		}
		if got := s.defaultFile(); got != tt.file {
			t.Errorf("defaultFile = %q, want %q", got, tt.file)
		}
	}
	for _, bad := range []string{"", "rpm http://x y", "deb http://x", "deb [arch=amd64 http://x y", "deb [arch] http://x y", "deb file:/x ./ main"} {
		if _, err := parseLine(bad); err == nil {
			t.Errorf("parseLine(%q) accepted", bad)
		}
	}
	a, _ := parseLine("deb [arch=amd64] http://x/ y main")
	b, _ := parseLine("deb http://x y main")
	c, _ := parseLine("deb http://x y contrib")
	if !a.same(b) || a.same(c) {
		t.Error("same: options and a trailing slash do not make another repository; components do")
	}
}

func apply(t *testing.T, fun, name string, raw map[string]any, test bool) states.Outcome {
	t.Helper()
	return statetest.Apply(t, fun, raw, &states.Call{ID: "repo", Name: name, Test: test})
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// offered reports whether apt offers the package now.
func offered(t *testing.T, name string) bool {
	t.Helper()
	offers, err := pkgmgr.NewApt().Available(context.Background(), []string{name}, "")
	if err != nil {
		t.Fatal(err)
	}
	return offers[name].Candidate != ""
}

func TestManagedAndAbsent(t *testing.T) {
	repo := debtest.NewRepo(t, map[string][]debtest.Deb{"stable": {debtest.Simple("brine-test-lib", "1.0-1", "")}})
	extra := filepath.Join(repo.Dir, "extra")
	debtest.WriteSuite(t, extra, "extra", []debtest.Deb{debtest.Simple("brine-test-extra", "3.0-1", "")})
	line := "deb [trusted=yes] file:" + extra + " ./"
	listFile := filepath.Join(repo.SourcesDir(), strings.TrimPrefix(strings.ReplaceAll(extra, "/", "_"), "_")+".list")
	sourcesFile := filepath.Join(repo.SourcesDir(), "extra.sources")

	steps := []struct {
		name    string
		fun     string
		args    map[string]any
		test    bool
		result  string
		changes map[string]any
		check   func(t *testing.T)
	}{
		{"test mode writes nothing", "pkgrepo.managed", nil, true, "None", map[string]any{"repo": line}, func(t *testing.T) {
			if read(t, listFile) != "" || offered(t, "brine-test-extra") {
				t.Error("test mode configured the repository")
			}
		}},
		{"one-line entry", "pkgrepo.managed", nil, false, "True", map[string]any{"repo": line}, func(t *testing.T) {
			if got := read(t, listFile); got != line+"\n" {
				t.Errorf("%s = %q", listFile, got)
			}
			if !offered(t, "brine-test-extra") {
				t.Error("apt does not offer the repository's package: not refreshed")
			}
		}},
		{"absent by line", "pkgrepo.absent", nil, false, "True", map[string]any{"repo": line}, func(t *testing.T) {
			if _, err := os.Stat(listFile); !os.IsNotExist(err) {
				t.Errorf("%s left: %v", listFile, err)
			}
			if offered(t, "brine-test-extra") {
				t.Error("apt still offers the removed repository's package")
			}
		}},
		{"deb822", "pkgrepo.managed", map[string]any{"file": "extra.sources"}, false, "True", map[string]any{"repo": line}, func(t *testing.T) {
			want := "Types: deb\nURIs: file:" + extra + "\nSuites: ./\nTrusted: yes\n"
			if got := read(t, sourcesFile); got != want {
				t.Errorf("%s = %q, want %q", sourcesFile, got, want)
			}
			if !offered(t, "brine-test-extra") {
				t.Error("apt does not offer the package of the deb822 source")
			}
		}},
		{"absent by file", "pkgrepo.absent", map[string]any{"file": "extra.sources"}, false, "True", map[string]any{"repo": line}, func(t *testing.T) {
			if read(t, sourcesFile) != "" {
				t.Error("file left")
			}
		}},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			o := apply(t, s.fun, line, s.args, s.test)
			if states.ResultString(o.Result) != s.result || !reflect.DeepEqual(o.Changes, s.changes) {
				t.Fatalf("got %s %q %v; want %s %v", states.ResultString(o.Result), o.Comment, o.Changes, s.result, s.changes)
			}
			s.check(t)
			if s.test {
				return
			}
			if again := apply(t, s.fun, line, s.args, false); states.ResultString(again.Result) != "True" || again.Changed() {
				t.Errorf("second run: %s %q %v", states.ResultString(again.Result), again.Comment, again.Changes)
			}
		})
		if !ok {
			break
		}
	}
}

func TestSignedBy(t *testing.T) {
	repo := debtest.NewRepo(t, map[string][]debtest.Deb{"stable": {debtest.Simple("brine-test-lib", "1.0-1", "")}})
	key := filepath.Join(repo.Dir, "keyrings", "example.asc")
	line := "deb https://apt.example.com/debian bookworm main"
	file := filepath.Join(repo.SourcesDir(), "example.list")
	args := map[string]any{"file": "example.list", "signedby": key, "key_text": "-----BEGIN PGP PUBLIC KEY BLOCK-----\none\n", "refresh": false}
	o := apply(t, "pkgrepo.managed", line, args, false)
	if !o.OK() || !reflect.DeepEqual(o.Changes, map[string]any{"repo": line, "key": key}) {
		t.Fatalf("first run: %s %q %v", states.ResultString(o.Result), o.Comment, o.Changes)
	}
	if got := read(t, file); got != "deb [signed-by="+key+"] https://apt.example.com/debian bookworm main\n" {
		t.Errorf("%s = %q", file, got)
	}
	if got := read(t, key); got != args["key_text"] {
		t.Errorf("key = %q", got)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("key mode: %v %v", fi, err)
	}
	if o := apply(t, "pkgrepo.managed", line, args, false); !o.OK() || o.Changed() {
		t.Errorf("second run: %q %v", o.Comment, o.Changes)
	}
	args["key_text"] = "-----BEGIN PGP PUBLIC KEY BLOCK-----\ntwo\n"
	if o := apply(t, "pkgrepo.managed", line, args, false); !o.OK() || !reflect.DeepEqual(o.Changes, map[string]any{"key": key}) {
		t.Errorf("new key: %q %v", o.Comment, o.Changes)
	}
}

func TestBadRepositories(t *testing.T) {
	debtest.NewRepo(t, map[string][]debtest.Deb{"stable": {debtest.Simple("brine-test-lib", "1.0-1", "")}})
	tests := []struct {
		name    string
		args    map[string]any
		comment string
	}{
		{"http://example.com bookworm main", nil, "expected a line starting with deb or deb-src"},
		{"deb [trusted=yes] file:/nonexistent/brine ./", nil, "Failed to refresh the package lists: apt-get update: E: "},
		{"deb http://x y", map[string]any{"key_text": "k"}, "key_text and key_url need signedby"},
		{"deb http://x y", map[string]any{"signedby": "keys/x.asc"}, `signedby "keys/x.asc": expected an absolute path`},
	}
	for _, tt := range tests {
		o := apply(t, "pkgrepo.managed", tt.name, tt.args, false)
		if o.OK() || !strings.Contains(o.Comment, tt.comment) || strings.Contains(o.Comment, "exit status") {
			t.Errorf("%s: %s %q; want failure with %q", tt.name, states.ResultString(o.Result), o.Comment, tt.comment)
		}
	}
}

// TestWriteFileRemovesStaleTemporaryFiles: writing a sources file removes
// the temporary files a killed writer left beside it and leaves none of
// its own behind.
func TestWriteFileRemovesStaleTemporaryFiles(t *testing.T) {
	dead := systest.DeadPID(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "brine.list")
	stale := filepath.Join(dir, ".brine.list.brine-"+strconv.Itoa(dead)+"-123")
	if err := os.WriteFile(stale, []byte("deb half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(context.Background(), path, []byte("deb http://example.org/ stable main\n")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "brine.list" {
		t.Errorf("directory holds %v, want only brine.list", entries)
	}
}
