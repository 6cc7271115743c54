package sls

import (
	"context"
	"testing"

	"github.com/brinecm/brine/pkg/testfs"
)

// TestPillarKeepsYAMLOrder: templates iterate pillar mappings in the order
// the pillar files wrote them, as Salt does (Python dicts keep insertion
// order), through includes, merges of several files and every way a
// template reaches the pillar; keys a later file adds come after.
func TestPillarKeepsYAMLOrder(t *testing.T) {
	pillarDir := testfs.Temp(t, map[string]string{
		"top.sls":    "base:\n  '*':\n    - users\n    - more\n",
		"common.sls": "zeta: 1\nalpha: 2\n",
		"users.sls": "include:\n  - common\n" +
			"users:\n  zoe:\n    gitconfig:\n      user.name: Z\n      user.email: z@x\n      \"url.https://.insteadOf\": git://\n" +
			"  adam:\n    groups: [b, a]\n" +
			"  mike: {shell: /bin/sh, home: /m}\n" +
			"list:\n  - {z: 1, a: 2}\n",
		"more.sls": "users:\n  bob: {}\n  adam:\n    uid: 7\n",
	})
	c := New(Config{PillarRoots: []string{pillarDir}, ID: "m1", Pillar: map[string]any{"extra": 1}})
	tests := []struct{ tmpl, want string }{
		{`{% for k in pillar %}{{ k }} {% endfor %}`, "zeta alpha users list extra "},
		{`{% for k in pillar.users %}{{ k }} {% endfor %}`, "zoe adam mike bob "},
		{`{% for k, v in pillar['users'].items() %}{{ k }} {% endfor %}`, "zoe adam mike bob "},
		{`{{ pillar.users.adam.keys() | list }}`, "['groups', 'uid']"},
		{`{% for k, v in salt['pillar.get']('users:zoe:gitconfig').items() %}{{ loop.index0 }}={{ k }} {% endfor %}`,
			"0=user.name 1=user.email 2=url.https://.insteadOf "},
		{`{{ salt['pillar.get']('users:mike') | list }}`, "['shell', 'home']"},
		{`{{ pillar.get('users:mike') | list }}`, "['shell', 'home']"},
		{`{{ salt['pillar.items']()['list'][0] | list }}`, "['z', 'a']"},
		{`{{ salt['pillar.get']('users', {}) | list }}`, "['zoe', 'adam', 'mike', 'bob']"},
	}
	for _, tt := range tests {
		got, err := c.Render(context.Background(), "jinja", "t.sls", []byte(tt.tmpl), nil)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.tmpl, got, err, tt.want)
		}
	}
}
