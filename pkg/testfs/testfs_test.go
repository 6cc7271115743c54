package testfs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTemp(t *testing.T) {
	dir := Temp(t, map[string]string{"a/b/c.txt": "c\n", "top": "t"})
	for name, want := range map[string]string{"a/b/c.txt": "c\n", "top": "t"} {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "top"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("top: %v, %v; want mode 0644", fi, err)
	}
}
