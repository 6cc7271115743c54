package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadMinion(t *testing.T) {
	cases := []struct {
		name, text string
		want       *Minion
		wantErr    string
	}{
		{"list roots", "id: m1\nfile_roots: [/a, /b]\npillar_roots: /p\ngrains: {role: web}\n",
			&Minion{ID: "m1", FileRoots: Roots{"/a", "/b"}, PillarRoots: Roots{"/p"}, Grains: map[string]any{"role": "web"}}, ""},
		{"salt env form", "file_roots:\n  base:\n    - /srv/salt\n",
			&Minion{FileRoots: Roots{"/srv/salt"}}, ""},
		{"empty", "", &Minion{}, ""},
		{"other env", "file_roots:\n  dev: [/x]\n", nil, `environment "dev": only base is supported`},
		{"unknown key", "id: m1\nfile_root: /x\n", nil, "field file_root not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "minion")
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := LoadMinion(path)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %v, want one naming %s and %q", err, path, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	if _, err := LoadMinion(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("a missing explicit configuration file is not an error")
	}
}

func TestMinionMapBackupDir(t *testing.T) {
	for _, tt := range []struct {
		name      string
		m         Minion
		dataDir   any
		backupDir any
		hasData   bool
		hasBackup bool
	}{
		{name: "unset", m: Minion{ID: "m1"}},
		{name: "data_dir", m: Minion{DataDir: "/srv/m"}, dataDir: "/srv/m", hasData: true},
		{name: "both", m: Minion{DataDir: "/srv/m", FileBackupDir: "/backup"}, dataDir: "/srv/m", backupDir: "/backup", hasData: true, hasBackup: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.m.Map()
			d, okD := opts["data_dir"]
			b, okB := opts["file_backup_dir"]
			if okD != tt.hasData || d != tt.dataDir || okB != tt.hasBackup || b != tt.backupDir {
				t.Errorf("Map() data_dir=%v (%v) file_backup_dir=%v (%v), want %v (%v) and %v (%v)",
					d, okD, b, okB, tt.dataDir, tt.hasData, tt.backupDir, tt.hasBackup)
			}
		})
	}
}
