package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

// treeEnv serves salt:// URLs from a directory and gives data_dir.
type treeEnv struct{ root, dataDir string }

func (e treeEnv) Source(_ context.Context, url string) ([]byte, error) {
	return os.ReadFile(filepath.Join(e.root, strings.TrimPrefix(url, "salt://")))
}

func (e treeEnv) Render(context.Context, string, string, []byte, map[string]any) ([]byte, error) {
	return nil, os.ErrInvalid
}

func (e treeEnv) Opts() map[string]any { return map[string]any{"data_dir": e.dataDir} }

// member is a file of a test archive; a name ending in / is a directory,
// link a symlink's target.
type member struct {
	name, body, link string
	mode             int64
}

var app = []member{
	{name: "app-1.0/"},
	{name: "app-1.0/bin/"},
	{name: "app-1.0/bin/app", body: "#!/bin/sh\necho app\n", mode: 0o755},
	{name: "app-1.0/README", body: "read me\n"},
	{name: "app-1.0/current", link: "bin/app"},
}

var bomb = []member{
	{name: "one.txt", body: "1\n"},
	{name: "two/"},
	{name: "two/three.txt", body: "3\n"},
}

func tarGz(t *testing.T, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(m.body))}
		switch {
		case strings.HasSuffix(m.name, "/"):
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case m.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, m.link, 0
		}
		if m.mode != 0 {
			h.Mode = m.mode
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(m.body)); err != nil {
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

func zipOf(t *testing.T, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		mode := os.FileMode(0o644)
		body := m.body
		switch {
		case strings.HasSuffix(m.name, "/"):
			mode = os.ModeDir | 0o755
		case m.link != "":
			mode, body = os.ModeSymlink|0o777, m.link
		case m.mode != 0:
			mode = os.FileMode(m.mode)
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fixture is a state tree, a data_dir and a destination in a temp dir.
type fixture struct {
	env  treeEnv
	dest string
}

func newFixture(t *testing.T, files map[string][]byte) fixture {
	t.Helper()
	dir := t.TempDir()
	env := treeEnv{root: filepath.Join(dir, "tree"), dataDir: filepath.Join(dir, "data")}
	for n, b := range files {
		p := filepath.Join(env.root, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fixture{env: env, dest: filepath.Join(dir, "dest")}
}

func (f fixture) run(t *testing.T, raw map[string]any, test bool) states.Outcome {
	t.Helper()
	return statetest.Apply(t, "archive.extracted", raw, &states.Call{ID: f.dest, Name: f.dest, Test: test, Env: f.env})
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return string(b)
}

// TestExtracted applies each case in test mode (would change, nothing on
// disk), for real (extracted, files on disk) and again (no changes).
func TestExtracted(t *testing.T) {
	tgz, zp := tarGz(t, app), zipOf(t, app)
	cases := []struct {
		name  string
		files map[string][]byte
		args  map[string]any
		// want are paths below dest with their contents ("" for a directory,
		// "-> target" for a symlink).
		want map[string]string
	}{
		{
			name:  "tar.gz from the state tree, format guessed",
			files: map[string][]byte{"app.tar.gz": tgz},
			args:  map[string]any{"source": "salt://app.tar.gz"},
			want:  map[string]string{"app-1.0/bin/app": "#!/bin/sh\necho app\n", "app-1.0/README": "read me\n", "app-1.0/current": "-> bin/app", "app-1.0/bin": ""},
		},
		{
			name:  "zip with archive_format",
			files: map[string][]byte{"app.bin": zp},
			args:  map[string]any{"source": "salt://app.bin", "archive_format": "zip"},
			want:  map[string]string{"app-1.0/bin/app": "#!/bin/sh\necho app\n", "app-1.0/README": "read me\n", "app-1.0/current": "-> bin/app"},
		},
		{
			name:  "tar options strip the top-level directory",
			files: map[string][]byte{"app.tgz": tgz},
			args:  map[string]any{"source": "salt://app.tgz", "options": "--strip-components=1", "enforce_toplevel": false},
			want:  map[string]string{"bin/app": "#!/bin/sh\necho app\n", "README": "read me\n", "current": "-> bin/app"},
		},
		{
			name:  "an archive without one top-level directory, allowed",
			files: map[string][]byte{"bomb.zip": zipOf(t, bomb)},
			args:  map[string]any{"source": "salt://bomb.zip", "enforce_toplevel": false, "trim_output": 1},
			want:  map[string]string{"one.txt": "1\n", "two/three.txt": "3\n"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.files)
			o := f.run(t, tc.args, true)
			statetest.Expect(t, o, "None", false)
			if !strings.Contains(o.Comment, "would be extracted to "+f.dest) {
				t.Errorf("test mode comment %q", o.Comment)
			}
			if _, err := os.Lstat(f.dest); !os.IsNotExist(err) {
				t.Fatalf("test mode created %s (%v)", f.dest, err)
			}
			o = f.run(t, tc.args, false)
			statetest.Expect(t, o, "true", true)
			if o.Changes["directories_created"] == nil || o.Changes["extracted_files"] == nil {
				t.Errorf("changes %v lack directories_created or extracted_files", o.Changes)
			}
			if n, ok := tc.args["trim_output"].(int); ok && len(o.Changes["extracted_files"].([]string)) != n {
				t.Errorf("trim_output %d: extracted_files %v", n, o.Changes["extracted_files"])
			}
			for p, want := range tc.want {
				full := filepath.Join(f.dest, p)
				switch {
				case want == "":
					if fi, err := os.Stat(full); err != nil || !fi.IsDir() {
						t.Errorf("%s: not a directory (%v)", p, err)
					}
				case strings.HasPrefix(want, "-> "):
					if got, err := os.Readlink(full); err != nil || got != strings.TrimPrefix(want, "-> ") {
						t.Errorf("%s: link to %q (%v), want %s", p, got, err, want)
					}
				default:
					if got := readFile(t, full); got != want {
						t.Errorf("%s: %q, want %q", p, got, want)
					}
				}
			}
			if fi, err := os.Stat(filepath.Join(f.dest, firstFile(tc.want, "bin/app"))); err == nil && fi.Mode().Perm() != 0o755 {
				t.Errorf("bin/app mode %v, want 0755 from the archive", fi.Mode().Perm())
			}
			for _, test := range []bool{true, false} {
				o = f.run(t, tc.args, test)
				statetest.Expect(t, o, "true", false)
				if o.Comment != "All files in archive are already present" {
					t.Errorf("second run (test=%v) comment %q", test, o.Comment)
				}
			}
			// A file removed from the destination is extracted again.
			victim := filepath.Join(f.dest, firstFile(tc.want, ".txt", "README"))
			if err := os.Remove(victim); err != nil {
				t.Fatal(err)
			}
			o = f.run(t, tc.args, false)
			statetest.Expect(t, o, "true", true)
			if !strings.HasSuffix(o.Comment, ", due to absence of one or more files/dirs") {
				t.Errorf("re-extraction comment %q", o.Comment)
			}
			if _, err := os.Stat(victim); err != nil {
				t.Errorf("%s not extracted again: %v", victim, err)
			}
		})
	}
}

// firstFile is the first path in want (sorted) ending in one of suffixes.
func firstFile(want map[string]string, suffixes ...string) string {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, s := range suffixes {
			if strings.HasSuffix(k, s) {
				return k
			}
		}
	}
	return suffixes[0]
}

// TestExtractedHTTP downloads over loopback: source_hash is required,
// checked, and a cached download matching it is used again.
func TestExtractedHTTP(t *testing.T) {
	tgz := tarGz(t, app)
	served := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served++
		if r.URL.Path != "/app-1.0.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Write(tgz)
	}))
	defer srv.Close()
	src := srv.URL + "/app-1.0.tar.gz"
	f := newFixture(t, nil)

	o := f.run(t, map[string]any{"source": src}, false)
	statetest.Expect(t, o, "false", false)
	if !strings.Contains(o.Comment, "please set source_hash or set skip_verify to True") {
		t.Errorf("no source_hash: %q", o.Comment)
	}
	o = f.run(t, map[string]any{"source": src, "source_hash": "sha256=" + strings.Repeat("0", 64)}, false)
	statetest.Expect(t, o, "false", false)
	if !strings.Contains(o.Comment, "does not match actual checksum") {
		t.Errorf("wrong source_hash: %q", o.Comment)
	}
	if _, err := os.Lstat(f.dest); !os.IsNotExist(err) {
		t.Fatalf("a mismatching archive created %s", f.dest)
	}
	args := map[string]any{"source": src, "source_hash": "sha256=" + sha(tgz)}
	statetest.Expect(t, f.run(t, args, false), "true", true)
	if got := readFile(t, filepath.Join(f.dest, "app-1.0/README")); got != "read me\n" {
		t.Errorf("README %q", got)
	}
	before := served
	statetest.Expect(t, f.run(t, args, false), "true", false)
	if served != before {
		t.Errorf("the cached archive matching source_hash was downloaded again (%d requests, was %d)", served, before)
	}
	statetest.Expect(t, f.run(t, map[string]any{"source": srv.URL + "/missing.tar.gz", "skip_verify": true}, false), "false", false)
}

