package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"unicode"

	"github.com/brinecm/brine/states"
)

// AppendArgs are file.append's arguments.
type AppendArgs struct {
	Text             []string `arg:"text"`   // a string or a list; each item may span lines
	Source           []string `arg:"source"` // or the text of these sources (salt://, file://, a path)
	Makedirs         bool     `arg:"makedirs"`
	IgnoreWhitespace *bool    `arg:"ignore_whitespace"`
	ShowChanges      *bool    `arg:"show_changes"`
}

// readExisting reads a regular file and returns its status; exists is
// false when it is missing.
func readExisting(name string) (data []byte, st *syscall.Stat_t, exists bool, err error) {
	fd, st, err := openFile(name, true)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	defer syscall.Close(fd)
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, st, true, fmt.Errorf("%s is not a regular file", name)
	}
	data, err = readFile(fd, name, st.Size)
	return data, st, true, err
}

// writeText writes data to name, keeping the owner and mode of the file
// st describes, or with default permissions for a new file.
func writeText(ctx context.Context, name string, data []byte, st *syscall.Stat_t) error {
	if st == nil {
		return writeAtomic(ctx, name, data, newSpec(perms{uid: -1, gid: -1}))
	}
	return writeAtomic(ctx, name, data, keepSpec(st, perms{uid: -1, gid: -1}))
}

func appendText(ctx context.Context, c *states.Call, a *AppendArgs) states.Outcome {
	name := c.Name
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	chunks := a.Text
	if len(a.Source) > 0 {
		if len(a.Text) > 0 {
			return states.Failed("Only one of 'text' and 'source' is permitted", nil)
		}
		srcs := make([]source, len(a.Source))
		for i, u := range a.Source {
			var fail string
			if srcs[i], fail = parseSource(u); fail != "" {
				return states.Failed(fail, nil)
			}
		}
		w, fail := desired(ctx, c, &ManagedArgs{Source: a.Source}, srcs)
		if fail != "" {
			return states.Failed(fail, nil)
		}
		chunks = []string{string(w.data)}
	}
	if len(chunks) == 0 {
		return states.Failed("No text or source given to append", nil)
	}
	old, st, exists, err := readExisting(name)
	if err != nil {
		return states.Failedf("Unable to read %s: %v", name, err)
	}
	if !exists && c.Test {
		return states.WouldChange(fmt.Sprintf("File %s is set to be created", name), map[string]any{"new": name})
	}
	var add []string
	text := string(old)
	for _, chunk := range chunks {
		if containsChunk(text, chunk, boolOr(a.IgnoreWhitespace, true)) {
			continue
		}
		add = append(add, strings.Split(strings.TrimRight(chunk, "\n"), "\n")...)
	}
	if len(add) == 0 && exists {
		return states.Succeeded(fmt.Sprintf("File %s is in correct state", name), nil)
	}
	data := old
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	for _, l := range add {
		data = append(append(data, l...), '\n')
	}
	changes := map[string]any{"diff": contentDiff(old, data, boolOr(a.ShowChanges, true))}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("File %s is set to be updated", name), changes)
	}
	if !exists {
		dir := filepath.Dir(name)
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			if !a.Makedirs {
				return states.Failedf("Directory not present to touch file %s", name)
			}
			if err := makeParents(dir, 0o755, -1, -1); err != nil {
				return states.Failedf("Unable to create parent directories of %s: %v", name, err)
			}
		}
	}
	if err := writeText(ctx, name, data, st); err != nil {
		return states.Failedf("Unable to append to %s: %v", name, err)
	}
	return states.Succeeded(fmt.Sprintf("Appended %d lines", len(add)), changes)
}

