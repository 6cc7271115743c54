// Package pip provides pip.installed and pip.removed: Python packages
// installed or removed with pip, as Salt's pip states do. bin_env selects
// a virtualenv (or a pip executable); find_links with no_index installs
// offline from a directory of wheels.
package pip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/brinecm/brine/pkg/cmdrun"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("pip.installed", states.Func[InstalledArgs]{
		Doc: "Ensures the Python package name (a requirement such as 'attrs' or 'attrs>=23') or every " +
			"requirement of pkgs, or the requirements file requirements, is installed with pip: the pip " +
			"of bin_env (a virtualenv directory or a pip executable), or pip3, as user. index_url, " +
			"extra_index_url, no_index and find_links choose where pip looks; upgrade and force_reinstall " +
			"are pip's options; editable installs a path or VCS URL in development mode.",
		Apply: installed,
	})
	states.Register("pip.removed", states.Func[RemovedArgs]{
		Doc:   "Ensures the Python package name is not installed in bin_env (or pip3's environment).",
		Apply: removed,
	})
}

// Target says which pip runs and as whom; both states take it.
type Target struct {
	BinEnv string `arg:"bin_env"`
	User   string `arg:"user"`
	Cwd    string `arg:"cwd"`
}

// InstalledArgs are pip.installed's arguments.
type InstalledArgs struct {
	Target
	Pkgs           []string `arg:"pkgs"`
	Requirements   string   `arg:"requirements"`
	IndexURL       string   `arg:"index_url"`
	ExtraIndexURL  string   `arg:"extra_index_url"`
	NoIndex        bool     `arg:"no_index"`
	FindLinks      string   `arg:"find_links"`
	Upgrade        bool     `arg:"upgrade"`
	ForceReinstall bool     `arg:"force_reinstall"`
	Editable       string   `arg:"editable"`
	// ReloadModules is accepted and ignored: Salt reloads its own
	// execution modules after an install, which brine does not need.
	ReloadModules bool `arg:"reload_modules"`
}

// RemovedArgs are pip.removed's arguments; the package is the state's name.
type RemovedArgs struct {
	Target
}

// errNoPip says pip is not on this host (yet).
var errNoPip = errors.New("pip not found")

// runner runs pip for a Target.
type runner struct {
	pip   string
	runas string
	cwd   string
}

// newRunner resolves bin_env: a directory is a virtualenv whose bin/pip
// runs, anything else is the pip executable itself; without it, pip3.
func newRunner(t Target) (*runner, error) {
	pip := "pip3"
	if t.BinEnv != "" {
		pip = t.BinEnv
		if fi, err := os.Stat(t.BinEnv); err == nil && fi.IsDir() {
			pip = filepath.Join(t.BinEnv, "bin", "pip")
		}
	}
	if _, err := exec.LookPath(pip); err != nil {
		return nil, fmt.Errorf("%w: %s (install it first, e.g. with a pkg.installed of python3-pip or a virtualenv this state requires, or set bin_env)", errNoPip, pip)
	}
	return &runner{pip: pip, runas: t.User, cwd: t.Cwd}, nil
}

// run runs pip with args; a non-zero exit is an error carrying pip's output.
func (r *runner) run(ctx context.Context, args ...string) (string, error) {
	words := []string{shQuote(r.pip)}
	for _, a := range args {
		words = append(words, shQuote(a))
	}
	line := strings.Join(words, " ")
	res, err := cmdrun.Run(ctx, cmdrun.Spec{Cmd: line, Runas: r.runas, Cwd: r.cwd,
		Env: map[string]string{"PIP_DISABLE_PIP_VERSION_CHECK": "1"}})
	if err != nil {
		return "", fmt.Errorf("run %s: %w", line, err)
	}
	if res.Retcode != 0 {
		out := strings.TrimSpace(res.Stderr)
		if out == "" {
			out = strings.TrimSpace(res.Stdout)
		}
		return "", fmt.Errorf("%s exited %d: %s", line, res.Retcode, out)
	}
	return res.Stdout, nil
}

