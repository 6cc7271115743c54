// Package npm provides npm.installed and npm.removed: Node.js packages
// installed or removed with the npm command, as Salt's npm states do, in
// a directory (dir) or globally.
package npm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/brinecm/brine/pkg/cmdrun"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("npm.installed", states.Func[InstalledArgs]{
		Doc: "Ensures the npm package name (or every package of pkgs), each 'name' or 'name@version', " +
			"is installed in dir (globally without it) with npm, as user, from registry when given; " +
			"force_reinstall installs it even when it is there. env is added to npm's environment.",
		Apply: installed,
	})
	states.Register("npm.removed", states.Func[RemovedArgs]{
		Doc:   "Ensures the npm package name is not installed in dir (globally without it).",
		Apply: removed,
	})
}

// Target says where npm works and as whom; both states take it.
type Target struct {
	Dir  string            `arg:"dir"`
	User string            `arg:"user"`
	Env  map[string]string `arg:"env"`
}

// InstalledArgs are npm.installed's arguments.
type InstalledArgs struct {
	Target
	Pkgs           []string `arg:"pkgs"`
	Registry       string   `arg:"registry"`
	ForceReinstall bool     `arg:"force_reinstall"`
}

// RemovedArgs are npm.removed's arguments; the package is the state's name.
type RemovedArgs struct {
	Target
}

// errNoNpm says npm is not on this host (yet).
var errNoNpm = errors.New("npm command not found")

func checkNpm() error {
	if _, err := exec.LookPath("npm"); err != nil {
		return fmt.Errorf("%w (install it first, e.g. with a pkg.installed of npm this state requires)", errNoNpm)
	}
	return nil
}

// run runs npm with args in t.Dir (with --global without it). A non-zero
// exit is an error carrying npm's output unless okExit accepts the output.
func run(ctx context.Context, t Target, okExit func(stdout string) bool, args ...string) (string, error) {
	words := []string{"npm"}
	for _, a := range args {
		words = append(words, shQuote(a))
	}
	if t.Dir == "" {
		words = append(words, "--global")
	}
	line := strings.Join(words, " ")
	res, err := cmdrun.Run(ctx, cmdrun.Spec{Cmd: line, Runas: t.User, Cwd: t.Dir, Env: t.Env})
	if err != nil {
		return "", fmt.Errorf("run %s: %w", line, err)
	}
	if res.Retcode != 0 && (okExit == nil || !okExit(res.Stdout)) {
		out := strings.TrimSpace(res.Stderr)
		if out == "" {
			out = strings.TrimSpace(res.Stdout)
		}
		return "", fmt.Errorf("%s exited %d: %s", line, res.Retcode, out)
	}
	return res.Stdout, nil
}

// list returns the installed top-level packages and their versions.
// npm list exits 1 on extraneous or missing packages while still
// printing them, so its JSON is what counts.
func list(ctx context.Context, t Target) (map[string]string, error) {
	parses := func(out string) bool { _, err := parseList(out); return err == nil }
	out, err := run(ctx, t, parses, "list", "--json", "--depth=0")
	if err != nil {
		return nil, err
	}
	return parseList(out)
}

