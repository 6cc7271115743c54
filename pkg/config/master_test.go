package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadMasterMaxSLSBytes(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       int64
		wantErr    string
	}{
		{"absent", "data_dir: /d\n", 0, ""},
		{"set", "max_sls_bytes: 1048576\n", 1 << 20, ""},
		{"negative", "max_sls_bytes: -1\n", 0, "max_sls_bytes is -1: give a positive number of bytes"},
		{"not a number", "max_sls_bytes: big\n", 0, "cannot unmarshal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master")
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := LoadMaster(path)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("LoadMaster = %v, want an error containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.MaxSLSBytes != c.want {
				t.Errorf("MaxSLSBytes = %d, want %d", m.MaxSLSBytes, c.want)
			}
		})
	}
}