// list returns the installed packages, by normalized name, with their
// names as pip spells them and their versions.
func (r *runner) list(ctx context.Context) (map[string]dist, error) {
	out, err := r.run(ctx, "list", "--format=json")
	if err != nil {
		return nil, err
	}
	return parseList(out)
}

// dist is one installed distribution.
type dist struct{ Name, Version string }

// parseList parses `pip list --format=json`.
func parseList(out string) (map[string]dist, error) {
	var rows []dist
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		return nil, fmt.Errorf("parse pip list output: %w", err)
	}
	m := make(map[string]dist, len(rows))
	for _, d := range rows {
		m[normalize(d.Name)] = d
	}
	return m, nil
}

// normalize is a project name as PEP 503 compares them.
func normalize(name string) string {
	name = strings.ToLower(name)
	return strings.NewReplacer("_", "-", ".", "-").Replace(name)
}

// requirement is one requirement specifier: a project name and the
// version clauses it must meet ("attrs>=23,<24"). A URL or path has no
// name: it is installed every time, as Salt does.
type requirement struct {
	raw     string
	name    string
	clauses [][2]string // operator, version
}

// parseRequirement splits a requirement specifier into name and clauses.
func parseRequirement(s string) (requirement, error) {
	req := requirement{raw: strings.TrimSpace(s)}
	if req.raw == "" {
		return req, fmt.Errorf("empty requirement (want a package such as 'attrs' or 'attrs==23.1.0')")
	}
	if strings.Contains(req.raw, "://") || strings.HasPrefix(req.raw, "/") || strings.HasPrefix(req.raw, ".") {
		return req, nil
	}
	spec := req.raw
	if i := strings.IndexByte(spec, ';'); i >= 0 { // environment marker
		spec = spec[:i]
	}
	end := strings.IndexAny(spec, "=<>!~[ ")
	if end < 0 {
		end = len(spec)
	}
	req.name = strings.TrimSpace(spec[:end])
	rest := spec[end:]
	if strings.HasPrefix(rest, "[") { // extras
		close := strings.IndexByte(rest, ']')
		if close < 0 {
			return req, fmt.Errorf("requirement %q: unclosed extras bracket", s)
		}
		rest = rest[close+1:]
	}
	for c := range strings.SplitSeq(rest, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		op := ""
		for _, o := range []string{"===", "==", "!=", ">=", "<=", "~=", ">", "<"} {
			if strings.HasPrefix(c, o) {
				op = o
				break
			}
		}
		ver := strings.TrimSpace(strings.TrimPrefix(c, op))
		if op == "" || ver == "" {
			return req, fmt.Errorf("requirement %q: %q is not a version clause such as '==1.0' or '>=2'", s, c)
		}
		req.clauses = append(req.clauses, [2]string{op, ver})
	}
	if req.name == "" {
		return req, fmt.Errorf("requirement %q has no package name", s)
	}
	return req, nil
}

// satisfiedBy reports whether version meets every clause.
func (r requirement) satisfiedBy(version string) bool {
	for _, cl := range r.clauses {
		op, want := cl[0], cl[1]
		if op == "===" {
			if version != want {
				return false
			}
			continue
		}
		if op == "==" && strings.HasSuffix(want, ".*") {
			if !prefixMatch(version, strings.TrimSuffix(want, ".*")) {
				return false
			}
			continue
		}
		c := compareVersions(version, want)
		ok := false
		switch op {
		case "==":
			ok = c == 0
		case "!=":
			ok = c != 0
		case ">=":
			ok = c >= 0
		case "<=":
			ok = c <= 0
		case ">":
			ok = c > 0
		case "<":
			ok = c < 0
		case "~=":
			segs := strings.Split(want, ".")
			ok = c >= 0 && len(segs) > 1 && prefixMatch(version, strings.Join(segs[:len(segs)-1], "."))
		}
		if !ok {
			return false
		}
	}
	return true
}

// prefixMatch reports whether version's release segments start with prefix's.
func prefixMatch(version, prefix string) bool {
	v, p := segments(version), segments(prefix)
	if len(p) > len(v) {
		v = append(v, make([]int, len(p)-len(v))...)
	}
	return slices.Equal(v[:len(p)], p)
}

