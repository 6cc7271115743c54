package states

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

type sampleArgs struct {
	Source   string            `arg:"source"`
	Mode     Mode              `arg:"mode"`
	Makedirs bool              `arg:"makedirs"`
	Retries  int               `arg:"retries"`
	Timeout  time.Duration     `arg:"timeout"`
	Names    []string          `arg:"names"`
	Env      map[string]string `arg:"env"`
	User     *string           `arg:"user"`
	Required string            `arg:"required,required"`
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name    string
		raw     map[string]any
		check   func(*sampleArgs) bool
		wantErr string
	}{
		{"scalars", map[string]any{"required": "x", "source": "salt://a", "makedirs": true, "retries": 3},
			func(a *sampleArgs) bool { return a.Source == "salt://a" && a.Makedirs && a.Retries == 3 }, ""},
		{"mode as octal digits int", map[string]any{"required": "x", "mode": 644},
			func(a *sampleArgs) bool { return a.Mode.Set && a.Mode.Perm == 0o644 }, ""},
		{"mode as string", map[string]any{"required": "x", "mode": "0750"},
			func(a *sampleArgs) bool { return a.Mode.Perm == 0o750 }, ""},
		{"bad mode", map[string]any{"required": "x", "mode": "rwx"}, nil, "argument 'mode': expected a mode like 0644"},
		{"number to string", map[string]any{"required": 1000},
			func(a *sampleArgs) bool { return a.Required == "1000" }, ""},
		{"duration seconds and string", map[string]any{"required": "x", "timeout": 5},
			func(a *sampleArgs) bool { return a.Timeout == 5*time.Second }, ""},
		{"single string is a list", map[string]any{"required": "x", "names": "one"},
			func(a *sampleArgs) bool { return len(a.Names) == 1 && a.Names[0] == "one" }, ""},
		{"salt list of one-key maps", map[string]any{"required": "x", "env": []any{map[string]any{"A": "1"}, map[string]any{"B": 2}}},
			func(a *sampleArgs) bool { return a.Env["A"] == "1" && a.Env["B"] == "2" }, ""},
		{"optional pointer", map[string]any{"required": "x", "user": "www"},
			func(a *sampleArgs) bool { return a.User != nil && *a.User == "www" }, ""},
		{"absent pointer stays nil", map[string]any{"required": "x"},
			func(a *sampleArgs) bool { return a.User == nil }, ""},
		{"typo suggests", map[string]any{"required": "x", "sorce": "a"}, nil, "unknown argument 'sorce' (did you mean 'source'?)"},
		{"no suggestion when far", map[string]any{"required": "x", "zzzzzzzz": 1}, nil, "unknown argument 'zzzzzzzz'"},
		{"missing required", map[string]any{}, nil, "missing required argument 'required'"},
		{"wrong type", map[string]any{"required": "x", "retries": "many"}, nil, "argument 'retries': expected an integer"},
		{"list where map expected", map[string]any{"required": "x", "env": []any{"a"}}, nil, "argument 'env': expected a mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var a sampleArgs
			err := Decode(c.raw, &a)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(&a) {
				t.Errorf("decoded %+v", a)
			}
		})
	}
}

func TestDecodeRest(t *testing.T) {
	var a struct {
		Fun  string         `arg:"fun"`
		Rest map[string]any `arg:"*"`
	}
	if err := Decode(map[string]any{"fun": "f", "x": 1, "y": nil}, &a); err != nil {
		t.Fatal(err)
	}
	if a.Fun != "f" || a.Rest["x"] != 1 || len(a.Rest) != 2 {
		t.Errorf("decoded %+v", a)
	}
}

// Shared is a set of arguments several state functions take.
type Shared struct {
	Peers string `arg:"peers,required"`
	Key   int    `arg:"key"`
}

func TestDecodeEmbedded(t *testing.T) {
	type args struct {
		Shared
		Bridge string `arg:"bridge"`
	}
	var a args
	if err := Decode(map[string]any{"peers": "G@role:web", "key": 7, "bridge": "br0"}, &a); err != nil {
		t.Fatal(err)
	}
	if a.Peers != "G@role:web" || a.Key != 7 || a.Bridge != "br0" {
		t.Errorf("decoded %+v", a)
	}
	err := Decode(map[string]any{"bridge": "br0", "kye": 1}, &a)
	if err == nil || !strings.Contains(err.Error(), "missing required argument 'peers'") ||
		!strings.Contains(err.Error(), "did you mean 'key'?") {
		t.Errorf("embedded arguments are not checked like the others: %v", err)
	}
	if got := ArgNames(reflect.TypeFor[args]()); !slices.Equal(got, []string{"bridge", "key", "peers*"}) {
		t.Errorf("ArgNames = %v", got)
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"source", "contents", "makedirs", "user", "group"}
	for in, want := range map[string]string{"sorce": "source", "content": "contents", "usr": "user", "xyzzy": ""} {
		if got := Suggest(in, cands); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
