package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
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
		{"alive interval in seconds, as Salt", "master_alive_interval: 10\n", &Minion{MasterAliveInterval: Duration(10 * time.Second)}, ""},
		{"alive interval as a duration", "master_alive_interval: 1m\n", &Minion{MasterAliveInterval: Duration(time.Minute)}, ""},
		{"several envs", "file_roots:\n  base: [/srv/base]\n  dev: /srv/dev\n  prod: [/srv/prod, /srv/common]\npillar_roots:\n  base: /p\n  dev: [/pd]\n",
			&Minion{FileRoots: Roots{"/srv/base"}, FileEnvs: Envs{"dev": {"/srv/dev"}, "prod": {"/srv/prod", "/srv/common"}},
				PillarRoots: Roots{"/p"}, PillarEnvs: Envs{"dev": {"/pd"}}}, ""},
		{"other env only", "file_roots:\n  dev: [/x]\n", &Minion{FileEnvs: Envs{"dev": {"/x"}}}, ""},
		{"bad env name", "file_roots:\n  dev/x: [/x]\n", nil, `line 2: environment "dev/x": an environment name is a plain word`},
		{"env of a mapping", "pillar_roots:\n  dev: {a: b}\n", nil, `line 2: environment "dev": expected a directory or a list of directories`},
		{"unknown key", "id: m1\nfile_root: /x\n", nil, "field file_root not found"},
		{"top file keys", "file_roots:\n  base: /b\n  dev: /d\ntop_file_merging_strategy: same\nenv_order: [dev, base]\ndefault_top: dev\nstate_top_saltenv: base\n",
			&Minion{FileRoots: Roots{"/b"}, FileEnvs: Envs{"dev": {"/d"}}, TopFiles: TopFiles{TopFileMergingStrategy: "same",
				EnvOrder: []string{"dev", "base"}, DefaultTop: "dev", StateTopSaltenv: "base"}}, ""},
		{"unknown strategy", "top_file_merging_strategy: first\n", nil, `top_file_merging_strategy "first": want merge, same or merge_all`},
		{"env_order names an environment file_roots lacks", "file_roots:\n  base: /b\n  dev: /d\nenv_order: [base, prod]\n", nil,
			`env_order: environment "prod" is not in file_roots (it has [base dev])`},
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

func TestMinionMapEnvs(t *testing.T) {
	m := Minion{FileRoots: Roots{"/b"}, FileEnvs: Envs{"dev": {"/d"}, "base": {"/ignored"}}, PillarRoots: Roots{"/p"}}
	opts := m.Map()
	want := map[string]any{"base": []any{"/b"}, "dev": []any{"/d"}}
	if !reflect.DeepEqual(opts["file_roots"], want) {
		t.Errorf("file_roots %v, want %v", opts["file_roots"], want)
	}
	if want := map[string]any{"base": []any{"/p"}}; !reflect.DeepEqual(opts["pillar_roots"], want) {
		t.Errorf("pillar_roots %v, want %v", opts["pillar_roots"], want)
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
