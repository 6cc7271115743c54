package file

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

func currentOwner(t *testing.T) string {
	u, err := user.LookupId(strconv.Itoa(os.Geteuid()))
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	return u.Username + ":" + g.Name
}

func TestAbsent(t *testing.T) {
	cases := []stateCase{
		{
			name:  "file",
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "f"), "x", 0o644) },
			fun:   "file.absent", target: "f",
			result: "true", comment: "Removed file $N", changes: map[string]any{"removed": "$N"},
			testRes: "null", testCmt: "File $N is set for removal",
			check: func(t *testing.T, d string) { wantAbsent(t, filepath.Join(d, "f")) },
		},
		{
			name:  "directory tree",
			setup: func(t *testing.T, d string) { write(t, filepath.Join(d, "dir/sub/f"), "x", 0o644) },
			fun:   "file.absent", target: "dir",
			result: "true", comment: "Removed directory $N", changes: map[string]any{"removed": "$N"},
			testRes: "null", testCmt: "Directory $N is set for removal",
			check: func(t *testing.T, d string) { wantAbsent(t, filepath.Join(d, "dir")) },
		},
		{
			name: "symlink, not its target",
			setup: func(t *testing.T, d string) {
				write(t, filepath.Join(d, "target/f"), "x", 0o644)
				if err := os.Symlink(filepath.Join(d, "target"), filepath.Join(d, "link")); err != nil {
					t.Fatal(err)
				}
			},
			fun: "file.absent", target: "link",
			result: "true", comment: "Removed file $N", changes: map[string]any{"removed": "$N"}, testRes: "null",
			check: func(t *testing.T, d string) {
				wantAbsent(t, filepath.Join(d, "link"))
				wantFile(t, filepath.Join(d, "target/f"), "x")
			},
		},
		{
			name: "not present", fun: "file.absent", target: "nothing",
			result: "true", comment: "File $N is not present", testRes: "true", testCmt: "File $N is not present",
		},
		{
			name: "root", fun: "file.absent", target: "/",
			result: "false", comment: `Refusing to make "/" absent`, testRes: "false",
		},
		{
			name: "relative", fun: "file.absent", target: "rel:x",
			result: "false", comment: "Specified file x is not an absolute path", testRes: "false",
		},
	}
	runCases(t, cases)
}

