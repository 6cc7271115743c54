package sls

import (
	"context"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/testfs"
)

// TestTemplateGets renders grains.get, pillar.get and config.get calls with
// Salt's arguments through the compiler that answers them.
func TestTemplateGets(t *testing.T) {
	pillarDir := testfs.Temp(t, map[string]string{
		"top.sls": "base:\n  '*':\n    - app\n",
		"app.sls": "app:\n  port: 8080\n  users: [bob]\nlst: [b, c]\nshared: pillar\nmaster:\n  from_master: m\n",
	})
	c := New(Config{PillarRoots: []string{pillarDir}, ID: "m1",
		Grains: map[string]any{"os": "Debian", "shared": "grains", "deep": map[string]any{"k": "v"}},
		Opts:   map[string]any{"shared": "opts", "only_opts": 1}})
	tests := []struct {
		tmpl, want, err string
	}{
		{tmpl: `{{ salt['grains.get']('deep.k', 'd', '.') }}`, want: "v"},
		{tmpl: `{{ salt['grains.get']('deep:nope', delimiter=':', default='d') }}`, want: "d"},
		{tmpl: `{{ salt['pillar.get']('app:port') }}`, want: "8080"},
		{tmpl: `{{ salt['pillar.get']('app', {'host': 'h', 'port': 1}, merge=True) | tojson }}`,
			want: `{"host": "h", "port": 8080, "users": ["bob"]}`},
		{tmpl: `{{ salt['pillar.get']('app', {'host': 'h'}) | tojson }}`, want: `{"port": 8080, "users": ["bob"]}`},
		{tmpl: `{{ salt['pillar.get']('lst', ['a', 'b'], True) | tojson }}`, want: `["a", "b", "c"]`},
		{tmpl: `{{ salt['config.get']('shared') }}`, want: "opts"},
		{tmpl: `{{ salt['config.get']('shared', omit_opts=True) }}`, want: "grains"},
		{tmpl: `{{ salt['config.get']('shared', omit_opts=True, omit_grains=True) }}`, want: "pillar"},
		{tmpl: `{{ salt['config.get']('from_master') }}`, want: "m"},
		{tmpl: `{{ salt['config.get']('nope', 'dflt') }}`, want: "dflt"},
		{tmpl: `{{ salt['pillar.get']('app', bogus=1) }}`, err: `unexpected keyword argument "bogus"`},
		{tmpl: `{{ salt['config.get']('app', merge=True) }}`, err: "merge must be a strategy name"},
	}
	for _, tt := range tests {
		got, err := c.Render(context.Background(), "jinja", "t.sls", []byte(tt.tmpl), nil)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want %q", tt.tmpl, err, tt.err)
			}
			continue
		}
		// tojson's spacing is the template engine's: compare without spaces
		if err != nil || strings.ReplaceAll(string(got), " ", "") != strings.ReplaceAll(tt.want, " ", "") {
			t.Errorf("%s = %q, %v; want %q", tt.tmpl, got, err, tt.want)
		}
	}
}
