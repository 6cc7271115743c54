package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("file.replace", states.Func[ReplaceArgs]{
		Doc: "Replaces what a regular expression (Python syntax as RE2 accepts it) matches in a file; " +
			"append_if_not_found or prepend_if_not_found add the text when it is nowhere.",
		Apply: replace,
	})
	states.Register("file.blockreplace", states.Func[BlockreplaceArgs]{
		Doc:   "Manages the block of lines between marker_start and marker_end in a file.",
		Apply: blockreplace,
	})
	states.Register("file.comment", states.Func[CommentArgs]{
		Doc:   "Comments out the lines of a file that a regular expression matches.",
		Apply: commentLines,
	})
	states.Register("file.uncomment", states.Func[CommentArgs]{
		Doc:   "Uncomments the commented lines of a file that a regular expression matches.",
		Apply: uncommentLines,
	})
	states.Register("file.prepend", states.Func[PrependArgs]{
		Doc:   "Puts the lines of text that the file does not contain yet at its start, creating the file if needed.",
		Apply: prependText,
	})
	states.Register("file.keyvalue", states.Func[KeyvalueArgs]{
		Doc:   "Sets keys to values in a key/value file (key, separator, value on one line), optionally uncommenting them.",
		Apply: keyvalue,
	})
}

// BackupSuffix names the copy file.replace, file.blockreplace, file.comment
// and file.uncomment keep of a file they change: the name plus a suffix
// (".bak", Salt's default), or none (False or "").
type BackupSuffix struct {
	Set    bool
	Suffix string
}

// DecodeArg accepts a suffix string or False.
func (b *BackupSuffix) DecodeArg(v any) error {
	switch x := v.(type) {
	case nil:
		*b = BackupSuffix{Set: true}
		return nil
	case bool:
		if !x {
			*b = BackupSuffix{Set: true}
			return nil
		}
	case string:
		*b = BackupSuffix{Set: true, Suffix: x}
		return nil
	}
	return fmt.Errorf("expected a suffix such as .bak, or False for no backup, got %v", v)
}

func (b BackupSuffix) suffix() string {
	if !b.Set {
		return ".bak"
	}
	return b.Suffix
}

// rewrite writes data over the existing file name (described by st),
// keeping a copy of the old contents as name+suffix when suffix is set.
func rewrite(ctx context.Context, name string, old, data []byte, st *syscall.Stat_t, suffix string) error {
	if suffix != "" {
		if err := writeAtomic(ctx, name+suffix, old, keepSpec(st, perms{uid: -1, gid: -1})); err != nil {
			return fmt.Errorf("back up %s: %w", name, err)
		}
	}
	return writeText(ctx, name, data, st)
}

// ReplaceArgs are file.replace's arguments.
type ReplaceArgs struct {
	Pattern            string       `arg:"pattern,required"`
	Repl               string       `arg:"repl,required"`
	Count              int          `arg:"count"`
	Flags              ReFlags      `arg:"flags"`
	Bufsize            any          `arg:"bufsize"` // Salt reads in blocks; brine reads the file whole
	AppendIfNotFound   bool         `arg:"append_if_not_found"`
	PrependIfNotFound  bool         `arg:"prepend_if_not_found"`
	NotFoundContent    *string      `arg:"not_found_content"`
	Backup             BackupSuffix `arg:"backup"`
	ShowChanges        *bool        `arg:"show_changes"`
	IgnoreIfMissing    bool         `arg:"ignore_if_missing"`
	BackslashLiteral   bool         `arg:"backslash_literal"`
	SearchOnly         bool         `arg:"search_only"`
	PreventDuplicates  *bool        `arg:"prevent_duplicates"`
	AppendNewlineFinal *bool        `arg:"append_newline"`
}

// ReFlags are Python re flags, as names (IGNORECASE, MULTILINE, DOTALL)
// or their sum as an integer; Salt's default is MULTILINE (8).
type ReFlags struct {
	Set   bool
	Value int
}

