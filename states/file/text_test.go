package file

import (
	"path/filepath"
	"testing"
)

func withFile(data string) func(t *testing.T, d string) {
	return func(t *testing.T, d string) { write(t, filepath.Join(d, "f"), data, 0o640) }
}

func fileIs(data string) func(t *testing.T, d string) {
	return func(t *testing.T, d string) {
		wantFile(t, filepath.Join(d, "f"), data)
		wantMode(t, filepath.Join(d, "f"), 0o640)
	}
}

func TestAppend(t *testing.T) {
	cases := []stateCase{
		{
			name: "creates the file", fun: "file.append", target: "f", args: args("text", "a"),
			result: "true", comment: "Appended 1 lines", changes: map[string]any{"diff": "--- \n+++ \n@@ -0,0 +1 @@\n+a\n"},
			testRes: "null", testCmt: "File $N is set to be created",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "f"), "a\n") },
		},
		{
			name: "appends missing lines only", setup: withFile("a\nb\n"), fun: "file.append", target: "f",
			args:   args("text", []any{"b", "c"}),
			result: "true", comment: "Appended 1 lines", changes: map[string]any{"diff": "--- \n+++ \n@@ -1,2 +1,3 @@\n a\n b\n+c\n"},
			testRes: "null", testCmt: "File $N is set to be updated",
			check: fileIs("a\nb\nc\n"),
		},
		{
			name: "no trailing newline", setup: withFile("a"), fun: "file.append", target: "f", args: args("text", "b"),
			result: "true", comment: "Appended 1 lines",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1 +1,2 @@\n-a\n\\ No newline at end of file\n+a\n+b\n"},
			testRes: "null", check: fileIs("a\nb\n"),
		},
		{
			name: "multi-line chunk", setup: withFile("x\n"), fun: "file.append", target: "f", args: args("text", "one\ntwo\n"),
			result: "true", comment: "Appended 2 lines", changes: map[string]any{"diff": "--- \n+++ \n@@ -1 +1,3 @@\n x\n+one\n+two\n"},
			testRes: "null", check: fileIs("x\none\ntwo\n"),
		},
		{
			name: "whitespace ignored", setup: withFile("  foo   bar\n"), fun: "file.append", target: "f", args: args("text", "foo bar"),
			result: "true", comment: "File $N is in correct state", testRes: "true", testCmt: "File $N is in correct state",
			check: fileIs("  foo   bar\n"),
		},
		{
			name: "whitespace significant", setup: withFile("  foo   bar\n"), fun: "file.append", target: "f",
			args: args("text", "foo bar", "ignore_whitespace", false), result: "true", comment: "Appended 1 lines",
			changes: map[string]any{"diff": "--- \n+++ \n@@ -1 +1,2 @@\n   foo   bar\n+foo bar\n"}, testRes: "null",
		},
		{
			name: "makedirs", fun: "file.append", target: "a/f", args: args("text", "x", "makedirs", true),
			result: "true", comment: "Appended 1 lines", changes: map[string]any{"diff": "--- \n+++ \n@@ -0,0 +1 @@\n+x\n"}, testRes: "null",
		},
		{
			name: "parent missing", fun: "file.append", target: "a/f", args: args("text", "x"),
			result: "false", comment: "Directory not present to touch file $N", testRes: "null",
		},
		{
			name: "relative", fun: "file.append", target: "rel:f", args: args("text", "x"),
			result: "false", comment: "Specified file f is not an absolute path", testRes: "false",
		},
	}
	runCases(t, cases)
}

