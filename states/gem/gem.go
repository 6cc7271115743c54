// Package gem provides gem.installed and gem.removed: Ruby gems installed
// or removed with the gem command, as Salt's gem states do. A source that
// is a file:// URL or an http(s) URL of a gem repository (a directory
// indexed with `gem generate_index`) is the only source gem asks, so gems
// install offline from a local mirror.
package gem

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/brinecm/brine/pkg/cmdrun"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("gem.installed", states.Func[InstalledArgs]{
		Doc: "Ensures the Ruby gem name is installed (at version when given: an exact version, or a " +
			"constraint such as '>= 1.2' any installed version meets), with the gem command (gem_bin, " +
			"or the ruby version/gemset of rvm or rbenv), as user. rdoc and ri generate documentation; " +
			"pre_releases allows pre-release versions; proxy is an HTTP proxy; source is the gem " +
			"repository to install from (http://, https:// or file://), used instead of the default ones.",
		Apply: installed,
	})
	states.Register("gem.removed", states.Func[RemovedArgs]{
		Doc:   "Ensures the Ruby gem name is not installed (every version of it, and its executables).",
		Apply: removed,
	})
}

// Target says which gem command runs and as whom; both states take it.
type Target struct {
	Ruby   string `arg:"ruby"`
	GemBin string `arg:"gem_bin"`
	User   string `arg:"user"`
	// Runas is the name older Salt releases gave user.
	Runas string `arg:"runas"`
}

// InstalledArgs are gem.installed's arguments; the gem is the state's name.
type InstalledArgs struct {
	Target
	Version     Version `arg:"version"`
	Rdoc        bool    `arg:"rdoc"`
	Ri          bool    `arg:"ri"`
	PreReleases bool    `arg:"pre_releases"`
	Proxy       string  `arg:"proxy"`
	Source      string  `arg:"source"`
}

// RemovedArgs are gem.removed's arguments; the gem is the state's name.
type RemovedArgs struct {
	Target
}

// Version is a wanted gem version: a YAML string or number.
type Version struct {
	Set   bool
	Value string
}

// DecodeArg implements states.ArgDecoder.
func (v *Version) DecodeArg(x any) error {
	switch t := x.(type) {
	case nil:
		return nil
	case string, int, int64, float64:
		v.Set, v.Value = true, strings.TrimSpace(fmt.Sprint(t))
		if v.Value == "" {
			return fmt.Errorf("version is empty (want a version such as '1.2.3' or a constraint such as '>= 1.2')")
		}
		return nil
	}
	return fmt.Errorf("want a version such as '1.2.3', got %T", x)
}

// errNoGem says the gem command is not on this host (yet).
var errNoGem = errors.New("gem command not found")

// runner runs one gem command line for a Target.
type runner struct {
	argv  []string // the command and its leading arguments
	env   map[string]string
	runas string
}

// newRunner resolves t to the gem command to run. ruby selects an rvm or
// rbenv ruby (gem_bin wins over it, as in Salt); without either tool it is
// ignored with a warning, as Salt does.
func newRunner(c *states.Call, t Target) (*runner, error) {
	user := t.User
	if t.Runas != "" {
		if user != "" && user != t.Runas {
			return nil, fmt.Errorf("user %q and runas %q disagree; runas is the older name of user, give one", t.User, t.Runas)
		}
		user = t.Runas
	}
	r := &runner{runas: user}
	switch {
	case t.GemBin != "":
		r.argv = []string{t.GemBin}
	case t.Ruby != "" && lookPath("rvm"):
		r.argv = []string{"rvm", t.Ruby, "do", "gem"}
	case t.Ruby != "" && lookPath("rbenv"):
		r.argv = []string{"rbenv", "exec", "gem"}
		r.env = map[string]string{"RBENV_VERSION": t.Ruby}
	default:
		if t.Ruby != "" && c.Log != nil {
			c.Log.Warn("gem: argument ruby given, but neither rvm nor rbenv is installed; using gem", "id", c.ID, "ruby", t.Ruby)
		}
		r.argv = []string{"gem"}
	}
	if !lookPath(r.argv[0]) {
		return nil, fmt.Errorf("%w: %s (install Ruby first, e.g. with a pkg.installed of ruby this state requires, or set gem_bin)", errNoGem, r.argv[0])
	}
	return r, nil
}

