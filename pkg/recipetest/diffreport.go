package recipetest

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// DiffFormats lists the formats DiffReport.Write knows.
func DiffFormats() []string { return []string{"text", "json"} }

// Write writes the report in format ("" means text).
//
// Text: for each minion whose states differ, sorted, a line "MINION:"
// then, indented, "+ id (module.fun)" per added state, "- id (module.fun)"
// per removed one and "~ id (module.fun): arg: old -> new" per changed
// argument (values as compact JSON, "(unset)" for an argument not set);
// minions with no change are not printed. A summary line ends it. When a
// revision does not compile, its errors instead, as brine test render
// prints them: "MINION: FILE:LINE: ID: message", under "REV does not
// compile:".
//
// JSON: {"from", "to", "minions": {MINION: {"added": [{"id", "function"}],
// "removed": [...], "changed": [{"id", "function", "args": {ARG: {"old",
// "new"}}}]}}, "errors": [{"revision", "minion", "file", "line", "id",
// "message"}]}.
func (r *DiffReport) Write(w io.Writer, format string) error {
	switch format {
	case "", "text":
		if _, err := io.WriteString(w, r.text()); err != nil {
			return fmt.Errorf("write the diff: %w", err)
		}
		return nil
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("write the JSON diff: %w", err)
		}
		return nil
	}
	return fmt.Errorf("unknown output format %q: use one of %s", format, strings.Join(DiffFormats(), ", "))
}

func (r *DiffReport) text() string {
	var b strings.Builder
	if r.Failed() {
		rev := ""
		for _, e := range r.Errors {
			if e.Revision != rev {
				rev = e.Revision
				fmt.Fprintf(&b, "%s does not compile:\n", rev)
			}
			fmt.Fprintf(&b, "%s: %s\n", e.Minion, e.Problem)
		}
		return b.String()
	}
	ids := make([]string, 0, len(r.Minions))
	for id := range r.Minions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var added, removed, changed int
	for _, id := range ids {
		d := r.Minions[id]
		added, removed, changed = added+len(d.Added), removed+len(d.Removed), changed+len(d.Changed)
		fmt.Fprintf(&b, "%s:\n", id)
		for _, s := range d.Added {
			fmt.Fprintf(&b, "  + %s\n", s)
		}
		for _, s := range d.Removed {
			fmt.Fprintf(&b, "  - %s\n", s)
		}
		for _, s := range d.Changed {
			args := make([]string, 0, len(s.Args))
			for a := range s.Args {
				args = append(args, a)
			}
			slices.Sort(args)
			for _, a := range args {
				c := s.Args[a]
				fmt.Fprintf(&b, "  ~ %s: %s: %s -> %s\n", s.StateRef, a, compact(c.Old), compact(c.New))
			}
		}
	}
	fmt.Fprintf(&b, "%s -> %s: %d of %d minions change: %d states added, %d removed, %d changed\n",
		r.From, r.To, len(ids), r.Total, added, removed, changed)
	return b.String()
}

// compact prints a value on one line as JSON; "(unset)" for nil, which
// stands for an argument a revision does not set.
func compact(v any) string {
	if v == nil {
		return "(unset)"
	}
	out, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(out)
}
