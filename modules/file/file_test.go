package file

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/brinecm/brine/modules"
)

// TestChecks runs each check on real files of a temporary directory.
func TestChecks(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "app.conf")
	if err := os.WriteFile(conf, []byte("listen 80\nserver_name example.org\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(conf, 0o640); err != nil { // not left to the umask
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.conf")
	if err := os.Symlink(conf, link); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	group := strconv.Itoa(os.Getgid())
	if g, err := user.LookupGroupId(group); err == nil {
		group = g.Name
	}
	tests := []struct {
		fun     string
		args    []any
		kwargs  map[string]any
		want    any
		wantErr string
	}{
		{"file.file_exists", []any{conf}, nil, true, ""},
		{"file.file_exists", []any{link}, nil, true, ""},
		{"file.file_exists", []any{dir}, nil, false, ""},
		{"file.file_exists", []any{missing}, nil, false, ""},
		{"file.directory_exists", []any{dir}, nil, true, ""},
		{"file.directory_exists", []any{conf}, nil, false, ""},
		{"file.contains", []any{conf, "server_name example.org"}, nil, true, ""},
		{"file.contains", []any{conf, "listen 443"}, nil, false, ""},
		{"file.contains", []any{missing, "x"}, nil, false, ""},
		{"file.contains", []any{dir, "x"}, nil, nil, "not a regular file"},
		{"file.search", []any{conf, `listen\s+\d+`}, nil, true, ""},
		{"file.search", []any{conf, `^server_name`}, nil, false, ""},
		{"file.search", []any{conf, `^server_name`}, map[string]any{"multiline": true}, true, ""},
		{"file.search", []any{conf, `(`}, nil, nil, "not a valid regular expression"},
		{"file.search", []any{missing, `x`}, nil, nil, "no such file"},
		{"file.search", []any{missing, `x`}, map[string]any{"ignore_if_missing": true}, false, ""},
		{"file.get_mode", []any{conf}, nil, "0640", ""},
		{"file.get_mode", []any{missing}, nil, nil, "path not found"},
		{"file.get_user", []any{conf}, nil, me.Username, ""},
		{"file.get_group", []any{conf}, nil, group, ""},
	}
	rt := &modules.Runtime{}
	for _, tt := range tests {
		t.Run(tt.fun+" "+filepath.Base(tt.args[0].(string)), func(t *testing.T) {
			got, err := modules.Call(context.Background(), rt, tt.fun, tt.args, tt.kwargs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("%s%v: error %v, want one containing %q", tt.fun, tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("%s%v = %#v, %v; want %#v", tt.fun, tt.args, got, err, tt.want)
			}
		})
	}
}

// TestPathHelpers checks file.dirname and file.basename against Python's
// os.path semantics.
func TestPathHelpers(t *testing.T) {
	tests := []struct{ path, dir, base string }{
		{"/home/alice", "/home", "alice"},
		{"/home/alice/", "/home/alice", ""},
		{"alice", "", "alice"},
		{"/", "/", ""},
		{"//x", "//", "x"},
		{"a//b", "a", "b"},
	}
	for _, tc := range tests {
		for fun, want := range map[string]string{"file.dirname": tc.dir, "file.basename": tc.base} {
			got, err := modules.Call(context.Background(), &modules.Runtime{}, fun, []any{tc.path}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s(%q) = %q, want %q", fun, tc.path, got, want)
			}
		}
	}
}