func TestSymlink(t *testing.T) {
	owner := currentOwner(t)
	target := func(d string) map[string]any { return map[string]any{"target": filepath.Join(d, "real")} }
	withReal := func(t *testing.T, d string) { write(t, filepath.Join(d, "real"), "x", 0o644) }
	linkTo := func(dst string) func(t *testing.T, d string) {
		return func(t *testing.T, d string) {
			withReal(t, d)
			if err := os.Symlink(dst, filepath.Join(d, "link")); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantLink := func(t *testing.T, d string) {
		t.Helper()
		got, err := os.Readlink(filepath.Join(d, "link"))
		if err != nil || got != filepath.Join(d, "real") {
			t.Errorf("link -> %q (%v), want %s", got, err, filepath.Join(d, "real"))
		}
	}
	cases := []stateCase{
		{
			name: "create", setup: withReal, fun: "file.symlink", target: "link", args: target,
			result: "true", comment: "Created new symlink $N -> $D/real", changes: map[string]any{"new": "$N"},
			testRes: "null", testCmt: "Symlink $N to $D/real is set for creation",
			check: wantLink,
		},
		{
			name:  "present",
			setup: func(t *testing.T, d string) { linkTo(filepath.Join(d, "real"))(t, d) },
			fun:   "file.symlink", target: "link", args: target,
			result: "true", comment: "Symlink $N is present and owned by " + owner,
			testRes: "true", testCmt: "The symlink $N is present",
		},
		{
			name: "wrong target", setup: linkTo("/nonexistent"), fun: "file.symlink", target: "link", args: target,
			result: "true", comment: "Created new symlink $N -> $D/real", changes: map[string]any{"new": "$N"},
			testRes: "null", testCmt: "Link $N target is set to be changed to $D/real",
			check: wantLink,
		},
		{
			name: "file in the way", setup: func(t *testing.T, d string) { withReal(t, d); write(t, filepath.Join(d, "link"), "y", 0o644) },
			fun: "file.symlink", target: "link", args: target,
			result: "false", comment: "File exists where the symlink $N should be",
			testRes: "false", testCmt: "File or directory exists where the symlink $N should be. Did you mean to use force?",
			check: func(t *testing.T, d string) { wantFile(t, filepath.Join(d, "link"), "y") },
		},
		{
			name: "force over a file", setup: func(t *testing.T, d string) { withReal(t, d); write(t, filepath.Join(d, "link"), "y", 0o644) },
			fun: "file.symlink", target: "link",
			args: func(d string) map[string]any {
				return map[string]any{"target": filepath.Join(d, "real"), "force": true}
			},
			result: "true", comment: "Created new symlink $N -> $D/real",
			changes: map[string]any{"new": "$N", "forced": "Symlink was forcibly replaced"},
			testRes: "null", testCmt: "The file or directory $N is set for removal to make way for a new symlink targeting $D/real",
			check: wantLink,
		},
		{
			name: "force over a directory", setup: func(t *testing.T, d string) { withReal(t, d); write(t, filepath.Join(d, "link/f"), "y", 0o644) },
			fun: "file.symlink", target: "link",
			args: func(d string) map[string]any {
				return map[string]any{"target": filepath.Join(d, "real"), "force": true}
			},
			result: "true", comment: "Created new symlink $N -> $D/real",
			changes: map[string]any{"new": "$N", "forced": "Symlink was forcibly replaced"}, testRes: "null",
			check: wantLink,
		},
		{
			name: "directory in the way", setup: func(t *testing.T, d string) { mkdirs(t, d, 0o755, "link") },
			fun: "file.symlink", target: "link", args: target,
			result: "false", comment: "Directory exists where the symlink $N should be", testRes: "false",
		},
		{
			name: "makedirs", fun: "file.symlink", target: "a/b/link",
			args:   func(d string) map[string]any { return map[string]any{"target": "../../real", "makedirs": true} },
			result: "true", comment: "Created new symlink $N -> ../../real", changes: map[string]any{"new": "$N"}, testRes: "null",
		},
		{
			name: "parent missing", fun: "file.symlink", target: "a/link", args: target,
			result: "false", comment: "Directory $D/a for symlink is not present", testRes: "null",
		},
		{
			name: "relative", fun: "file.symlink", target: "rel:link", args: target,
			result: "false", comment: "Specified file link is not an absolute path", testRes: "false",
		},
		{
			name: "owned by nobody", root: true, setup: withReal, fun: "file.symlink", target: "link",
			args: func(d string) map[string]any {
				return map[string]any{"target": filepath.Join(d, "real"), "user": "nobody", "group": "daemon"}
			},
			result: "true", comment: "Created new symlink $N -> $D/real", changes: map[string]any{"new": "$N"}, testRes: "null",
			check: func(t *testing.T, d string) {
				wantOwner(t, filepath.Join(d, "link"), 65534, 1)
				wantOwner(t, filepath.Join(d, "real"), 0, 0) // the target is not touched
			},
		},
		{
			name: "ownership change", root: true, fun: "file.symlink", target: "link",
			setup: func(t *testing.T, d string) {
				withReal(t, d)
				if err := os.Symlink(filepath.Join(d, "real"), filepath.Join(d, "link")); err != nil {
					t.Fatal(err)
				}
			},
			args: func(d string) map[string]any {
				return map[string]any{"target": filepath.Join(d, "real"), "user": "nobody"}
			},
			result: "true", comment: "Set ownership of symlink $N to nobody:nogroup", changes: map[string]any{"ownership": "nobody:nogroup"},
			testRes: "null", testCmt: "The symlink $N is present, but the ownership of the symlink would be changed from root:root to nobody:nogroup",
			check: func(t *testing.T, d string) { wantOwner(t, filepath.Join(d, "link"), 65534, 65534) },
		},
	}
	runCases(t, cases)
}