// segments are the leading numeric release segments of a version
// ("1.10.0rc1" -> 1 10 0); what follows a non-digit is dropped.
func segments(v string) []int {
	var out []int
	for part := range strings.SplitSeq(v, ".") {
		digits := part
		if i := strings.IndexFunc(part, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			digits = part[:i]
		}
		n, err := strconv.Atoi(digits)
		if err != nil {
			break
		}
		out = append(out, n)
		if len(digits) != len(part) {
			break
		}
	}
	return out
}

// compareVersions orders release segments numerically, trailing zeros
// insignificant; a pre-release suffix sorts before its release.
func compareVersions(a, b string) int {
	as, bs := segments(a), segments(b)
	for i := 0; i < max(len(as), len(bs)); i++ {
		x, y := 0, 0
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	pa, pb := isPre(a), isPre(b)
	switch {
	case pa && !pb:
		return -1
	case pb && !pa:
		return 1
	}
	return 0
}

func isPre(v string) bool {
	v = strings.ToLower(v)
	return strings.Contains(v, "a") || strings.Contains(v, "b") || strings.Contains(v, "rc") || strings.Contains(v, "dev")
}

// installArgs builds pip's install command line.
func installArgs(a *InstalledArgs, reqs []string) []string {
	args := []string{"install"}
	if a.Upgrade {
		args = append(args, "--upgrade")
	}
	if a.ForceReinstall {
		args = append(args, "--force-reinstall")
	}
	if a.NoIndex {
		args = append(args, "--no-index")
	}
	if a.IndexURL != "" {
		args = append(args, "--index-url", a.IndexURL)
	}
	if a.ExtraIndexURL != "" {
		args = append(args, "--extra-index-url", a.ExtraIndexURL)
	}
	for l := range strings.SplitSeq(a.FindLinks, ",") {
		if l = strings.TrimSpace(l); l != "" {
			args = append(args, "--find-links", l)
		}
	}
	if a.Requirements != "" {
		args = append(args, "--requirement", a.Requirements)
	}
	if a.Editable != "" {
		args = append(args, "--editable", a.Editable)
	}
	return append(args, reqs...)
}

func installed(ctx context.Context, c *states.Call, a *InstalledArgs) states.Outcome {
	specs := a.Pkgs
	if len(specs) == 0 && a.Requirements == "" && a.Editable == "" {
		specs = []string{c.Name}
	}
	var reqs []requirement
	for _, s := range specs {
		req, err := parseRequirement(s)
		if err != nil {
			return states.Failedf("pip.installed %s: %v", c.ID, err)
		}
		reqs = append(reqs, req)
	}
	r, err := newRunner(a.Target)
	if err != nil {
		if c.Test && errors.Is(err, errNoPip) {
			return states.WouldChange(wouldInstall(a, reqs), nil)
		}
		return states.Failedf("pip.installed %s: %v", c.ID, err)
	}
	have, err := r.list(ctx)
	if err != nil {
		return states.Failedf("pip.installed %s: list installed packages: %v", c.ID, err)
	}
	var todo []requirement
	var already []string
	for _, req := range reqs {
		d, ok := have[normalize(req.name)]
		if req.name != "" && ok && !a.ForceReinstall && !a.Upgrade && req.satisfiedBy(d.Version) {
			already = append(already, fmt.Sprintf("Python package %s was already installed", req.raw))
			continue
		}
		todo = append(todo, req)
	}
	if len(todo) == 0 && a.Requirements == "" && a.Editable == "" {
		return states.Succeeded(strings.Join(append(already, "All specified packages are already installed"), "\n"), nil)
	}
	if c.Test {
		return states.WouldChange(wouldInstall(a, todo), nil)
	}
	var raws []string
	for _, req := range todo {
		raws = append(raws, req.raw)
	}
	out, err := r.run(ctx, installArgs(a, raws)...)
	if err != nil {
		if a.Requirements != "" || a.Editable != "" {
			return states.Failedf("Unable to process requirements or editable install. Error: %v", err)
		}
		return states.Failed(strings.Join(append(already, fmt.Sprintf("Failed to install packages: %s. Error: %v", strings.Join(raws, ", "), err)), "\n"), nil)
	}
	changes := map[string]any{}
	if a.Requirements != "" || a.Editable != "" {
		var comments []string
		if a.Requirements != "" {
			if requirementsChanged(out) {
				changes["requirements"] = true
				comments = append(comments, fmt.Sprintf("Successfully processed requirements file %s.", a.Requirements))
			} else {
				comments = append(comments, "Requirements were already installed.")
			}
		}
		if a.Editable != "" {
			changes["editable"] = true
			comments = append(comments, fmt.Sprintf("Package successfully installed from VCS checkout %s.", a.Editable))
		}
		if len(todo) == 0 {
			return states.Succeeded(strings.Join(comments, " "), changes)
		}
	}
	now, err := r.list(ctx)
	if err != nil {
		return states.Failedf("pip.installed %s: list installed packages after the install: %v", c.ID, err)
	}
	var missing []string
	for _, req := range todo {
		if req.name == "" {
			changes[req.raw+"==???"] = "Installed"
			continue
		}
		d, ok := now[normalize(req.name)]
		if !ok {
			missing = append(missing, fmt.Sprintf("There was no error installing package '%s' although it does not show when calling 'pip.freeze'.", req.raw))
			continue
		}
		if old, was := have[normalize(req.name)]; was && old.Version == d.Version && !a.ForceReinstall {
			continue
		}
		changes[d.Name+"=="+d.Version] = "Installed"
	}
	comment := "All packages were successfully installed"
	if len(missing) > 0 {
		comment = strings.Join(missing, "\n")
	}
	return states.Succeeded(strings.Join(append(already, comment), "\n"), changes)
}

// wouldInstall is the test-mode comment for what would be installed.
func wouldInstall(a *InstalledArgs, todo []requirement) string {
	var comments []string
	if a.Requirements != "" {
		comments = append(comments, fmt.Sprintf("Requirements file '%s' will be processed.", a.Requirements))
	}
	if a.Editable != "" {
		comments = append(comments, fmt.Sprintf("Package will be installed in editable mode (i.e. setuptools \"develop mode\") from %s.", a.Editable))
	}
	for _, req := range todo {
		comments = append(comments, fmt.Sprintf("Python package %s is set to be installed", req.raw))
	}
	return strings.Join(comments, " ")
}

// requirementsChanged reports whether pip's output for a requirements
// file says it installed something (not only requirements already
// satisfied).
func requirementsChanged(out string) bool {
	for line := range strings.Lines(out) {
		if strings.HasPrefix(strings.TrimSpace(line), "Successfully installed") {
			return true
		}
	}
	return false
}

func removed(ctx context.Context, c *states.Call, a *RemovedArgs) states.Outcome {
	name := strings.TrimSpace(c.Name)
	if name == "" || strings.ContainsAny(name, " \t\n=<>") {
		return states.Failedf("pip.removed: %q is not a package name (want one name such as 'attrs')", c.Name)
	}
	r, err := newRunner(a.Target)
	if err != nil {
		if c.Test && errors.Is(err, errNoPip) {
			return states.Succeeded("Package is not installed.", nil)
		}
		return states.Failedf("Error uninstalling '%s': %v", name, err)
	}
	have, err := r.list(ctx)
	if err != nil {
		return states.Failedf("Error uninstalling '%s': %v", name, err)
	}
	if _, ok := have[normalize(name)]; !ok {
		return states.Succeeded("Package is not installed.", nil)
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Package %s is set to be removed", name), nil)
	}
	if _, err := r.run(ctx, "uninstall", "--yes", name); err != nil {
		return states.Failedf("Could not remove package.\n%v", err)
	}
	return states.Succeeded("Package was successfully removed.", map[string]any{name: "Removed"})
}

// shQuote quotes s for /bin/sh.
func shQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
