package sls

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// listingCaller is echoCaller that also lists its functions.
type listingCaller struct{ echoCaller }

func (listingCaller) Functions() []string { return []string{"test.echo", "cmd.run"} }

func TestSaltInTemplates(t *testing.T) {
	const src = "{% for f in ['test.echo', 'cmd.run', 'grains.get', 'nonexistent_module.function'] %}\n" +
		"{{ f }}:\n  test.succeed_without_changes:\n    - listed: {{ f in salt }}\n{% endfor %}\n"
	for _, c := range []struct {
		name   string
		caller Caller
		want   map[string]bool
	}{
		{"lister", listingCaller{}, map[string]bool{"test.echo": true, "cmd.run": true, "grains.get": true, "nonexistent_module.function": false}},
		{"no lister", echoCaller{}, map[string]bool{"test.echo": false, "cmd.run": false, "grains.get": true, "nonexistent_module.function": false}},
		{"no caller", nil, map[string]bool{"test.echo": false, "cmd.run": false, "grains.get": true, "nonexistent_module.function": false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "in.sls"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			lows, err := New(Config{FileRoots: []string{dir}, ID: "m", Caller: c.caller}).SLS(context.Background(), "in")
			if err != nil {
				t.Fatal(err)
			}
			if len(lows) != len(c.want) {
				t.Fatalf("%d states, want %d", len(lows), len(c.want))
			}
			for _, l := range lows {
				if got := l.Args["listed"]; got != c.want[l.ID] {
					t.Errorf("%s in salt: %v, want %v", l.ID, got, c.want[l.ID])
				}
			}
		})
	}
}
