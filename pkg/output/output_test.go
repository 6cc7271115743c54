package output

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/brinecm/brine/pkg/result"
	"github.com/fatih/color"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// loadHighstate reads a Salt-shaped state run from testdata.
func loadHighstate(t *testing.T, name string) result.Highstate {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var h result.Highstate
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return h
}

// loadJSON reads any JSON value from testdata, as a return decoded off the wire.
func loadJSON(t *testing.T, name string) any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return v
}

func loadCompileErrors(t *testing.T) CompileErrors {
	t.Helper()
	var errs CompileErrors
	for _, e := range loadJSON(t, "compile_errors.json").([]any) {
		errs = append(errs, e.(string))
	}
	return errs
}

// golden compares got with testdata/<name>.golden, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestGolden(t *testing.T) {
	mixed := loadHighstate(t, "highstate_mixed.json")
	testRun := loadHighstate(t, "highstate_test.json")
	compile := loadCompileErrors(t)
	grains := loadJSON(t, "grains.json")
	verbose := Options{Verbose: true}
	colour := Options{Verbose: true, Color: true}

	tests := []struct {
		name   string
		format string
		data   any
		opts   Options
	}{
		{"highstate_mixed", "highstate", mixed, verbose},
		{"highstate_mixed_color", "highstate", mixed, colour},
		{"highstate_mixed_terse", "", mixed, Options{}},
		{"highstate_test", "highstate", testRun, verbose},
		{"highstate_test_color", "highstate", testRun, colour},
		{"highstate_empty", "highstate", result.Highstate{}, verbose},
		{"compile_errors", "highstate", compile, verbose},
		{"compile_errors_color", "highstate", compile, colour},
		{"compile_errors_json", "json", compile, verbose},
		{"compile_errors_summary", "summary", compile, verbose},
		{"mixed_nested", "nested", mixed, verbose},
		{"mixed_json", "json", mixed, verbose},
		{"mixed_yaml", "yaml", mixed, verbose},
		{"mixed_summary", "summary", mixed, verbose},
		{"mixed_summary_color", "summary", mixed, colour},
		{"mixed_txt", "txt", mixed, verbose},
		{"grains_highstate", "highstate", grains, verbose},
		{"grains_nested", "nested", grains, verbose},
		{"grains_nested_color", "nested", grains, colour},
		{"grains_json", "json", grains, verbose},
		{"grains_yaml", "yaml", grains, verbose},
		{"grains_summary", "summary", grains, verbose},
		{"grains_txt", "txt", grains, verbose},
		{"true_highstate", "highstate", true, verbose},
		{"true_nested", "nested", true, verbose},
		{"true_json", "json", true, verbose},
		{"true_yaml", "yaml", true, verbose},
		{"true_summary", "summary", true, verbose},
		{"true_txt", "txt", true, verbose},
		{"cmd_run_txt", "txt", "total 0\ndrwxr-xr-x 2 root root 40 .\n", verbose},
		{"cmd_run_nested", "nested", "total 0\ndrwxr-xr-x 2 root root 40 .\n", verbose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, tt.format, Return{Minion: "local", Data: tt.data}, tt.opts); err != nil {
				t.Fatal(err)
			}
			if !tt.opts.Color && bytes.Contains(b.Bytes(), []byte("\x1b")) {
				t.Errorf("colour off, but the output holds escape sequences:\n%q", b.String())
			}
			if tt.opts.Color && !bytes.Contains(b.Bytes(), []byte("\x1b[")) {
				t.Errorf("colour on, but the output holds no escape sequence:\n%s", b.String())
			}
			golden(t, tt.name, b.Bytes())
		})
	}
}

