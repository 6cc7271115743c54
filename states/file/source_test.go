package file

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/sls"
	"github.com/brinecm/brine/states"
	"github.com/brinecm/brine/states/statetest"
)

// scene is the source file of the source tests, laid in d.
const scene = "KNIGHT: They're nervous, sire.\nARTHUR: Then we'd best leave them here.\n"

func sceneHash() string {
	s := sha256.Sum256([]byte(scene))
	return hex.EncodeToString(s[:])
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

func withScene(t *testing.T, d string) { write(t, filepath.Join(d, "scene33"), scene, 0o645) }

// TestManagedSources covers file.managed's sources as Salt's
// test_managed.py does: local paths and file:// URLs, the salt://|
// escape, source == destination, source_hash in its forms, mode: keep.
func TestManagedSources(t *testing.T) {
	m := func(kv ...any) func(string) map[string]any {
		return func(d string) map[string]any {
			out := map[string]any{}
			for i := 0; i < len(kv); i += 2 {
				v := kv[i+1]
				if s, ok := v.(string); ok {
					v = strings.ReplaceAll(s, "$D", d)
				}
				out[kv[i].(string)] = v
			}
			return out
		}
	}
	sceneIn := func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "dest"), scene) }
	cases := []stateCase{
		{
			name: "absolute local source", setup: withScene, fun: "file.managed", target: "dest",
			args:   m("source", "$D/scene33"),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file"}, testRes: "null",
			check: sceneIn,
		},
		{
			name: "file:// source", setup: withScene, fun: "file.managed", target: "dest",
			args:   m("source", "file://$D/scene33"),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file"}, testRes: "null",
			check: sceneIn,
		},
		{
			name: "local source missing", fun: "file.managed", target: "dest",
			args:   m("source", "file://$D/scene99"),
			result: "false", comment: "Source file $D/scene99 does not exist", testRes: "false",
		},
		{
			name: "salt://| escapes a name with '?'", fun: "file.managed", target: "dest",
			args:   m("source", "salt://|odd/a?b c.txt"),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file"}, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "dest"), "odd\n") },
		},
		{
			name: "source is the destination", setup: withScene, fun: "file.managed", target: "scene33",
			args:   m("source", "$D/scene33", "template", "jinja"),
			result: "false", comment: "Source file cannot be the same as destination", testRes: "false",
		},
		{
			name: "file:// source is the destination", setup: withScene, fun: "file.managed", target: "scene33",
			args:   m("source", "file://$D/scene33"),
			result: "false", comment: "Source file cannot be the same as destination", testRes: "false",
		},
		{
			name: "mode in changes when created from a source", setup: withScene, fun: "file.managed", target: "dest",
			args:   m("source", "$D/scene33", "mode", "0770"),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file", "mode": "0770"}, testRes: "null",
			check: func(t *testing.T, d string) { wantMode(t, filepath.Join(d, "dest"), 0o770) },
		},
		{
			name: "mode keep takes the local source's mode", setup: withScene, fun: "file.managed", target: "dest",
			args:   m("source", "$D/scene33", "mode", "keep"),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file", "mode": "0645"}, testRes: "null",
			check: func(t *testing.T, d string) { wantMode(t, filepath.Join(d, "dest"), 0o645) },
		},
		{
			name: "mode keep on an existing file", fun: "file.managed", target: "dest",
			setup: func(t *testing.T, d string) {
				withScene(t, d)
				write(t, filepath.Join(d, "dest"), scene, 0o600)
			},
			args:   m("source", "$D/scene33", "mode", "keep"),
			result: "true", comment: "File $N updated", changes: map[string]any{"mode": "0645"}, testRes: "null",
			check: func(t *testing.T, d string) { wantMode(t, filepath.Join(d, "dest"), 0o645) },
		},
		{
			name: "wrong source_hash", setup: withScene, fun: "file.managed", target: "dest",
			args:   m("source", "file://$D/scene33", "source_hash", "sha256="+reverse(sceneHash())),
			result: "false", testRes: "false",
			comment: "Specified sha256 checksum for file://$D/scene33 (" + reverse(sceneHash()) +
				") does not match actual checksum (" + sceneHash() + ")",
			check: func(t *testing.T, d string) { wantAbsent(t, filepath.Join(d, "dest")) },
		},
		{
			name: "wrong source_hash on an existing file", fun: "file.managed", target: "dest",
			setup: func(t *testing.T, d string) {
				withScene(t, d)
				write(t, filepath.Join(d, "dest"), "", 0o644)
			},
			args:   m("source", "$D/scene33", "source_hash", "sha256="+reverse(sceneHash())),
			result: "false", testRes: "false",
			comment: "Specified sha256 checksum for $D/scene33 (" + reverse(sceneHash()) +
				") does not match actual checksum (" + sceneHash() + ")",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "dest"), "") },
		},
		{
			name: "right source_hash", setup: withScene, fun: "file.managed", target: "dest",
			args:   m("source", "$D/scene33", "source_hash", "sha256="+sceneHash()),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file"}, testRes: "null",
			check: sceneIn,
		},
		{
			name: "source_hash in upper case, file in place", fun: "file.managed", target: "dest",
			setup: func(t *testing.T, d string) {
				withScene(t, d)
				write(t, filepath.Join(d, "dest"), scene, 0o644)
			},
			args:   m("source", "$D/scene33", "source_hash", strings.ToUpper(sceneHash())),
			result: "true", comment: "File $N is in the correct state", testRes: "true",
		},
		{
			name: "source_hash from a hash file", fun: "file.managed", target: "dest",
			setup: func(t *testing.T, d string) {
				withScene(t, d)
				write(t, filepath.Join(d, "SHA256SUMS"), reverse(sceneHash())+"  other\n"+sceneHash()+"  scene33\n", 0o644)
			},
			args:   m("source", "$D/scene33", "source_hash", "file://$D/SHA256SUMS"),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file"}, testRes: "null",
			check: sceneIn,
		},
		{
			name: "source_hash file without the source's line", fun: "file.managed", target: "dest",
			setup: func(t *testing.T, d string) {
				withScene(t, d)
				write(t, filepath.Join(d, "SHA256SUMS"), sceneHash()+"  other\n"+sceneHash()+"  more\n", 0o644)
			},
			args:   m("source", "$D/scene33", "source_hash", "$D/SHA256SUMS"),
			result: "false", comment: "Unable to find a checksum for scene33 in source_hash file $D/SHA256SUMS", testRes: "false",
		},
		{
			name: "skip_verify ignores a wrong source_hash", setup: withScene, fun: "file.managed", target: "dest",
			args:   m("source", "$D/scene33", "source_hash", "sha256="+reverse(sceneHash()), "skip_verify", true),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file"}, testRes: "null",
			check: sceneIn,
		},
		{
			name: "contents_pillar", fun: "file.managed", target: "dest", args: m("contents_pillar", "app:motd"),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file"}, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "dest"), "Welcome to minion1\n") },
		},
		{
			name: "contents_pillar list", fun: "file.managed", target: "dest", args: m("contents_pillar", "app:lines"),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file"}, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "dest"), "one\ntwo\n") },
		},
		{
			name: "contents_pillar with contents_newline false", fun: "file.managed", target: "dest",
			args:   m("contents_pillar", "app:plain", "contents_newline", false),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file"}, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "dest"), "no newline") },
		},
		{
			name: "contents_pillar missing", fun: "file.managed", target: "dest", args: m("contents_pillar", "app:nope"),
			result: "false", comment: "Pillar app:nope does not exist", testRes: "false",
		},
		{
			name: "contents and contents_pillar", fun: "file.managed", target: "dest", args: m("contents_pillar", "app:motd", "contents", "x"),
			result: "false", comment: "Only one of 'contents' and 'contents_pillar' is permitted", testRes: "false",
		},
		{
			name: "contents as a mapping", fun: "file.managed", target: "dest",
			args:   m("contents", map[string]any{"T": "time", "C": "charge", "P": "parity"}),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file"}, testRes: "null",
			check: func(t *testing.T, d string) {
				wantFile(t, filepath.Join(d, "dest"), "{'C': 'charge', 'P': 'parity', 'T': 'time'}\n")
			},
		},
		{
			name: "template from a file:// source with context", fun: "file.managed", target: "dest",
			setup:  func(t *testing.T, d string) { write(t, filepath.Join(d, "source"), "{{ foo }}\n", 0o644) },
			args:   m("source", "file://$D/source", "template", "jinja", "context", map[string]any{"foo": "Hello world!"}),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file"}, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "dest"), "Hello world!\n") },
		},
		{
			name: "follow_symlinks manages the link's target", fun: "file.managed", target: "link",
			setup: func(t *testing.T, d string) {
				write(t, filepath.Join(d, "real"), "old\n", 0o640)
				if err := os.Symlink("real", filepath.Join(d, "link")); err != nil {
					t.Fatal(err)
				}
			},
			args:   m("contents", "new"),
			result: "true", comment: "File $D/real updated",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1 +1 @@\n-old\n+new\n"}, testRes: "null",
			check: func(t *testing.T, d string) {
				wantFile(t, filepath.Join(d, "real"), "new\n")
				if target, err := os.Readlink(filepath.Join(d, "link")); err != nil || target != "real" {
					t.Errorf("link = %q, %v; want it left pointing at real", target, err)
				}
			},
		},
		{
			name: "follow_symlinks False replaces the link", fun: "file.managed", target: "link",
			setup: func(t *testing.T, d string) {
				write(t, filepath.Join(d, "real"), "old\n", 0o640)
				if err := os.Symlink("real", filepath.Join(d, "link")); err != nil {
					t.Fatal(err)
				}
			},
			args:   m("contents", "new", "follow_symlinks", false),
			result: "true", comment: "File $N updated",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1 +1 @@\n-old\n+new\n"}, testRes: "null",
			check: func(t *testing.T, d string) {
				wantFile(t, filepath.Join(d, "real"), "old\n")
				wantFile(t, filepath.Join(d, "link"), "new\n")
				if fi, err := os.Lstat(filepath.Join(d, "link")); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("link is not a regular file now: %v", err)
				}
			},
		},
	}
	runCases(t, cases)
}

