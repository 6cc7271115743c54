package recipetest

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/sls"
)

func low(id, fun, name string, args map[string]any, reqs ...sls.Req) sls.Low {
	mod, f, _ := strings.Cut(fun, ".")
	return sls.Low{ID: id, Module: mod, Fun: f, Name: name, Args: args, Reqs: reqs}
}

func TestDiffLows(t *testing.T) {
	conf := func(mode string) sls.Low {
		return low("conf", "file.managed", "/etc/x", map[string]any{"mode": mode}, sls.Req{Kind: "require", Module: "pkg", Target: "x"})
	}
	cases := []struct {
		name     string
		old, cur []sls.Low
		want     MinionDiff
	}{
		{"same", []sls.Low{conf("0644")}, []sls.Low{conf("0644")}, MinionDiff{}},
		{"argument", []sls.Low{conf("0644")}, []sls.Low{conf("0600")},
			MinionDiff{Changed: []StateChange{{StateRef{"conf", "file.managed", ""}, map[string]ArgChange{"mode": {"0644", "0600"}}}}}},
		{"argument set and unset", []sls.Low{low("a", "cmd.run", "a", map[string]any{"cwd": "/"})}, []sls.Low{low("a", "cmd.run", "a", map[string]any{"env": map[any]any{1: "x"}})},
			MinionDiff{Changed: []StateChange{{StateRef{"a", "cmd.run", ""}, map[string]ArgChange{"cwd": {"/", nil}, "env": {nil, map[string]any{"1": "x"}}}}}}},
		{"name", []sls.Low{low("a", "cmd.run", "echo 1", nil)}, []sls.Low{low("a", "cmd.run", "echo 2", nil)},
			MinionDiff{Changed: []StateChange{{StateRef{"a", "cmd.run", ""}, map[string]ArgChange{"name": {"echo 1", "echo 2"}}}}}},
		{"requisite", []sls.Low{conf("0644")}, []sls.Low{func() sls.Low {
			l := conf("0644")
			l.Reqs = append(l.Reqs, sls.Req{Kind: "require", Target: "y"})
			return l
		}()},
			MinionDiff{Changed: []StateChange{{StateRef{"conf", "file.managed", ""}, map[string]ArgChange{"require": {[]any{map[string]any{"pkg": "x"}}, []any{map[string]any{"pkg": "x"}, "y"}}}}}}},
		{"order and failhard", []sls.Low{conf("0644")}, []sls.Low{func() sls.Low {
			l := conf("0644")
			l.Order, l.Failhard = sls.Order{Kind: sls.OrderNumber, N: 5}, true
			return l
		}()},
			MinionDiff{Changed: []StateChange{{StateRef{"conf", "file.managed", ""}, map[string]ArgChange{"order": {nil, 5}, "failhard": {nil, true}}}}}},
		{"function changed is a new state", []sls.Low{low("x", "pkg.installed", "x", nil)}, []sls.Low{low("x", "pkg.latest", "x", nil)},
			MinionDiff{Added: []StateRef{{"x", "pkg.latest", ""}}, Removed: []StateRef{{"x", "pkg.installed", ""}}}},
		{"names: list grows", []sls.Low{low("tools", "pkg.installed", "vim", nil)},
			[]sls.Low{low("tools", "pkg.installed", "vim", nil), low("tools", "pkg.installed", "git", nil)},
			MinionDiff{Added: []StateRef{{"tools", "pkg.installed", "git"}}}},
		{"sorted", nil, []sls.Low{low("b", "cmd.run", "b", nil), low("a", "cmd.run", "a", nil)},
			MinionDiff{Added: []StateRef{{"a", "cmd.run", ""}, {"b", "cmd.run", ""}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := diffLows(c.old, c.cur)
			// Empty lists compare as none.
			for _, d := range []*MinionDiff{&got, &c.want} {
				if len(d.Added) == 0 {
					d.Added = nil
				}
				if len(d.Removed) == 0 {
					d.Removed = nil
				}
				if len(d.Changed) == 0 {
					d.Changed = nil
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("diff\n got %#v\nwant %#v", got, c.want)
			}
		})
	}
}

func TestDiffErrors(t *testing.T) {
	ok := func(context.Context, Minion) (Compiled, error) {
		return Compiled{Lows: []sls.Low{low("a", "cmd.run", "a", nil)}}, nil
	}
	broken := func(_ context.Context, m Minion) (Compiled, error) {
		if m.ID == "db2" {
			return Compiled{Errs: sls.Errors{{Pos: sls.Pos{File: "db.sls", Line: 8}, ID: "pg", Msg: "bad"}}}, nil
		}
		return ok(context.Background(), m)
	}
	minions := []Minion{{ID: "db1"}, {ID: "db2"}}
	rep, err := Diff(context.Background(), minions, Revision{"old", ok}, Revision{"new", broken}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Failed() || rep.Changed() {
		t.Fatalf("failed %v changed %v: want a failed report with no diff", rep.Failed(), rep.Changed())
	}
	var b bytes.Buffer
	if err := rep.Write(&b, "text"); err != nil {
		t.Fatal(err)
	}
	if want := "new does not compile:\ndb2: db.sls:8: pg: bad\n"; b.String() != want {
		t.Errorf("text %q, want %q", b.String(), want)
	}
	if err := rep.Write(&b, "yaml"); err == nil || !strings.Contains(err.Error(), "use one of text, json") {
		t.Errorf("unknown format: %v", err)
	}

	stop := errors.New("stopped")
	_, err = Diff(context.Background(), minions, Revision{"old", ok}, Revision{"new", func(context.Context, Minion) (Compiled, error) { return Compiled{}, stop }}, 0)
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), "compile new") {
		t.Errorf("a compile that stops: %v", err)
	}
	if _, err := Diff(context.Background(), nil, Revision{"old", ok}, Revision{"new", ok}, 0); err == nil {
		t.Error("no minions: no error")
	}
}
