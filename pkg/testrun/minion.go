package testrun

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/pkg/result"
)

// runMinion runs one minion: its container, the two runs, the tests, and
// the container's removal.
func runMinion(ctx context.Context, dc *dockerx.Client, m Minion, o Options) (rep MinionReport) {
	start := time.Now()
	rep.ID = m.ID
	setupErr := func(name string, err error) {
		rep.Cases = append(rep.Cases, Case{Kind: KindSetup, Name: name, Status: StatusError, Message: err.Error()})
	}
	defer func() { rep.Duration = time.Since(start).Seconds() }()
	log := o.Log.With("minion", m.ID)
	b, err := startContainer(ctx, dc, m, o)
	if b != nil {
		rep.Container = b.name
		defer func() {
			if err := b.remove(ctx); err != nil {
				log.Warn("remove test container", "err", err)
			}
		}()
	}
	if err != nil {
		setupErr("container", err)
		return rep
	}
	log.Info("container started", "container", b.name)
	pillar := ""
	if len(m.Pillar) > 0 {
		j, err := json.Marshal(m.Pillar)
		if err != nil {
			setupErr("pillar", fmt.Errorf("encode the fixture's pillar: %w", err))
			return rep
		}
		pillar = "pillar=" + string(j)
	}
	apply := []string{"state.highstate"}
	if len(o.Mods) > 0 {
		apply = []string{"state.apply", strings.Join(o.Mods, ",")}
	}
	if pillar != "" {
		apply = append(apply, pillar)
	}
	var first result.Highstate
	for _, kind := range []string{KindApply, KindIdempotence} {
		var hs result.Highstate
		if err := call(ctx, b, apply, &hs); err != nil {
			setupErr(kind+" run", err)
			return rep
		}
		if kind == KindApply {
			first = hs
		}
		rep.Cases = append(rep.Cases, stateCases(kind, hs, m)...)
	}
	log.Info("applied twice", "states", len(first))
	tests := []string{"saltcheck.run_highstate_tests"}
	if len(o.Mods) > 0 {
		tests = []string{"saltcheck.run_state_tests", strings.Join(o.Mods, ",")}
	}
	if pillar != "" {
		tests = append(tests, pillar)
	}
	if o.AssertionTimeout > 0 {
		tests = append(tests, "timeout="+strconv.FormatFloat(o.AssertionTimeout.Seconds(), 'f', -1, 64))
	}
	var sc []map[string]json.RawMessage
	if err := call(ctx, b, tests, &sc); err != nil {
		setupErr("assertions", err)
		return rep
	}
	cases, err := assertionCases(sc, m)
	if err != nil {
		setupErr("assertions", err)
		return rep
	}
	rep.Cases = append(rep.Cases, cases...)
	return rep
}

// call runs `brine call --local FUNCTION ARGS...` in the container and
// decodes its JSON return into v. Exit 0 and 2 (a state or a test failed)
// carry a return; exit 1 is an error, with the compile errors or the
// message the call printed.
func call(ctx context.Context, b *box, args []string, v any) error {
	cmd := append([]string{binaryPath, "call", "--local", "--config", configPath, "--out", "json", "--log-level", "error"}, args...)
	res, err := b.exec(ctx, cmd)
	if err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	jerr := json.Unmarshal(res.stdout, &doc)
	switch res.code {
	case 0, 2:
	case 1:
		var lines []string
		if jerr == nil && json.Unmarshal(doc["local"], &lines) == nil && len(lines) > 0 {
			return fmt.Errorf("%s does not compile in the container:\n%s", args[0], strings.Join(lines, "\n"))
		}
		return fmt.Errorf("%s failed in the container: %s", args[0], message(res))
	default:
		return fmt.Errorf("%s exited with status %d in the container: %s", args[0], res.code, message(res))
	}
	if jerr != nil {
		return fmt.Errorf("%s in the container printed no JSON (%v): %s", args[0], jerr, message(res))
	}
	if err := json.Unmarshal(doc["local"], v); err != nil {
		return fmt.Errorf("decode the return of %s: %w", args[0], err)
	}
	return nil
}

// message is what a failed call said: its standard error, else its output.
func message(res execResult) string {
	s := strings.TrimSpace(string(res.stderr))
	if s == "" {
		s = strings.TrimSpace(string(res.stdout))
	}
	s = strings.TrimPrefix(s, "Error: ")
	if s == "" {
		return "no message"
	}
	return s
}

// stateCases makes one case per state of a run: in the first run a state
// passes when it succeeds; in the second it must succeed and change
// nothing.
func stateCases(kind string, hs result.Highstate, m Minion) []Case {
	out := make([]Case, 0, len(hs))
	for _, s := range hs {
		c := Case{Kind: kind, Name: stateName(s), SLS: s.SLS, Pos: m.States[s.Key], Status: StatusPassed,
			Duration: s.Duration / 1000}
		switch {
		case !s.Succeeded():
			c.Status, c.Message = StatusFailed, s.Comment
			if kind == KindIdempotence {
				c.Message = "failed on the second run: " + s.Comment
			}
		case kind == KindIdempotence && len(s.Changes) > 0:
			ch, _ := json.Marshal(s.Changes)
			c.Status = StatusFailed
			c.Message = "changed again on the second run (an applied state must change nothing): " + string(ch)
		case kind == KindApply && len(s.Changes) > 0:
			c.Message = "changed: " + strings.Join(sortedKeys(s.Changes), ", ")
		}
		out = append(out, c)
	}
	return out
}

// stateName is "ID (module.fun)", with the name when it differs from the ID.
func stateName(s result.State) string {
	if s.Name != "" && s.Name != s.ID {
		return fmt.Sprintf("%s (%s %s)", s.ID, s.Function(), s.Name)
	}
	return fmt.Sprintf("%s (%s)", s.ID, s.Function())
}

// assertionCases makes one case per saltcheck test of a report in Salt's
// shape: [{SLS: {test ID: {status, duration}}}..., {"TEST RESULTS": ...}].
// A test that ran under two SLS names (the tests of an included SLS run
// with the SLS that includes it, and again with its own) is one case, its
// worst outcome.
func assertionCases(report []map[string]json.RawMessage, m Minion) ([]Case, error) {
	var out []Case
	seen := map[string]int{}
	for _, entry := range report {
		for _, sls := range sortedKeys(entry) {
			if sls == "TEST RESULTS" {
				continue
			}
			var tests map[string]struct {
				Status   string  `json:"status"`
				Duration float64 `json:"duration"`
			}
			if err := json.Unmarshal(entry[sls], &tests); err != nil {
				return nil, fmt.Errorf("decode the test results of %s: %w", sls, err)
			}
			for _, id := range sortedKeys(tests) {
				t := tests[id]
				c := Case{Kind: KindAssertion, Name: id, SLS: sls, Pos: m.Tests[id], Duration: t.Duration}
				if c.Pos.File == "" && strings.HasSuffix(id, ".tst") {
					c.Pos.File = id // a test file that could not be read
				}
				switch {
				case t.Status == "Pass":
					c.Status = StatusPassed
				case strings.HasPrefix(t.Status, "Skip"):
					c.Status = StatusSkipped
				default:
					c.Status, c.Message = StatusFailed, strings.TrimPrefix(t.Status, "Fail: ")
				}
				if i, dup := seen[id]; dup {
					if out[i].Status != StatusFailed && c.Status == StatusFailed {
						out[i] = c
					}
					continue
				}
				seen[id] = len(out)
				out = append(out, c)
			}
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