// TestColourOnlyAddsEscapes checks that the output of a colour run, stripped
// of its escape sequences, is the plain one.
func TestColourOnlyAddsEscapes(t *testing.T) {
	for _, data := range []any{loadHighstate(t, "highstate_mixed.json"), loadJSON(t, "grains.json"), loadCompileErrors(t)} {
		var plain, coloured bytes.Buffer
		r := Return{Minion: "web1", Data: data}
		if err := Write(&plain, "highstate", r, Options{Verbose: true}); err != nil {
			t.Fatal(err)
		}
		if err := Write(&coloured, "highstate", r, Options{Verbose: true, Color: true}); err != nil {
			t.Fatal(err)
		}
		if got := stripANSI(coloured.String()); got != plain.String() {
			t.Errorf("colour output without escapes differs from plain output:\n%s\n---\n%s", got, plain.String())
		}
	}
}

// TestColourIgnoresGlobal checks that Options.Color alone decides, whatever
// fatih/color guessed from the terminal.
func TestColourIgnoresGlobal(t *testing.T) {
	saved := color.NoColor
	defer func() { color.NoColor = saved }()
	r := Return{Minion: "local", Data: loadHighstate(t, "highstate_test.json")}
	for _, tt := range []struct{ global, option bool }{{true, true}, {false, false}} {
		color.NoColor = tt.global
		var b bytes.Buffer
		if err := Write(&b, "highstate", r, Options{Color: tt.option}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(b.String(), "\x1b["); got != tt.option {
			t.Errorf("color.NoColor=%v, Options.Color=%v: escapes present = %v", tt.global, tt.option, got)
		}
	}
}

// stripANSI removes SGR escape sequences.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\x1b' && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && s[j] != 'm' {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TestJSONRoundTrip checks that the json output decodes back, through
// result.Highstate's UnmarshalJSON, to the run that was printed.
func TestJSONRoundTrip(t *testing.T) {
	for _, name := range []string{"highstate_mixed.json", "highstate_test.json"} {
		t.Run(name, func(t *testing.T) {
			h := loadHighstate(t, name)
			var b bytes.Buffer
			if err := Write(&b, "json", Return{Minion: "web1", Data: h}, Options{}); err != nil {
				t.Fatal(err)
			}
			var out map[string]result.Highstate
			if err := json.Unmarshal(b.Bytes(), &out); err != nil {
				t.Fatalf("decode json output: %v\n%s", err, b.String())
			}
			if len(out) != 1 {
				t.Fatalf("want one minion, got %d: %v", len(out), out)
			}
			if !reflect.DeepEqual(out["web1"], h) {
				t.Errorf("round trip changed the run:\n got %+v\nwant %+v", out["web1"], h)
			}
		})
	}
}

// TestJSONKeepsRunOrder checks the json and yaml outputs list the states in
// run order, not sorted by key.
func TestJSONKeepsRunOrder(t *testing.T) {
	h := loadHighstate(t, "highstate_mixed.json")
	for _, format := range []string{"json", "yaml"} {
		var b bytes.Buffer
		if err := Write(&b, format, Return{Minion: "web1", Data: h}, Options{}); err != nil {
			t.Fatal(err)
		}
		last := -1
		for _, r := range h {
			i := strings.Index(b.String(), r.Key)
			if i < 0 || i < last {
				t.Errorf("%s: %s out of run order (at %d, previous at %d)", format, r.Key, i, last)
			}
			last = i
		}
	}
}

// TestDecodedHighstate checks that a state run decoded into plain maps (as
// it comes off the wire) prints exactly as the typed run.
func TestDecodedHighstate(t *testing.T) {
	typed := loadHighstate(t, "highstate_mixed.json")
	plain := loadJSON(t, "highstate_mixed.json")
	for _, format := range Formats() {
		var a, b bytes.Buffer
		if err := Write(&a, format, Return{Minion: "local", Data: typed}, Options{Verbose: true}); err != nil {
			t.Fatal(err)
		}
		if err := Write(&b, format, Return{Minion: "local", Data: plain}, Options{Verbose: true}); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("%s: decoded run prints differently:\n%s\n---\n%s", format, b.String(), a.String())
		}
	}
}

