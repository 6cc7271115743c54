package sls

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/testfs"
)

// TestMaxFileBytes compiles trees where one file is over the size limit:
// the compile fails naming the file, its size, the limit and the key that
// raises it, and a file at the limit still compiles.
func TestMaxFileBytes(t *testing.T) {
	const limit = 64 << 10
	// big is a valid SLS of at least n bytes: many small states.
	big := func(n int) string {
		var b strings.Builder
		for i := 0; b.Len() < n; i++ {
			fmt.Fprintf(&b, "state%06d:\n  test.nop: []\n", i)
		}
		return b.String()
	}
	top := "base:\n  '*':\n    - web\n"
	for _, tc := range []struct {
		name    string
		states  map[string]string
		pillars map[string]string
		max     int64
		call    func(*Compiler) error
		wantErr string
	}{
		{
			name:    "large sls",
			states:  map[string]string{"top.sls": top, "web.sls": big(limit + 1)},
			max:     limit,
			call:    func(c *Compiler) error { _, err := c.Highstate(context.Background()); return err },
			wantErr: fmt.Sprintf("over the %d-byte limit (max_sls_bytes)", limit),
		},
		{
			name:    "large top file",
			states:  map[string]string{"top.sls": top + "#" + strings.Repeat("x", limit), "web.sls": "a:\n  test.nop: []\n"},
			max:     limit,
			call:    func(c *Compiler) error { _, err := c.Top(context.Background()); return err },
			wantErr: fmt.Sprintf("file top.sls is %d bytes, over the %d-byte limit (max_sls_bytes)", len(top)+1+limit, limit),
		},
		{
			name:    "large imported template",
			states:  map[string]string{"web.sls": "{% from 'map.jinja' import x %}a:\n  test.nop: []\n", "map.jinja": "{% set x = 1 %}" + strings.Repeat(" ", limit)},
			max:     limit,
			call:    func(c *Compiler) error { _, err := c.SLS(context.Background(), "web"); return err },
			wantErr: fmt.Sprintf("file map.jinja is %d bytes, over the %d-byte limit", len("{% set x = 1 %}")+limit, limit),
		},
		{
			name:    "large pillar",
			states:  map[string]string{"top.sls": top, "web.sls": "a:\n  test.nop: []\n"},
			pillars: map[string]string{"top.sls": "base:\n  '*':\n    - data\n", "data.sls": "k: " + strings.Repeat("v", limit) + "\n"},
			max:     limit,
			call:    func(c *Compiler) error { _, err := c.Pillar(context.Background()); return err },
			wantErr: fmt.Sprintf("file data.sls is %d bytes, over the %d-byte limit", len("k: \n")+limit, limit),
		},
		{
			name:    "default limit",
			states:  map[string]string{"top.sls": top, "web.sls": big(DefaultMaxFileBytes + 1)},
			call:    func(c *Compiler) error { _, err := c.SLS(context.Background(), "web"); return err },
			wantErr: fmt.Sprintf("over the %d-byte limit (max_sls_bytes)", DefaultMaxFileBytes),
		},
		{
			name:   "at the limit",
			states: map[string]string{"top.sls": top, "web.sls": big(limit - 40)},
			max:    limit,
			call:   func(c *Compiler) error { _, err := c.Highstate(context.Background()); return err },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{ID: "web1", FileRoots: []string{testfs.Temp(t, tc.states)}, Limits: Limits{FileBytes: tc.max}}
			if tc.pillars != nil {
				cfg.PillarRoots = []string{testfs.Temp(t, tc.pillars)}
			}
			if web, err := os.Stat(filepath.Join(cfg.FileRoots[0], "web.sls")); err == nil && tc.max > 0 && tc.wantErr == "" && web.Size() > tc.max {
				t.Fatalf("fixture web.sls is %d bytes, over the %d-byte limit", web.Size(), tc.max)
			}
			err := tc.call(New(cfg))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("compile: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("compile error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
