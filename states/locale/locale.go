// Package locale provides locale.present (a locale generated, as Debian's
// locale-gen does from /etc/locale.gen) and locale.system (the system's
// LANG in /etc/default/locale).
package locale

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

	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("locale.present", states.Func[PresentArgs]{
		Doc: "Ensures the locale name is generated: name is a line of /usr/share/i18n/SUPPORTED " +
			"(\"en_US.UTF-8 UTF-8\") or its first word; it is enabled in /etc/locale.gen and compiled " +
			"into the locale archive with localedef.",
		Apply: func(ctx context.Context, c *states.Call, _ *PresentArgs) states.Outcome {
			return present(ctx, "/", c)
		},
	})
	states.Register("locale.system", states.Func[SystemArgs]{
		Doc: "Ensures the system locale (LANG in /etc/default/locale) is name, a generated locale such as en_US.UTF-8.",
		Apply: func(ctx context.Context, c *states.Call, _ *SystemArgs) states.Outcome {
			return system(ctx, "/", c)
		},
	})
}

// PresentArgs are locale.present's arguments: only the name.
type PresentArgs struct{}

// SystemArgs are locale.system's arguments: only the name.
type SystemArgs struct{}

// spec is a locale as /etc/locale.gen names it: "en_US.UTF-8" and its
// charset "UTF-8".
type spec struct{ Name, Charset string }

func (s spec) line() string { return s.Name + " " + s.Charset }

// input is the locale source file localedef reads: the name without its
// codeset, keeping a @modifier ("de_DE@euro").
func (s spec) input() string {
	lang, mod, _ := strings.Cut(s.Name, "@")
	lang, _, _ = strings.Cut(lang, ".")
	if mod != "" {
		return lang + "@" + mod
	}
	return lang
}

// normalize is a locale name as `locale -a` and the archive list it:
// the codeset lower-cased without dashes ("en_US.UTF-8" -> "en_US.utf8").
func normalize(name string) string {
	lang, rest, ok := strings.Cut(name, ".")
	if !ok {
		return name
	}
	cs, mod, hasMod := strings.Cut(rest, "@")
	cs = strings.ToLower(strings.ReplaceAll(cs, "-", ""))
	if hasMod {
		return lang + "." + cs + "@" + mod
	}
	return lang + "." + cs
}

