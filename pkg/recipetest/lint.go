package recipetest

import (
	"bufio"
	"cmp"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/brinecm/brine/pkg/fnmatch"
	"github.com/brinecm/brine/pkg/sls"
)

// lint finds what compiles but is wrong, over every minion's result.
func lint(minions []Minion, compiled []Compiled, opts Options) ([]Warning, error) {
	l := &linter{roots: opts.FileRoots, exists: map[string]bool{}, found: map[string][]string{}}
	l.sources(minions, compiled)
	l.requisites(minions, compiled)
	if opts.Coverage {
		if err := l.coverage(compiled, opts.Highstate); err != nil {
			return nil, err
		}
	}
	out := l.warnings
	if out == nil {
		out = []Warning{}
	}
	slices.SortStableFunc(out, func(a, b Warning) int {
		return cmp.Or(compareProblems(a.Problem, b.Problem), cmp.Compare(a.Lint, b.Lint))
	})
	return out, nil
}

type linter struct {
	roots    []string
	exists   map[string]bool     // salt:// URL -> found in a file root
	found    map[string][]string // warning key -> minions it holds for
	byKey    map[string]int      // warning key -> index in warnings
	warnings []Warning
}

// add records a warning for minion; the same warning for several minions
// is one warning naming them all.
func (l *linter) add(lint string, p Problem, minion string) {
	key := lint + "\x00" + p.String()
	if l.byKey == nil {
		l.byKey = map[string]int{}
	}
	i, ok := l.byKey[key]
	if !ok {
		i = len(l.warnings)
		l.byKey[key] = i
		l.warnings = append(l.warnings, Warning{Lint: lint, Problem: p})
	}
	if minion == "" {
		return
	}
	l.found[key] = append(l.found[key], minion)
	w := &l.warnings[i]
	w.Message = p.Message + " (for " + strings.Join(l.found[key], ", ") + ")"
}

// sources warns about salt:// and brine:// URLs that name no file or
// directory of the tree. A list of sources (Salt tries them in turn) is
// wrong only when none exists.
func (l *linter) sources(minions []Minion, compiled []Compiled) {
	for i, c := range compiled {
		for _, low := range c.Lows {
			for _, arg := range slices.Sorted(maps.Keys(low.Args)) {
				urls := sourceURLs(low.Args[arg])
				if len(urls) == 0 || slices.ContainsFunc(urls, l.sourceExists) {
					continue
				}
				pos := low.Pos
				if p, ok := low.ArgPos[arg]; ok {
					pos = p
				}
				what := "source " + urls[0] + " does not exist"
				if len(urls) > 1 {
					what = "none of the sources " + strings.Join(urls, ", ") + " exists"
				}
				l.add(LintMissingSource, Problem{File: pos.File, Line: pos.Line, ID: low.ID,
					Message: fmt.Sprintf("%s: %s: %s in the file roots", low.Function(), arg, what)}, minions[i].ID)
			}
		}
	}
}

