package modules

import (
	"context"
	"strings"
	"testing"
)

type bindArgs struct {
	Cmd   string   `arg:"cmd,required"`
	Cwd   string   `arg:"cwd"`
	Names []string `arg:"names"`
}

func init() {
	Register("testmod.one", Func[bindArgs]{Params: []string{"cmd", "cwd"},
		Call: func(_ context.Context, _ *Runtime, a *bindArgs) (any, error) { return a.Cmd + "|" + a.Cwd, nil }})
	Register("testmod.rest", Func[bindArgs]{Params: []string{"cmd", "names..."},
		Call: func(_ context.Context, _ *Runtime, a *bindArgs) (any, error) {
			return a.Cmd + "|" + strings.Join(a.Names, ","), nil
		}})
}

func TestCallBinding(t *testing.T) {
	cases := []struct {
		fun     string
		args    []any
		kw      map[string]any
		want    string
		wantErr string
	}{
		{"testmod.one", []any{"ls"}, nil, "ls|", ""},
		{"testmod.one", []any{"ls", "/tmp"}, nil, "ls|/tmp", ""},
		{"testmod.one", []any{"ls"}, map[string]any{"cwd": "/"}, "ls|/", ""},
		{"testmod.rest", []any{"a", "b", "c"}, nil, "a|b,c", ""},
		{"testmod.one", []any{"ls", "/", "extra"}, nil, "", "too many positional arguments"},
		{"testmod.one", []any{"ls"}, map[string]any{"cmd": "x"}, "", "argument 'cmd' given twice"},
		{"testmod.one", nil, nil, "", "missing required argument 'cmd'"},
		{"testmod.one", []any{"ls"}, map[string]any{"cdw": "/"}, "", "unknown argument 'cdw' (did you mean 'cwd'?)"},
		{"testmod.one", []any{"ls"}, map[string]any{"__pub_jid": "1", "__pub_fun": "x"}, "ls|", ""},
		{"testmod.one", []any{"ls"}, map[string]any{"__pubx": "1"}, "", "unknown argument '__pubx'"},
		{"testmod.onee", nil, nil, "", "'testmod.onee' is not available (did you mean 'testmod.one'?)"},
	}
	for _, c := range cases {
		got, err := Call(context.Background(), &Runtime{}, c.fun, c.args, c.kw)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s %v %v: error %v, want %q", c.fun, c.args, c.kw, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s %v %v = %v, %v; want %q", c.fun, c.args, c.kw, got, err, c.want)
		}
	}
}

func init() {
	Register("testmod.pure", Func[bindArgs]{Params: []string{"cmd"}, Pure: true,
		Call: func(_ context.Context, _ *Runtime, a *bindArgs) (any, error) { return "here:" + a.Cmd, nil }})
}

// TestCallerRoutes checks where Caller runs a function: a runtime with
// Remote runs only Pure functions itself, one without Remote runs all.
func TestCallerRoutes(t *testing.T) {
	cases := []struct {
		name       string
		remote     bool
		fun        string
		want       string
		wantErr    string
		wantRemote bool
	}{
		{"impure call goes to the minion", true, "testmod.one", "there:testmod.one", "", true},
		{"pure call answers here", true, "testmod.pure", "here:ls", "", false},
		{"without Remote an impure call runs here", false, "testmod.one", "ls|", "", false},
		{"unknown function is an error here", true, "testmod.nope", "", "'testmod.nope' is not available", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rt := &Runtime{ID: "web1"}
			var sent []string
			if c.remote {
				rt.Remote = func(_ context.Context, fun string, args []any, _ map[string]any) (any, error) {
					sent = append(sent, fun)
					return "there:" + fun, nil
				}
			}
			got, err := Caller{Runtime: rt}.Call(context.Background(), c.fun, []any{"ls"}, nil)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("error %v, want %q", err, c.wantErr)
				}
			} else if err != nil || got != c.want {
				t.Errorf("= %v, %v; want %q", got, err, c.want)
			}
			if remote := len(sent) > 0; remote != c.wantRemote {
				t.Errorf("sent to the minion: %v (%v), want %v", remote, sent, c.wantRemote)
			}
		})
	}
}