// TestManagedModeKeepTree: mode: keep gives the mode of a salt:// source.
func TestManagedModeKeepTree(t *testing.T) {
	for _, mode := range []uint32{0o650, 0o645} {
		tree := t.TempDir()
		write(t, filepath.Join(tree, "grail/scene33"), scene, os.FileMode(mode))
		c := sls.New(sls.Config{FileRoots: []string{tree}, ID: "minion1"})
		name := filepath.Join(t.TempDir(), "scene33")
		o := statetest.Apply(t, "file.managed", map[string]any{"source": "salt://grail/scene33", "mode": "keep"},
			&states.Call{ID: "id", Name: name, Env: c})
		statetest.Expect(t, o, "true", true)
		wantMode(t, name, mode)
		wantFile(t, name, scene)
		again := statetest.Apply(t, "file.managed", map[string]any{"source": "salt://grail/scene33", "mode": "keep"},
			&states.Call{ID: "id", Name: name, Env: c})
		statetest.Expect(t, again, "true", false)
	}
}

// TestManagedTemplateVars: a file template sees Salt's variables.
func TestManagedTemplateVars(t *testing.T) {
	name := filepath.Join(t.TempDir(), "out")
	raw := map[string]any{"source": "salt://web/vars.conf", "template": "jinja", "user": "root", "mode": "0644",
		"defaults": map[string]any{"who": "default"}, "context": map[string]any{"who": "context"}}
	o := statetest.Apply(t, "file.managed", raw, &states.Call{ID: "id", Name: name, SLS: "web.nginx", Env: env})
	if o.Result == nil || !*o.Result {
		t.Fatalf("file.managed failed: %s", o.Comment)
	}
	wantFile(t, name, "source=salt://web/vars.conf\nname="+name+"\nuser=root\nmode=0644\nsls=web.nginx\n"+
		"slspath=web\ntpldir=web\ntplroot=web\ntplfile=web/vars.conf\nid=minion1\nwho=context\n")
}