// DecodeArg accepts an integer or a list of flag names.
func (f *ReFlags) DecodeArg(v any) error {
	names := map[string]int{"I": 2, "IGNORECASE": 2, "L": 4, "LOCALE": 4, "M": 8, "MULTILINE": 8,
		"S": 16, "DOTALL": 16, "U": 32, "UNICODE": 32, "X": 64, "VERBOSE": 64}
	switch x := v.(type) {
	case int:
		*f = ReFlags{Set: true, Value: x}
		return nil
	case string:
		v = []any{x}
	}
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("expected a list of flag names (IGNORECASE, MULTILINE, DOTALL) or an integer, got %v", v)
	}
	out := ReFlags{Set: true}
	for _, it := range list {
		s, _ := it.(string)
		n, ok := names[strings.ToUpper(s)]
		if !ok {
			return fmt.Errorf("unknown regular expression flag %v (want IGNORECASE, MULTILINE or DOTALL)", it)
		}
		out.Value |= n
	}
	*f = out
	return nil
}

// compilePy compiles a Python regular expression with Python flags in
// RE2 syntax; what RE2 lacks (lookaround, backreferences) is an error.
func compilePy(pattern string, flags int) (*regexp.Regexp, error) {
	if flags&64 != 0 {
		return nil, errors.New("the VERBOSE flag is not supported")
	}
	// Salt's own idiom for "end of line, \n or \r\n": RE2 has no lookahead.
	pattern = strings.ReplaceAll(pattern, `($|(?=\r\n))`, `(\r?$)`)
	pattern = strings.ReplaceAll(pattern, "($|(?=\r\n))", `(\r?$)`)
	pattern = strings.ReplaceAll(pattern, `\Z`, `\z`)
	var prefix string
	if flags&2 != 0 {
		prefix += "i"
	}
	if flags&8 != 0 {
		prefix += "m"
	}
	if flags&16 != 0 {
		prefix += "s"
	}
	if prefix != "" {
		pattern = "(?" + prefix + ")" + pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("%w (brine's regular expressions are RE2: no lookaround or backreferences)", err)
	}
	return re, nil
}

// pyRepl turns a Python replacement (\1, \g<name>, \n) into a Go template
// for Regexp.Expand.
func pyRepl(repl string) string {
	var sb strings.Builder
	for i := 0; i < len(repl); i++ {
		ch := repl[i]
		switch {
		case ch == '$':
			sb.WriteString("$$")
		case ch == '\\' && i+1 < len(repl):
			next := repl[i+1]
			switch {
			case next >= '0' && next <= '9':
				j := i + 1
				for j < len(repl) && j < i+3 && repl[j] >= '0' && repl[j] <= '9' {
					j++
				}
				sb.WriteString("${" + repl[i+1:j] + "}")
				i = j - 1
			case next == 'g' && i+2 < len(repl) && repl[i+2] == '<':
				if end := strings.IndexByte(repl[i+3:], '>'); end >= 0 {
					sb.WriteString("${" + repl[i+3:i+3+end] + "}")
					i += 3 + end
					continue
				}
				sb.WriteString(`\g`)
				i++
			case next == 'n':
				sb.WriteByte('\n')
				i++
			case next == 't':
				sb.WriteByte('\t')
				i++
			case next == 'r':
				sb.WriteByte('\r')
				i++
			case next == '\\':
				sb.WriteByte('\\')
				i++
			default:
				sb.WriteByte('\\')
			}
		default:
			sb.WriteByte(ch)
		}
	}
	return sb.String()
}