func TestRunOrder(t *testing.T) {
	h := loadHighstate(t, "highstate_test.json")
	shuffled := result.Highstate{h[2], h[0], h[1]}
	var a, b bytes.Buffer
	if err := Write(&a, "highstate", Return{Minion: "local", Data: h}, Options{Verbose: true}); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, "highstate", Return{Minion: "local", Data: &shuffled}, Options{Verbose: true}); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("states not printed by __run_num__:\n%s", b.String())
	}
}

func TestVerbose(t *testing.T) {
	h := loadHighstate(t, "highstate_mixed.json")
	for _, tt := range []struct {
		verbose bool
		want    int // states printed
	}{{true, 5}, {false, 4}} {
		var b bytes.Buffer
		if err := Write(&b, "highstate", Return{Minion: "local", Data: h}, Options{Verbose: tt.verbose}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(b.String(), "          ID: "); got != tt.want {
			t.Errorf("verbose=%v: %d states printed, want %d", tt.verbose, got, tt.want)
		}
		if !strings.Contains(b.String(), "Total states run:     5") {
			t.Errorf("verbose=%v: summary does not count every state:\n%s", tt.verbose, b.String())
		}
	}
}

func TestSummaryCounts(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		run  result.Highstate
		want []string
	}{
		{"empty", nil, []string{"-----------", "Succeeded: 0", "Failed:   0", "Total run time:  0.000 ms"}},
		{"null counts as succeeded", result.Highstate{
			{Key: "a_|-a_|-a_|-b", Result: nil, Changes: map[string]any{"x": 1}, Duration: 0.5},
			{Key: "a_|-b_|-b_|-b", Result: nil, Duration: 0.25},
		}, []string{"Succeeded: 2 (unchanged=2, changed=1)", "Failed:    0", "Total run time:   0.750 ms"}},
		{"failed changes are not counted as succeeded", result.Highstate{
			{Key: "a_|-a_|-a_|-b", Result: &no, Changes: map[string]any{"x": 1}, Duration: 999},
			{Key: "a_|-b_|-b_|-b", Result: &yes, Duration: 1},
		}, []string{"Succeeded: 1", "Failed:    1", "Total run time:   1.000 s"}},
		{"wide counts", manyStates(12, &yes), []string{"-------------", "Succeeded: 12", "Failed:     0", "Total states run:     12"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, "summary", Return{Minion: "m", Data: tt.run}, Options{}); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(b.String(), "\n")
			for _, w := range tt.want {
				if !contains(lines, w) {
					t.Errorf("no line %q in:\n%s", w, b.String())
				}
			}
		})
	}
}

func manyStates(n int, res *bool) result.Highstate {
	h := make(result.Highstate, n)
	for i := range h {
		h[i] = result.State{Key: "test_|-s_|-s_|-nop", ID: "s", Name: "s", RunNum: i, Result: res}
	}
	return h
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

func TestUnknownFormat(t *testing.T) {
	var b bytes.Buffer
	err := Write(&b, "junit-xml", Return{Minion: "local", Data: true}, Options{})
	if err == nil {
		t.Fatal("want an error for an unknown format")
	}
	for _, f := range Formats() {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not list %q", err, f)
		}
	}
	if b.Len() != 0 {
		t.Errorf("wrote %q for an unknown format", b.String())
	}
}

func TestUnencodableData(t *testing.T) {
	for _, format := range Formats() {
		var b bytes.Buffer
		err := Write(&b, format, Return{Minion: "local", Data: map[string]any{"x": math.NaN()}}, Options{})
		if err == nil || !strings.Contains(err.Error(), "local") {
			t.Errorf("%s: want an error naming the minion, got %v", format, err)
		}
		if b.Len() != 0 {
			t.Errorf("%s: partial output %q", format, b.String())
		}
	}
}

// writeCounter counts Write calls.
type writeCounter struct{ calls int }

func (w *writeCounter) Write(p []byte) (int, error) { w.calls++; return len(p), nil }

