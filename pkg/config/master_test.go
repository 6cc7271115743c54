package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadMasterLimits(t *testing.T) {
	for _, c := range []struct {
		name, text  string
		wantSLS     int64
		wantTimeout time.Duration
		wantErr     string
	}{
		{"absent", "data_dir: /d\n", 0, 0, ""},
		{"sls set", "max_sls_bytes: 1048576\n", 1 << 20, 0, ""},
		{"sls negative", "max_sls_bytes: -1\n", 0, 0, "max_sls_bytes is -1: give a positive number of bytes"},
		{"sls not a number", "max_sls_bytes: big\n", 0, 0, "cannot unmarshal"},
		{"timeout duration", "jinja_call_timeout: 2m\n", 0, 2 * time.Minute, ""},
		{"timeout seconds", "jinja_call_timeout: 45\n", 0, 45 * time.Second, ""},
		{"timeout negative", "jinja_call_timeout: -5s\n", 0, 0, "jinja_call_timeout: -5s is negative"},
		{"render limit negative", "jinja_max_steps: -1\n", 0, 0, "must not be negative"},
		{"timeout not a duration", "jinja_call_timeout: soon\n", 0, 0, "expected a duration like 10s or 1h"},
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
			if m.MaxSLSBytes != c.wantSLS || time.Duration(m.JinjaCallTimeout) != c.wantTimeout {
				t.Errorf("max_sls_bytes %d, jinja_call_timeout %s; want %d, %s", m.MaxSLSBytes, time.Duration(m.JinjaCallTimeout), c.wantSLS, c.wantTimeout)
			}
		})
	}
}

func TestLoadMasterEnvs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master")
	text := "file_roots:\n  base: [/srv/b]\n  dev: [/srv/d]\npillar_roots: [/srv/p]\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := LoadMaster(path)
	if err != nil {
		t.Fatal(err)
	}
	got := Environments(m.FileRoots, m.FileEnvs)
	if want := map[string][]string{"base": {"/srv/b"}, "dev": {"/srv/d"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("file environments %v, want %v", got, want)
	}
	if m.PillarEnvs != nil || !reflect.DeepEqual([]string(m.PillarRoots), []string{"/srv/p"}) {
		t.Errorf("pillar roots %v, envs %v; want [/srv/p] and none", m.PillarRoots, m.PillarEnvs)
	}
}
