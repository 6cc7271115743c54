package cp

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/brinecm/brine/modules"
)

func TestListMaster(t *testing.T) {
	r1, r2 := t.TempDir(), t.TempDir()
	for _, f := range []string{"users/files/user/alice/.vimrc", "users/files/user/bob/x", "users/init.sls"} {
		writeFile(t, filepath.Join(r1, f))
	}
	writeFile(t, filepath.Join(r2, "users/files/user/carol/y"))
	rt := &modules.Runtime{FileRoots: []string{r1, r2, filepath.Join(r1, "missing")}}
	tests := []struct {
		fun    string
		kwargs map[string]any
		want   []any
	}{
		{"cp.list_master_dirs", map[string]any{"prefix": "users/files/user/"},
			[]any{"users/files/user/alice", "users/files/user/bob", "users/files/user/carol"}},
		{"cp.list_master_dirs", nil, []any{"users", "users/files", "users/files/user", "users/files/user/alice",
			"users/files/user/bob", "users/files/user/carol"}},
		{"cp.list_master", map[string]any{"prefix": "users/"}, []any{"users/files/user/alice/.vimrc", "users/files/user/bob/x", "users/files/user/carol/y", "users/init.sls"}},
	}
	for _, tc := range tests {
		got, err := modules.Call(context.Background(), rt, tc.fun, nil, tc.kwargs)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s(%v) = %v, want %v", tc.fun, tc.kwargs, got, tc.want)
		}
	}
	if _, err := modules.Call(context.Background(), rt, "cp.list_master", []any{"prod"}, nil); err == nil {
		t.Error("saltenv prod was accepted")
	}
}

func writeFile(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}