func TestSingleWrite(t *testing.T) {
	for _, format := range Formats() {
		var w writeCounter
		if err := Write(&w, format, Return{Minion: "local", Data: loadHighstate(t, "highstate_mixed.json")}, Options{Verbose: true}); err != nil {
			t.Fatal(err)
		}
		if w.calls != 1 {
			t.Errorf("%s: %d writes, want 1", format, w.calls)
		}
	}
}

func TestPyFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{12.345, "12.345"}, {40, "40.0"}, {0, "0.0"}, {0.004, "0.004"}, {1e-05, "1e-05"},
		{1e16, "1e+16"}, {123456789012345.6, "123456789012345.6"}, {-2.5, "-2.5"},
		{math.Inf(1), "inf"}, {math.NaN(), "nan"},
	}
	for _, tt := range tests {
		if got := pyFloat(tt.in); got != tt.want {
			t.Errorf("pyFloat(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPyRepr(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"plain", `'plain'`},
		{"it's", `"it's"`},
		{`both ' and "`, `'both \' and "'`},
		{"tab\tnl\nbs\\", `'tab\tnl\nbs\\'`},
		{"bell\a é \u00a0", `'bell\x07 é \xa0'`},
		{[]any{true, nil, json.Number("3"), []any{}}, `[True, None, 3, []]`},
		{object{{"b", "x"}, {"a", object{}}}, `{'b': 'x', 'a': {}}`},
	}
	for _, tt := range tests {
		var b strings.Builder
		pyRepr(&b, tt.in)
		if b.String() != tt.want {
			t.Errorf("pyRepr(%#v) = %s, want %s", tt.in, b.String(), tt.want)
		}
	}
}

func TestSplitLines(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a\n", []string{"a"}},
		{"\n", []string{""}},
		{"a\r\nb\rc\n\nd", []string{"a", "b", "c", "", "d"}},
		{"x\u2028y", []string{"x", "y"}},
	}
	for _, tt := range tests {
		if got := splitLines(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitLines(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestYAMLStrings checks that strings which read as other YAML types stay
// strings, and that base-60 times are quoted for YAML 1.1 readers.
func TestYAMLStrings(t *testing.T) {
	data := map[string]any{}
	for _, s := range []string{"yes", "no", "on", "off", "True", "null", "~", "12", "0644", "1e3", "", " lead", "a: b", "- x", "#c", "10:21:33.123456", "multi\nline\n"} {
		data["k"+s] = s
	}
	var b bytes.Buffer
	if err := Write(&b, "yaml", Return{Minion: "local", Data: data}, Options{}); err != nil {
		t.Fatal(err)
	}
	var back map[string]map[string]any
	if err := yaml.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("decode yaml output: %v\n%s", err, b.String())
	}
	if !reflect.DeepEqual(back["local"], data) {
		t.Errorf("yaml round trip changed the data:\n got %#v\nwant %#v\n%s", back["local"], data, b.String())
	}
	if !strings.Contains(b.String(), "k10:21:33.123456: '10:21:33.123456'") {
		t.Errorf("base-60 time not quoted:\n%s", b.String())
	}
}

// TestWarningsShown checks that a state's warnings (an unknown argument
// the run tolerated) are printed under it, even when it succeeded without
// changes, and counted in the summary.
func TestWarningsShown(t *testing.T) {
	yes := true
	h := result.Highstate{{Key: "file_|-f_|-/tmp/f_|-managed", ID: "f", Name: "/tmp/f", Result: &yes,
		Warnings: []string{"unknown argument 'sorce' (did you mean 'source'?)"}}}
	var b bytes.Buffer
	if err := Write(&b, "highstate", Return{Minion: "m", Data: h}, Options{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	for _, want := range []string{"    Warnings: unknown argument 'sorce' (did you mean 'source'?)", "Warnings:  1"} {
		if !contains(lines, want) {
			t.Errorf("no line %q in:\n%s", want, b.String())
		}
	}
}