// subn replaces at most count (0: all) matches of re in data.
func subn(re *regexp.Regexp, data []byte, template string, literal bool, count int) ([]byte, int) {
	n := -1
	if count > 0 {
		n = count
	}
	matches := re.FindAllSubmatchIndex(data, n)
	if len(matches) == 0 {
		return data, 0
	}
	out := make([]byte, 0, len(data))
	last := 0
	for _, m := range matches {
		out = append(out, data[last:m[0]]...)
		if literal {
			out = append(out, template...)
		} else {
			out = re.Expand(out, []byte(template), data, m)
		}
		last = m[1]
	}
	return append(out, data[last:]...), len(matches)
}

// readText reads the regular file name for the editing states; fail is
// Salt's comment when it is missing or not a file.
func readText(name string) (data []byte, st *syscall.Stat_t, fail string) {
	if !filepath.IsAbs(name) {
		return nil, nil, fmt.Sprintf("Specified file %s is not an absolute path", name)
	}
	data, sys, exists, err := readExisting(name)
	switch {
	case err != nil:
		return nil, nil, fmt.Sprintf("Unable to read %s: %v", name, err)
	case !exists:
		return nil, nil, fmt.Sprintf("%s: file not found", name)
	}
	return data, sys, ""
}

// edited reports an edit of name from old to data in Salt's words and
// writes it unless testing.
func edited(ctx context.Context, c *states.Call, old, data []byte, st *syscall.Stat_t, suffix string, show *bool,
	done, would string) states.Outcome {
	if string(old) == string(data) {
		return states.Succeeded("No changes needed to be made", nil)
	}
	changes := map[string]any{"diff": contentDiff(old, data, boolOr(show, true))}
	if c.Test {
		return states.WouldChange(would, changes)
	}
	if err := rewrite(ctx, c.Name, old, data, st, suffix); err != nil {
		return states.Failedf("Unable to write %s: %v", c.Name, err)
	}
	return states.Succeeded(done, changes)
}

func replace(ctx context.Context, c *states.Call, a *ReplaceArgs) states.Outcome {
	old, st, fail := readText(c.Name)
	if fail != "" {
		if a.IgnoreIfMissing && strings.HasSuffix(fail, "file not found") {
			return states.Succeeded("No changes needed to be made", nil)
		}
		return states.Failed(fail, nil)
	}
	flags := 8
	if a.Flags.Set {
		flags = a.Flags.Value
	}
	re, err := compilePy(a.Pattern, flags)
	if err != nil {
		return states.Failedf("Invalid pattern %q: %v", a.Pattern, err)
	}
	repl := a.Repl
	if !a.BackslashLiteral {
		repl = pyRepl(repl)
	}
	data, n := subn(re, old, repl, a.BackslashLiteral, a.Count)
	if a.SearchOnly {
		if n == 0 {
			return states.Failedf("Pattern %q not found in %s", a.Pattern, c.Name)
		}
		return states.Succeeded("Pattern found", nil)
	}
	if n == 0 && (a.AppendIfNotFound || a.PrependIfNotFound) {
		content := a.Repl
		if a.NotFoundContent != nil {
			content = *a.NotFoundContent
		}
		// Only when the content is not there yet, as a whole line: a
		// second run must not add it again (Salt's issue 18612).
		there := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(content) + `\r?$`)
		if !there.Match(old) {
			data = addLine(old, content, a.PrependIfNotFound)
		}
	}
	return edited(ctx, c, old, data, st, a.Backup.suffix(), a.ShowChanges, "Changes were made", "Changes would have been made")
}

// addLine puts line at the start or the end of data, on its own line.
func addLine(data []byte, line string, prepend bool) []byte {
	if prepend {
		return append([]byte(line+"\n"), data...)
	}
	out := append([]byte{}, data...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, line+"\n"...)
}

