package sls

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/brinecm/brine/pkg/testfs"
)

func TestScalarConversion(t *testing.T) {
	tests := []struct {
		src  string
		want any
	}{
		{"v: 0644", 644},
		{"v: 0755", 755},
		{"v: 0800", 800},
		{"v: -0644", -644},
		{"v: 0", 0},
		{"v: 42", 42},
		{"v: 0x1F", 31},
		{"v: 0o17", "0o17"}, // YAML 1.1, as Salt reads it, has no 0o integers: file modes parse it
		{"v: 1_000", 1000},
		{"v: 1.5", 1.5},
		{"v: 1e3", 1000.0},
		{"v: .inf", math.Inf(1)},
		{"v: -.inf", math.Inf(-1)},
		{"v: yes", true},
		{"v: No", false},
		{"v: on", true},
		{"v: OFF", false},
		{"v: True", true},
		{"v: false", false},
		{"v: 'yes'", "yes"},
		{`v: "on"`, "on"},
		{"v: !!str yes", "yes"},
		{"v: y", "y"},
		{"v: ~", nil},
		{"v:", nil},
		{"v: null", nil},
		{"v: '0644'", "0644"},
		{"v: 2001-12-14", "2001-12-14"},
		{"v: 99999999999999999999", 1e20},
		{"v: [1, a]", []any{1, "a"}},
		{"v: {a: 1}", map[string]any{"a": 1}},
		{"v: |\n  line\n", "line\n"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			var errs Errors
			root, perr := parseYAML("t.sls", []byte(tt.src))
			if perr != nil {
				t.Fatal(perr)
			}
			got := newParser("t.sls", &errs).value(root).(map[string]any)["v"]
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
	t.Run("nan", func(t *testing.T) {
		var errs Errors
		root, _ := parseYAML("t.sls", []byte("v: .nan"))
		got := newParser("t.sls", &errs).value(root).(map[string]any)["v"]
		if f, ok := got.(float64); !ok || !math.IsNaN(f) {
			t.Errorf("got %#v, want NaN", got)
		}
	})
}

func TestAliasBomb(t *testing.T) {
	src := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := range 8 {
		name := fmt.Sprintf("b%d", i)
		src += fmt.Sprintf("%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	src += "bomb:\n  test.nop:\n    - data: *" + prev + "\n"
	dir := testfs.Temp(t, map[string]string{"bomb.sls": src})
	_, err := New(Config{FileRoots: []string{dir}}).SLS(context.Background(), "bomb")
	if err == nil || !strings.Contains(err.Error(), "document too large") {
		t.Fatalf("want a too-large error, got %v", err)
	}
}

func TestRelativeSLS(t *testing.T) {
	tests := []struct {
		from, file, inc, want string
		ok                    bool
	}{
		{"web", "web/init.sls", ".nginx", "web.nginx", true},
		{"web.nginx", "web/nginx.sls", ".php", "web.php", true},
		{"web.nginx", "web/nginx.sls", "..common", "common", true},
		{"web.nginx", "web/nginx/init.sls", "..php", "web.php", true},
		{"web.nginx", "web/nginx/init.sls", "...common", "common", true},
		{"top", "top.sls", ".x", "x", true},
		{"top", "top.sls", "..x", "", false},
		{"web", "web/init.sls", ".", "web", true},
		{"web", "web.sls", ".", "", false},
	}
	for _, tt := range tests {
		got, ok := relativeSLS(tt.from, tt.file, tt.inc)
		if got != tt.want || ok != tt.ok {
			t.Errorf("relativeSLS(%q, %q, %q) = %q, %v; want %q, %v", tt.from, tt.file, tt.inc, got, ok, tt.want, tt.ok)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	es := Errors{
		{Pos: Pos{File: "web/init.sls", Line: 12}, ID: "nginx", Msg: "bad"},
		{Pos: Pos{File: "a.sls", Line: 3}, Msg: "first"},
		{Msg: "no position"},
		{Pos: Pos{File: "a.sls", Line: 1}, ID: "x", Msg: "earlier"},
	}
	want := "no position\na.sls:1: x: earlier\na.sls:3: first\nweb/init.sls:12: nginx: bad"
	if got := es.Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if es[0].Msg != "bad" {
		t.Error("Error() reordered the receiver")
	}
}

// countingFS counts how often each file is opened.
type countingFS struct {
	fs.FS
	mu     sync.Mutex
	counts map[string]int
}

func (c *countingFS) Open(name string) (fs.File, error) {
	c.mu.Lock()
	c.counts[name]++
	c.mu.Unlock()
	return c.FS.Open(name)
}

func TestMapReadOncePerRun(t *testing.T) {
	files := map[string]string{
		"map.jinja": "{% set m = {'pkg': grains['os'] ~ '-pkg'} %}\n",
		"data.yaml": "port: 80\n",
		"top.sls":   "base:\n  '*':\n",
	}
	for i := range 20 {
		name := fmt.Sprintf("s%02d", i)
		files[name+".sls"] = fmt.Sprintf("{%% from 'map.jinja' import m with context %%}\n{%% import_yaml 'data.yaml' as d %%}\nid%d:\n  pkg.installed:\n    - name: {{ m.pkg }}\n    - port: {{ d.port }}\n", i)
		files["top.sls"] += "    - " + name + "\n"
	}
	dir := testfs.Temp(t, files)
	c := New(Config{FileRoots: []string{dir}, ID: "m1", Grains: map[string]any{"os": "Debian"}})
	cfs := &countingFS{FS: c.states.roots[0], counts: map[string]int{}}
	c.states.roots[0] = cfs
	lows, err := c.Highstate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(lows) != 20 {
		t.Fatalf("got %d lows, want 20", len(lows))
	}
	for _, l := range lows {
		if l.Name != "Debian-pkg" || l.Args["port"] != 80 {
			t.Errorf("%s: name %q port %v", l.ID, l.Name, l.Args["port"])
		}
	}
	if n := cfs.counts["map.jinja"]; n != 1 {
		t.Errorf("map.jinja read %d times, want 1", n)
	}
	if n := cfs.counts["data.yaml"]; n != 1 {
		t.Errorf("data.yaml read %d times, want 1", n)
	}
	// Templates rendered by states (file.managed) share the run's cache.
	out, err := c.Render(context.Background(), "jinja", "motd", []byte("{% from 'map.jinja' import m with context %}{{ m.pkg }} {{ who }}"), map[string]any{"who": "me"})
	if err != nil || string(out) != "Debian-pkg me" {
		t.Errorf("Render = %q, %v", out, err)
	}
	if n := cfs.counts["map.jinja"]; n != 1 {
		t.Errorf("map.jinja read %d times after Render, want 1", n)
	}
}

func TestSourceAndRender(t *testing.T) {
	dir := testfs.Temp(t, map[string]string{
		"web/nginx.conf": "worker {{ grains['os'] }} {{ pillar['port'] }}\n",
	})
	local := filepath.Join(t.TempDir(), "local.txt")
	if err := os.WriteFile(local, []byte("local"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := New(Config{FileRoots: []string{t.TempDir(), dir}, Grains: map[string]any{"os": "Debian"}, Pillar: map[string]any{"port": 8080}})
	ctx := context.Background()
	tests := []struct {
		url, want, err string
	}{
		{url: "salt://web/nginx.conf", want: "worker {{ grains['os'] }} {{ pillar['port'] }}\n"},
		{url: "brine://web/nginx.conf?saltenv=base", want: "worker {{ grains['os'] }} {{ pillar['port'] }}\n"},
		{url: local, want: "local"},
		{url: "salt://../../etc/passwd", err: "not exist"},
		{url: "salt://missing", err: "not exist"},
		{url: "web/nginx.conf", err: "want salt://"},
	}
	for _, tt := range tests {
		got, err := c.Source(ctx, tt.url)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Source(%q) error %v, want %q", tt.url, err, tt.err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("Source(%q) = %q, %v", tt.url, got, err)
		}
	}
	src, _ := c.Source(ctx, "salt://web/nginx.conf")
	renders := []struct {
		engine, want, err string
	}{
		{engine: "jinja", want: "worker Debian 8080\n"},
		{engine: "", want: string(src)},
		{engine: "none", want: string(src)},
		{engine: "mako", err: "unsupported template engine"},
	}
	for _, tt := range renders {
		got, err := c.Render(ctx, tt.engine, "web/nginx.conf", src, nil)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Render(%q) error %v, want %q", tt.engine, err, tt.err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("Render(%q) = %q, %v", tt.engine, got, err)
		}
	}
}

func TestCallerErrors(t *testing.T) {
	dir := testfs.Temp(t, map[string]string{
		"a.sls": "x:\n  test.nop:\n    - v: {{ salt['cmd.run']('id') }}\n",
	})
	_, err := New(Config{FileRoots: []string{dir}}).SLS(context.Background(), "a")
	if err == nil || !strings.Contains(err.Error(), "a.sls") || !strings.Contains(err.Error(), "cmd.run") {
		t.Fatalf("want an error naming a.sls and cmd.run, got %v", err)
	}
}

func TestHighstateWithoutTop(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no top file", map[string]string{"a.sls": ""}, "no top.sls found"},
		{"no match", map[string]string{"top.sls": "base:\n  'db*': [a]\n"}, `no top file match for minion "web1"`},
		{"missing sls", map[string]string{"top.sls": "base:\n  '*': [nope]\n"}, "top.sls:2: No matching sls found for 'nope' in env 'base'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testfs.Temp(t, tt.files)
			_, err := New(Config{FileRoots: []string{dir}, ID: "web1"}).Highstate(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCanceled(t *testing.T) {
	dir := testfs.Temp(t, map[string]string{"a.sls": "x: test.nop\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New(Config{FileRoots: []string{dir}}).SLS(ctx, "a")
	if !strings.Contains(fmt.Sprint(err), context.Canceled.Error()) {
		t.Fatalf("got %v, want a cancellation error", err)
	}
}

func TestFileRootsOrder(t *testing.T) {
	first := testfs.Temp(t, map[string]string{"web/init.sls": "first_init: test.nop\n"})
	second := testfs.Temp(t, map[string]string{"web.sls": "second: test.nop\n", "only.sls": "only: test.nop\n"})
	lows, err := New(Config{FileRoots: []string{first, second}}).SLS(context.Background(), "web", "only")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range lows {
		ids = append(ids, l.ID)
	}
	// web.sls wins over web/init.sls whatever the root, as Salt's file server does.
	if want := []string{"second", "only"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("got %v, want %v", ids, want)
	}
}

func TestErrorsAs(t *testing.T) {
	dir := testfs.Temp(t, map[string]string{"a.sls": "x: test.nop\nx: test.nop\n"})
	_, err := New(Config{FileRoots: []string{dir}}).SLS(context.Background(), "a")
	es, ok := errors.AsType[Errors](err)
	if !ok || len(es) != 1 || es[0].Pos != (Pos{File: "a.sls", Line: 2}) {
		t.Fatalf("got %#v", err)
	}
}