func lookPath(bin string) bool {
	_, err := exec.LookPath(bin)
	return err == nil
}

// run runs the gem command with args; a non-zero exit is an error
// carrying gem's output.
func (r *runner) run(ctx context.Context, args ...string) (string, error) {
	words := make([]string, 0, len(r.argv)+len(args))
	for _, w := range append(slices.Clone(r.argv), args...) {
		words = append(words, shQuote(w))
	}
	line := strings.Join(words, " ")
	res, err := cmdrun.Run(ctx, cmdrun.Spec{Cmd: line, Env: r.env, Runas: r.runas})
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

// list returns the installed versions of the gem name ("default: "
// markers dropped), nil when it is not installed.
func (r *runner) list(ctx context.Context, name string) ([]string, error) {
	out, err := r.run(ctx, "list", "--local", "--exact", name)
	if err != nil {
		return nil, err
	}
	return parseList(out)[name], nil
}

// parseList parses `gem list` output: lines "name (1.2.0, default: 1.1.0)",
// platform suffixes such as "1.0 x86_64-linux" kept off the version.
func parseList(out string) map[string][]string {
	gems := map[string][]string{}
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		open := strings.IndexByte(line, '(')
		if open <= 0 || !strings.HasSuffix(line, ")") {
			continue
		}
		name := strings.TrimSpace(line[:open])
		for v := range strings.SplitSeq(line[open+1:len(line)-1], ",") {
			v = strings.TrimPrefix(strings.TrimSpace(v), "default:")
			if f := strings.Fields(v); len(f) > 0 {
				gems[name] = append(gems[name], f[0])
			}
		}
	}
	return gems
}

