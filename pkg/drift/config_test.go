package drift

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseConfig(t *testing.T) {
	def := DefaultConfig()
	cases := []struct {
		name    string
		yaml    string
		want    Config
		wantErr string
	}{
		{"absent", "drift:", def, ""},
		{"watch and debounce", "drift: {watch: True, debounce: 100ms}",
			Config{Watch: true, Debounce: 100 * time.Millisecond, FlapLimit: def.FlapLimit, FlapWindow: def.FlapWindow}, ""},
		{"seconds as a number, flap settings", "drift: {debounce: 2, flap_limit: 3, flap_window: 1h}",
			Config{Debounce: 2 * time.Second, FlapLimit: 3, FlapWindow: time.Hour}, ""},
		{"fractional seconds", "drift: {debounce: 0.25}",
			Config{Debounce: 250 * time.Millisecond, FlapLimit: def.FlapLimit, FlapWindow: def.FlapWindow}, ""},
		{"bad duration", "drift:\n  debounce: soon", Config{}, `line 2: drift: debounce: want a duration such as 100ms, 1s or 2m, not "soon"`},
		{"negative debounce", "drift: {debounce: -1s}", Config{}, "drift: debounce: want a positive duration"},
		{"watch not a boolean", "drift: {watch: yes please}", Config{}, "drift: watch: want True or False"},
		{"flap_limit zero", "drift: {flap_limit: 0}", Config{}, "drift: flap_limit: want a whole number of at least 1"},
		{"unknown key", "drift: {wacth: True}", Config{}, "drift: wacth: unknown key (known: watch, debounce, flap_limit, flap_window)"},
		{"not a mapping", "drift: [watch]", Config{}, "line 1: drift: must be a mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var file struct {
				Drift Config `yaml:"drift"`
			}
			file.Drift = DefaultConfig()
			err := yaml.Unmarshal([]byte(c.yaml), &file)
			// The same through pillar's decoded values.
			var raw map[string]any
			if yerr := yaml.Unmarshal([]byte(c.yaml), &raw); yerr != nil {
				t.Fatal(yerr)
			}
			pcfg, perr := ParseConfig(raw["drift"])
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("config file: error %v, want %q", err, c.wantErr)
				}
				if msg := strings.TrimPrefix(c.wantErr, "line 1: "); perr == nil ||
					!strings.Contains(perr.Error(), msg[strings.Index(msg, "drift:"):]) {
					t.Errorf("pillar: error %v, want %q", perr, c.wantErr)
				}
				return
			}
			if err != nil || perr != nil {
				t.Fatalf("errors %v / %v", err, perr)
			}
			if file.Drift != c.want || pcfg != c.want {
				t.Errorf("config file %+v, pillar %+v, want %+v", file.Drift, pcfg, c.want)
			}
		})
	}
}
