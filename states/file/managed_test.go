package file

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/brinecm/brine/pkg/systest"
)

const testNoteT = "\nNote: No changes made, actual changes may\nbe different due to other states."

func TestManaged(t *testing.T) {
	m := func(kv ...any) func(string) map[string]any {
		return func(string) map[string]any {
			out := map[string]any{}
			for i := 0; i < len(kv); i += 2 {
				out[kv[i].(string)] = kv[i+1]
			}
			return out
		}
	}
	newFile := map[string]any{"diff": "New file"}
	setTo := "The file $N is set to be changed" + testNoteT
	cases := []stateCase{
		{
			name: "create from contents", fun: "file.managed", target: "motd", args: m("contents", "hello"),
			result: "true", comment: "File $N updated", changes: newFile,
			testRes: "null", testCmt: setTo,
			check: func(t *testing.T, d string) {
				wantFile(t, filepath.Join(d, "motd"), "hello\n")
				wantMode(t, filepath.Join(d, "motd"), newFileMode())
			},
		},
		{
			name: "contents list of lines", fun: "file.managed", target: "f", args: m("contents", []any{"a", "b", 3}),
			result: "true", comment: "File $N updated", changes: newFile, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "f"), "a\nb\n3\n") },
		},
		{
			name: "contents_newline false", fun: "file.managed", target: "f", args: m("contents", "x", "contents_newline", false),
			result: "true", comment: "File $N updated", changes: newFile, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "f"), "x") },
		},
		{
			name: "empty contents", fun: "file.managed", target: "f", args: m("contents", ""),
			result: "true", comment: "File $N updated", changes: newFile, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "f"), "") },
		},
		{
			name:  "change contents",
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "f"), "keep\nold\n", 0o640) },
			fun:   "file.managed", target: "f", args: m("contents", "keep\nnew"),
			result: "true", comment: "File $N updated",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1,2 +1,2 @@\n keep\n-old\n+new\n"},
			testRes: "null", testCmt: setTo,
			check: func(t *testing.T, d string) {
				wantFile(t, filepath.Join(d, "f"), "keep\nnew\n")
				wantMode(t, filepath.Join(d, "f"), 0o640) // the old mode is kept
			},
		},
		{
			name:  "already correct",
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "f"), "same\n", 0o644) },
			fun:   "file.managed", target: "f", args: m("contents", "same", "mode", "0644"),
			result: "true", comment: "File $N is in the correct state",
			testRes: "true", testCmt: "File $N is in the correct state",
		},
		{
			name:  "longer file differs",
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "f"), "same\nextra\n", 0o644) },
			fun:   "file.managed", target: "f", args: m("contents", "same"),
			result: "true", comment: "File $N updated",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1,2 +1 @@\n same\n-extra\n"}, testRes: "null",
		},
		{
			name: "source", fun: "file.managed", target: "motd", args: m("source", "salt://motd"),
			result: "true", comment: "File $N updated", changes: newFile, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "motd"), "Welcome to brine\n") },
		},
		{
			name: "first existing source wins", fun: "file.managed", target: "motd",
			args:   m("source", []any{"salt://missing", "brine://motd", "salt://web/greeting.conf"}),
			result: "true", comment: "File $N updated", changes: newFile, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "motd"), "Welcome to brine\n") },
		},
		{
			name: "local absolute source", fun: "file.managed", target: "copy",
			args: func(string) map[string]any {
				abs, _ := filepath.Abs("testdata/tree/motd")
				return map[string]any{"source": abs}
			},
			result: "true", comment: "File $N updated", changes: newFile, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "copy"), "Welcome to brine\n") },
		},
		{
			name: "missing source", fun: "file.managed", target: "f", args: m("source", "salt://nope"),
			result: "false", comment: "Source file salt://nope not found in saltenv 'base'", testRes: "false",
			check: func(t *testing.T, d string) { wantAbsent(t, filepath.Join(d, "f")) },
		},
		{
			name: "no source found", fun: "file.managed", target: "f", args: m("source", []any{"salt://a", "salt://b"}),
			result: "false", comment: "None of the specified sources were found: salt://a, salt://b", testRes: "false",
		},
		{
			name: "template with context over defaults", fun: "file.managed", target: "greeting.conf",
			args: m("source", "salt://web/greeting.conf", "template", "jinja",
				"defaults", map[string]any{"who": "nobody", "place": "Paris"}, "context", map[string]any{"who": "Ada"}),
			result: "true", comment: "File $N updated", changes: newFile, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "greeting.conf"), "Hello Ada from Paris\n") },
		},
		{
			name: "template contents", fun: "file.managed", target: "f",
			args:   m("contents", "port={{ port }}", "template", "jinja", "context", map[string]any{"port": 8080}),
			result: "true", comment: "File $N updated", changes: newFile, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "f"), "port=8080\n") },
		},
		{
			name: "template error", fun: "file.managed", target: "f",
			args:   m("source", "salt://web/broken.conf", "template", "jinja"),
			result: "false", comment: "Unable to render salt://web/broken.conf as jinja: render salt://web/broken.conf: web/broken.conf:1: syntax error: unexpected end of template: missing {% endif %}",
			testRes: "false",
		},
		{
			name: "new file with mode", fun: "file.managed", target: "secret", args: m("contents", "s", "mode", "0640"),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file", "mode": "0640"}, testRes: "null",
			check: func(t *testing.T, d string) { wantMode(t, filepath.Join(d, "secret"), 0o640) },
		},
		{
			name:  "mode only",
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "f"), "x\n", 0o644) },
			fun:   "file.managed", target: "f", args: m("contents", "x", "mode", 600),
			result: "true", comment: "File $N updated", changes: map[string]any{"mode": "0600"},
			testRes: "null", testCmt: setTo,
			check: func(t *testing.T, d string) { wantMode(t, filepath.Join(d, "f"), 0o600) },
		},
		{
			name:  "setuid mode",
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "f"), "x\n", 0o755) },
			fun:   "file.managed", target: "f", args: m("mode", "4755"),
			result: "true", comment: "File $N updated", changes: map[string]any{"mode": "4755"}, testRes: "null",
			check: func(t *testing.T, d string) { wantMode(t, filepath.Join(d, "f"), 0o4755) },
		},
		{
			name: "makedirs", fun: "file.managed", target: "a/b/f", args: m("contents", "x", "makedirs", true),
			result: "true", comment: "File $N updated", changes: newFile, testRes: "null", testCmt: setTo,
			check: func(t *testing.T, d string) {
				wantFile(t, filepath.Join(d, "a/b/f"), "x\n")
				wantMode(t, filepath.Join(d, "a"), 0o755)
				wantMode(t, filepath.Join(d, "a/b"), 0o755)
			},
		},
		{
			name: "makedirs with dir_mode", fun: "file.managed", target: "a/f",
			args:   m("contents", "x", "makedirs", true, "dir_mode", "0700", "mode", "0600"),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "New file"}, testRes: "null",
			check: func(t *testing.T, d string) { wantMode(t, filepath.Join(d, "a"), 0o700) },
		},
		{
			name: "parent missing", fun: "file.managed", target: "a/f", args: m("contents", "x"),
			result: "false", comment: "Parent directory not present", testRes: "null",
		},
		{
			name: "relative path", fun: "file.managed", target: "rel:etc/motd", args: m("contents", "x"),
			result: "false", comment: "Specified file etc/motd is not an absolute path", testRes: "false",
		},
		{
			name:  "target is a directory",
			setup: func(t *testing.T, d string) { os.Mkdir(filepath.Join(d, "dir"), 0o755) },
			fun:   "file.managed", target: "dir", args: m("contents", "x"),
			result: "false", comment: "Specified target $N is a directory", testRes: "false",
		},
		{
			name:  "replace false keeps contents",
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "f"), "local edit\n", 0o644) },
			fun:   "file.managed", target: "f", args: m("contents", "x", "replace", false),
			result: "true", comment: "File $N exists with proper permissions. No changes made.", testRes: "true",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "f"), "local edit\n") },
		},
		{
			name:  "replace false still manages mode",
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "f"), "local edit\n", 0o644) },
			fun:   "file.managed", target: "f", args: m("contents", "x", "replace", false, "mode", "0600"),
			result: "true", comment: "File $N updated", changes: map[string]any{"mode": "0600"},
			testRes: "null", testCmt: "File $N will be updated with permissions 0600 from its current state of 0644",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "f"), "local edit\n") },
		},
		{
			name: "replace false creates", fun: "file.managed", target: "f", args: m("contents", "x", "replace", false),
			result: "true", comment: "File $N updated", changes: newFile, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "f"), "x\n") },
		},
		{
			name: "create false", fun: "file.managed", target: "f", args: m("contents", "x", "create", false),
			result: "true", comment: "File $N is not present and is not set for creation", testRes: "true",
			check: func(t *testing.T, d string) { wantAbsent(t, filepath.Join(d, "f")) },
		},
		{
			name:  "show_changes false",
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "f"), "secret1\n", 0o600) },
			fun:   "file.managed", target: "f", args: m("contents", "secret2", "show_changes", false),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "<show_changes=False>"}, testRes: "null",
		},
		{
			name:  "binary",
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "f"), "a\x00b", 0o644) },
			fun:   "file.managed", target: "f", args: m("contents", "text"),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "Replace binary file"}, testRes: "null",
		},
		{
			name: "empty file without contents", fun: "file.managed", target: "touched",
			result: "true", comment: "Empty file", changes: map[string]any{"new": "file $N created"}, testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "touched"), "") },
		},
		{
			name: "source and contents", fun: "file.managed", target: "f", args: m("contents", "x", "source", "salt://motd"),
			result: "false", comment: "'source' cannot be used in combination with 'contents', 'contents_pillar', or 'contents_grains'", testRes: "false",
		},
		{
			name: "unknown user", fun: "file.managed", target: "f", args: m("contents", "x", "user", "no-such-user-brine", "group", "no-such-group-brine"),
			result: "false", comment: "User no-such-user-brine is not available. Group no-such-group-brine is not available", testRes: "false",
		},
		{
			name: "new file owned by nobody", root: true, fun: "file.managed", target: "f",
			args:   m("contents", "x", "user", "nobody", "group", "daemon", "mode", "0640"),
			result: "true", comment: "File $N updated",
			changes: map[string]any{"diff": "New file", "user": "nobody", "group": "daemon", "mode": "0640"}, testRes: "null",
			check: func(t *testing.T, d string) {
				wantOwner(t, filepath.Join(d, "f"), 65534, 1)
				wantMode(t, filepath.Join(d, "f"), 0o640)
			},
		},
		{
			name: "ownership change", root: true,
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "f"), "x\n", 0o644) },
			fun:   "file.managed", target: "f", args: m("contents", "x", "user", "daemon", "group", "nogroup"),
			result: "true", comment: "File $N updated", changes: map[string]any{"user": "daemon", "group": "nogroup"}, testRes: "null",
			check: func(t *testing.T, d string) { wantOwner(t, filepath.Join(d, "f"), 1, 65534) },
		},
		{
			name: "numeric ids with content change", root: true,
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "f"), "old\n", 0o644) },
			fun:   "file.managed", target: "f", args: m("contents", "new", "user", 65534, "group", "1"),
			result: "true", comment: "File $N updated",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1 +1 @@\n-old\n+new\n", "user": "65534", "group": "1"}, testRes: "null",
			check: func(t *testing.T, d string) {
				wantOwner(t, filepath.Join(d, "f"), 65534, 1)
				wantMode(t, filepath.Join(d, "f"), 0o644)
			},
		},
		{
			name: "replaced file keeps its owner", root: true,
			setup: func(t *testing.T, d string) {
				write(t, filepath.Join(d, "f"), "old\n", 0o640)
				if err := os.Chown(filepath.Join(d, "f"), 65534, 1); err != nil {
					t.Fatal(err)
				}
			},
			fun: "file.managed", target: "f", args: m("contents", "new"),
			result: "true", comment: "File $N updated", changes: map[string]any{"diff": "--- \n+++ \n@@ -1 +1 @@\n-old\n+new\n"}, testRes: "null",
			check: func(t *testing.T, d string) {
				wantOwner(t, filepath.Join(d, "f"), 65534, 1)
				wantMode(t, filepath.Join(d, "f"), 0o640)
			},
		},
	}
	runCases(t, cases)
}

