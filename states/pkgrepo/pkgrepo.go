// Package pkgrepo provides the pkgrepo state module for apt:
// pkgrepo.managed writes one repository to its own file in apt's
// sources.list.d, as a one-line entry (.list) or a deb822 stanza
// (.sources), with its signing key when given; pkgrepo.absent removes it.
// apt's configuration (APT_CONFIG, Dir::Etc::sourceparts) says where
// sources.list.d is.
package pkgrepo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/brinecm/brine/pkg/pkgmgr"
	"github.com/brinecm/brine/pkg/tmpfile"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("pkgrepo.managed", states.Func[ManagedArgs]{
		Doc: "Configures the apt repository given as name, a deb line (\"deb [signed-by=/etc/apt/keyrings/x.asc] https://host/path suite comp\"), " +
			"in file (default: sources.list.d/<host_path_suite>.list); a file ending in .sources gets the deb822 format. " +
			"signedby names the key file, written from key_text or key_url (salt:// or a local path) when given. " +
			"refresh (default True) updates the package lists after a change.",
		Apply: managed,
	})
	states.Register("pkgrepo.absent", states.Func[AbsentArgs]{
		Doc:   "Removes the apt repository given as name (a deb line) from the sources.list.d files, or removes file.",
		Apply: absent,
	})
}

// ManagedArgs are pkgrepo.managed's arguments; the deb line is the state's name.
type ManagedArgs struct {
	File     string `arg:"file"`
	SignedBy string `arg:"signedby"`
	KeyText  string `arg:"key_text"`
	KeyURL   string `arg:"key_url"`
	Refresh  *bool  `arg:"refresh"`
}

// AbsentArgs are pkgrepo.absent's arguments.
type AbsentArgs struct {
	File string `arg:"file"`
}

// option is one [key=value] option of a deb line.
type option struct{ key, value string }

// source is one repository, parsed from a deb line.
type source struct {
	typ     string // deb or deb-src
	options []option
	uri     string
	suite   string
	comps   []string
}

// parseLine reads "deb [opts] uri suite [components]".
func parseLine(line string) (source, error) {
	var s source
	rest := strings.TrimSpace(line)
	s.typ, rest, _ = strings.Cut(rest, " ")
	if s.typ != "deb" && s.typ != "deb-src" {
		return s, fmt.Errorf("repository %q: expected a line starting with deb or deb-src", line)
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return s, fmt.Errorf("repository %q: unclosed [", line)
		}
		for _, kv := range strings.Fields(rest[1:end]) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return s, fmt.Errorf("repository %q: bad option %q (expected key=value)", line, kv)
			}
			s.options = append(s.options, option{k, v})
		}
		rest = rest[end+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 2 {
		return s, fmt.Errorf("repository %q: expected a URI and a suite", line)
	}
	s.uri, s.suite, s.comps = f[0], f[1], f[2:]
	if strings.HasSuffix(s.suite, "/") && len(s.comps) > 0 {
		return s, fmt.Errorf("repository %q: a flat repository (suite ending in /) takes no components", line)
	}
	return s, nil
}

// setOption sets (or adds) an option.
func (s *source) setOption(key, value string) {
	for i, o := range s.options {
		if o.key == key {
			s.options[i].value = value
			return
		}
	}
	s.options = append(s.options, option{key, value})
}

// line renders the one-line format.
func (s source) line() string {
	var b strings.Builder
	b.WriteString(s.typ)
	if len(s.options) > 0 {
		opts := make([]string, len(s.options))
		for i, o := range s.options {
			opts[i] = o.key + "=" + o.value
		}
		b.WriteString(" [" + strings.Join(opts, " ") + "]")
	}
	b.WriteString(" " + s.uri + " " + s.suite)
	for _, c := range s.comps {
		b.WriteString(" " + c)
	}
	return b.String()
}

// deb822Names maps one-line option names to deb822 field names.
var deb822Names = map[string]string{"arch": "Architectures", "lang": "Languages", "target": "Targets",
	"pdiffs": "PDiffs", "by-hash": "By-Hash", "allow-insecure": "Allow-Insecure", "allow-weak": "Allow-Weak",
	"allow-downgrade-to-insecure": "Allow-Downgrade-To-Insecure", "trusted": "Trusted", "signed-by": "Signed-By",
	"check-valid-until": "Check-Valid-Until", "valid-until-min": "Valid-Until-Min", "valid-until-max": "Valid-Until-Max",
	"check-date": "Check-Date", "date-max-future": "Date-Max-Future", "inrelease-path": "InRelease-Path"}