// resolve finds name in root's SUPPORTED list.
func resolve(root, name string) (spec, error) {
	fields := strings.Fields(name)
	if len(fields) == 0 || len(fields) > 2 {
		return spec{}, fmt.Errorf("%q is not a locale (want one such as \"en_US.UTF-8\" or \"en_US.UTF-8 UTF-8\")", name)
	}
	supported := filepath.Join(root, "usr/share/i18n/SUPPORTED")
	f, err := os.Open(supported)
	if err != nil {
		return spec{}, fmt.Errorf("read the supported locales: %w (is the locales package installed?)", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.Fields(sc.Text())
		if len(l) != 2 || l[0] != fields[0] || (len(fields) == 2 && l[1] != fields[1]) {
			continue
		}
		return spec{Name: l[0], Charset: l[1]}, nil
	}
	if err := sc.Err(); err != nil {
		return spec{}, fmt.Errorf("read %s: %w", supported, err)
	}
	return spec{}, fmt.Errorf("locale %q is not in %s (see that file for the names this host can generate)", name, supported)
}

// available reports whether the locale is compiled below root: in the
// locale archive or as its own directory.
func available(ctx context.Context, root, name string) (bool, error) {
	norm := normalize(name)
	if fi, err := os.Stat(filepath.Join(root, "usr/lib/locale", norm)); err == nil && fi.IsDir() {
		return true, nil
	}
	if _, err := os.Stat(filepath.Join(root, "usr/lib/locale/locale-archive")); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	out, err := localedef(ctx, root, "--list-archive")
	if err != nil {
		return false, err
	}
	for l := range strings.Lines(out) {
		if strings.TrimSpace(l) == norm {
			return true, nil
		}
	}
	return false, nil
}

// localedef runs localedef with args, on the archive below root.
func localedef(ctx context.Context, root string, args ...string) (string, error) {
	if root != "/" {
		args = append([]string{"--prefix=" + root}, args...)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "localedef", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("localedef %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func present(ctx context.Context, root string, c *states.Call) states.Outcome {
	s, err := resolve(root, c.Name)
	if c.Test && errors.Is(err, fs.ErrNotExist) {
		// The locales package an earlier state installs brings the list:
		// a test run cannot know more yet, as Salt's test run says None.
		return states.WouldChange(fmt.Sprintf("Locale %s is set to be added (the list of supported locales is not installed yet)", c.Name), map[string]any{"locale": c.Name})
	}
	if err != nil {
		return states.Failedf("locale.present: %v", err)
	}
	ok, err := available(ctx, root, s.Name)
	if err != nil {
		return states.Failedf("locale.present: %v", err)
	}
	if ok {
		return states.Succeeded(fmt.Sprintf("Locale %s is already present", c.Name), nil)
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("Locale %s is set to be added", c.Name), map[string]any{"locale": c.Name})
	}
	if err := enable(root, s); err != nil {
		return states.Failedf("Failed to generate locale %s: %v", c.Name, err)
	}
	if err := os.MkdirAll(filepath.Join(root, "usr/lib/locale"), 0o755); err != nil {
		return states.Failedf("Failed to generate locale %s: %v", c.Name, err)
	}
	args := []string{"-i", s.input(), "-c", "-f", s.Charset}
	if alias := filepath.Join(root, "usr/share/locale/locale.alias"); fileExists(alias) {
		args = append(args, "-A", alias)
	}
	if _, err := localedef(ctx, root, append(args, s.Name)...); err != nil {
		return states.Failedf("Failed to generate locale %s: %v", c.Name, err)
	}
	return states.Succeeded(fmt.Sprintf("Generated locale %s", c.Name), map[string]any{"locale": c.Name})
}

// enable uncomments (or appends) the locale's line in /etc/locale.gen,
// so that a later locale-gen keeps it.
func enable(root string, s spec) error {
	path := filepath.Join(root, "etc/locale.gen")
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	commented := regexp.MustCompile(`^#\s*` + regexp.QuoteMeta(s.Name) + `\s+` + regexp.QuoteMeta(s.Charset) + `\s*$`)
	var out []string
	found := false
	for l := range strings.Lines(string(b)) {
		l = strings.TrimRight(l, "\n")
		if f := strings.Fields(l); len(f) == 2 && f[0] == s.Name && f[1] == s.Charset {
			found = true
		} else if !found && commented.MatchString(l) {
			l, found = s.line(), true
		}
		out = append(out, l)
	}
	if !found {
		out = append(out, s.line())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// defaultLocale is Debian's file of the system locale's variables.
const defaultLocale = "etc/default/locale"

// currentLang reads LANG from /etc/default/locale ("" when unset).
func currentLang(root string) (string, []string, error) {
	path := filepath.Join(root, defaultLocale)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	lang := ""
	for _, l := range lines {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "LANG="); ok {
			lang = strings.Trim(v, `"'`)
		}
	}
	return lang, lines, nil
}

func system(ctx context.Context, root string, c *states.Call) states.Outcome {
	name := strings.TrimSpace(c.Name)
	if name == "" || strings.ContainsAny(name, " \t\n\"'") {
		return states.Failedf("locale.system: %q is not a locale name (want one such as en_US.UTF-8)", c.Name)
	}
	lang, lines, err := currentLang(root)
	if err != nil {
		return states.Failedf("locale.system: %v", err)
	}
	if lang == name {
		return states.Succeeded(fmt.Sprintf("System locale %s already set", name), nil)
	}
	if c.Test {
		return states.WouldChange(fmt.Sprintf("System locale %s needs to be set", name), map[string]any{"locale": name})
	}
	if name != "C" && name != "POSIX" && !strings.HasPrefix(name, "C.") {
		ok, err := available(ctx, root, name)
		if err != nil {
			return states.Failedf("Failed to set system locale to %s: %v", name, err)
		}
		if !ok {
			return states.Failedf("Failed to set system locale to %s: the locale is not generated (add a locale.present state for it and require it)", name)
		}
	}
	replaced := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "LANG=") {
			lines[i], replaced = "LANG="+name, true
		}
	}
	if !replaced {
		if len(lines) == 0 {
			lines = append(lines, "#  File generated by update-locale")
		}
		lines = append(lines, "LANG="+name)
	}
	path := filepath.Join(root, defaultLocale)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return states.Failedf("Failed to set system locale to %s: %v", name, err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return states.Failedf("Failed to set system locale to %s: %v", name, err)
	}
	return states.Succeeded(fmt.Sprintf("Set system locale %s", name), map[string]any{"locale": name})
}