// TestManagedHTTP: an http source needs source_hash or skip_verify.
func TestManagedHTTP(t *testing.T) {
	srv := httptest.NewServer(http.FileServer(http.Dir("testdata/tree")))
	defer srv.Close()
	url := srv.URL + "/motd"
	motd, err := os.ReadFile("testdata/tree/motd")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(motd)
	for _, tt := range []struct {
		name    string
		args    map[string]any
		result  string
		comment string
	}{
		{"no hash", map[string]any{"source": url}, "false",
			"Unable to verify upstream hash of source file " + url + ", please set source_hash or set skip_verify to True"},
		{"skip_verify", map[string]any{"source": url, "skip_verify": true}, "true", ""},
		{"source_hash", map[string]any{"source": url, "source_hash": hex.EncodeToString(sum[:])}, "true", ""},
		{"hash file over http", map[string]any{"source": url, "source_hash": srv.URL + "/motd.sha256"}, "false",
			"Unable to read source_hash file " + srv.URL + "/motd.sha256: download " + srv.URL + "/motd.sha256: file does not exist"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "motd")
			o := statetest.Apply(t, "file.managed", tt.args, &states.Call{ID: "id", Name: name, Env: env})
			statetest.Expect(t, o, tt.result, tt.result == "true")
			if tt.comment != "" && o.Comment != tt.comment {
				t.Errorf("comment = %q, want %q", o.Comment, tt.comment)
			}
			if tt.result == "true" {
				wantFile(t, name, string(motd))
			} else {
				wantAbsent(t, name)
			}
		})
	}
}

// TestManagedBackup: backup: minion keeps the replaced file in the
// backup directory, named as Salt names it.
func TestManagedBackup(t *testing.T) {
	name := filepath.Join(t.TempDir(), "app.conf")
	write(t, name, "old\n", 0o644)
	o := statetest.Apply(t, "file.managed", map[string]any{"contents": "new", "backup": "minion"},
		&states.Call{ID: "id", Name: name, Env: env})
	statetest.Expect(t, o, "true", true)
	wantFile(t, name, "new\n")
	matches, err := filepath.Glob(filepath.Join(backupDir, strings.TrimPrefix(name, "/")) + "_*")
	if err != nil || len(matches) != 1 {
		t.Fatalf("backups of %s: %v %v, want one", name, matches, err)
	}
	wantFile(t, matches[0], "old\n")
	again := statetest.Apply(t, "file.managed", map[string]any{"contents": "new", "backup": "minion"},
		&states.Call{ID: "id", Name: name, Env: env})
	statetest.Expect(t, again, "true", false)
	if m2, _ := filepath.Glob(filepath.Join(backupDir, strings.TrimPrefix(name, "/")) + "_*"); len(m2) != 1 {
		t.Errorf("an unchanged file was backed up again: %v", m2)
	}
	e, _ := states.Lookup("file.managed")
	if _, err := e.Decode(map[string]any{"contents": "new", "backup": "master"}); err == nil ||
		!strings.Contains(err.Error(), "expected minion") {
		t.Errorf("backup: master decoded (%v), want an error that says what backup takes", err)
	}
}
