package file

import (
	"os"
	"path/filepath"
	"testing"
)

// TestEditStates checks the editing and file-operation states four ways
// each (test mode, apply, on disk, apply again).
func TestEditStates(t *testing.T) {
	m := func(kv ...any) func(string) map[string]any {
		return func(d string) map[string]any {
			out := map[string]any{}
			for i := 0; i < len(kv); i += 2 {
				v := kv[i+1]
				if s, ok := v.(string); ok && len(s) > 2 && s[:2] == "$D" {
					v = d + s[2:]
				}
				out[kv[i].(string)] = v
			}
			return out
		}
	}
	conf := func(data string) func(t *testing.T, d string) {
		return func(t *testing.T, d string) { write(t, filepath.Join(d, "conf"), data, 0o640) }
	}
	cases := []stateCase{
		{
			name: "replace with a group", setup: conf("port = 80\nhost = a\n"), fun: "file.replace", target: "conf",
			args:   m("pattern", `^port = (80)$`, "repl", `port = 80\1`, "backup", false),
			result: "true", comment: "Changes were made", testRes: "null", testCmt: "Changes would have been made",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1,2 +1,2 @@\n-port = 80\n+port = 8080\n host = a\n"},
			check: func(t *testing.T, d string) {
				wantFile(t, filepath.Join(d, "conf"), "port = 8080\nhost = a\n")
				wantMode(t, filepath.Join(d, "conf"), 0o640)
				wantAbsent(t, filepath.Join(d, "conf.bak"))
			},
		},
		{
			name: "replace a named group and a $ in repl", setup: conf("k = 1\nj = 2\n"), fun: "file.replace", target: "conf",
			args:   m("pattern", `(?P<key>\w+) = 1$`, "repl", `\g<key> = $2`),
			result: "true", comment: "Changes were made", testRes: "null",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1,2 +1,2 @@\n-k = 1\n+k = $2\n j = 2\n"},
			check: func(t *testing.T, d string) {
				wantFile(t, filepath.Join(d, "conf"), "k = $2\nj = 2\n")
				wantFile(t, filepath.Join(d, "conf.bak"), "k = 1\nj = 2\n")
			},
		},
		{
			name: "replace lookahead is refused", setup: conf("x\n"), fun: "file.replace", target: "conf",
			args:   m("pattern", "x(?=y)", "repl", "z"),
			result: "false", testRes: "false",
			comment: "Invalid pattern \"x(?=y)\": error parsing regexp: invalid or unsupported Perl syntax: `(?=` " +
				"(brine's regular expressions are RE2: no lookaround or backreferences)",
		},
		{
			name: "replace on a missing file", fun: "file.replace", target: "conf", args: m("pattern", "x", "repl", "y"),
			result: "false", comment: "$N: file not found", testRes: "false",
		},
		{
			name: "replace ignore_if_missing", fun: "file.replace", target: "conf",
			args:   m("pattern", "x", "repl", "y", "ignore_if_missing", true),
			result: "true", comment: "No changes needed to be made", testRes: "true",
		},
		{
			name:  "blockreplace an existing block",
			setup: conf("head\n# start\nold 1\nold 2\n# end\ntail\n"), fun: "file.blockreplace", target: "conf",
			args:   m("marker_start", "# start", "marker_end", "# end", "content", "new", "backup", false),
			result: "true", comment: "Changes were made", testRes: "null", testCmt: "Changes would be made",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1,6 +1,5 @@\n head\n # start\n-old 1\n-old 2\n+new\n # end\n tail\n"},
			check: func(t *testing.T, d string) {
				wantFile(t, filepath.Join(d, "conf"), "head\n# start\nnew\n# end\ntail\n")
			},
		},
		{
			name: "blockreplace without markers", setup: conf("x\n"), fun: "file.blockreplace", target: "conf",
			args:   m("marker_start", "# start", "marker_end", "# end", "content", "new"),
			result: "false", comment: "Cannot edit marked block. Markers were not found", testRes: "false",
		},
		{
			name: "blockreplace unterminated", setup: conf("# start\nx\n"), fun: "file.blockreplace", target: "conf",
			args:   m("marker_start", "# start", "marker_end", "# end", "content", "new"),
			result: "false", comment: "Unterminated marked block. End of file reached before marker_end.", testRes: "false",
		},
		{
			name: "blockreplace insert_after_match", setup: conf("a\nb\n"), fun: "file.blockreplace", target: "conf",
			args:   m("marker_start", "#s", "marker_end", "#e", "content", "x", "insert_after_match", "^a$", "backup", false),
			result: "true", comment: "Changes were made", testRes: "null",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1,2 +1,5 @@\n a\n+#s\n+x\n+#e\n b\n"},
		},
		{
			name: "comment", setup: conf("port = 1\n#port = 2\nhost = a\n"), fun: "file.comment", target: "conf",
			args:   m("regex", "^port", "backup", false),
			result: "true", comment: "Commented lines successfully", testRes: "null", testCmt: "File $N is set to be updated",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1,3 +1,3 @@\n-port = 1\n+#port = 1\n #port = 2\n host = a\n"},
		},
		{
			name: "comment already commented", setup: conf("#port = 1\n"), fun: "file.comment", target: "conf",
			args: m("regex", "^port"), result: "true", comment: "Pattern already commented", testRes: "true",
		},
		{
			name: "comment pattern not found", setup: conf("a\n"), fun: "file.comment", target: "conf",
			args: m("regex", "^port"), result: "false", comment: "port: Pattern not found", testRes: "false",
		},
		{
			name: "uncomment", setup: conf("  # port = 1\nx\n"), fun: "file.uncomment", target: "conf",
			args:   m("regex", "port"),
			result: "true", comment: "Uncommented lines successfully", testRes: "null",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1,2 +1,2 @@\n-  # port = 1\n+   port = 1\n x\n"},
			check:   func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "conf.bak"), "  # port = 1\nx\n") },
		},
		{
			name: "prepend", setup: conf("body\n"), fun: "file.prepend", target: "conf", args: m("text", []any{"# head", "body"}),
			result: "true", comment: "Prepended 1 lines", testRes: "null", testCmt: "File $N is set to be updated",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1 +1,2 @@\n+# head\n body\n"},
		},
		{
			name: "keyvalue key_values", setup: conf("a=1\n#b=2\nc=3\n"), fun: "file.keyvalue", target: "conf",
			args:   m("key_values", map[string]any{"a": 10, "b": "x", "d": "new"}, "uncomment", "#", "append_if_not_found", true),
			result: "true", comment: "Changed 3 lines", testRes: "null", testCmt: "File $N is set to be changed (3 lines)",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1,3 +1,4 @@\n-a=1\n-#b=2\n+a=10\n+b=x\n c=3\n+d=new\n"},
		},
		{
			name: "copy", setup: conf("data\n"), fun: "file.copy", target: "copy", args: m("source", "$D/conf"),
			result: "true", comment: `Copied "$D/conf" to "$N"`, testRes: "null",
			changes: map[string]any{"$N": "$D/conf"},
			check: func(t *testing.T, d string) {
				wantFile(t, filepath.Join(d, "copy"), "data\n")
				wantMode(t, filepath.Join(d, "copy"), 0o640)
			},
		},
		{
			name: "copy without force keeps the target",
			setup: func(t *testing.T, d string) {
				conf("data\n")(t, d)
				write(t, filepath.Join(d, "copy"), "mine\n", 0o644)
			},
			fun: "file.copy", target: "copy", args: m("source", "$D/conf"),
			result: "true", comment: `The target file "$N" exists and will not be overwritten`, testRes: "true",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "copy"), "mine\n") },
		},
		{
			name: "copy a missing source", fun: "file.copy", target: "copy", args: m("source", "$D/nothere"),
			result: "false", comment: `Source file "$D/nothere" is not present`, testRes: "false",
		},
		{
			name: "hardlink", setup: conf("data\n"), fun: "file.hardlink", target: "link", args: m("target", "$D/conf"),
			result: "true", comment: "Created new hard link $N -> $D/conf", testRes: "null",
			changes: map[string]any{"new": "$N"},
			check: func(t *testing.T, d string) {
				a, _ := os.Stat(filepath.Join(d, "conf"))
				b, err := os.Stat(filepath.Join(d, "link"))
				if err != nil || !os.SameFile(a, b) {
					t.Errorf("link is not a hard link of conf: %v", err)
				}
			},
		},
		{
			name:  "hardlink over a file needs force",
			setup: func(t *testing.T, d string) { conf("data\n")(t, d); write(t, filepath.Join(d, "link"), "x", 0o644) },
			fun:   "file.hardlink", target: "link", args: m("target", "$D/conf"),
			result: "false", comment: "File exists where the hard link $N should be", testRes: "false",
		},
		{
			name: "hardlink to a directory", fun: "file.hardlink", target: "link", args: m("target", "$D/."),
			result: "false", comment: "Unable to hard link from directory $D/.", testRes: "false",
		},
		{
			name: "exists", setup: conf(""), fun: "file.exists", target: "conf",
			result: "true", comment: "Path $N exists", testRes: "true",
		},
		{
			name: "exists fails", fun: "file.exists", target: "conf",
			result: "false", comment: "Specified path $N does not exist", testRes: "false",
		},
		{
			name: "missing", fun: "file.missing", target: "conf",
			result: "true", comment: "Path $N is missing", testRes: "true",
		},
		{
			name: "missing fails", setup: conf(""), fun: "file.missing", target: "conf",
			result: "false", comment: "Specified path $N exists", testRes: "false",
		},
		{
			name: "serialize yaml", fun: "file.serialize", target: "data.yaml",
			args:   m("dataset", map[string]any{"b": []any{1, 2}, "a": "x"}),
			result: "true", comment: "File $N updated", testRes: "null", changes: map[string]any{"diff": "New file"},
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "data.yaml"), "a: x\nb:\n  - 1\n  - 2\n") },
		},
		{
			name: "serialize an unknown format", fun: "file.serialize", target: "data", args: m("dataset", map[string]any{}, "formatter", "toml"),
			result: "false", comment: `Serializer "toml" is not available: brine serializes configparser, json, plist, yaml`, testRes: "false",
		},
		{
			name: "recurse with include_pat", fun: "file.recurse", target: "web",
			args:   m("source", "salt://web", "include_pat", "*.conf", "file_mode", "0600"),
			result: "true", comment: "Recursively updated $N", testRes: "null",
			changes: map[string]any{"$N/broken.conf": map[string]any{"diff": "New file"},
				"$N/greeting.conf": map[string]any{"diff": "New file"},
				"$N/vars.conf":     map[string]any{"diff": "New file"}},
			check: func(t *testing.T, d string) {
				wantMode(t, filepath.Join(d, "web/greeting.conf"), 0o600)
				wantFile(t, filepath.Join(d, "web/greeting.conf"), "Hello {{ who }} from {{ place }}\n")
			},
		},
		{
			name:  "recurse clean",
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "web/stray"), "x", 0o644) },
			fun:   "file.recurse", target: "web", args: m("source", "salt://odd", "clean", true),
			result: "true", comment: "Recursively updated $N", testRes: "null",
			changes: map[string]any{"$N/a?b c.txt": map[string]any{"diff": "New file"},
				"$N/stray": map[string]any{"removed": "Removed due to clean"}},
			check: func(t *testing.T, d string) { wantAbsent(t, filepath.Join(d, "web/stray")) },
		},
		{
			name: "recurse a missing directory", fun: "file.recurse", target: "web", args: m("source", "salt://nothere"),
			result: "false", comment: "The directory 'salt://nothere' does not exist on the salt fileserver in saltenv 'base'", testRes: "false",
		},
	}
	runCases(t, cases)
}

func TestPyRepl(t *testing.T) {
	re, err := compilePy(`(\w)(?P<n>\d)`, 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		repl  string
		count int
		want  string
	}{
		{`\2\1`, 0, "1a 2b 3c"},
		{`\g<n>-\g<1>`, 2, "1-a 2-b c3"},
		{`$\n`, 1, "$\n b2 c3"},
		{`\\`, 0, `\ \ \`},
	} {
		got, _ := subn(re, []byte("a1 b2 c3"), pyRepl(tt.repl), false, tt.count)
		if string(got) != tt.want {
			t.Errorf("repl %q count %d: %q, want %q", tt.repl, tt.count, got, tt.want)
		}
	}
}