// parseList parses `npm list --json`: the dependencies' versions by name.
func parseList(out string) (map[string]string, error) {
	var doc struct {
		Dependencies map[string]struct {
			Version string `json:"version"`
		} `json:"dependencies"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		return nil, fmt.Errorf("parse npm list output: %w", err)
	}
	m := make(map[string]string, len(doc.Dependencies))
	for name, d := range doc.Dependencies {
		if d.Version != "" {
			m[name] = d.Version
		}
	}
	return m, nil
}

// splitSpec splits "name@version" (a scope's leading @ kept with the name).
func splitSpec(spec string) (name, version string) {
	at := strings.LastIndexByte(spec, '@')
	if at <= 0 {
		return spec, ""
	}
	return spec[:at], spec[at+1:]
}

func installed(ctx context.Context, c *states.Call, a *InstalledArgs) states.Outcome {
	specs := a.Pkgs
	if len(specs) == 0 {
		specs = []string{c.Name}
	}
	for _, s := range specs {
		if n, _ := splitSpec(strings.TrimSpace(s)); n == "" || strings.ContainsAny(s, " \t\n") {
			return states.Failedf("npm.installed %s: %q is not an npm package (want 'name' or 'name@version')", c.ID, s)
		}
	}
	all := strings.Join(specs, ", ")
	var have map[string]string
	if err := checkNpm(); err != nil {
		if !c.Test {
			return states.Failedf("Error looking up '%s': %v", c.Name, err)
		}
	} else {
		var err error
		if have, err = list(ctx, a.Target); err != nil {
			return states.Failedf("Error looking up '%s': %v", c.Name, err)
		}
	}
	var todo, satisfied []string
	for _, s := range specs {
		name, ver := splitSpec(strings.TrimSpace(s))
		got, ok := have[name]
		if a.ForceReinstall || !ok || (ver != "" && got != ver) {
			todo = append(todo, s)
			continue
		}
		satisfied = append(satisfied, name+"@"+got)
	}
	if c.Test {
		var msgs []string
		var changes map[string]any
		if len(todo) > 0 {
			msgs = append(msgs, fmt.Sprintf("NPM package(s) '%s' are set to be installed", strings.Join(todo, ", ")))
			changes = map[string]any{"old": []any{}, "new": toAny(todo)}
		}
		if len(satisfied) > 0 {
			msgs = append(msgs, fmt.Sprintf("Package(s) '%s' satisfied by %s", all, strings.Join(satisfied, ", ")))
		}
		if len(todo) == 0 {
			return states.Succeeded(strings.Join(msgs, ". "), nil)
		}
		return states.WouldChange(strings.Join(msgs, ". "), changes)
	}
	if len(todo) == 0 {
		return states.Succeeded(fmt.Sprintf("Package(s) '%s' satisfied by %s", all, strings.Join(satisfied, ", ")), nil)
	}
	args := []string{"install", "--no-audit", "--no-fund"}
	if a.Registry != "" {
		args = append(args, "--registry", a.Registry)
	}
	if a.ForceReinstall {
		args = append(args, "--force")
	}
	if _, err := run(ctx, a.Target, nil, append(args, todo...)...); err != nil {
		return states.Failedf("Error installing '%s': %v", all, err)
	}
	return states.Succeeded(fmt.Sprintf("Package(s) '%s' successfully installed", strings.Join(todo, ", ")),
		map[string]any{"old": []any{}, "new": toAny(todo)})
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func removed(ctx context.Context, c *states.Call, a *RemovedArgs) states.Outcome {
	name := strings.TrimSpace(c.Name)
	if name == "" || strings.ContainsAny(name, " \t\n") {
		return states.Failedf("npm.removed: %q is not an npm package name", c.Name)
	}
	if err := checkNpm(); err != nil {
		if c.Test {
			return states.Succeeded(fmt.Sprintf("Package '%s' is not installed", name), nil)
		}
		return states.Failedf("Error uninstalling '%s': %v", name, err)
	}
	have, err := list(ctx, a.Target)
	if err != nil {
		return states.Failedf("Error uninstalling '%s': %v", name, err)
	}
	if _, ok := have[name]; !ok {
		return states.Succeeded(fmt.Sprintf("Package '%s' is not installed", name), nil)
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Package '%s' is set to be removed", name), nil)
	}
	if _, err := run(ctx, a.Target, nil, "uninstall", "--no-audit", "--no-fund", name); err != nil {
		return states.Failedf("Error removing package '%s': %v", name, err)
	}
	return states.Succeeded(fmt.Sprintf("Package '%s' was successfully removed", name), map[string]any{name: "Removed"})
}

// shQuote quotes s for /bin/sh.
func shQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
