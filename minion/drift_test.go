package minion

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/drift"
)

// TestDriftConfig: drift: comes from the configuration file with the
// pillar's keys over it (numbers as JSON decodes them); a source with a
// mistake is left out with an error naming the file and line, or the
// pillar.
func TestDriftConfig(t *testing.T) {
	cases := []struct {
		name    string
		file    string // the configuration file's content; "" for none
		pillar  map[string]any
		want    drift.Config
		wantErr string
	}{
		{name: "nothing: off, defaults", want: drift.DefaultConfig()},
		{name: "file only", file: "drift:\n  watch: True\n  debounce: 100ms\n",
			want: drift.Config{Watch: true, Debounce: 100 * time.Millisecond, FlapLimit: drift.DefaultFlapLimit, FlapWindow: drift.DefaultFlapWindow}},
		{name: "pillar keys added to the file's, pillar wins", file: "drift:\n  watch: True\n  debounce: 100ms\n  flap_limit: 9\n",
			pillar: map[string]any{"drift": map[string]any{"flap_limit": float64(3), "flap_window": "1m"}},
			want:   drift.Config{Watch: true, Debounce: 100 * time.Millisecond, FlapLimit: 3, FlapWindow: time.Minute}},
		{name: "pillar alone turns watching on", pillar: map[string]any{"drift": map[string]any{"watch": true}},
			want: drift.Config{Watch: true, Debounce: drift.DefaultDebounce, FlapLimit: drift.DefaultFlapLimit, FlapWindow: drift.DefaultFlapWindow}},
		{name: "bad file left out, pillar kept", file: "id: x\ndrift:\n  watch: True\n  debounce: soon\n",
			pillar:  map[string]any{"drift": map[string]any{"flap_limit": float64(2)}},
			want:    drift.Config{Debounce: drift.DefaultDebounce, FlapLimit: 2, FlapWindow: drift.DefaultFlapWindow},
			wantErr: `minion.yaml: line 4: drift: debounce: want a duration such as 100ms, 1s or 2m, not "soon"`},
		{name: "bad pillar left out, file kept", file: "drift: {watch: True}\n",
			pillar:  map[string]any{"drift": map[string]any{"flap_limit": float64(1.5)}},
			want:    drift.Config{Watch: true, Debounce: drift.DefaultDebounce, FlapLimit: drift.DefaultFlapLimit, FlapWindow: drift.DefaultFlapWindow},
			wantErr: "pillar: drift: flap_limit: want a whole number of at least 1, not 1.5 (fix the pillar)"},
		{name: "pillar drift: not a mapping", pillar: map[string]any{"drift": true},
			want:    drift.DefaultConfig(),
			wantErr: "pillar: drift: must be a mapping of watch, debounce, flap_limit, flap_window, not bool (fix the pillar)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &Minion{}
			if c.file != "" {
				m.cfg.ConfigFile = filepath.Join(t.TempDir(), "minion.yaml")
				if err := os.WriteFile(m.cfg.ConfigFile, []byte(c.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, errs := m.driftConfig(c.pillar)
			if got != c.want {
				t.Errorf("config %+v, want %+v", got, c.want)
			}
			var msgs []string
			for _, err := range errs {
				msgs = append(msgs, err.Error())
			}
			all := strings.Join(msgs, "\n")
			if (c.wantErr == "") != (len(errs) == 0) || !strings.Contains(all, c.wantErr) {
				t.Errorf("errors %q, want one containing %q", all, c.wantErr)
			}
		})
	}
}