// BlockreplaceArgs are file.blockreplace's arguments.
type BlockreplaceArgs struct {
	MarkerStart       string         `arg:"marker_start"`
	MarkerEnd         string         `arg:"marker_end"`
	Content           *string        `arg:"content"`
	Source            []string       `arg:"source"`
	Template          string         `arg:"template"`
	Context           map[string]any `arg:"context"`
	Defaults          map[string]any `arg:"defaults"`
	AppendIfNotFound  bool           `arg:"append_if_not_found"`
	PrependIfNotFound bool           `arg:"prepend_if_not_found"`
	InsertBeforeMatch string         `arg:"insert_before_match"`
	InsertAfterMatch  string         `arg:"insert_after_match"`
	Backup            BackupSuffix   `arg:"backup"`
	ShowChanges       *bool          `arg:"show_changes"`
	AppendNewline     *bool          `arg:"append_newline"`
}

func blockreplace(ctx context.Context, c *states.Call, a *BlockreplaceArgs) states.Outcome {
	old, st, fail := readText(c.Name)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	start, end := a.MarkerStart, a.MarkerEnd
	if start == "" {
		start = "#-- start managed zone --"
	}
	if end == "" {
		end = "#-- end managed zone --"
	}
	content := ""
	switch {
	case a.Content != nil && len(a.Source) > 0:
		return states.Failed("Only one of 'content' and 'source' is permitted", nil)
	case a.Content != nil:
		content = *a.Content
	case len(a.Source) > 0:
		ma := &ManagedArgs{Source: a.Source, Template: a.Template, Context: a.Context, Defaults: a.Defaults}
		srcs := make([]source, len(a.Source))
		for i, u := range a.Source {
			if srcs[i], fail = parseSource(u); fail != "" {
				return states.Failed(fail, nil)
			}
		}
		w, fail := desired(ctx, c, ma, srcs)
		if fail != "" {
			return states.Failed(fail, nil)
		}
		content = string(w.data)
	}
	for _, acc := range accumulated(c, slices.Concat(c.Required, c.Watched)) {
		if content != "" && !strings.HasSuffix(content, "\n") {
			content += "\n"
		}
		content += acc
	}
	data, fail := replaceBlock(string(old), start, end, content, a)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	return edited(ctx, c, old, []byte(data), st, a.Backup.suffix(), a.ShowChanges, "Changes were made", "Changes would be made")
}

// replaceBlock puts content between the lines holding the markers of
// text, or adds a new block where a asks; the file's line separator is
// kept. fail is Salt's comment when it cannot.
func replaceBlock(text, start, end, content string, a *BlockreplaceArgs) (out, fail string) {
	sep := "\n"
	if i := strings.IndexByte(text, '\n'); i > 0 && text[i-1] == '\r' {
		sep = "\r\n"
	}
	content = strings.ReplaceAll(strings.ReplaceAll(content, "\r\n", "\n"), "\n", sep)
	switch {
	case a.AppendNewline == nil:
		if content != "" && !strings.HasSuffix(content, sep) {
			content += sep
		}
	case *a.AppendNewline:
		content += sep
	}
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if !strings.Contains(l, start) {
			continue
		}
		for j := i + 1; j < len(lines); j++ {
			k := strings.Index(lines[j], end)
			if k < 0 {
				continue
			}
			var sb strings.Builder
			for _, l := range lines[:i+1] {
				sb.WriteString(l)
			}
			if !strings.HasSuffix(lines[i], "\n") {
				sb.WriteString(sep)
			}
			sb.WriteString(content)
			sb.WriteString(lines[j][k:])
			for _, l := range lines[j+1:] {
				sb.WriteString(l)
			}
			return sb.String(), ""
		}
		return "", "Unterminated marked block. End of file reached before marker_end."
	}
	block := start + sep + content + end + sep
	switch {
	case a.PrependIfNotFound:
		return block + text, ""
	case a.AppendIfNotFound:
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += sep
		}
		return text + block, ""
	case a.InsertBeforeMatch != "" || a.InsertAfterMatch != "":
		pat, after := a.InsertBeforeMatch, false
		if pat == "" {
			pat, after = a.InsertAfterMatch, true
		}
		re, err := compilePy(pat, 0)
		if err != nil {
			return "", fmt.Sprintf("Invalid pattern %q: %v", pat, err)
		}
		for i, l := range lines {
			if re.MatchString(strings.TrimRight(l, "\r\n")) {
				at := i
				if after {
					at = i + 1
					if !strings.HasSuffix(l, "\n") {
						lines[i] += sep
					}
				}
				return strings.Join(lines[:at], "") + block + strings.Join(lines[at:], ""), ""
			}
		}
	}
	return "", "Cannot edit marked block. Markers were not found"
}

