// Package schedule reads Salt's `schedule:` format and runs its entries:
// intervals (seconds, minutes, hours, days, added up as Salt does), cron
// expressions, splay, run_on_start, maxrunning and enabled. The minion runs
// execution functions on itself with it; the master runs functions on
// targets.
package schedule

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Entry is one scheduled job.
type Entry struct {
	// Name is the entry's key in the schedule.
	Name string `json:"name"`
	// Function is the execution function to run ("state.highstate").
	Function string `json:"function"`
	// Args and Kwargs are its arguments (Salt's job_args/args and
	// job_kwargs/kwargs).
	Args   []any          `json:"args,omitempty"`
	Kwargs map[string]any `json:"kwargs,omitempty"`
	// Every is the interval (seconds + minutes + hours + days); 0 with Cron.
	Every time.Duration `json:"every,omitempty"`
	// Cron is the cron expression; "" with Every.
	Cron string `json:"cron,omitempty"`
	// SplayMin and SplayMax bound the random delay added to each run.
	SplayMin time.Duration `json:"splay_min,omitempty"`
	SplayMax time.Duration `json:"splay_max,omitempty"`
	// RunOnStart runs the entry as soon as the schedule starts.
	RunOnStart bool `json:"run_on_start,omitempty"`
	// MaxRunning is how many runs of the entry may be running at once
	// (Salt's default: 1); a run due while that many run is skipped.
	MaxRunning int `json:"maxrunning"`
	// Enabled is false for an entry that is kept but does not run.
	Enabled bool `json:"enabled"`
	// Target and TgtType say which minions a master's entry runs on.
	Target  string `json:"target,omitempty"`
	TgtType string `json:"tgt_type,omitempty"`
	// Source names where the entry was read (file:line, or "pillar").
	Source string `json:"source,omitempty"`

	cron cron.Schedule
}

// Options say what a schedule may hold.
type Options struct {
	// Known reports whether a function exists; nil accepts any
	// module.function name.
	Known func(name string) bool
	// Suggest, when set, proposes a known name close to an unknown one.
	Suggest func(name string) string
	// Targets allows (and requires) target and tgt_type: a master's schedule.
	Targets bool
}

// Error is a schedule entry that cannot run: it names the entry, where it
// was read, and what to change.
type Error struct {
	Source string // file:line or "pillar"
	Entry  string
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: schedule entry %q: %s (the entry is skipped; the rest of the schedule runs)", e.Source, e.Entry, e.Msg)
}

// cronParser reads standard 5-field cron expressions, a 6-field one whose
// first field is seconds, and descriptors such as @hourly or @every 90s.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ignoredKeys are Salt keys with no effect in brine, accepted so that Salt
// schedules load unchanged.
var ignoredKeys = map[string]bool{"jid_include": true, "name": true, "return_job": true, "persist": true, "metadata": true}

// unsupportedKeys are Salt keys brine does not implement: an entry that
// uses one is refused rather than run at a time its author did not mean.
var unsupportedKeys = map[string]string{
	"when": "use cron", "range": "use cron", "once": "run the function once by hand, or use cron",
	"until": "remove the entry when it is no longer wanted", "after": "use run_on_start or cron",
	"skip_during_range": "use cron", "returner": "returns go to the master's job cache",
	"return_config": "returns go to the master's job cache", "return_kwargs": "returns go to the master's job cache",
	"run_after_skip_range": "use cron", "seconds_splay": "use splay",
}