// TestExtractedRefusals: what Salt refuses, brine refuses with its words.
func TestExtractedRefusals(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string][]byte
		args    map[string]any
		comment string
	}{
		{"not one top-level directory", map[string][]byte{"b.tar.gz": tarGz(t, bomb)}, map[string]any{"source": "salt://b.tar.gz"},
			"Archive does not have a single top-level directory. To allow this archive to be extracted, set 'enforce_toplevel' to False"},
		{"format not guessable", map[string][]byte{"b.bin": tarGz(t, bomb)}, map[string]any{"source": "salt://b.bin"},
			"Could not guess archive_format"},
		{"rar", map[string][]byte{"b.rar": nil}, map[string]any{"source": "salt://b.rar", "archive_format": "rar"},
			"rar is not supported"},
		{"not an archive", map[string][]byte{"b.tar": []byte("hello")}, map[string]any{"source": "salt://b.tar"},
			"Unable to list the contents of salt://b.tar"},
		{"missing source", nil, map[string]any{"source": "salt://none.tar"}, "Source file salt://none.tar not found"},
		{"unknown user", map[string][]byte{"a.tgz": tarGz(t, app)}, map[string]any{"source": "salt://a.tgz", "user": "no-such-user-brine"},
			"user no-such-user-brine does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.files)
			o := f.run(t, tc.args, false)
			if o.OK() || !strings.Contains(o.Comment, tc.comment) {
				t.Fatalf("result %v comment %q, want a failure with %q", o.Result, o.Comment, tc.comment)
			}
		})
	}
}