// satisfied reports whether one of the installed versions is the wanted
// one: equal to it, or meeting its constraint ("> 1", ">= 1.2", "< 2",
// "<= 2", "= 1.0", "!= 1.0", "~> 1.2").
func satisfied(have []string, want string) (bool, error) {
	op, ver := "=", want
	for _, o := range []string{">=", "<=", "!=", "~>", ">", "<", "="} {
		if rest, ok := strings.CutPrefix(want, o); ok {
			op, ver = o, strings.TrimSpace(rest)
			break
		}
	}
	if ver == "" || strings.ContainsAny(ver, " ,") {
		return false, fmt.Errorf("version %q is not a version or a single constraint such as '>= 1.2'", want)
	}
	for _, h := range have {
		c := compareVersions(h, ver)
		ok := false
		switch op {
		case "=":
			ok = c == 0
		case "!=":
			ok = c != 0
		case ">":
			ok = c > 0
		case ">=":
			ok = c >= 0
		case "<":
			ok = c < 0
		case "<=":
			ok = c <= 0
		case "~>":
			ok = c >= 0 && compareVersions(h, pessimisticBound(ver)) < 0
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// pessimisticBound is the exclusive upper bound of "~> ver": the last
// segment dropped and the one before it incremented ("1.2.3" -> "1.3").
func pessimisticBound(ver string) string {
	segs := versionSegments(ver)
	if len(segs) > 1 {
		segs = segs[:len(segs)-1]
	}
	last := segs[len(segs)-1]
	n, err := strconv.Atoi(last)
	if err != nil {
		n = 0 // a letter segment counts as 0, as in Gem::Version#bump
	}
	segs[len(segs)-1] = strconv.Itoa(n + 1)
	return strings.Join(segs, ".")
}

// versionSegments splits a gem version into its segments, letters and
// digits apart, as Gem::Version does ("1.0.a1" -> 1 0 a 1).
func versionSegments(v string) []string {
	var segs []string
	for part := range strings.SplitSeq(v, ".") {
		cur := ""
		for _, r := range part {
			digit := r >= '0' && r <= '9'
			if cur != "" && digit != (cur[0] >= '0' && cur[0] <= '9') {
				segs = append(segs, cur)
				cur = ""
			}
			cur += string(r)
		}
		if cur != "" {
			segs = append(segs, cur)
		}
	}
	return segs
}

// compareVersions orders gem versions as Gem::Version does: numeric
// segments by value, a letter segment (a pre-release) before any number,
// trailing zeros insignificant.
func compareVersions(a, b string) int {
	as, bs := versionSegments(a), versionSegments(b)
	for i := 0; i < max(len(as), len(bs)); i++ {
		x, y := "0", "0"
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		xn, yn := isNum(x), isNum(y)
		switch {
		case xn && yn:
			if c := compareNum(x, y); c != 0 {
				return c
			}
		case xn:
			return 1
		case yn:
			return -1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	return 0
}

func isNum(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

// compareNum compares decimal digit strings by value, of any length.
func compareNum(x, y string) int {
	x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
	if len(x) != len(y) {
		return len(x) - len(y)
	}
	return strings.Compare(x, y)
}

// installArgs builds gem's install command line for a.
func installArgs(name string, a *InstalledArgs) []string {
	args := []string{"install", name}
	if a.Version.Set {
		args = append(args, "--version", a.Version.Value)
	}
	switch {
	case a.Rdoc && a.Ri:
		args = append(args, "--document", "rdoc,ri")
	case a.Rdoc:
		args = append(args, "--document", "rdoc")
	case a.Ri:
		args = append(args, "--document", "ri")
	default:
		args = append(args, "--no-document")
	}
	if a.PreReleases {
		args = append(args, "--prerelease")
	}
	if a.Proxy != "" {
		args = append(args, "--http-proxy", a.Proxy)
	}
	if a.Source != "" {
		args = append(args, "--clear-sources", "--source", a.Source)
	}
	return args
}

func installed(ctx context.Context, c *states.Call, a *InstalledArgs) states.Outcome {
	name := strings.TrimSpace(c.Name)
	if name == "" || strings.ContainsAny(name, " \t\n") {
		return states.Failedf("gem.installed: %q is not a gem name (want one name such as 'rake')", c.Name)
	}
	if a.Source != "" && !strings.HasPrefix(a.Source, "http://") && !strings.HasPrefix(a.Source, "https://") &&
		!strings.HasPrefix(a.Source, "file://") {
		return states.Failedf("gem.installed %s: source %q is not a gem repository URL (want http://, https:// or file:// and the repository's directory)", name, a.Source)
	}
	r, err := newRunner(c, a.Target)
	if err != nil {
		if c.Test && errors.Is(err, errNoGem) {
			return states.WouldChange(fmt.Sprintf("The gem %s would have been installed", name), nil)
		}
		return states.Failedf("gem.installed %s: %v", name, err)
	}
	have, err := r.list(ctx, name)
	if err != nil {
		return states.Failedf("gem.installed %s: list installed gems: %v", name, err)
	}
	if len(have) > 0 {
		if !a.Version.Set {
			return states.Succeeded("Gem is already installed.", nil)
		}
		ok, err := satisfied(have, a.Version.Value)
		if err != nil {
			return states.Failedf("gem.installed %s: %v", name, err)
		}
		if ok {
			return states.Succeeded("Gem is already installed.", nil)
		}
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("The gem %s would have been installed", name), nil)
	}
	if _, err := r.run(ctx, installArgs(name, a)...); err != nil {
		return states.Failedf("Could not install gem.\n%v", err)
	}
	return states.Succeeded("Gem was successfully installed", map[string]any{name: "Installed"})
}

func removed(ctx context.Context, c *states.Call, a *RemovedArgs) states.Outcome {
	name := strings.TrimSpace(c.Name)
	if name == "" || strings.ContainsAny(name, " \t\n") {
		return states.Failedf("gem.removed: %q is not a gem name (want one name such as 'rake')", c.Name)
	}
	r, err := newRunner(c, a.Target)
	if err != nil {
		if c.Test && errors.Is(err, errNoGem) {
			return states.Succeeded("Gem is not installed.", nil)
		}
		return states.Failedf("gem.removed %s: %v", name, err)
	}
	have, err := r.list(ctx, name)
	if err != nil {
		return states.Failedf("gem.removed %s: list installed gems: %v", name, err)
	}
	if len(have) == 0 {
		return states.Succeeded("Gem is not installed.", nil)
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("The gem %s would have been removed", name), nil)
	}
	if _, err := r.run(ctx, "uninstall", name, "--all", "--executables"); err != nil {
		return states.Failedf("Could not remove gem.\n%v", err)
	}
	return states.Succeeded("Gem was successfully removed.", map[string]any{name: "Removed"})
}

// shQuote quotes s for /bin/sh.
func shQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
