package schedule

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var testOpts = Options{
	Known:   func(name string) bool { return name == "state.highstate" || name == "test.ping" || name == "state.sls" },
	Suggest: func(name string) string { return map[string]string{"state.hihgstate": "state.highstate"}[name] },
}

func TestParseNode(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "minion.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schedule yaml.Node `yaml:"schedule"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	entries, errs := ParseNode("minion.yaml", &doc.Schedule, testOpts)

	wantErrs := []string{
		`minion.yaml:19: schedule entry "badcron": cron: "61 * * * *" is not a cron expression`,
		`minion.yaml:22: schedule entry "negative": minutes: -1 is negative: give a positive number of minutes`,
		`minion.yaml:25: schedule entry "typo": unknown function "state.hihgstate" (did you mean "state.highstate"?)`,
		`minion.yaml:28: schedule entry "when": when is not supported by brine: use cron`,
		`minion.yaml:31: schedule entry "notime": no time: add seconds, minutes, hours or days, or cron`,
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("got %d errors, want %d: %v", len(errs), len(wantErrs), errs)
	}
	for i, want := range wantErrs {
		if !strings.HasPrefix(errs[i].Error(), want) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, errs[i], want)
		}
		if !strings.Contains(errs[i].Error(), "the rest of the schedule runs") {
			t.Errorf("error %d does not say the rest runs: %s", i, errs[i])
		}
	}

	got := map[string]*Entry{}
	for _, e := range entries {
		got[e.Name] = e
	}
	if len(got) != 3 {
		t.Fatalf("entries %v, want highstate, ping and nightly", names(entries))
	}
	hs := got["highstate"]
	if hs.Function != "state.highstate" || hs.Every != 30*time.Minute || hs.SplayMax != 2*time.Minute ||
		!hs.RunOnStart || hs.MaxRunning != 1 || !hs.Enabled || hs.Kwargs["test"] != false || hs.Source != "minion.yaml:3" {
		t.Errorf("highstate: %+v", hs)
	}
	ping := got["ping"]
	if ping.Every != time.Hour+30*time.Minute+5*time.Second || ping.SplayMin != 10*time.Second || ping.SplayMax != 20*time.Second ||
		ping.Enabled || ping.MaxRunning != 3 || len(ping.Args) != 1 || ping.Args[0] != "x" {
		t.Errorf("ping: %+v", ping)
	}
	nightly := got["nightly"]
	at := time.Date(2026, 11, 22, 3, 14, 0, 0, time.UTC)
	if next := nightly.Next(at); !next.Equal(time.Date(2026, 11, 23, 2, 30, 0, 0, time.UTC)) {
		t.Errorf("nightly after %s: %s", at, next)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		raw  any
		opts Options
		want string // "" parses
	}{
		{"ok", map[string]any{"function": "test.ping", "seconds": 1.0}, testOpts, ""},
		{"pillar numbers as strings", map[string]any{"function": "test.ping", "seconds": "2"}, testOpts, ""},
		{"not a mapping", "test.ping", testOpts, `expected a mapping`},
		{"no function", map[string]any{"seconds": 1}, testOpts, "no function"},
		{"not module.function", map[string]any{"function": "ping", "seconds": 1}, testOpts, `"ping" is not module.function`},
		{"unknown function", map[string]any{"function": "nope.nope", "seconds": 1}, testOpts, `unknown function "nope.nope"`},
		{"negative seconds", map[string]any{"function": "test.ping", "seconds": -5}, testOpts, "-5 is negative"},
		{"zero interval", map[string]any{"function": "test.ping", "seconds": 0}, testOpts, "at least one second"},
		{"interval and cron", map[string]any{"function": "test.ping", "seconds": 5, "cron": "* * * * *"}, testOpts, "keep one"},
		{"cron too short", map[string]any{"function": "test.ping", "cron": "* *"}, testOpts, "is not a cron expression"},
		{"cron seconds", map[string]any{"function": "test.ping", "cron": "*/2 * * * * *"}, testOpts, ""},
		{"splay negative", map[string]any{"function": "test.ping", "seconds": 5, "splay": -1}, testOpts, "splay: -1 is negative"},
		{"splay backwards", map[string]any{"function": "test.ping", "seconds": 5, "splay": map[string]any{"start": 9, "end": 3}}, testOpts, "want 0 <= start <= end"},
		{"maxrunning zero", map[string]any{"function": "test.ping", "seconds": 5, "maxrunning": 0}, testOpts, "maxrunning: 0"},
		{"bad bool", map[string]any{"function": "test.ping", "seconds": 5, "enabled": "maybe"}, testOpts, "expected True or False"},
		{"kwargs list", map[string]any{"function": "test.ping", "seconds": 5, "kwargs": []any{1}}, testOpts, "expected a mapping of argument names"},
		{"unknown key", map[string]any{"function": "test.ping", "seconds": 5, "minuts": 5}, testOpts, `unknown key "minuts"`},
		{"salt key ignored", map[string]any{"function": "test.ping", "seconds": 5, "jid_include": true}, testOpts, ""},
		{"target on a minion", map[string]any{"function": "test.ping", "seconds": 5, "target": "*"}, testOpts, "targets belong in the master's schedule"},
		{"master without target", map[string]any{"function": "test.ping", "seconds": 5}, Options{Targets: true}, "no target"},
		{"master with target", map[string]any{"function": "test.ping", "seconds": 5, "target": "web*", "tgt_type": "glob"}, Options{Targets: true}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			entries, errs := Parse("pillar", map[string]any{"job": c.raw}, c.opts)
			if c.want == "" {
				if len(errs) > 0 || len(entries) != 1 {
					t.Fatalf("errors %v, entries %d", errs, len(entries))
				}
				return
			}
			if len(errs) != 1 || len(entries) != 0 {
				t.Fatalf("errors %v, entries %d; want one error with %q", errs, len(entries), c.want)
			}
			if msg := errs[0].Error(); !strings.Contains(msg, c.want) || !strings.HasPrefix(msg, `pillar: schedule entry "job": `) {
				t.Errorf("error %q, want it to name the entry and say %q", msg, c.want)
			}
		})
	}
}

// TestMapRoundTrip: an entry saved in Salt's format (schedule.add
// persists entries so) reads back the same.
func TestMapRoundTrip(t *testing.T) {
	for _, raw := range []map[string]any{
		{"function": "state.sls", "job_args": []any{"web"}, "job_kwargs": map[string]any{"test": true}, "minutes": 5.0,
			"splay": map[string]any{"start": 1.0, "end": 4.0}, "run_on_start": true, "maxrunning": 2.0, "enabled": false},
		{"function": "test.ping", "cron": "@hourly", "splay": 30.0},
	} {
		a, err := ParseEntry("file", "x", raw, testOpts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseEntry("file", "x", a.Map(), testOpts)
		if err != nil {
			t.Fatal(err)
		}
		if !same(a, b) || a.Every != b.Every || a.SplayMin != b.SplayMin || a.SplayMax != b.SplayMax || a.Cron != b.Cron {
			t.Errorf("round trip changed the entry:\n%+v\n%+v", a, b)
		}
	}
}

func names(es []*Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}