// CommentArgs are file.comment's and file.uncomment's arguments.
type CommentArgs struct {
	Regex         string       `arg:"regex,required"`
	Char          *string      `arg:"char"`
	Backup        BackupSuffix `arg:"backup"`
	IgnoreMissing bool         `arg:"ignore_missing"`
}

func (a *CommentArgs) char() string {
	if a.Char == nil {
		return "#"
	}
	return *a.Char
}

// unanchor strips a leading inline flag group, ^ and $ from a regex.
var unanchorRe = regexp.MustCompile(`^(\(\?[iLmsux]\))?\^?(.*?)\$?$`)

func commentLines(ctx context.Context, c *states.Call, a *CommentArgs) states.Outcome {
	old, st, fail := readText(c.Name)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	char := a.char()
	body := unanchorRe.ReplaceAllString(a.Regex, "$2")
	match, err := compilePy(anchoredRegex(a.Regex), 0)
	if err != nil {
		return states.Failedf("Invalid regex %q: %v", a.Regex, err)
	}
	commented, err := compilePy(`^\s*`+regexp.QuoteMeta(char)+body, 8)
	if err != nil {
		return states.Failedf("Invalid regex %q: %v", a.Regex, err)
	}
	lines := splitKeepNL(string(old))
	n := 0
	for i, l := range lines {
		if match.MatchString(strings.TrimRight(l, "\r\n")) {
			lines[i] = char + l
			n++
		}
	}
	if n == 0 {
		switch {
		case commented.Match(old):
			return states.Succeeded("Pattern already commented", nil)
		case a.IgnoreMissing:
			return states.Succeeded("Pattern not found and ignore_missing set to True", nil)
		}
		return states.Failedf("%s: Pattern not found", body)
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("File %s is set to be updated", c.Name), map[string]any{c.Name: "updated"})
	}
	data := []byte(strings.Join(lines, ""))
	if err := rewrite(ctx, c.Name, old, data, st, a.Backup.suffix()); err != nil {
		return states.Failedf("Unable to write %s: %v", c.Name, err)
	}
	return states.Succeeded("Commented lines successfully", map[string]any{"diff": contentDiff(old, data, true)})
}

// anchoredRegex anchors regex at the start of the line, as Python's
// re.match does.
func anchoredRegex(regex string) string {
	if strings.HasPrefix(regex, "^") {
		return regex
	}
	return "^(?:" + regex + ")"
}

