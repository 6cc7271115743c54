// Package output prints minion returns the way Salt's outputters do:
// highstate (the default for state runs), nested (the default for plain
// functions), json, yaml, summary and txt.
package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/brinecm/brine/pkg/result"
	"github.com/fatih/color"
)

// Return is one minion's answer to one function call.
type Return struct {
	Minion string
	Data   any
}

// CompileErrors is a state run that failed to compile: one message per line
// (file:line: id: msg).
type CompileErrors []string

// Options for printing.
type Options struct {
	Color   bool // ANSI colour (the caller decides: a TTY and no --no-color)
	Verbose bool // highstate: print unchanged states too (Salt's state_verbose); default printers show all states
}

// printer appends the whole output for one return to b.
type printer func(b *bytes.Buffer, r Return, p palette, opts Options) error

// printerFor returns the printer of a format, or false for an unknown one.
func printerFor(format string) (printer, bool) {
	switch format {
	case "highstate", "":
		return writeHighstate, true
	case "json":
		return writeJSONOut, true
	case "yaml":
		return writeYAMLOut, true
	case "summary":
		return writeSummaryOut, true
	case "nested":
		return writeNestedOut, true
	case "txt":
		return writeTxtOut, true
	}
	return nil, false
}

// Formats lists the output formats: "highstate", "json", "yaml", "summary",
// "nested", "txt".
func Formats() []string {
	return []string{"highstate", "json", "yaml", "summary", "nested", "txt"}
}

// Write prints one minion's return in the named format ("" means highstate,
// which falls back to nested for data that is not a Highstate). Unknown
// format: an error listing the known ones. The whole output goes to w in one
// Write call, and nothing is written when printing fails.
func Write(w io.Writer, format string, r Return, opts Options) error {
	write, ok := printerFor(format)
	if !ok {
		return fmt.Errorf("unknown output format %q (known: %s)", format, strings.Join(Formats(), ", "))
	}
	r.Data = normalize(r.Data)
	var b bytes.Buffer
	if err := write(&b, r, newPalette(opts.Color), opts); err != nil {
		return fmt.Errorf("print return of %s: %w", r.Minion, err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write return of %s: %w", r.Minion, err)
	}
	return nil
}

// normalize turns the shapes a state run may arrive in (a pointer, or a
// highstate decoded from JSON into plain maps) into a result.Highstate, and
// leaves any other data as it is.
func normalize(data any) any {
	switch v := data.(type) {
	case *result.Highstate:
		if v != nil {
			return sortedRun(*v)
		}
	case *CompileErrors:
		if v != nil {
			return *v
		}
	case result.Highstate:
		return sortedRun(v)
	case map[string]any:
		if h, ok := decodeHighstate(v); ok {
			return h
		}
	}
	return data
}

// sortedRun returns h in run order (by __run_num__, stable), as Salt prints.
func sortedRun(h result.Highstate) result.Highstate {
	if sort.SliceIsSorted(h, func(i, j int) bool { return h[i].RunNum < h[j].RunNum }) {
		return h
	}
	s := append(result.Highstate(nil), h...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].RunNum < s[j].RunNum })
	return s
}

// decodeHighstate recognises a state run that was decoded from JSON into
// plain maps: every value is a mapping holding "result" and "__run_num__",
// the test Salt's highstate outputter makes.
func decodeHighstate(m map[string]any) (result.Highstate, bool) {
	if len(m) == 0 {
		return nil, false
	}
	for _, v := range m {
		r, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		_, hasResult := r["result"]
		_, hasRunNum := r["__run_num__"]
		if !hasResult || !hasRunNum {
			return nil, false
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, false
	}
	var h result.Highstate
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, false
	}
	return h, true
}

// palette holds the colours of one Write call, forced on or off.
type palette struct {
	green, cyan, yellow, red, lightRed *color.Color
}

// newPalette returns Salt's colours (GREEN, CYAN, LIGHT_YELLOW, RED,
// LIGHT_RED), enabled or disabled regardless of the terminal.
func newPalette(on bool) palette {
	p := palette{
		green:    color.New(color.FgGreen),
		cyan:     color.New(color.FgCyan),
		yellow:   color.New(color.FgYellow, color.Bold),
		red:      color.New(color.FgRed),
		lightRed: color.New(color.FgRed, color.Bold),
	}
	for _, c := range []*color.Color{p.green, p.cyan, p.yellow, p.red, p.lightRed} {
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return p
}
