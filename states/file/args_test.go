package file

import (
	"strings"
	"testing"

	"github.com/brinecm/brine/states"
)

func TestBadArguments(t *testing.T) {
	tests := []struct {
		fun  string
		args map[string]any
		want string
	}{
		{"file.managed", map[string]any{"sorce": "salt://x"}, "unknown argument 'sorce' (did you mean 'source'?)"},
		{"file.managed", map[string]any{"mode": "rwx"}, "argument 'mode': expected a mode like 0644"},
		{"file.managed", map[string]any{"mode": 999}, "argument 'mode': expected a mode like 0644"},
		{"file.managed", map[string]any{"makedirs": "perhaps"}, "argument 'makedirs': expected true or false"},
		{"file.managed", map[string]any{"source": map[string]any{"a": 1}}, "argument 'source': expected a list"},
		{"file.managed", map[string]any{"context": "x"}, "argument 'context': expected a mapping"},
		{"file.directory", map[string]any{"dir_mod": "0755"}, "unknown argument 'dir_mod' (did you mean 'dir_mode'?)"},
		{"file.directory", map[string]any{"clean": []any{1}}, "argument 'clean'"},
		{"file.absent", map[string]any{"force": true}, "unknown argument 'force'"},
		{"file.symlink", map[string]any{}, "missing required argument 'target'"},
		{"file.symlink", map[string]any{"target": "/x", "forse": true}, "did you mean 'force'?"},
		{"file.replace", map[string]any{"repl": "x"}, "missing required argument 'pattern'"},
		{"file.line", map[string]any{"content": "x"}, "missing required argument 'mode'"},
		{"file.line", map[string]any{"mode": "frobnicate"}, "expected one of ensure, replace, insert, delete"},
		{"file.line", map[string]any{"mode": "insert", "location": "middle"}, "expected start or end"},
	}
	for _, tt := range tests {
		t.Run(tt.fun+" "+tt.want, func(t *testing.T) {
			e, ok := states.Lookup(tt.fun)
			if !ok {
				t.Fatalf("%s is not registered", tt.fun)
			}
			_, err := e.Decode(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