// containsChunk reports whether text already holds chunk. Ignoring
// whitespace, chunk's lines must match consecutive lines of text with all
// whitespace removed; otherwise chunk must occur as it is.
func containsChunk(text, chunk string, ignoreWhitespace bool) bool {
	if !ignoreWhitespace {
		return strings.Contains(text, chunk)
	}
	want := strings.Split(strings.TrimRight(chunk, "\n"), "\n")
	for i := range want {
		want[i] = stripSpace(want[i])
	}
	have := strings.Split(text, "\n")
	for i := 0; i+len(want) <= len(have); i++ {
		match := true
		for j, w := range want {
			if stripSpace(have[i+j]) != w {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// LineArgs are file.line's arguments.
type LineArgs struct {
	Content     *string      `arg:"content"`
	Match       string       `arg:"match"`
	Mode        LineMode     `arg:"mode,required"`
	Location    LineLocation `arg:"location"`
	Before      string       `arg:"before"`
	After       string       `arg:"after"`
	ShowChanges *bool        `arg:"show_changes"`
	Create      bool         `arg:"create"`
	Indent      *bool        `arg:"indent"`
}

// LineMode is file.line's mode: ensure, replace, insert or delete.
type LineMode string

// DecodeArg accepts one of the four modes.
func (m *LineMode) DecodeArg(v any) error {
	s, _ := v.(string)
	switch s = strings.ToLower(s); s {
	case "ensure", "replace", "insert", "delete":
		*m = LineMode(s)
		return nil
	}
	return fmt.Errorf("expected one of ensure, replace, insert, delete, got %v", v)
}

// LineLocation is where file.line inserts: start or end.
type LineLocation string

// DecodeArg accepts start or end.
func (l *LineLocation) DecodeArg(v any) error {
	s, _ := v.(string)
	switch s = strings.ToLower(s); s {
	case "start", "end":
		*l = LineLocation(s)
		return nil
	}
	return fmt.Errorf("expected start or end, got %v", v)
}

// lineErr is a failure of file.line's editing, reported as the comment.
type lineErr string

func (e lineErr) Error() string { return string(e) }

func line(ctx context.Context, c *states.Call, a *LineArgs) states.Outcome {
	name := c.Name
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	if a.Mode != "delete" && a.Content == nil {
		return states.Failed(`Content can only be empty if mode is "delete"`, nil)
	}
	content := ""
	if a.Content != nil {
		content = *a.Content
	}
	match := a.Match
	if match == "" && a.Before == "" && a.After == "" {
		match = content
	}
	old, st, exists, err := readExisting(name)
	if err != nil {
		return states.Failedf("Unable to read %s: %v", name, err)
	}
	if !exists && !a.Create {
		return states.Failedf("File %q does not exist or is not a file.", name)
	}
	ed := editor{content: content, indent: boolOr(a.Indent, true)}
	for _, m := range []struct {
		pat string
		dst **matcher
	}{{match, &ed.match}, {a.Before, &ed.before}, {a.After, &ed.after}} {
		if m.pat == "" {
			continue
		}
		if *m.dst, err = newMatcher(m.pat); err != nil {
			return states.Failedf("Invalid regular expression %q: %v", m.pat, err)
		}
	}
	body := splitKeepNL(string(old))
	body, err = ed.edit(body, a.Mode, a.Location)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	data := []byte(strings.Join(body, ""))
	if exists && string(data) == string(old) {
		return states.Succeeded("No changes needed to be made", nil)
	}
	changes := map[string]any{"diff": contentDiff(old, data, boolOr(a.ShowChanges, true))}
	if c.Test {
		return states.WouldChange("Changes would be made", changes)
	}
	if err := writeText(ctx, name, data, st); err != nil {
		return states.Failedf("Unable to write %s: %v", name, err)
	}
	return states.Succeeded("Changes were made", changes)
}

// matcher matches a line by regular expression search, or by containing
// the pattern literally.
type matcher struct {
	re  *regexp.Regexp
	lit string
}

func newMatcher(pat string) (*matcher, error) {
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, err
	}
	return &matcher{re: re, lit: pat}, nil
}

func (m *matcher) matches(line string) bool {
	line = strings.TrimSuffix(line, "\n")
	return strings.Contains(line, m.lit) || m.re.MatchString(line)
}

// editor applies one file.line edit to the lines of a file.
type editor struct {
	content              string
	indent               bool
	match, before, after *matcher
}

func (ed *editor) edit(body []string, mode LineMode, loc LineLocation) ([]string, error) {
	switch mode {
	case "delete":
		if ed.match == nil {
			return nil, lineErr("Nothing to delete: give match or content")
		}
		out := body[:0:0]
		for _, l := range body {
			if !ed.match.matches(l) {
				out = append(out, l)
			}
		}
		return out, nil
	case "replace":
		if ed.match == nil {
			return nil, lineErr("Nothing to replace: give match or content")
		}
		for i, l := range body {
			if ed.match.matches(l) {
				body[i] = ed.indented(l) + eol(l)
			}
		}
		return body, nil
	case "insert":
		switch loc {
		case "start":
			if len(body) == 0 || !ed.same(body[0]) {
				body = append([]string{ed.content + "\n"}, body...)
			}
			return body, nil
		case "end":
			if len(body) == 0 {
				return []string{ed.content + "\n"}, nil
			}
			if last := body[len(body)-1]; !ed.same(last) {
				body[len(body)-1] = last + missingNL(last)
				body = append(body, ed.indented(last)+"\n")
			}
			return body, nil
		}
		if ed.before == nil && ed.after == nil {
			return nil, lineErr(`On insert must be defined either "location" or "before/after" conditions.`)
		}
		if ed.before != nil && ed.after != nil {
			a, b, err := ed.bounds(body)
			if err != nil {
				return nil, err
			}
			for _, l := range body[a+1 : b] {
				if ed.same(l) {
					return body, nil
				}
			}
			return insertAt(body, b, ed.indented(body[b])), nil
		}
	case "ensure":
		if ed.before != nil && ed.after != nil {
			for _, l := range body {
				if ed.same(l) {
					return body, nil
				}
			}
			a, b, err := ed.bounds(body)
			if err != nil {
				return nil, err
			}
			switch b - a {
			case 1:
				return insertAt(body, b, ed.indented(body[a])), nil
			case 2:
				body[a+1] = ed.indented(body[a+1]) + eol(body[a+1])
				return body, nil
			}
			return nil, lineErr(`Found more than one line between boundaries "before" and "after".`)
		}
		if ed.before == nil && ed.after == nil {
			return nil, lineErr("Wrong conditions? Unable to ensure line without knowing where to put it before and/or after.")
		}
	}
	// insert or ensure with only one of before and after.
	if ed.before != nil {
		b, err := find(body, ed.before, "before")
		if err != nil {
			return nil, err
		}
		if b == 0 || !ed.same(body[b-1]) {
			body = insertAt(body, b, ed.indented(body[b]))
		}
		return body, nil
	}
	a, err := find(body, ed.after, "after")
	if err != nil {
		return nil, err
	}
	if a == len(body)-1 || !ed.same(body[a+1]) {
		body[a] += missingNL(body[a])
		body = insertAt(body, a+1, ed.indented(body[a]))
	}
	return body, nil
}

// bounds finds the lines matching after and before, in that order.
func (ed *editor) bounds(body []string) (int, int, error) {
	a, err := find(body, ed.after, "after")
	if err != nil {
		return 0, 0, err
	}
	b, err := find(body, ed.before, "before")
	if err != nil {
		return 0, 0, err
	}
	if b <= a {
		return 0, 0, lineErr(`The line matching "before" does not come after the line matching "after".`)
	}
	return a, b, nil
}

// same compares a line with the content, ignoring surrounding whitespace.
func (ed *editor) same(l string) bool {
	return strings.TrimSpace(l) == strings.TrimSpace(ed.content)
}

// indented is the content with the indentation of line l, when indent is on.
func (ed *editor) indented(l string) string {
	if !ed.indent {
		return ed.content
	}
	ws := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
	return ws + strings.TrimLeft(ed.content, " \t")
}

// find returns the index of the only line m matches.
func find(body []string, m *matcher, what string) (int, error) {
	idx, n := -1, 0
	for i, l := range body {
		if m.matches(l) {
			if n == 0 {
				idx = i
			}
			n++
		}
	}
	switch {
	case n > 1:
		return 0, lineErr(fmt.Sprintf(`Found more than expected occurrences in "%s" expression`, what))
	case n == 0:
		return 0, lineErr(fmt.Sprintf(`Found less than expected occurrences in "%s" expression`, what))
	}
	return idx, nil
}

func insertAt(body []string, i int, l string) []string {
	body = append(body, "")
	copy(body[i+1:], body[i:])
	body[i] = strings.TrimSuffix(l, "\n") + "\n"
	return body
}

func eol(l string) string {
	if strings.HasSuffix(l, "\n") {
		return "\n"
	}
	return ""
}

func missingNL(l string) string {
	if strings.HasSuffix(l, "\n") {
		return ""
	}
	return "\n"
}

// splitKeepNL splits s into lines that keep their newline.
func splitKeepNL(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