func uncommentLines(ctx context.Context, c *states.Call, a *CommentArgs) states.Outcome {
	old, st, fail := readText(c.Name)
	if fail != "" {
		return states.Failed(fail, nil)
	}
	char := regexp.QuoteMeta(a.char())
	body := strings.TrimPrefix(a.Regex, "^")
	match, err := compilePy(`^[ \t]*`+char+`[ \t]*(?:`+body+`)`, 0)
	if err != nil {
		return states.Failedf("Invalid regex %q: %v", a.Regex, err)
	}
	plain, err := compilePy(`^[ \t]*(?:`+body+`)`, 8)
	if err != nil {
		return states.Failedf("Invalid regex %q: %v", a.Regex, err)
	}
	lines := splitKeepNL(string(old))
	n := 0
	for i, l := range lines {
		if match.MatchString(strings.TrimRight(l, "\r\n")) {
			ws := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
			lines[i] = ws + strings.TrimLeft(strings.TrimLeft(l, " \t"), a.char())
			n++
		}
	}
	if n == 0 {
		switch {
		case plain.Match(old):
			return states.Succeeded("Pattern already uncommented", nil)
		case a.IgnoreMissing:
			return states.Succeeded("Pattern not found and ignore_missing set to True", nil)
		}
		return states.Failedf("%s: Pattern not found", a.Regex)
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("File %s is set to be updated", c.Name), map[string]any{c.Name: "updated"})
	}
	data := []byte(strings.Join(lines, ""))
	if err := rewrite(ctx, c.Name, old, data, st, a.Backup.suffix()); err != nil {
		return states.Failedf("Unable to write %s: %v", c.Name, err)
	}
	return states.Succeeded("Uncommented lines successfully", map[string]any{"diff": contentDiff(old, data, true)})
}

// PrependArgs are file.prepend's arguments.
type PrependArgs struct {
	Text     []string `arg:"text,required"`
	Makedirs bool     `arg:"makedirs"`
	Header   bool     `arg:"header"`
}

func prependText(ctx context.Context, c *states.Call, a *PrependArgs) states.Outcome {
	name := c.Name
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	old, sys, exists, err := readExisting(name)
	if err != nil {
		return states.Failedf("Unable to read %s: %v", name, err)
	}
	var add []string
	for _, chunk := range a.Text {
		if !a.Header && containsChunk(string(old), chunk, true) {
			continue
		}
		add = append(add, strings.Split(strings.TrimRight(chunk, "\n"), "\n")...)
	}
	if a.Header {
		head := strings.Join(add, "\n") + "\n"
		if strings.HasPrefix(string(old), head) {
			add = nil
		}
	}
	if len(add) == 0 && exists {
		return states.Succeeded(fmt.Sprintf("File %s is in correct state", name), nil)
	}
	data := []byte(strings.Join(add, "\n"))
	if len(add) > 0 {
		data = append(data, '\n')
	}
	data = append(data, old...)
	changes := map[string]any{"diff": contentDiff(old, data, true)}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("File %s is set to be updated", name), changes)
	}
	if !exists {
		if fail := parentFor(name, a.Makedirs); fail != "" {
			return states.Failed(fail, nil)
		}
	}
	if err := writeText(ctx, name, data, sys); err != nil {
		return states.Failedf("Unable to prepend to %s: %v", name, err)
	}
	return states.Succeeded(fmt.Sprintf("Prepended %d lines", len(add)), changes)
}

// parentFor makes sure the directory of name exists, creating it with
// makedirs; fail is Salt's comment when it cannot.
func parentFor(name string, makedirs bool) string {
	dir := filepath.Dir(name)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if !makedirs {
			return fmt.Sprintf("Directory not present to touch file %s", name)
		}
		if err := makeParents(dir, 0o755, -1, -1); err != nil {
			return fmt.Sprintf("Unable to create parent directories of %s: %v", name, err)
		}
	} else if err != nil {
		return fmt.Sprintf("Unable to stat %s: %v", dir, err)
	}
	return ""
}

// KeyvalueArgs are file.keyvalue's arguments.
type KeyvalueArgs struct {
	Key               *string        `arg:"key"`
	Value             any            `arg:"value"`
	KeyValues         map[string]any `arg:"key_values"`
	Separator         *string        `arg:"separator"`
	AppendIfNotFound  bool           `arg:"append_if_not_found"`
	PrependIfNotFound bool           `arg:"prepend_if_not_found"`
	SearchOnly        bool           `arg:"search_only"`
	ShowChanges       *bool          `arg:"show_changes"`
	IgnoreIfMissing   bool           `arg:"ignore_if_missing"`
	Count             *int           `arg:"count"`
	Uncomment         string         `arg:"uncomment"`
	KeyIgnoreCase     bool           `arg:"key_ignore_case"`
	ValueIgnoreCase   bool           `arg:"value_ignore_case"`
	CreateIfMissing   bool           `arg:"create_if_missing"`
}