func TestManagedLeavesNoTemporaryFiles(t *testing.T) {
	d := t.TempDir()
	for i, contents := range []string{"one", "two", "three"} {
		o := apply(t, "file.managed", filepath.Join(d, "f"), map[string]any{"contents": contents}, false)
		if !o.OK() {
			t.Fatalf("run %d: %s", i, o.Comment)
		}
	}
	entries, err := os.ReadDir(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "f" {
		t.Errorf("directory holds %v, want only f", entries)
	}
}

func TestManagedFollowsSymlink(t *testing.T) {
	d := t.TempDir()
	write(t, filepath.Join(d, "real"), "same\n", 0o644)
	if err := os.Symlink("real", filepath.Join(d, "link")); err != nil {
		t.Fatal(err)
	}
	o := apply(t, "file.managed", filepath.Join(d, "link"), map[string]any{"contents": "same"}, false)
	if !o.OK() || o.Changed() {
		t.Errorf("a symlink to a correct file: %q %v", o.Comment, o.Changes)
	}
}

// TestWritesRemoveStaleTemporaryFiles: a temporary file a killed writer
// left beside the target (its pid no longer runs) goes when a state writes
// the target; one of a live writer stays.
func TestWritesRemoveStaleTemporaryFiles(t *testing.T) {
	dead := strconv.Itoa(systest.DeadPID(t))
	live := strconv.Itoa(os.Getppid())
	cases := []struct {
		fun  string
		args map[string]any
	}{
		{"file.managed", map[string]any{"contents": "new"}},
		{"file.symlink", map[string]any{"target": "/etc/hostname"}},
	}
	for _, c := range cases {
		t.Run(c.fun, func(t *testing.T) {
			d := t.TempDir()
			stale := filepath.Join(d, ".f.brine-"+dead+"-k3j5")
			busy := filepath.Join(d, ".f.brine-"+live+"-k3j5")
			for _, p := range []string{stale, busy} {
				write(t, p, "half", 0o600)
			}
			o := apply(t, c.fun, filepath.Join(d, "f"), c.args, false)
			if !o.OK() || !o.Changed() {
				t.Fatalf("%s: %s %v", c.fun, o.Comment, o.Changes)
			}
			if _, err := os.Lstat(stale); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("stale temporary file left (%v)", err)
			}
			if _, err := os.Lstat(busy); err != nil {
				t.Errorf("a live writer's temporary file removed: %v", err)
			}
		})
	}
}
