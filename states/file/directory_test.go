package file

import (
	"os"
	"path/filepath"
	"testing"
)

func args(kv ...any) func(string) map[string]any {
	return func(string) map[string]any {
		out := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
}

func mkdirs(t *testing.T, d string, mode os.FileMode, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Join(d, p), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(d, p), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// cleanTree is a directory "srv" with files clean must keep or remove.
func cleanTree(t *testing.T, d string) {
	for _, f := range []string{"srv/a", "srv/b", "srv/sub/c", "srv/sub/d", "srv/other/e", "srv/z.keep", "srv/req/inside/x"} {
		write(t, filepath.Join(d, f), f, 0o644)
	}
	write(t, filepath.Join(d, "outside/precious"), "x", 0o644)
	if err := os.Symlink(filepath.Join(d, "outside"), filepath.Join(d, "srv/link")); err != nil {
		t.Fatal(err)
	}
}

func TestDirectory(t *testing.T) {
	cases := []stateCase{
		{
			name: "create", fun: "file.directory", target: "srv",
			result: "true", comment: "Directory $N updated", changes: map[string]any{"$N": "New Dir"},
			testRes: "null", testCmt: "The following files will be changed:\n$N: directory - new\n",
			check: func(t *testing.T, d string) {
				fi, err := os.Stat(filepath.Join(d, "srv"))
				if err != nil || !fi.IsDir() {
					t.Fatalf("srv is not a directory: %v", err)
				}
			},
		},
		{
			name: "create with mode", fun: "file.directory", target: "srv", args: args("mode", 750),
			result: "true", comment: "Directory $N updated", changes: map[string]any{"$N": "New Dir"}, testRes: "null",
			check: func(t *testing.T, d string) { wantMode(t, filepath.Join(d, "srv"), 0o750) },
		},
		{
			name: "trailing slash", fun: "file.directory", target: "srv/",
			result: "true", comment: "Directory $D/srv updated", changes: map[string]any{"$D/srv": "New Dir"}, testRes: "null",
		},
		{
			name:  "exists",
			setup: func(t *testing.T, d string) { mkdirs(t, d, 0o755, "srv") },
			fun:   "file.directory", target: "srv", args: args("dir_mode", "0755"),
			result: "true", comment: "Directory $N is in the correct state",
			testRes: "true", testCmt: "The directory $N is in the correct state",
		},
		{
			name:  "mode change",
			setup: func(t *testing.T, d string) { mkdirs(t, d, 0o700, "srv") },
			fun:   "file.directory", target: "srv", args: args("dir_mode", "0755"),
			result: "true", comment: "Directory $N updated", changes: map[string]any{"mode": "0755"},
			testRes: "null", testCmt: "The following files will be changed:\n$N: mode - 0755\n",
			check: func(t *testing.T, d string) { wantMode(t, filepath.Join(d, "srv"), 0o755) },
		},
		{
			name: "makedirs", fun: "file.directory", target: "a/b/srv", args: args("makedirs", true, "mode", "0700"),
			result: "true", comment: "Directory $N updated", changes: map[string]any{"$N": "New Dir"}, testRes: "null",
			check: func(t *testing.T, d string) {
				wantMode(t, filepath.Join(d, "a/b/srv"), 0o700)
				wantMode(t, filepath.Join(d, "a"), 0o700)
			},
		},
		{
			name: "parent missing", fun: "file.directory", target: "a/srv",
			result: "false", comment: "No directory to create $N in", testRes: "null",
		},
		{
			name:  "exists as a file",
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "srv"), "", 0o644) },
			fun:   "file.directory", target: "srv",
			result: "false", comment: "Specified location $N exists and is a file", testRes: "false",
		},
		{
			name: "relative", fun: "file.directory", target: "rel:srv",
			result: "false", comment: "Specified file srv is not an absolute path", testRes: "false",
		},
		{
			name:  "clean keeps required, their parents and excluded",
			setup: cleanTree,
			fun:   "file.directory", target: "srv", args: args("clean", true, "exclude_pat", "*.keep"),
			required: []string{"srv/a", "srv/sub/c", "srv/req"},
			result:   "true", comment: "Files cleaned from directory $N",
			changes: map[string]any{"removed": []string{"$N/b", "$N/link", "$N/other", "$N/sub/d"}},
			testRes: "null",
			testCmt: "The following files will be changed:\n" +
				"$N/b: removed - Removed due to clean\n$N/link: removed - Removed due to clean\n" +
				"$N/other: removed - Removed due to clean\n$N/sub/d: removed - Removed due to clean\n",
			check: func(t *testing.T, d string) {
				for _, keep := range []string{"srv/a", "srv/sub/c", "srv/z.keep", "srv/req/inside/x"} {
					if _, err := os.Stat(filepath.Join(d, keep)); err != nil {
						t.Errorf("clean removed %s", keep)
					}
				}
				for _, gone := range []string{"srv/b", "srv/sub/d", "srv/other", "srv/link"} {
					wantAbsent(t, filepath.Join(d, gone))
				}
				if _, err := os.Stat(filepath.Join(d, "outside/precious")); err != nil {
					t.Errorf("clean followed a symlink out of the directory: %v", err)
				}
			},
		},
		{
			// Salt judges each path on its own: sub is not excluded, so it
			// goes whole, sub/d with it.
			name:  "clean with regexp exclude judges each path",
			setup: cleanTree,
			fun:   "file.directory", target: "srv", args: args("clean", true, "exclude_pat", `E@^sub/d$`),
			required: []string{"srv/a"},
			result:   "true", comment: "Files cleaned from directory $N",
			changes: map[string]any{"removed": []string{"$N/b", "$N/link", "$N/other", "$N/req", "$N/sub", "$N/z.keep"}},
			testRes: "null",
			check: func(t *testing.T, d string) {
				wantAbsent(t, filepath.Join(d, "srv/sub"))
			},
		},
		{
			// Salt's test_directory_clean_exclude: an excluded directory
			// stays, the files in it that the pattern does not match go.
			name: "clean removes a file in an excluded directory",
			setup: func(t *testing.T, d string) {
				for _, f := range []string{"srv/strayfile", "srv/straydir/strayfile2", "srv/straydir/keepfile"} {
					write(t, filepath.Join(d, f), "", 0o644)
				}
			},
			fun: "file.directory", target: "srv", args: args("clean", true, "exclude_pat", `E@^straydir(|/keepfile)$`),
			result: "true", comment: "Files cleaned from directory $N",
			changes: map[string]any{"removed": []string{"$N/straydir/strayfile2", "$N/strayfile"}},
			testRes: "null",
			testCmt: "The following files will be changed:\n" +
				"$N/straydir/strayfile2: removed - Removed due to clean\n$N/strayfile: removed - Removed due to clean\n",
			check: func(t *testing.T, d string) {
				wantAbsent(t, filepath.Join(d, "srv/strayfile"))
				wantAbsent(t, filepath.Join(d, "srv/straydir/strayfile2"))
				wantFile(t, filepath.Join(d, "srv/straydir/keepfile"), "")
			},
		},
		{
			name: "recurse mode",
			setup: func(t *testing.T, d string) {
				mkdirs(t, d, 0o755, "srv/sub")
				write(t, filepath.Join(d, "srv/sub/f"), "x", 0o644)
				write(t, filepath.Join(d, "srv/g"), "x", 0o640)
			},
			fun: "file.directory", target: "srv", args: args("dir_mode", "0750", "file_mode", "0640", "recurse", []any{"mode"}),
			result: "true", comment: "Directory $N updated",
			changes: map[string]any{"mode": "0750", "$N/sub": map[string]any{"mode": "0750"}, "$N/sub/f": map[string]any{"mode": "0640"}},
			testRes: "null",
			testCmt: "The following files will be changed:\n$N: mode - 0750\n$N/sub: mode - 0750\n$N/sub/f: mode - 0640\n",
			check: func(t *testing.T, d string) {
				wantMode(t, filepath.Join(d, "srv/sub"), 0o750)
				wantMode(t, filepath.Join(d, "srv/sub/f"), 0o640)
			},
		},
		{
			name: "recurse ignore_files",
			setup: func(t *testing.T, d string) {
				mkdirs(t, d, 0o755, "srv/sub")
				write(t, filepath.Join(d, "srv/f"), "x", 0o644)
			},
			fun: "file.directory", target: "srv", args: args("dir_mode", "0700", "file_mode", "0600", "recurse", []any{"mode", "ignore_files"}),
			result: "true", comment: "Directory $N updated",
			changes: map[string]any{"mode": "0700", "$N/sub": map[string]any{"mode": "0700"}}, testRes: "null",
			check: func(t *testing.T, d string) { wantMode(t, filepath.Join(d, "srv/f"), 0o644) },
		},
		{
			name: "bad recurse", fun: "file.directory", target: "srv", args: args("recurse", []any{"colour"}),
			result: "false", testRes: "false",
			comment: `Types for 'recurse' must be one of user, group, mode, ignore_files, ignore_dirs; got "colour"`,
		},
		{
			name: "owner", root: true,
			setup: func(t *testing.T, d string) { mkdirs(t, d, 0o755, "srv/sub") },
			fun:   "file.directory", target: "srv", args: args("user", "nobody", "group", "daemon", "recurse", []any{"user", "group"}),
			result: "true", comment: "Directory $N updated",
			changes: map[string]any{"user": "nobody", "group": "daemon", "$N/sub": map[string]any{"user": "nobody", "group": "daemon"}},
			testRes: "null",
			check: func(t *testing.T, d string) {
				wantOwner(t, filepath.Join(d, "srv"), 65534, 1)
				wantOwner(t, filepath.Join(d, "srv/sub"), 65534, 1)
			},
		},
		{
			name: "new directory owned by nobody", root: true, fun: "file.directory", target: "a/srv",
			args:   args("user", "nobody", "group", "nogroup", "makedirs", true),
			result: "true", comment: "Directory $N updated", changes: map[string]any{"$N": "New Dir"}, testRes: "null",
			check: func(t *testing.T, d string) {
				wantOwner(t, filepath.Join(d, "a/srv"), 65534, 65534)
				wantOwner(t, filepath.Join(d, "a"), 65534, 65534)
			},
		},
	}
	runCases(t, cases)
}

func TestCompileExclude(t *testing.T) {
	tests := []struct {
		pat, path string
		want      bool
	}{
		{"*.keep", "z.keep", true},
		{"*.keep", "sub/z.keep", true}, // '*' crosses '/', as in fnmatch
		{"*.keep", "z.keeper", false},
		{"sub/?", "sub/d", true},
		{"[ab]*", "b", true},
		{"[!ab]*", "b", false},
		{"E@^sub/", "sub/x", true},
		{"E@^sub/", "other/sub/x", false},
		{"a.b", "axb", false},
	}
	for _, tt := range tests {
		re, err := compileExclude(tt.pat)
		if err != nil {
			t.Fatalf("%s: %v", tt.pat, err)
		}
		if got := re.MatchString(tt.path); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pat, tt.path, got, tt.want)
		}
	}
}
