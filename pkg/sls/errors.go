package sls

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one compile error: where it is, the state ID it concerns (if
// any) and what is wrong.
type Error struct {
	Pos Pos
	ID  string
	Msg string
}

// Error formats the error as "web/init.sls:12: nginx: msg"; the position
// and the ID are left out when unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Pos.File != "" {
		b.WriteString(e.Pos.String())
		b.WriteString(": ")
	}
	if e.ID != "" {
		b.WriteString(e.ID)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every error found in one compile run.
type Errors []*Error

// Error lists the errors one per line, sorted by file, then line.
func (es Errors) Error() string {
	sorted := slices.Clone(es)
	sortErrors(sorted)
	lines := make([]string, len(sorted))
	for i, e := range sorted {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sortErrors orders errors by file, then line, keeping the order in which
// they were found otherwise.
func sortErrors(es Errors) {
	slices.SortStableFunc(es, func(a, b *Error) int {
		if c := cmp.Compare(a.Pos.File, b.Pos.File); c != 0 {
			return c
		}
		return cmp.Compare(a.Pos.Line, b.Pos.Line)
	})
}

// add records an error.
func (es *Errors) add(pos Pos, id, format string, args ...any) {
	*es = append(*es, &Error{Pos: pos, ID: id, Msg: fmt.Sprintf(format, args...)})
}

// result returns the errors sorted, as an error, or nil when there are none.
func (es Errors) result() error {
	if len(es) == 0 {
		return nil
	}
	sortErrors(es)
	return es
}
