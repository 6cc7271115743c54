package testrun

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
)

// Formats lists the report formats Write knows.
func Formats() []string { return []string{"text", "json", "junit"} }

// Write writes the report in format ("" means text).
func (r *Report) Write(w io.Writer, format string) error {
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
		out, err := xml.MarshalIndent(r.JUnit(), "", "  ")
		if err != nil {
			return fmt.Errorf("write the JUnit report: %w", err)
		}
		if _, err := fmt.Fprintf(w, "%s%s\n", xml.Header, out); err != nil {
			return fmt.Errorf("write the JUnit report: %w", err)
		}
		return nil
	}
	return fmt.Errorf("unknown output format %q: use one of %s", format, strings.Join(Formats(), ", "))
}

// label is how the text report marks a case's status.
func label(status string) string {
	switch status {
	case StatusPassed:
		return "ok"
	case StatusFailed:
		return "FAIL"
	case StatusSkipped:
		return "skip"
	}
	return "ERROR"
}

// writeText prints, per minion as a highstate does, a line per case that
// did not plainly pass (and per applied state), then the minion's summary,
// then the run's.
func (r *Report) writeText(w io.Writer) error {
	var b strings.Builder
	var passed, failed, skipped, errs int
	for _, m := range r.Minions {
		fmt.Fprintf(&b, "%s:\n", m.ID)
		for _, c := range m.Cases {
			if c.Kind == KindIdempotence && c.Status == StatusPassed || c.Kind == KindAssertion && c.Status == StatusPassed {
				continue // counted below; an applied state is listed once
			}
			where := ""
			if p := c.Pos.String(); p != "" {
				where = "  [" + p + "]"
			}
			fmt.Fprintf(&b, "  %-5s %-11s %s%s\n", label(c.Status), c.Kind, c.Name, where)
			if c.Message != "" {
				for line := range strings.Lines(c.Message) {
					fmt.Fprintf(&b, "                    %s", strings.TrimRight(line, "\n")+"\n")
				}
			}
		}
		p, f, s, e := m.count(StatusPassed), m.count(StatusFailed), m.count(StatusSkipped), m.count(StatusError)
		passed, failed, skipped, errs = passed+p, failed+f, skipped+s, errs+e
		fmt.Fprintf(&b, "Summary for %s (%s)\n", m.ID, summary(m))
		fmt.Fprintf(&b, "  Passed: %d, Failed: %d, Skipped: %d, Errors: %d; %.1fs\n\n", p, f, s, e, m.Duration)
	}
	fmt.Fprintf(&b, "%d minions on %s: %d passed, %d failed, %d skipped, %d errors in %.1fs\n",
		len(r.Minions), r.Image, passed, failed, skipped, errs, r.Duration)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

// summary counts a minion's cases by kind: "12 states, idempotent, 5 assertions".
func summary(m MinionReport) string {
	n := map[string]int{}
	bad := map[string]int{}
	for _, c := range m.Cases {
		n[c.Kind]++
		if c.Status == StatusFailed || c.Status == StatusError {
			bad[c.Kind]++
		}
	}
	idem := "idempotent"
	switch {
	case n[KindIdempotence] == 0:
		idem = "idempotence not checked"
	case bad[KindIdempotence] > 0:
		idem = fmt.Sprintf("%d states not idempotent", bad[KindIdempotence])
	}
	return fmt.Sprintf("%d states, %s, %d assertions", n[KindApply], idem, n[KindAssertion])
}

// JUnitSuites is the JUnit XML document `--out junit` writes, as Jenkins
// and GitLab read it: one testsuite per minion.
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     float64      `xml:"time,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one minion's testsuite.
type JUnitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     float64     `xml:"time,attr"`
	Cases    []JUnitCase `xml:"testcase"`
}

// JUnitCase is one testcase: a state applied, its idempotence check, an
// assertion, or the setup that failed.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"` // MINION.KIND
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      float64       `xml:"time,attr"`
	Failure   *JUnitFailure `xml:"failure"`
	Error     *JUnitFailure `xml:"error"`
	Skipped   *struct{}     `xml:"skipped"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// JUnitFailure carries a failure's or an error's message; the text adds
// where the state or test was written.
type JUnitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit builds the JUnit document.
func (r *Report) JUnit() JUnitSuites {
	doc := JUnitSuites{Name: "brine test run", Time: seconds(r.Duration)}
	for _, m := range r.Minions {
		s := JUnitSuite{Name: m.ID, Time: seconds(m.Duration)}
		for _, c := range m.Cases {
			jc := JUnitCase{Name: c.Kind + ": " + c.Name, Classname: m.ID + "." + c.Kind, File: c.Pos.File, Line: c.Pos.Line, Time: seconds(c.Duration)}
			text := c.Message
			if p := c.Pos.String(); p != "" && !strings.HasPrefix(c.Message, c.Pos.File) {
				text = p + ": " + c.Name + ": " + c.Message
			}
			switch c.Status {
			case StatusFailed:
				jc.Failure = &JUnitFailure{Message: c.Message, Type: c.Kind, Text: text}
				s.Failures++
			case StatusError:
				jc.Error = &JUnitFailure{Message: c.Message, Type: c.Kind, Text: text}
				s.Errors++
			case StatusSkipped:
				jc.Skipped = &struct{}{}
				s.Skipped++
			default:
				jc.SystemOut = c.Message
			}
			s.Cases = append(s.Cases, jc)
		}
		s.Tests = len(s.Cases)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}
	return doc
}

// seconds rounds a duration in seconds to the microsecond.
func seconds(s float64) float64 { return math.Round(s*1e6) / 1e6 }
