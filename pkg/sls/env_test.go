package sls

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// TestSourceEnvs reads salt:// files of several environments: the query
// names the environment, a view of an environment (a state of that
// environment) reads it by default, an unknown environment is an error
// naming the environments that exist.
func TestSourceEnvs(t *testing.T) {
	dir := "testdata/envs"
	c := New(Config{FileRoots: []string{filepath.Join(dir, "tree")}, ID: "web1",
		FileEnvs: envDirs(t, filepath.Join(dir, "envs"))})
	ctx := context.Background()
	for _, tc := range []struct {
		name, url string
		view      string // read through InSaltenv(view) when set
		want      string // a substring of the file read
		err       string
		notExist  bool
	}{
		{name: "base by default", url: "salt://common.sls", want: "common_{{ saltenv }}"},
		{name: "query", url: "salt://common.sls?saltenv=dev", want: "dev_common"},
		{name: "old env query", url: "salt://app.sls?env=prod", want: "app_"},
		{name: "view", url: "salt://common.sls", view: "dev", want: "dev_common"},
		{name: "query over view", url: "salt://common.sls?saltenv=base", view: "dev", want: "common_{{ saltenv }}"},
		{name: "escaped name keeps its query", url: "salt://|app.sls?saltenv=prod", view: "prod", notExist: true},
		{name: "not in that env", url: "salt://app.sls", view: "dev", notExist: true},
		{name: "unknown env", url: "salt://app.sls?saltenv=qa",
			err: "saltenv 'qa' does not exist: the environments of file_roots are base, dev, prod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b []byte
			var err error
			if tc.view != "" {
				b, err = c.InSaltenv(tc.view).Source(ctx, tc.url)
			} else {
				b, err = c.Source(ctx, tc.url)
			}
			switch {
			case tc.notExist:
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("Source(%s) = %q, %v; want a not-exist error", tc.url, b, err)
				}
			case tc.err != "":
				var ue *UnknownEnvError
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &ue) {
					t.Fatalf("Source(%s) error %v, want an UnknownEnvError holding %q", tc.url, err, tc.err)
				}
			case err != nil:
				t.Fatalf("Source(%s): %v", tc.url, err)
			case !strings.Contains(string(b), tc.want):
				t.Errorf("Source(%s) = %q, want it to hold %q", tc.url, b, tc.want)
			}
		})
	}
}

// TestSourceListEnvs lists and stats directories of another environment.
func TestSourceListEnvs(t *testing.T) {
	dir := "testdata/envs"
	c := New(Config{FileRoots: []string{filepath.Join(dir, "tree")}, FileEnvs: envDirs(t, filepath.Join(dir, "envs"))})
	ctx := context.Background()
	got, err := c.InSaltenv("prod").SourceList(ctx, "salt://")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"app.sls", "extra.sls", "top.sls"}; !reflect.DeepEqual(got, want) {
		t.Errorf("prod listing %v, want %v", got, want)
	}
	if _, err := c.SourceList(ctx, "salt://?saltenv=nope"); err == nil || !strings.Contains(err.Error(), "saltenv 'nope' does not exist") {
		t.Errorf("listing an unknown env: %v", err)
	}
	fi, err := c.SourceStat(ctx, "salt://web.sls?saltenv=dev")
	if err != nil || fi.IsDir() {
		t.Errorf("stat of dev's web.sls: %v, %v", fi, err)
	}
	d, err := c.InSaltenv("dev").SourceDir(ctx, "salt://conf")
	if want := filepath.Join(dir, "envs", "dev", "conf"); err != nil || d != want {
		t.Errorf("SourceDir in dev = %q, %v; want %q", d, err, want)
	}
	out, err := c.InSaltenv("prod").Render(ctx, "jinja", "x", []byte("{{ saltenv }}"), nil)
	if err != nil || string(out) != "prod" {
		t.Errorf("render in prod = %q, %v; want prod", out, err)
	}
}

// TestEnvFiles reads another environment of a tree given as file systems
// (a minion's view of its master's trees).
func TestEnvFiles(t *testing.T) {
	base := fstest.MapFS{"a.sls": {Data: []byte("a_{{ saltenv }}:\n  test.nop: []\n")}}
	dev := fstest.MapFS{"a.sls": {Data: []byte("dev_a_{{ saltenv }}:\n  test.nop: []\n")}}
	asked := []string{}
	c := New(Config{Files: base, Saltenv: "dev", EnvFiles: func(env string) fs.FS {
		asked = append(asked, env)
		return dev
	}})
	lows, err := c.SLS(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(lows) != 1 || lows[0].ID != "dev_a_dev" || lows[0].Env != "dev" {
		t.Errorf("lows %+v, want dev_a_dev of env dev", lows)
	}
	if !reflect.DeepEqual(asked, []string{"dev"}) {
		t.Errorf("EnvFiles asked for %v, want [dev] once", asked)
	}
	if _, err := New(Config{Files: base}).Source(context.Background(), "salt://a.sls?saltenv=dev"); err == nil ||
		!strings.Contains(err.Error(), "the environments of file_roots are base") {
		t.Errorf("another env without EnvFiles: %v", err)
	}
}

// TestTopEnvItems: an item {env: sls} of a top file target names an SLS
// of that environment; a key that is no environment is refused, naming
// those that exist.
func TestTopEnvItems(t *testing.T) {
	for _, tc := range []struct {
		name, top string
		want      map[string][]string
		err       string
	}{
		{name: "env item", top: "base:\n  '*':\n    - a\n    - dev: b\n", want: map[string][]string{"base": {"a"}, "dev": {"b"}}},
		{name: "unknown key", top: "base:\n  '*':\n    - a\n    - qa: b\n",
			err: `top.sls:4: target "*": unknown option "qa" (want match, ignore_missing or an environment: base, dev)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Config{Files: fstest.MapFS{"top.sls": {Data: []byte(tc.top)}}, ID: "m1",
				FileEnvs: map[string][]string{"dev": nil}, EnvFiles: func(string) fs.FS { return fstest.MapFS{} }})
			envs, _, err := c.TopEnvs(context.Background())
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(envs, tc.want) {
				t.Errorf("TopEnvs = %v, %v; want %v", envs, err, tc.want)
			}
		})
	}
}
