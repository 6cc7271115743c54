package recipetest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// Formats lists the report formats Write knows.
func Formats() []string { return []string{"text", "json", "junit"} }

// Write writes the report in format ("" means text). strict marks lint
// warnings as failures in JUnit, as they fail the run then.
func (r *Report) Write(w io.Writer, format string, strict bool) error {
	switch format {
	case "", "text":
		return r.writeText(w)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("write the JSON report: %w", err)
		}
		return nil
	case "junit":
		return r.writeJUnit(w, strict)
	}
	return fmt.Errorf("unknown output format %q: use one of %s", format, strings.Join(Formats(), ", "))
}

// writeText prints one line per error, "MINION: FILE:LINE: ID: message",
// one line per clean minion, the warnings, then a summary.
func (r *Report) writeText(w io.Writer) error {
	var b strings.Builder
	failed := 0
	for _, m := range r.Minions {
		if len(m.Errors) == 0 {
			fmt.Fprintf(&b, "%s: ok (%d states)\n", m.ID, m.States)
			continue
		}
		failed++
		for _, e := range m.Errors {
			fmt.Fprintf(&b, "%s: %s\n", m.ID, e)
		}
	}
	for _, wr := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s [%s]\n", wr.Problem, wr.Lint)
	}
	fmt.Fprintf(&b, "%d minions: %d compiled, %d failed with %d errors; %d warnings\n",
		len(r.Minions), len(r.Minions)-failed, failed, r.ErrorCount(), len(r.Warnings))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

// JUnitSuites is the JUnit XML document `--out junit` writes, as Jenkins
// and GitLab read it.
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one testsuite: "render" (the minions and their errors) or
// "lint" (the warnings).
type JUnitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []JUnitCase `xml:"testcase"`
}

// JUnitCase is one testcase; Failure is set when it failed.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *JUnitFailure `xml:"failure"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// JUnitFailure carries the message ("FILE:LINE: ID: message") of a failure.
type JUnitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit builds the JUnit document: per minion one testcase (failed when
// the minion has any error) and one failed testcase per error, classname
// "render.MINION"; per lint warning one testcase in suite "lint", failed
// only when strict.
func (r *Report) JUnit(strict bool) JUnitSuites {
	render := JUnitSuite{Name: "render"}
	for _, m := range r.Minions {
		c := JUnitCase{Name: m.ID + ": compile", Classname: "render." + m.ID}
		if len(m.Errors) > 0 {
			lines := make([]string, len(m.Errors))
			for i, e := range m.Errors {
				lines[i] = e.String()
			}
			c.Failure = &JUnitFailure{Type: "compile", Message: fmt.Sprintf("%d compile errors", len(m.Errors)),
				Text: strings.Join(lines, "\n")}
		} else {
			c.SystemOut = fmt.Sprintf("%d states compiled", m.States)
		}
		render.Cases = append(render.Cases, c)
		for _, e := range m.Errors {
			render.Cases = append(render.Cases, JUnitCase{
				Name: m.ID + ": " + strings.TrimSuffix(e.Location(), ": "), Classname: "render." + m.ID,
				File: e.File, Line: e.Line,
				Failure: &JUnitFailure{Type: "compile", Message: e.String(), Text: m.ID + ": " + e.String()},
			})
		}
	}
	lint := JUnitSuite{Name: "lint"}
	for _, wr := range r.Warnings {
		c := JUnitCase{Name: wr.Lint + ": " + strings.TrimSuffix(wr.Location(), ": "), Classname: "lint." + wr.Lint,
			File: wr.File, Line: wr.Line}
		if strict {
			c.Failure = &JUnitFailure{Type: "lint", Message: wr.String(), Text: wr.String()}
		} else {
			c.SystemOut = "warning: " + wr.String()
		}
		lint.Cases = append(lint.Cases, c)
	}
	doc := JUnitSuites{Name: "brine test render"}
	for _, s := range []JUnitSuite{render, lint} {
		for _, c := range s.Cases {
			if c.Failure != nil {
				s.Failures++
			}
		}
		s.Tests = len(s.Cases)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Suites = append(doc.Suites, s)
	}
	return doc
}

func (r *Report) writeJUnit(w io.Writer, strict bool) error {
	out, err := xml.MarshalIndent(r.JUnit(strict), "", "  ")
	if err != nil {
		return fmt.Errorf("write the JUnit report: %w", err)
	}
	if _, err := fmt.Fprintf(w, "%s%s\n", xml.Header, out); err != nil {
		return fmt.Errorf("write the JUnit report: %w", err)
	}
	return nil
}