// ParseNode reads a `schedule:` YAML node from file (a minion's or a
// master's configuration). Entries that cannot run are returned as errors
// (each an *Error with the entry's line) and left out; the others are
// returned sorted by name. A zero node is an empty schedule.
func ParseNode(file string, n *yaml.Node, opts Options) ([]*Entry, []error) {
	if n == nil || n.Kind == 0 {
		return nil, nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, []error{fmt.Errorf("%s:%d: schedule: expected a mapping of entry names to entries", file, n.Line)}
	}
	var entries []*Entry
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		src := fmt.Sprintf("%s:%d", file, k.Line)
		var raw any
		if err := v.Decode(&raw); err != nil {
			errs = append(errs, &Error{Source: src, Entry: k.Value, Msg: err.Error()})
			continue
		}
		e, err := parseEntry(k.Value, raw, src, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if e != nil {
			entries = append(entries, e)
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return entries, errs
}

// Parse reads a schedule held as data (from pillar, or added by
// schedule.add), naming source in its errors. As ParseNode, it returns the
// entries that can run and an error for each that cannot.
func Parse(source string, raw map[string]any, opts Options) ([]*Entry, []error) {
	var entries []*Entry
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		e, err := parseEntry(name, raw[name], source, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if e != nil {
			entries = append(entries, e)
		}
	}
	return entries, errs
}

// ParseEntry reads one entry given as data.
func ParseEntry(source, name string, raw map[string]any, opts Options) (*Entry, error) {
	e, err := parseEntry(name, raw, source, opts)
	if err == nil && e == nil {
		err = &Error{Source: source, Entry: name, Msg: "empty entry"}
	}
	return e, err
}

// parseEntry reads one entry; (nil, nil) for Salt's top-level
// `enabled: ...` switch, which is not an entry.
func parseEntry(name string, raw any, src string, opts Options) (*Entry, error) {
	fail := func(format string, args ...any) error {
		return &Error{Source: src, Entry: name, Msg: fmt.Sprintf(format, args...)}
	}
	if name == "enabled" {
		if _, ok := raw.(bool); ok {
			return nil, nil
		}
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fail("expected a mapping with function: and an interval or cron:, got %s", describe(raw))
	}
	e := &Entry{Name: name, MaxRunning: 1, Enabled: true, Source: src}
	var interval float64
	haveInterval := false
	for _, key := range slices.Sorted(maps.Keys(m)) {
		v := m[key]
		var err error
		switch key {
		case "function", "fun":
			e.Function, err = str(v)
		case "args", "job_args":
			switch a := v.(type) {
			case []any:
				e.Args = a
			case nil:
			default:
				e.Args = []any{a}
			}
		case "kwargs", "job_kwargs":
			switch kw := v.(type) {
			case map[string]any:
				e.Kwargs = kw
			case nil:
			default:
				err = fmt.Errorf("expected a mapping of argument names to values, got %s", describe(v))
			}
		case "seconds", "minutes", "hours", "days":
			var n float64
			n, err = number(v)
			if err == nil && n < 0 {
				err = fmt.Errorf("%v is negative: give a positive number of %s", v, key)
			}
			unit := map[string]float64{"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}[key]
			interval += n * unit
			haveInterval = true
		case "cron":
			e.Cron, err = str(v)
			if err == nil {
				e.cron, err = cronParser.Parse(e.Cron)
				if err != nil {
					err = fmt.Errorf("%q is not a cron expression (%v): use 5 fields (minute hour day month weekday) like '*/15 * * * *', 6 with seconds first, or @hourly", e.Cron, err)
				}
			}
		case "splay":
			e.SplayMin, e.SplayMax, err = splay(v)
		case "run_on_start":
			e.RunOnStart, err = boolean(v)
		case "enabled":
			e.Enabled, err = boolean(v)
		case "maxrunning":
			var n float64
			n, err = number(v)
			if err == nil && (n < 1 || n != math.Trunc(n)) {
				err = fmt.Errorf("%v: give a whole number of runs, at least 1", v)
			}
			e.MaxRunning = int(n)
		case "target", "tgt":
			if !opts.Targets {
				return nil, fail("%s: a minion's schedule runs on the minion itself; targets belong in the master's schedule", key)
			}
			e.Target, err = str(v)
		case "tgt_type":
			if !opts.Targets {
				return nil, fail("%s: a minion's schedule runs on the minion itself; targets belong in the master's schedule", key)
			}
			e.TgtType, err = str(v)
		default:
			if ignoredKeys[key] {
				continue
			}
			if fix, ok := unsupportedKeys[key]; ok {
				return nil, fail("%s is not supported by brine: %s", key, fix)
			}
			return nil, fail("unknown key %q (known: function, job_args, job_kwargs, seconds, minutes, hours, days, cron, splay, run_on_start, maxrunning, enabled%s)",
				key, map[bool]string{true: ", target, tgt_type"}[opts.Targets])
		}
		if err != nil {
			return nil, fail("%s: %v", key, err)
		}
	}
	switch {
	case e.Function == "":
		return nil, fail("no function: add function: module.function (for example state.highstate)")
	case !strings.Contains(e.Function, "."):
		return nil, fail("function %q is not module.function", e.Function)
	case opts.Known != nil && !opts.Known(e.Function):
		msg := fmt.Sprintf("unknown function %q", e.Function)
		if opts.Suggest != nil {
			if s := opts.Suggest(e.Function); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
		}
		return nil, fail("%s", msg)
	case haveInterval && e.Cron != "":
		return nil, fail("both an interval and cron: keep one")
	case e.Cron == "" && !haveInterval:
		return nil, fail("no time: add seconds, minutes, hours or days, or cron")
	case haveInterval && interval < 1:
		return nil, fail("an interval of %gs: give at least one second", interval)
	case opts.Targets && e.Target == "":
		return nil, fail("no target: add target: '*' (and tgt_type: glob, grain, list, compound...)")
	}
	if haveInterval {
		e.Every = time.Duration(interval * float64(time.Second))
	}
	return e, nil
}

// Next returns when the entry is due next after t, before splay.
func (e *Entry) Next(t time.Time) time.Time {
	if e.cron != nil {
		return e.cron.Next(t)
	}
	return t.Add(e.Every)
}

// Map returns the entry in Salt's format, as schedule.list shows it and
// as it is saved.
func (e *Entry) Map() map[string]any {
	m := map[string]any{"function": e.Function, "enabled": e.Enabled, "maxrunning": e.MaxRunning}
	if len(e.Args) > 0 {
		m["job_args"] = e.Args
	}
	if len(e.Kwargs) > 0 {
		m["job_kwargs"] = e.Kwargs
	}
	if e.Every > 0 {
		m["seconds"] = e.Every.Seconds()
	}
	if e.Cron != "" {
		m["cron"] = e.Cron
	}
	switch {
	case e.SplayMin > 0:
		m["splay"] = map[string]any{"start": e.SplayMin.Seconds(), "end": e.SplayMax.Seconds()}
	case e.SplayMax > 0:
		m["splay"] = e.SplayMax.Seconds()
	}
	if e.RunOnStart {
		m["run_on_start"] = true
	}
	if e.Target != "" {
		m["target"] = e.Target
	}
	if e.TgtType != "" {
		m["tgt_type"] = e.TgtType
	}
	return m
}

func describe(v any) string {
	b, err := json.Marshal(v)
	if err != nil || len(b) > 60 {
		return fmt.Sprintf("a %T", v)
	}
	return string(b)
}

func str(v any) (string, error) {
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("expected a non-empty string, got %s", describe(v))
	}
	return s, nil
}

func number(v any) (float64, error) {
	switch n := v.(type) {
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case uint64:
		return float64(n), nil
	case float64:
		return n, nil
	case string:
		if f, err := strconv.ParseFloat(n, 64); err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("expected a number, got %s", describe(v))
}

func boolean(v any) (bool, error) {
	switch b := v.(type) {
	case bool:
		return b, nil
	case string:
		switch strings.ToLower(b) {
		case "true", "yes", "on":
			return true, nil
		case "false", "no", "off":
			return false, nil
		}
	}
	return false, fmt.Errorf("expected True or False, got %s", describe(v))
}

// splay reads Salt's splay: seconds (a delay from 0 to that), or
// {start: S, end: E}.
func splay(v any) (lo, hi time.Duration, err error) {
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	if m, ok := v.(map[string]any); ok {
		s, err1 := number(m["start"])
		e, err2 := number(m["end"])
		if err1 != nil || err2 != nil || len(m) != 2 {
			return 0, 0, fmt.Errorf("expected {start: SECONDS, end: SECONDS}, got %s", describe(v))
		}
		if s < 0 || e < s {
			return 0, 0, fmt.Errorf("start %g and end %g: want 0 <= start <= end", s, e)
		}
		return sec(s), sec(e), nil
	}
	n, err := number(v)
	if err != nil {
		return 0, 0, fmt.Errorf("expected seconds or {start, end}: %w", err)
	}
	if n < 0 {
		return 0, 0, fmt.Errorf("%g is negative: give a number of seconds", n)
	}
	return 0, sec(n), nil
}