func keyvalue(ctx context.Context, c *states.Call, a *KeyvalueArgs) states.Outcome {
	name := c.Name
	if !filepath.IsAbs(name) {
		return notAbsolute(name)
	}
	want := map[string]string{}
	var order []string
	switch {
	case a.KeyValues != nil && a.Key != nil:
		return states.Failed("file.keyvalue can not combine key_values with key and value", nil)
	case a.KeyValues != nil:
		for k, v := range a.KeyValues {
			s, err := scalarString(v)
			if err != nil {
				return states.Failedf("key_values %s: %v", k, err)
			}
			want[k] = s
			order = append(order, k)
		}
		slices.Sort(order)
	case a.Key != nil && a.Value != nil:
		s, err := scalarString(a.Value)
		if err != nil {
			return states.Failedf("value: %v", err)
		}
		want[*a.Key], order = s, []string{*a.Key}
	default:
		return states.Failed("file.keyvalue key and value not supplied and key_values empty", nil)
	}
	sep := "="
	if a.Separator != nil {
		sep = *a.Separator
	}
	count := 1
	if a.Count != nil {
		count = *a.Count
	}
	old, sys, exists, err := readExisting(name)
	switch {
	case err != nil:
		return states.Failedf("Unable to read %s: %v", name, err)
	case !exists && a.IgnoreIfMissing:
		return states.Succeeded(fmt.Sprintf("%s not found, ignoring", name), nil)
	case !exists && !a.CreateIfMissing:
		return states.Failedf("%s: file not found", name)
	}
	same := func(x, y string, fold bool) bool {
		if fold {
			return strings.EqualFold(x, y)
		}
		return x == y
	}
	lines := splitKeepNL(string(old))
	found := map[string]int{}
	changed := 0
	for i, l := range lines {
		body := strings.TrimRight(l, "\r\n")
		cand := body
		if a.Uncomment != "" {
			cand = strings.TrimLeft(body, a.Uncomment)
		}
		k, v, ok := strings.Cut(cand, sep)
		if !ok {
			continue
		}
		for _, key := range order {
			if !same(strings.TrimSpace(k), key, a.KeyIgnoreCase) || (count > 0 && found[key] >= count) {
				continue
			}
			found[key]++
			if cand == body && same(v, want[key], a.ValueIgnoreCase) {
				break
			}
			lines[i] = strings.TrimSpace(k) + sep + want[key] + l[len(body):]
			changed++
			break
		}
	}
	for _, key := range order {
		if found[key] > 0 || !(a.AppendIfNotFound || a.PrependIfNotFound) {
			continue
		}
		line := key + sep + want[key] + "\n"
		if a.PrependIfNotFound {
			lines = append([]string{line}, lines...)
		} else {
			if n := len(lines); n > 0 && !strings.HasSuffix(lines[n-1], "\n") {
				lines[n-1] += "\n"
			}
			lines = append(lines, line)
		}
		changed++
	}
	if a.SearchOnly {
		if len(found) == 0 {
			return states.Failed("Key(s) not found", nil)
		}
		return states.Succeeded("Key(s) found", nil)
	}
	data := []byte(strings.Join(lines, ""))
	if string(data) == string(old) && exists {
		return states.Succeeded("No changes needed to be made", nil)
	}
	changes := map[string]any{"diff": contentDiff(old, data, boolOr(a.ShowChanges, true))}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("File %s is set to be changed (%d lines)", name, changed), changes)
	}
	if err := writeText(ctx, name, data, sys); err != nil {
		return states.Failedf("Unable to write %s: %v", name, err)
	}
	return states.Succeeded(fmt.Sprintf("Changed %d lines", changed), changes)
}
