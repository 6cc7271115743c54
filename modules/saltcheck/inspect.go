package saltcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/brinecm/brine/modules"
)

// TestInfo locates one saltcheck test: the SLS whose tests it is among,
// its ID, and the test file and line (the source line that declares the
// ID; for an ID a template makes, the line in the rendered file).
type TestInfo struct {
	SLS  string
	ID   string
	File string // path in the state tree: "web/saltcheck-tests/init.tst"
	Line int
}

// sourceLine is the line of the template source where the test ID id is
// declared (at the start of a line, followed by a colon) when exactly one
// line declares it; else rendered, its line after Jinja.
func sourceLine(src []byte, id string, rendered int) int {
	found, n := 0, 0
	for line := range bytes.Lines(src) {
		n++
		rest, ok := bytes.CutPrefix(line, []byte(id))
		if !ok {
			continue
		}
		if rest = bytes.TrimLeft(rest, " \t"); len(rest) > 0 && rest[0] == ':' {
			if found != 0 {
				return rendered
			}
			found = n
		}
	}
	if found == 0 {
		return rendered
	}
	return found
}

// Inspect finds the tests of the named SLS files (of the SLS files the
// top file gives the minion when names is empty) for the runtime's
// minion, with pillar merged over its compiled pillar, and validates each
// without running it. It returns every test found and, joined, every
// problem: a file that does not render or parse, a test that is invalid
// (an unknown assertion, key or function), a test ID given twice, each
// as "FILE:LINE: test ID: problem".
func Inspect(ctx context.Context, rt *modules.Runtime, names []string, pillar map[string]any) ([]TestInfo, error) {
	c, err := compiler(rt, pillar)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		if names, err = c.Top(ctx); err != nil {
			return nil, fmt.Errorf("read the top file: %w", err)
		}
	}
	names = splitNames(names)
	var infos []TestInfo
	var problems []error
	from := map[string]TestInfo{}
	for _, name := range sortedNames(slices.Compact(names)) {
		covered := []string{name}
		if slsExists(rt.FileRoots, name) {
			lows, err := c.SLS(ctx, name)
			if err != nil {
				return nil, fmt.Errorf("compile %s to find its tests: %w", name, err)
			}
			for _, l := range lows {
				if !slices.Contains(covered, l.SLS) {
					covered = append(covered, l.SLS)
				}
			}
		}
		files, err := findTests(rt.FileRoots, covered, false)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			tests, err := loadFile(ctx, c, f)
			if err != nil {
				problems = append(problems, err)
				continue
			}
			src, _ := os.ReadFile(f.path) // read by loadFile a moment ago
			for _, t := range tests {
				info := TestInfo{SLS: name, ID: t.id, File: f.rel, Line: sourceLine(src, t.id, t.line)}
				if prev, dup := from[t.id]; dup {
					if prev.File != f.rel { // one file read for two SLS names is no duplicate
						problems = append(problems, fmt.Errorf("%s:%d: test ID '%s' is already defined in %s:%d: test IDs must be unique",
							f.rel, info.Line, t.id, prev.File, prev.Line))
					}
					continue
				}
				from[t.id] = info
				infos = append(infos, info)
				if _, err := parseTest(t.raw, false); err != nil {
					problems = append(problems, fmt.Errorf("%s:%d: test %s: %w", f.rel, t.line, t.id, err))
				}
			}
		}
	}
	return infos, errors.Join(problems...)
}
