package output

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/brinecm/brine/pkg/result"
)

// commentIndent is the column where comment continuation lines and the
// changes block start, under the values of the state fields.
const commentIndent = 14

// writeHighstate prints a state run as Salt's highstate outputter does: the
// minion id, each state in run order, then the summary. Compile errors get
// Salt's "Data failed to compile" block; any other data is printed nested.
func writeHighstate(b *bytes.Buffer, r Return, p palette, opts Options) error {
	switch d := r.Data.(type) {
	case result.Highstate:
		body, hcolor, err := stateLines(d, p, opts)
		if err != nil {
			return err
		}
		writeLines(b, []string{hcolor(r.Minion + ":")})
		writeLines(b, body)
		writeLines(b, []string{""})
		writeLines(b, summaryLines(r.Minion, d, p))
		return nil
	case CompileErrors:
		writeCompileErrors(b, r.Minion, d, p)
		return nil
	}
	return writeNestedOut(b, r, p, opts)
}

// writeSummaryOut prints only the "Summary for <minion>" block of a state
// run; compile errors as the highstate printer does; other data nested.
func writeSummaryOut(b *bytes.Buffer, r Return, p palette, opts Options) error {
	switch d := r.Data.(type) {
	case result.Highstate:
		writeLines(b, summaryLines(r.Minion, d, p))
		return nil
	case CompileErrors:
		writeCompileErrors(b, r.Minion, d, p)
		return nil
	}
	return writeNestedOut(b, r, p, opts)
}

// stateLines renders every state of h that is shown (all of them when
// verbose, otherwise those that failed, changed or ran in test mode) and
// returns the colour of the minion id line: green, or as Salt does, the
// colour of the last shown state that failed (red) or did not run (yellow).
func stateLines(h result.Highstate, p palette, opts Options) ([]string, func(...any) string, error) {
	var lines []string
	hcolor := p.green.Sprint
	for i := range h {
		s := &h[i]
		changed := len(s.Changes) > 0
		if !opts.Verbose && s.Result != nil && *s.Result && !changed && len(s.Warnings) == 0 {
			continue
		}
		tcolor := p.green.Sprint
		if changed {
			tcolor = p.cyan.Sprint
		}
		switch {
		case s.Result == nil:
			hcolor, tcolor = p.yellow.Sprint, p.yellow.Sprint
		case !*s.Result:
			hcolor, tcolor = p.red.Sprint, p.red.Sprint
		}
		field := func(label, value string) string {
			return "    " + tcolor(fmt.Sprintf("%8s: %s", label, value))
		}
		lines = append(lines, tcolor("----------"), field("ID", s.ID), field("Function", s.Function()))
		if s.Name != s.ID {
			lines = append(lines, field("Name", s.Name))
		}
		comment := strings.ReplaceAll(strings.TrimSpace(s.Comment), "\n", "\n"+strings.Repeat(" ", commentIndent))
		lines = append(lines,
			field("Result", pyBool(s.Result)),
			field("Comment", comment),
			field("Started", s.StartTime),
			field("Duration", pyFloat(s.Duration)+" ms"),
			"    "+tcolor(" Changes:"),
		)
		if changed {
			t, err := toTree(s.Changes)
			if err != nil {
				return nil, nil, fmt.Errorf("state %s: %w", s.Key, err)
			}
			n := nester{p: p}
			n.display(t, commentIndent, "")
			lines = append(lines, n.lines...)
		}
		if len(s.Warnings) > 0 {
			w := strings.Join(s.Warnings, "\n"+strings.Repeat(" ", commentIndent))
			lines = append(lines, "    "+p.red.Sprint("Warnings: "+w))
		}
	}
	return lines, hcolor, nil
}

// summaryLines renders Salt's "Summary for <minion>" block. Succeeded counts
// results true and null (test mode); of those, a state with changes counts
// as changed and one without as unchanged. The run time is the sum of the
// durations, in seconds past 999 ms.
func summaryLines(minion string, h result.Highstate, p palette) []string {
	var nTrue, nFalse, nNull, changed, warned int
	var ms float64
	for i := range h {
		s := &h[i]
		ms += s.Duration
		if len(s.Warnings) > 0 {
			warned++
		}
		switch {
		case s.Result == nil:
			nNull++
		case *s.Result:
			nTrue++
		default:
			nFalse++
			continue
		}
		if len(s.Changes) > 0 {
			changed++
		}
	}
	succeeded := nTrue + nNull

	// Salt sizes the block on its longest label ("Succeeded") and the
	// widest count of one result value.
	countWidth := 0
	for _, n := range []int{nTrue, nFalse, nNull} {
		if n > 0 {
			countWidth = max(countWidth, len(strconv.Itoa(n)))
		}
	}
	width := len("Succeeded") + countWidth + len(": ")
	dashes := strings.Repeat("-", width)
	count := func(label string, n int) string {
		return fmt.Sprintf("%s: %*d", label, width-len(label)-2, n)
	}

	failed := p.cyan.Sprint
	if nFalse > 0 {
		failed = p.red.Sprint
	}
	// Salt's "(unchanged=N, changed=M)": unchanged counts the states that
	// would change in test mode (result None), and each part shows only
	// when not zero.
	var stats []string
	if nNull > 0 {
		stats = append(stats, p.yellow.Sprintf("unchanged=%d", nNull))
	}
	if changed > 0 {
		stats = append(stats, p.green.Sprintf("changed=%d", changed))
	}
	succeededLine := p.green.Sprint(count("Succeeded", succeeded))
	if len(stats) > 0 {
		succeededLine += " (" + strings.Join(stats, ", ") + ")"
	}
	unit := "ms"
	if ms > 999 {
		ms /= 1000
		unit = "s"
	}
	lines := []string{
		p.cyan.Sprint("Summary for " + minion),
		p.cyan.Sprint(dashes),
		succeededLine,
		failed(count("Failed", nFalse)),
		p.cyan.Sprint(dashes),
		p.cyan.Sprintf("Total states run: %*d", width-7, len(h)),
		p.cyan.Sprintf("Total run time: %*.3f %s", width-5, ms, unit),
	}
	if warned > 0 {
		// Salt counts the states with warnings under the failures.
		lines = slices.Insert(lines, 4, p.red.Sprint(count("Warnings", warned)))
	}
	return lines
}

// writeCompileErrors prints a state run that did not compile as Salt does:
// the minion id, "Data failed to compile:", then each error under a rule.
func writeCompileErrors(b *bytes.Buffer, minion string, errs CompileErrors, p palette) {
	lines := []string{
		p.lightRed.Sprint(minion + ":"),
		"    " + p.lightRed.Sprint("Data failed to compile:"),
	}
	for _, e := range errs {
		lines = append(lines, p.lightRed.Sprint("----------"))
		for _, l := range splitLines(stripEsc(e)) {
			lines = append(lines, "    "+p.lightRed.Sprint(l))
		}
	}
	writeLines(b, lines)
}

// writeLines writes each line followed by a newline.
func writeLines(b *bytes.Buffer, lines []string) {
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
}