// deb822 renders a deb822 stanza.
func (s source) deb822() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Types: %s\nURIs: %s\nSuites: %s\n", s.typ, s.uri, s.suite)
	if len(s.comps) > 0 {
		fmt.Fprintf(&b, "Components: %s\n", strings.Join(s.comps, " "))
	}
	for _, o := range s.options {
		name, ok := deb822Names[o.key]
		if !ok {
			name = o.key
		}
		fmt.Fprintf(&b, "%s: %s\n", name, strings.ReplaceAll(o.value, ",", " "))
	}
	return b.String()
}

// same reports whether two sources name the same repository.
func (s source) same(o source) bool {
	return s.typ == o.typ && strings.TrimSuffix(s.uri, "/") == strings.TrimSuffix(o.uri, "/") &&
		s.suite == o.suite && strings.Join(s.comps, " ") == strings.Join(o.comps, " ")
}

var unsafe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9.-]+`) })

// defaultFile names a repository's file: host_path_suite.list.
func (s source) defaultFile() string {
	u := s.uri
	if _, rest, ok := strings.Cut(u, "://"); ok {
		u = rest
	} else if _, rest, ok := strings.Cut(u, ":"); ok {
		u = rest
	}
	name := strings.Trim(unsafe().ReplaceAllString(u+"_"+s.suite, "_"), "_.")
	return name + ".list"
}

// sourceParts asks apt where its sources.list.d is.
func sourceParts(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "apt-config", "shell", "D", "Dir::Etc::sourceparts/d").Output()
	if err != nil {
		return "", fmt.Errorf("ask apt-config for sources.list.d: %w", err)
	}
	// D='/etc/apt/sources.list.d/'
	v, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "D=")
	if !ok {
		return "", fmt.Errorf("apt-config: unexpected answer %q", out)
	}
	return filepath.Clean(strings.Trim(v, "'")), nil
}

// target resolves the file a state manages: file when given (relative
// names go to sources.list.d), else the repository's default name.
func target(ctx context.Context, file string, s source) (string, error) {
	if filepath.IsAbs(file) {
		return file, nil
	}
	dir, err := sourceParts(ctx)
	if err != nil {
		return "", err
	}
	if file == "" {
		file = s.defaultFile()
	}
	return filepath.Join(dir, file), nil
}

// readIfExists reads a file; a missing one is nil, nil.
func readIfExists(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func managed(ctx context.Context, c *states.Call, a *ManagedArgs) states.Outcome {
	s, err := parseLine(c.Name)
	if err != nil {
		return states.Failedf("%v", err)
	}
	if (a.KeyText != "" || a.KeyURL != "") && a.SignedBy == "" {
		return states.Failedf("key_text and key_url need signedby: the file to keep the key in")
	}
	if a.KeyText != "" && a.KeyURL != "" {
		return states.Failedf("give key_text or key_url, not both")
	}
	if a.SignedBy != "" {
		if !filepath.IsAbs(a.SignedBy) {
			return states.Failedf("signedby %q: expected an absolute path", a.SignedBy)
		}
		s.setOption("signed-by", a.SignedBy)
	}
	path, err := target(ctx, a.File, s)
	if err != nil {
		return states.Failedf("%v", err)
	}
	content := s.line() + "\n"
	if strings.HasSuffix(path, ".sources") {
		content = s.deb822()
	}
	changes := map[string]any{}

	var key []byte
	switch {
	case a.KeyText != "":
		key = []byte(a.KeyText)
	case a.KeyURL != "":
		if c.Env == nil {
			return states.Failedf("key_url %s: no state tree to read it from", a.KeyURL)
		}
		if key, err = c.Env.Source(ctx, a.KeyURL); err != nil {
			return states.Failedf("read key %s: %v", a.KeyURL, err)
		}
	}
	if key != nil {
		old, err := readIfExists(a.SignedBy)
		if err != nil {
			return states.Failedf("%v", err)
		}
		if !bytes.Equal(old, key) {
			changes["key"] = a.SignedBy
		}
	}
	old, err := readIfExists(path)
	if err != nil {
		return states.Failedf("%v", err)
	}
	switch {
	case old == nil:
		changes["repo"] = c.Name
	case string(old) != content:
		changes["repo"] = map[string]any{"old": string(old), "new": content}
	}
	if len(changes) == 0 {
		return states.Succeeded(fmt.Sprintf("Package repo '%s' already configured", c.Name), nil)
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Package repo '%s' would be configured in %s", c.Name, path), changes)
	}
	if _, ok := changes["key"]; ok {
		if err := writeFile(ctx, a.SignedBy, key); err != nil {
			return states.Failedf("write key: %v", err)
		}
	}
	if _, ok := changes["repo"]; ok {
		if err := writeFile(ctx, path, []byte(content)); err != nil {
			return states.Failed(fmt.Sprintf("write %s: %v", path, err), withoutRepo(changes))
		}
	}
	if a.Refresh == nil || *a.Refresh {
		if o, ok := refresh(ctx, changes); !ok {
			return o
		}
	}
	return states.Succeeded(fmt.Sprintf("Configured package repo '%s' in %s", c.Name, path), changes)
}

func withoutRepo(changes map[string]any) map[string]any {
	delete(changes, "repo")
	if len(changes) == 0 {
		return nil
	}
	return changes
}

// refresh updates the package lists after a change to the sources.
func refresh(ctx context.Context, changes map[string]any) (states.Outcome, bool) {
	p, err := pkgmgr.Detect(ctx)
	if err == nil {
		err = p.Refresh(ctx)
	}
	if err != nil {
		return states.Failed("Failed to refresh the package lists: "+err.Error(), changes), false
	}
	return states.Outcome{}, true
}

// writeFile writes a world-readable file (apt reads sources and keys as
// an unprivileged user) through a temporary file, so apt never sees half of
// it. Temporary files a killed writer left beside path are removed first.
func writeFile(ctx context.Context, path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmpfile.CleanStale(ctx, path)
	tmp, err := os.CreateTemp(filepath.Dir(path), tmpfile.Pattern(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func absent(ctx context.Context, c *states.Call, a *AbsentArgs) states.Outcome {
	if a.File != "" {
		path := a.File
		if !filepath.IsAbs(path) {
			dir, err := sourceParts(ctx)
			if err != nil {
				return states.Failedf("%v", err)
			}
			path = filepath.Join(dir, path)
		}
		return removeFile(ctx, c, path)
	}
	s, err := parseLine(c.Name)
	if err != nil {
		return states.Failedf("%v", err)
	}
	dir, err := sourceParts(ctx)
	if err != nil {
		return states.Failedf("%v", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.list"))
	if err != nil {
		return states.Failedf("%v", err)
	}
	var edits []edit
	for _, f := range files {
		e, err := withoutSource(f, s)
		if err != nil {
			return states.Failedf("%v", err)
		}
		if e.changed {
			edits = append(edits, e)
		}
	}
	if len(edits) == 0 {
		return states.Succeeded(fmt.Sprintf("Package repo %s is absent", c.Name), nil)
	}
	changes := map[string]any{"repo": c.Name}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Package repo '%s' will be removed from %s", c.Name, paths(edits)), changes)
	}
	for _, e := range edits {
		if err := e.apply(ctx); err != nil {
			return states.Failedf("%v", err)
		}
	}
	if o, ok := refresh(ctx, changes); !ok {
		return o
	}
	return states.Succeeded(fmt.Sprintf("Removed package repo %s from %s", c.Name, paths(edits)), changes)
}

func removeFile(ctx context.Context, c *states.Call, path string) states.Outcome {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return states.Succeeded(fmt.Sprintf("Package repo %s is absent", c.Name), nil)
	}
	changes := map[string]any{"repo": c.Name}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Package repo '%s' will be removed: %s", c.Name, path), changes)
	}
	if err := os.Remove(path); err != nil {
		return states.Failedf("%v", err)
	}
	if o, ok := refresh(ctx, changes); !ok {
		return o
	}
	return states.Succeeded(fmt.Sprintf("Removed package repo %s (%s)", c.Name, path), changes)
}

// edit is a sources file with a repository's lines taken out.
type edit struct {
	path    string
	rest    []string // the lines that stay
	changed bool
}

func withoutSource(path string, s source) (edit, error) {
	e := edit{path: path}
	f, err := os.Open(path)
	if err != nil {
		return e, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if o, err := parseLine(line); err == nil && o.same(s) {
			e.changed = true
			continue
		}
		e.rest = append(e.rest, line)
	}
	return e, sc.Err()
}

// apply rewrites the file, or removes it when only comments and blank
// lines are left.
func (e edit) apply(ctx context.Context) error {
	for _, l := range e.rest {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			return writeFile(ctx, e.path, []byte(strings.Join(e.rest, "\n")+"\n"))
		}
	}
	return os.Remove(e.path)
}

func paths(es []edit) string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.path
	}
	return strings.Join(out, ", ")
}