// sourceURLs returns the salt:// or brine:// URLs v is or lists.
func sourceURLs(v any) []string {
	switch v := v.(type) {
	case string:
		if isTreeURL(v) {
			return []string{v}
		}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok && isTreeURL(s) {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func isTreeURL(s string) bool {
	return strings.HasPrefix(s, "salt://") || strings.HasPrefix(s, "brine://")
}

// sourceExists reports whether url names a file or directory in a file root.
func (l *linter) sourceExists(url string) bool {
	if ok, seen := l.exists[url]; seen {
		return ok
	}
	_, rel, _ := strings.Cut(url, "://")
	rel, _, _ = strings.Cut(rel, "?") // salt://x?saltenv=base
	rel = path.Clean("/" + rel)[1:]
	ok := false
	if fs.ValidPath(rel) && rel != "." {
		for _, root := range l.roots {
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); err == nil {
				ok = true
				break
			}
		}
	}
	l.exists[url] = ok
	return ok
}

// requisites warns about a requisite that finds its target for some
// minions and not for others: the recipe works only where the target
// happens to be compiled too.
func (l *linter) requisites(minions []Minion, compiled []Compiled) {
	type reqKey struct {
		pos  sls.Pos
		id   string
		kind string
		mod  string
		tgt  string
	}
	type reqSeen struct {
		req           sls.Req
		id            string
		found, absent []string
	}
	all := map[reqKey]*reqSeen{}
	var order []reqKey
	for i, c := range compiled {
		idx := newTargets(c.Lows)
		done := map[reqKey]bool{}
		for _, low := range c.Lows {
			for _, r := range low.Reqs {
				k := reqKey{r.Pos, low.ID, r.Kind, r.Module, r.Target}
				if done[k] {
					continue
				}
				done[k] = true
				s := all[k]
				if s == nil {
					s = &reqSeen{req: r, id: low.ID}
					all[k] = s
					order = append(order, k)
				}
				if idx.resolves(r) {
					s.found = append(s.found, minions[i].ID)
				} else {
					s.absent = append(s.absent, minions[i].ID)
				}
			}
		}
	}
	for _, k := range order {
		s := all[k]
		if len(s.found) == 0 || len(s.absent) == 0 {
			continue
		}
		slices.Sort(s.found)
		slices.Sort(s.absent)
		l.add(LintPartialRequisite, Problem{File: s.req.Pos.File, Line: s.req.Pos.Line, ID: s.id,
			Message: fmt.Sprintf("requisite %s %s: %s resolves for %s but not for %s: compile its target for every minion that gets this state",
				s.req.Kind, cmp.Or(s.req.Module, "id"), s.req.Target, strings.Join(s.found, ", "), strings.Join(s.absent, ", "))}, "")
	}
}

// targets indexes one minion's states the way the state engine looks
// requisite targets up: by SLS for `sls:`, else by ID or name and module.
type targets struct {
	lows  []sls.Low
	names map[string][]string // ID or name -> modules of the states with it
	sls   map[string]bool
}

func newTargets(lows []sls.Low) *targets {
	t := &targets{lows: lows, names: map[string][]string{}, sls: map[string]bool{}}
	for _, low := range lows {
		t.names[low.ID] = append(t.names[low.ID], low.Module)
		if low.Name != low.ID {
			t.names[low.Name] = append(t.names[low.Name], low.Module)
		}
		t.sls[low.SLS] = true
	}
	return t
}

// resolves reports whether requisite r finds a state, with shell globs.
func (t *targets) resolves(r sls.Req) bool {
	glob := strings.ContainsAny(r.Target, "*?[")
	if r.Module == "sls" {
		if !glob {
			return t.sls[r.Target]
		}
		for name := range t.sls {
			if fnmatch.Match(r.Target, name) {
				return true
			}
		}
		return false
	}
	if !glob {
		mods := t.names[r.Target]
		return len(mods) > 0 && (r.Module == "" || slices.Contains(mods, r.Module))
	}
	for _, low := range t.lows {
		if (r.Module == "" || r.Module == low.Module) && (fnmatch.Match(r.Target, low.ID) || fnmatch.Match(r.Target, low.Name)) {
			return true
		}
	}
	return false
}

// slsFile is one SLS file of the tree.
type slsFile struct {
	name string // "web.nginx"
	rel  string // "web/nginx.sls", relative to its root
	path string // on disk
}

// treeSLS lists the SLS files of the file roots (the first root holding a
// name wins, as the compiler searches them), without top.sls.
func treeSLS(roots []string) ([]slsFile, error) {
	var out []slsFile
	seen := map[string]bool{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root && os.IsNotExist(err) {
					return filepath.SkipDir
				}
				return err
			}
			if d.IsDir() {
				if p != root && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(d.Name(), ".sls") {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			if rel == "top.sls" {
				return nil
			}
			name := strings.TrimSuffix(rel, ".sls")
			if dir, base := path.Split(name); base == "init" && dir != "" {
				name = strings.TrimSuffix(dir, "/")
			}
			name = strings.ReplaceAll(name, "/", ".")
			if !seen[name] {
				seen[name] = true
				out = append(out, slsFile{name: name, rel: rel, path: p})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list the SLS files of %s: %w", root, err)
		}
	}
	return out, nil
}

// idLine matches a state ID declaration written plainly at the start of a
// line: `nginx:`, `/etc/motd:`, `"my state":`, nothing after the colon.
var idLine = regexp.MustCompile(`^(?:"([^"]+)"|'([^']+)'|([^\s#'"{%\-][^{}]*?))\s*:\s*(?:#.*)?$`)

// declared is a state ID written in an SLS file, and its line.
type declared struct {
	id   string
	line int
}

// declaredIDs returns the state IDs an SLS file declares in plain text, by
// line. Templated IDs ({{ }}) and the include/exclude/extend keys are left
// out: only what a reader sees in the file is checked.
func declaredIDs(file string) ([]declared, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read SLS file: %w", err)
	}
	defer f.Close()
	var out []declared
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), sls.DefaultMaxFileBytes)
	for n := 1; sc.Scan(); n++ {
		m := idLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		id := m[1] + m[2] + m[3]
		switch id {
		case "include", "exclude", "extend":
			continue
		}
		out = append(out, declared{id, n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read SLS file %s: %w", file, err)
	}
	return out, nil
}

// coverage warns about SLS files no minion reaches (highstate only) and
// states of reached SLS files that no minion gets.
func (l *linter) coverage(compiled []Compiled, highstate bool) error {
	files, err := treeSLS(l.roots)
	if err != nil {
		return err
	}
	reached := map[string]bool{}
	got := map[[2]string]bool{} // {sls, id}
	for _, c := range compiled {
		for _, n := range c.Top {
			reached[n] = true
		}
		for _, low := range c.Lows {
			reached[low.SLS] = true
			got[[2]string{low.SLS, low.ID}] = true
		}
	}
	for _, f := range files {
		if !reached[f.name] {
			if highstate {
				l.add(LintUnreachedSLS, Problem{File: f.rel, Message: fmt.Sprintf(
					"no minion gets SLS %q: no top file entry reaches it, for any minion (add it to top.sls, include it, or delete it)", f.name)}, "")
			}
			continue
		}
		ids, err := declaredIDs(f.path)
		if err != nil {
			return err
		}
		for _, d := range ids {
			if !got[[2]string{f.name, d.id}] {
				l.add(LintUnusedState, Problem{File: f.rel, Line: d.line, ID: d.id, Message: fmt.Sprintf(
					"no minion gets this state, though SLS %q is compiled: a Jinja condition no minion meets, or a fixture missing", f.name)}, "")
			}
		}
	}
	return nil
}
