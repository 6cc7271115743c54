package jinja

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestLimits renders templates that would take the master down without the
// per-render limits, and checks that each fails on the right limit, naming
// the template and, where it can, the line.
func TestLimits(t *testing.T) {
	big := make([]any, 2000)
	for i := range big {
		big[i] = strings.Repeat("y", 1000)
	}
	vars := map[string]any{"pillar": map[string]any{"big": big}}
	small := Options{Loader: dirLoader(tree), Call: fmtCall, MaxOutputBytes: 1 << 20, MaxSteps: 10_000}
	for _, tc := range []struct {
		name      string
		opts      Options
		src       string
		wantLimit string
		wantLine  int
		wantMsg   string
	}{
		{"repetition bomb", Options{}, "a: b\n{{ 'x' * 10000000000 }}", LimitOutput, 2, "'*' repeating 1 bytes 10000000000 times"},
		{"repetition in set", small, "{% set s = 'ab' * 600000 %}", LimitOutput, 1, "over the render output limit of 1048576 bytes"},
		{"doubling with ~", small, "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", LimitOutput, 1, "'~' joining 1048576 and 1048576 bytes"},
		{"doubling with +", small, "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", LimitOutput, 1, "'+' joining"},
		{"huge join", small, "a\n{{ pillar.big | join(',') }}", LimitOutput, 2, "filter join would make 2001999 bytes"},
		{"huge str.join", small, "{{ ','.join(pillar.big) }}", LimitOutput, 1, "str.join() would make 2001999 bytes"},
		{"center", Options{}, "{{ 'x' | center(10000000000) }}", LimitOutput, 1, "filter center would make 10000000000 bytes"},
		{"ljust", Options{}, "{{ 'x'.ljust(10000000000) }}", LimitOutput, 1, "str.ljust() would make 10000000000 bytes"},
		{"indent", small, "{{ ('a\\n' * 1000) | indent(2000) }}", LimitOutput, 1, "filter indent would make"},
		{"replace", small, "{{ ('a' * 1000) | replace('a', 'b' * 2000) }}", LimitOutput, 1, "filter replace would make 2000000 bytes"},
		{"output in a loop", small, "{% for i in range(100) %}{{ 'z' * 20000 }}{% endfor %}", LimitOutput, 1, "over the render output limit"},
		{"output in a macro", small, "{% macro m() %}{% for i in range(100) %}{{ 'z' * 20000 }}{% endfor %}{% endmacro %}{% set x = m() %}", LimitOutput, 1, "over the render output limit"},
		{"literal text in a loop", small, "{% for i in range(1000) %}" + strings.Repeat("literal ", 200) + "{% endfor %}", LimitOutput, 1, "over the render output limit"},
		{"nested loops of 1e10", small, "a\n{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", LimitSteps, 2, "over the limit of 10000 loop iterations"},
		{"loop over a long string", small, "{% for c in 'x' * 100000 %}{% endfor %}", LimitSteps, 1, "loop over 100000 items with 10000 steps left"},
		{"list doubling", small, "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", LimitSteps, 1, "'+' concatenating lists"},
		{"macro recursion fan-out", small, "{% macro m(n) %}{% if n > 0 %}{{ m(n-1) }}{{ m(n-1) }}{% endif %}{% endmacro %}{{ m(30) }}", LimitSteps, 1, "macro m"},
		{"render time", Options{MaxRenderTime: time.Nanosecond}, "{% for i in range(10) %}{% endfor %}", LimitTime, 1, "render took longer than 1ns (raise jinja_max_render_time)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Loader == nil {
				tc.opts.Loader = dirLoader(tree)
			}
			env := New(tc.opts)
			out, err := env.Render(context.Background(), "web/bomb.sls", []byte(tc.src), vars)
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("Render = %d bytes, %v; want a *LimitError", len(out), err)
			}
			if le.Limit != tc.wantLimit {
				t.Errorf("limit = %s, want %s (%v)", le.Limit, tc.wantLimit, err)
			}
			var te *Error
			if !errors.As(err, &te) || te.Name != "web/bomb.sls" || te.Line != tc.wantLine {
				t.Errorf("error = %#v, want an *Error for web/bomb.sls line %d", te, tc.wantLine)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) || !strings.Contains(err.Error(), "raise "+tc.wantLimit) {
				t.Errorf("error = %q, want it to contain %q and say how to raise %s", err, tc.wantMsg, tc.wantLimit)
			}
			if out != nil {
				t.Errorf("output %d bytes with an error", len(out))
			}
		})
	}
}

// TestLimitsLeaveOrdinaryTemplates renders templates just under each limit.
func TestLimitsLeaveOrdinaryTemplates(t *testing.T) {
	env := New(Options{Loader: dirLoader(tree), MaxOutputBytes: 1000, MaxSteps: 100})
	for _, tc := range []struct {
		name, src string
		wantLen   int
	}{
		{"repetition at the limit", "{{ 'x' * 1000 }}", 1000},
		{"loop at the step limit", "{% for i in range(10) %}{% for j in range(9) %}.{% endfor %}{% endfor %}", 90},
		{"join under the limit", "{{ range(100) | join(',') }}", 289},
		{"list concatenation", "{{ ([1] * 0 + [1, 2] + [3]) | length }}", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := env.Render(context.Background(), "a.sls", []byte(tc.src), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != tc.wantLen {
				t.Errorf("output = %q (%d bytes), want %d bytes", out, len(out), tc.wantLen)
			}
		})
	}
}

// TestRenderStopsWhenCancelled cancels the render's context from a salt
// function called inside a loop of 1e10 iterations: the render must end with
// the cancellation, not run on.
func TestRenderStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	env := New(Options{MaxSteps: 1 << 62, Call: func(context.Context, string, []any, map[string]any) (any, error) {
		if calls++; calls == 10 {
			cancel()
		}
		return "", nil
	}})
	src := "{% for i in range(100000) %}{% for j in range(100000) %}{{ salt['test.echo']() if i == 0 else '' }}{% endfor %}{% endfor %}"
	_, err := env.Render(ctx, "web/loop.sls", []byte(src), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Render = %v, want context.Canceled", err)
	}
	var te *Error
	if !errors.As(err, &te) || te.Name != "web/loop.sls" || te.Line != 1 {
		t.Errorf("error = %#v, want an *Error for web/loop.sls line 1", te)
	}
	if calls != 10 {
		t.Errorf("salt function called %d times after cancellation at call 10", calls)
	}
}

// TestRepetitionBombMemory measures the heap a repetition bomb allocates:
// the check happens before the string is built.
func TestRepetitionBombMemory(t *testing.T) {
	env := New(Options{})
	src := []byte("{{ 'x' * 10000000000 }}")
	if _, err := env.Render(context.Background(), "bomb.sls", src, nil); err == nil {
		t.Fatal("repetition bomb rendered")
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 10
	for range runs {
		if _, err := env.Render(context.Background(), "bomb.sls", src, nil); err == nil {
			t.Fatal("repetition bomb rendered")
		}
	}
	runtime.ReadMemStats(&after)
	perRender := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("a repetition bomb costs %d bytes of heap per render", perRender)
	if perRender > 1<<20 {
		t.Errorf("a repetition bomb allocates %d bytes per render, want under 1 MiB", perRender)
	}
}
