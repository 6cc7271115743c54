package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadMasterJinjaCallTimeout(t *testing.T) {
	cases := []struct {
		name, text string
		want       time.Duration
		wantErr    string
	}{
		{"unset", "timeout: 5s\n", 0, ""},
		{"duration", "jinja_call_timeout: 2m\n", 2 * time.Minute, ""},
		{"seconds", "jinja_call_timeout: 45\n", 45 * time.Second, ""},
		{"negative", "jinja_call_timeout: -5s\n", 0, "jinja_call_timeout: -5s is negative"},
		{"not a duration", "jinja_call_timeout: soon\n", 0, "expected a duration like 10s or 1h"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master")
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := LoadMaster(path)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(m.JinjaCallTimeout); got != c.want {
				t.Errorf("jinja_call_timeout %s, want %s", got, c.want)
			}
		})
	}
}