func TestLine(t *testing.T) {
	diff := func(d string) map[string]any { return map[string]any{"diff": d} }
	cases := []stateCase{
		{
			name: "replace", setup: withFile("a=1\nb=2\n"), fun: "file.line", target: "f",
			args:   args("mode", "replace", "match", "^a=", "content", "a=5"),
			result: "true", comment: "Changes were made", changes: diff("--- \n+++ \n@@ -1,2 +1,2 @@\n-a=1\n+a=5\n b=2\n"),
			testRes: "null", testCmt: "Changes would be made", check: fileIs("a=5\nb=2\n"),
		},
		{
			name: "replace keeps indentation", setup: withFile("x:\n    port: 1\n"), fun: "file.line", target: "f",
			args:   args("mode", "replace", "match", "port:", "content", "port: 2"),
			result: "true", comment: "Changes were made", changes: diff("--- \n+++ \n@@ -1,2 +1,2 @@\n x:\n-    port: 1\n+    port: 2\n"),
			testRes: "null", check: fileIs("x:\n    port: 2\n"),
		},
		{
			name: "nothing to replace", setup: withFile("a=1\n"), fun: "file.line", target: "f",
			args:   args("mode", "replace", "match", "^z=", "content", "z=1"),
			result: "true", comment: "No changes needed to be made", testRes: "true", testCmt: "No changes needed to be made",
		},
		{
			name: "delete", setup: withFile("a=1\nb=2\nb=3\n"), fun: "file.line", target: "f",
			args:   args("mode", "delete", "match", "^b="),
			result: "true", comment: "Changes were made", changes: diff("--- \n+++ \n@@ -1,3 +1 @@\n a=1\n-b=2\n-b=3\n"),
			testRes: "null", check: fileIs("a=1\n"),
		},
		{
			name: "insert at start", setup: withFile("a\n"), fun: "file.line", target: "f",
			args:   args("mode", "insert", "location", "start", "content", "# managed by brine"),
			result: "true", comment: "Changes were made", changes: diff("--- \n+++ \n@@ -1 +1,2 @@\n+# managed by brine\n a\n"),
			testRes: "null", check: fileIs("# managed by brine\na\n"),
		},
		{
			name: "insert at end without newline", setup: withFile("a"), fun: "file.line", target: "f",
			args:   args("mode", "insert", "location", "end", "content", "z"),
			result: "true", comment: "Changes were made",
			changes: diff("--- \n+++ \n@@ -1 +1,2 @@\n-a\n\\ No newline at end of file\n+a\n+z\n"),
			testRes: "null", check: fileIs("a\nz\n"),
		},
		{
			name: "insert after", setup: withFile("[main]\n  other=2\n"), fun: "file.line", target: "f",
			args:   args("mode", "insert", "after", `^\[main\]`, "content", "key=1"),
			result: "true", comment: "Changes were made", changes: diff("--- \n+++ \n@@ -1,2 +1,3 @@\n [main]\n+key=1\n   other=2\n"),
			testRes: "null", check: fileIs("[main]\nkey=1\n  other=2\n"),
		},
		{
			name: "insert before with indentation", setup: withFile("a:\n  end: 1\n"), fun: "file.line", target: "f",
			args:   args("mode", "insert", "before", "end:", "content", "begin: 0"),
			result: "true", comment: "Changes were made", changes: diff("--- \n+++ \n@@ -1,2 +1,3 @@\n a:\n+  begin: 0\n   end: 1\n"),
			testRes: "null", check: fileIs("a:\n  begin: 0\n  end: 1\n"),
		},
		{
			name: "insert between", setup: withFile("start\nx\nstop\n"), fun: "file.line", target: "f",
			args:   args("mode", "insert", "after", "^start$", "before", "^stop$", "content", "y"),
			result: "true", comment: "Changes were made", changes: diff("--- \n+++ \n@@ -1,3 +1,4 @@\n start\n x\n+y\n stop\n"),
			testRes: "null", check: fileIs("start\nx\ny\nstop\n"),
		},
		{
			name: "ensure between adjacent", setup: withFile("start\nstop\n"), fun: "file.line", target: "f",
			args:   args("mode", "ensure", "after", "start", "before", "stop", "content", "mid"),
			result: "true", comment: "Changes were made", changes: diff("--- \n+++ \n@@ -1,2 +1,3 @@\n start\n+mid\n stop\n"),
			testRes: "null", check: fileIs("start\nmid\nstop\n"),
		},
		{
			name: "ensure replaces the line between", setup: withFile("start\nold\nstop\n"), fun: "file.line", target: "f",
			args:   args("mode", "ensure", "after", "start", "before", "stop", "content", "mid"),
			result: "true", comment: "Changes were made", changes: diff("--- \n+++ \n@@ -1,3 +1,3 @@\n start\n-old\n+mid\n stop\n"),
			testRes: "null", check: fileIs("start\nmid\nstop\n"),
		},
		{
			name: "ensure after", setup: withFile("a\nb\n"), fun: "file.line", target: "f",
			args:   args("mode", "ensure", "after", "^a$", "content", "c"),
			result: "true", comment: "Changes were made", changes: diff("--- \n+++ \n@@ -1,2 +1,3 @@\n a\n+c\n b\n"),
			testRes: "null", check: fileIs("a\nc\nb\n"),
		},
		{
			name: "ensure already there", setup: withFile("a\nc\nb\n"), fun: "file.line", target: "f",
			args:   args("mode", "ensure", "after", "^a$", "content", "c"),
			result: "true", comment: "No changes needed to be made", testRes: "true",
		},
		{
			name: "create", fun: "file.line", target: "f",
			args:   args("mode", "insert", "location", "end", "content", "x", "create", true),
			result: "true", comment: "Changes were made", changes: diff("--- \n+++ \n@@ -0,0 +1 @@\n+x\n"), testRes: "null",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "f"), "x\n") },
		},
		{
			name: "missing file", fun: "file.line", target: "f", args: args("mode", "delete", "match", "x"),
			result: "false", comment: `File "$N" does not exist or is not a file.`, testRes: "false",
		},
		{
			name: "anchor missing", setup: withFile("a\n"), fun: "file.line", target: "f",
			args:   args("mode", "ensure", "after", "^zzz", "content", "c"),
			result: "false", comment: `Found less than expected occurrences in "after" expression`, testRes: "false",
		},
		{
			name: "anchor ambiguous", setup: withFile("a\na\n"), fun: "file.line", target: "f",
			args:   args("mode", "insert", "before", "a", "content", "c"),
			result: "false", comment: `Found more than expected occurrences in "before" expression`, testRes: "false",
		},
		{
			name: "too much between", setup: withFile("start\n1\n2\nstop\n"), fun: "file.line", target: "f",
			args:   args("mode", "ensure", "after", "start", "before", "stop", "content", "mid"),
			result: "false", comment: `Found more than one line between boundaries "before" and "after".`, testRes: "false",
		},
		{
			name: "ensure without anchors", setup: withFile("a\n"), fun: "file.line", target: "f",
			args:   args("mode", "ensure", "content", "c"),
			result: "false", comment: "Wrong conditions? Unable to ensure line without knowing where to put it before and/or after.", testRes: "false",
		},
		{
			name: "insert without place", setup: withFile("a\n"), fun: "file.line", target: "f",
			args:   args("mode", "insert", "content", "c"),
			result: "false", comment: `On insert must be defined either "location" or "before/after" conditions.`, testRes: "false",
		},
		{
			name: "content required", setup: withFile("a\n"), fun: "file.line", target: "f", args: args("mode", "replace", "match", "a"),
			result: "false", comment: `Content can only be empty if mode is "delete"`, testRes: "false",
		},
		{
			name: "bad regexp", setup: withFile("a\n"), fun: "file.line", target: "f", args: args("mode", "delete", "match", "(["),
			result: "false", comment: "Invalid regular expression \"([\": error parsing regexp: missing closing ]: `[`", testRes: "false",
		},
		{
			name: "show_changes false", setup: withFile("a\n"), fun: "file.line", target: "f",
			args:   args("mode", "delete", "match", "a", "show_changes", false),
			result: "true", comment: "Changes were made", changes: diff("<show_changes=False>"), testRes: "null",
		},
	}
	runCases(t, cases)
}