// TestExtractedIfMissingCleanOverwrite covers the arguments that decide
// whether to extract.
func TestExtractedIfMissingCleanOverwrite(t *testing.T) {
	tgz := tarGz(t, app)
	f := newFixture(t, map[string][]byte{"a.tgz": tgz})
	marker := filepath.Join(filepath.Dir(f.dest), "marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	o := f.run(t, map[string]any{"source": "salt://a.tgz", "if_missing": marker}, false)
	statetest.Expect(t, o, "true", false)
	if o.Comment != "Path "+marker+" exists" {
		t.Errorf("if_missing comment %q", o.Comment)
	}
	statetest.Expect(t, f.run(t, map[string]any{"source": "salt://a.tgz"}, false), "true", true)

	// overwrite extracts again; a file changed on disk gets the archive's content.
	readme := filepath.Join(f.dest, "app-1.0/README")
	if err := os.WriteFile(readme, []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	statetest.Expect(t, f.run(t, map[string]any{"source": "salt://a.tgz"}, false), "true", false)
	statetest.Expect(t, f.run(t, map[string]any{"source": "salt://a.tgz", "overwrite": true}, false), "true", true)
	if got := readFile(t, readme); got != "read me\n" {
		t.Errorf("overwrite left README %q", got)
	}

	// clean removes the top-level directory first: a stray file goes.
	stray := filepath.Join(f.dest, "app-1.0/stray")
	if err := os.WriteFile(stray, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	o = f.run(t, map[string]any{"source": "salt://a.tgz", "clean": true, "overwrite": true}, false)
	statetest.Expect(t, o, "true", true)
	if _, err := os.Lstat(stray); !os.IsNotExist(err) {
		t.Errorf("clean kept %s", stray)
	}
	if !slices.Equal(o.Changes["removed"].([]string), []string{filepath.Join(f.dest, "app-1.0")}) {
		t.Errorf("removed %v", o.Changes["removed"])
	}

	// A directory where the archive has a file: refused, then force replaces it.
	if err := os.Remove(readme); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(readme, 0o755); err != nil {
		t.Fatal(err)
	}
	o = f.run(t, map[string]any{"source": "salt://a.tgz"}, false)
	if o.OK() || !strings.Contains(o.Comment, "exist, but are the incorrect type") || !strings.Contains(o.Comment, "- app-1.0/README") {
		t.Fatalf("wrong type: %v %q", o.Result, o.Comment)
	}
	statetest.Expect(t, f.run(t, map[string]any{"source": "salt://a.tgz", "force": true}, false), "true", true)
	if got := readFile(t, readme); got != "read me\n" {
		t.Errorf("force left README %q", got)
	}
}

// TestExtractedSourceHashUpdate: a changed archive under the same source is
// extracted again only with source_hash_update.
func TestExtractedSourceHashUpdate(t *testing.T) {
	f := newFixture(t, map[string][]byte{"a.tgz": tarGz(t, app)})
	args := map[string]any{"source": "salt://a.tgz", "source_hash_update": true}
	statetest.Expect(t, f.run(t, args, false), "true", true)
	statetest.Expect(t, f.run(t, args, false), "true", false)
	v2 := slices.Clone(app)
	v2[3] = member{name: "app-1.0/README", body: "version 2\n"}
	if err := os.WriteFile(filepath.Join(f.env.root, "a.tgz"), tarGz(t, v2), 0o644); err != nil {
		t.Fatal(err)
	}
	statetest.Expect(t, f.run(t, map[string]any{"source": "salt://a.tgz"}, false), "true", false)
	o := f.run(t, args, true)
	statetest.Expect(t, o, "None", false)
	if !strings.HasSuffix(o.Comment, ", due to source_hash update") {
		t.Errorf("test comment %q", o.Comment)
	}
	statetest.Expect(t, f.run(t, args, false), "true", true)
	if got := readFile(t, filepath.Join(f.dest, "app-1.0/README")); got != "version 2\n" {
		t.Errorf("README %q after the update", got)
	}
	statetest.Expect(t, f.run(t, args, false), "true", false)
}

// TestExtractedOwnership gives the extracted tree to a user and group, as
// root; xz compression goes through the xz command.
func TestExtractedOwnership(t *testing.T) {
	systest.RequireRoot(t) // changing ownership needs root
	systest.RequireCommands(t, "xz")
	nobody, err := user.Lookup("nobody")
	systest.Require(t, err == nil, "the user nobody")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "tool/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "tool/bin/t"), []byte("t\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "tool.tar.xz")
	if out, err := exec.Command("tar", "-cJf", archive, "-C", src, "tool").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	f := newFixture(t, nil)
	args := map[string]any{"source": "file://" + archive, "user": "nobody", "recurse": []any{"user"}}
	statetest.Expect(t, f.run(t, args, false), "true", true)
	uid, _ := strconv.Atoi(nobody.Uid)
	for _, p := range []string{"tool", "tool/bin", "tool/bin/t"} {
		fi, err := os.Lstat(filepath.Join(f.dest, p))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Sys().(*syscall.Stat_t).Uid; int(got) != uid {
			t.Errorf("%s owned by %d, want nobody (%d)", p, got, uid)
		}
	}
	statetest.Expect(t, f.run(t, args, false), "true", false)
	// Ownership changed behind brine's back is put back, and test mode says so.
	if err := os.Lchown(filepath.Join(f.dest, "tool/bin/t"), 0, 0); err != nil {
		t.Fatal(err)
	}
	o := f.run(t, args, true)
	statetest.Expect(t, o, "None", true)
	if !strings.Contains(o.Comment, "Ownership would be updated") {
		t.Errorf("test comment %q", o.Comment)
	}
	o = f.run(t, args, false)
	statetest.Expect(t, o, "true", true)
	if o.Changes["updated ownership"] != true {
		t.Errorf("changes %v", o.Changes)
	}
}
