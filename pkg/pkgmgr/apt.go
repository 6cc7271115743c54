package pkgmgr

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Apt manages packages with apt-get, apt-cache, apt-mark and dpkg-query.
// apt reads its usual configuration, including APT_CONFIG.
type Apt struct {
	// LockFile is the host-wide lock held around every change.
	LockFile string
}

// NewApt returns the apt provider with the default host lock.
func NewApt() *Apt { return &Apt{LockFile: DefaultLockFile} }

// Name is "apt".
func (a *Apt) Name() string { return "apt" }

// validName matches Debian package names, optionally arch-qualified; it
// keeps anything that could read as an option away from apt's command line.
var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$`) })

// CheckName returns an error for a string that is not a Debian package name.
func CheckName(name string) error {
	if !validName().MatchString(name) {
		return fmt.Errorf("invalid package name %q", name)
	}
	return nil
}

func checkNames(names []string) error {
	for _, n := range names {
		if err := CheckName(n); err != nil {
			return err
		}
	}
	return nil
}

// BaseName drops an architecture qualifier: "libc6:amd64" -> "libc6".
func BaseName(name string) string {
	n, _, _ := strings.Cut(name, ":")
	return n
}

const queryFormat = "${Package}\t${Version}\t${db:Status-Want}\t${db:Status-Status}\n"

// Query reads package states from dpkg's database.
func (a *Apt) Query(ctx context.Context, names ...string) (map[string]Status, error) {
	if err := checkNames(names); err != nil {
		return nil, err
	}
	args := append([]string{"-W", "-f", queryFormat, "--"}, names...)
	out, err := run(ctx, "dpkg-query", args...)
	var ee *cmdError
	// exit status 1: some names are unknown; the others are still listed
	if err != nil && !(errors.As(err, &ee) && ee.code == 1 && len(names) > 0) {
		return nil, fmt.Errorf("query packages: %w", err)
	}
	return parseQuery(out), nil
}

func parseQuery(out string) map[string]Status {
	res := map[string]Status{}
	for line := range strings.Lines(out) {
		f := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(f) != 4 || f[3] == "not-installed" || f[3] == "" {
			continue
		}
		st := Status{Version: f[1], State: f[3], Held: f[2] == "hold"}
		// with several architectures installed, an installed one wins
		if old, seen := res[f[0]]; seen && old.Installed() {
			continue
		}
		res[f[0]] = st
	}
	return res
}

// Available reads candidates and versions from apt-cache policy.
func (a *Apt) Available(ctx context.Context, names []string, fromrepo string) (map[string]Offer, error) {
	if len(names) == 0 {
		return map[string]Offer{}, nil
	}
	if err := checkNames(names); err != nil {
		return nil, err
	}
	args := []string{"policy"}
	if fromrepo != "" {
		args = append(args, "-t", fromrepo)
	}
	out, err := run(ctx, "apt-cache", append(args, names...)...)
	if err != nil {
		return nil, fmt.Errorf("look up available packages: %w", err)
	}
	return parsePolicy(out), nil
}

// parsePolicy reads apt-cache policy output. Versions known only from
// dpkg's status file (installed, not downloadable) are not offered.
func parsePolicy(out string) map[string]Offer {
	res := map[string]Offer{}
	var name, version string
	var offer Offer
	flush := func() {
		if name != "" && (offer.Candidate != "" || len(offer.Versions) > 0) {
			res[name] = offer
		}
	}
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
		case !strings.HasPrefix(line, " "):
			flush()
			name, version, offer = BaseName(strings.TrimSuffix(line, ":")), "", Offer{}
		case strings.HasPrefix(line, "  Candidate:"):
			if c := strings.TrimSpace(strings.TrimPrefix(line, "  Candidate:")); c != "(none)" {
				offer.Candidate = c
			}
		case strings.HasPrefix(line, "        "): // a source of the current version
			if version != "" && !strings.HasSuffix(line, "/var/lib/dpkg/status") {
				offer.Versions = append(offer.Versions, version)
				version = ""
			}
		case strings.HasPrefix(line, " *** "), strings.HasPrefix(line, "     "):
			if f := strings.Fields(strings.TrimPrefix(line, " *** ")); len(f) == 2 {
				version = f[0]
			}
		}
	}
	flush()
	return res
}

// aptOptions keep apt quiet, non-interactive, patient with other users of
// dpkg's lock, and keep changed conffiles as the admin left them.
var aptOptions = []string{"-q", "-y",
	"-o", "DPkg::Lock::Timeout=300",
	"-o", "Dpkg::Options::=--force-confdef",
	"-o", "Dpkg::Options::=--force-confold",
}

// Install runs one apt-get install for every target.
func (a *Apt) Install(ctx context.Context, targets []Target, opts InstallOptions) (Changes, error) {
	if len(targets) == 0 {
		return Changes{}, nil
	}
	args := append([]string{"install"}, aptOptions...)
	args = append(args, "--allow-downgrades")
	if opts.FromRepo != "" {
		args = append(args, "-t", opts.FromRepo)
	}
	if opts.AllowHeld {
		args = append(args, "--allow-change-held-packages")
	}
	if opts.DryRun {
		args = append(args, "-s")
	}
	args = append(args, "--")
	for _, t := range targets {
		if err := CheckName(t.Name); err != nil {
			return nil, err
		}
		if strings.ContainsAny(t.Version, " \t\n") {
			return nil, fmt.Errorf("invalid version %q for %s", t.Version, t.Name)
		}
		args = append(args, t.String())
	}
	return a.change(ctx, args, opts.DryRun, false)
}

// Remove runs one apt-get remove (or purge) for every name.
func (a *Apt) Remove(ctx context.Context, names []string, opts RemoveOptions) (Changes, error) {
	if len(names) == 0 {
		return Changes{}, nil
	}
	if err := checkNames(names); err != nil {
		return nil, err
	}
	verb := "remove"
	if opts.Purge {
		verb = "purge"
	}
	args := append([]string{verb}, aptOptions...)
	if opts.DryRun {
		args = append(args, "-s")
	}
	args = append(append(args, "--"), names...)
	return a.change(ctx, args, opts.DryRun, opts.Purge)
}

// change runs apt-get: simulated, it parses what apt would do; for real,
// it holds the host lock and compares dpkg's database before and after,
// so dependencies apt pulled in or removed are reported too.
func (a *Apt) change(ctx context.Context, args []string, dryRun, purge bool) (Changes, error) {
	if dryRun {
		out, err := run(ctx, "apt-get", args...)
		if err != nil {
			return nil, err
		}
		return parseSimulation(out), nil
	}
	l, err := acquireLock(ctx, a.LockFile)
	if err != nil {
		return nil, err
	}
	defer l.release()
	before, err := a.Query(ctx)
	if err != nil {
		return nil, err
	}
	_, runErr := run(ctx, "apt-get", args...)
	after, err := a.Query(ctx)
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	return diff(before, after, purge), runErr
}

// simLine matches apt-get -s actions: "Inst foo [1.0-1] (1.1-1 origin [all])",
// "Remv foo [1.0-1]", "Purg foo [1.0-1]".
var simLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(Inst|Remv|Purg) (\S+)(?: \[([^\]]+)\])?(?: \((\S+))?`)
})

func parseSimulation(out string) Changes {
	res := Changes{}
	for line := range strings.Lines(out) {
		m := simLine().FindStringSubmatch(strings.TrimRight(line, "\n"))
		if m == nil {
			continue
		}
		name := BaseName(m[2])
		switch m[1] {
		case "Inst":
			res[name] = Change{Old: m[3], New: m[4]}
		default:
			res[name] = Change{Old: m[3]}
		}
	}
	return res
}

// Refresh runs apt-get update; any source that fails to update fails it.
func (a *Apt) Refresh(ctx context.Context) error {
	l, err := acquireLock(ctx, a.LockFile)
	if err != nil {
		return err
	}
	defer l.release()
	_, err = run(ctx, "apt-get", "update", "-q", "-o", "APT::Update::Error-Mode=any")
	return err
}

// Hold runs apt-mark hold (or unhold).
func (a *Apt) Hold(ctx context.Context, names []string, hold bool) error {
	if len(names) == 0 {
		return nil
	}
	if err := checkNames(names); err != nil {
		return err
	}
	l, err := acquireLock(ctx, a.LockFile)
	if err != nil {
		return err
	}
	defer l.release()
	verb := "unhold"
	if hold {
		verb = "hold"
	}
	_, err = run(ctx, "apt-mark", append([]string{verb, "--"}, names...)...)
	return err
}

// cmdError is a command that exited non-zero, with the reason it gave.
type cmdError struct {
	cmd    string
	code   int
	reason string
}

func (e *cmdError) Error() string { return e.cmd + ": " + e.reason }

// run runs a package tool in the C locale, non-interactively. A non-zero
// exit becomes a *cmdError carrying the tool's own explanation.
func run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive", "APT_LISTCHANGES_FRONTEND=none")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) } // let apt and dpkg stop cleanly
	cmd.WaitDelay = 30 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	what := name
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		what += " " + args[0]
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), nil
	case ctx.Err() != nil:
		return stdout.String(), fmt.Errorf("%s: %w", what, ctx.Err())
	case errors.As(err, &exit):
		return stdout.String(), &cmdError{cmd: what, code: exit.ExitCode(), reason: reason(stdout.String(), stderr.String(), exit.ExitCode())}
	}
	return stdout.String(), fmt.Errorf("%s: %w", what, err)
}

// unmetLine is apt's explanation of a dependency problem, on stdout.
var unmetLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^ \S+ : (Depends|PreDepends|Conflicts|Breaks):`) })

// reason picks the lines that explain a failure: apt's "E:" lines and
// dpkg's errors, with apt's unmet dependencies; else the end of stderr.
func reason(stdout, stderr string, code int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		if l := sc.Text(); unmetLine().MatchString(l) {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	sc = bufio.NewScanner(strings.NewReader(stderr))
	var tail []string
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "dpkg: error") || strings.HasPrefix(l, "dpkg-query: error") {
			lines = append(lines, l)
		}
		if l != "" {
			tail = append(tail, l)
		}
	}
	if len(lines) == 0 {
		if len(tail) > 10 {
			tail = tail[len(tail)-10:]
		}
		lines = tail
	}
	if len(lines) == 0 {
		return fmt.Sprintf("exit status %d without a message", code)
	}
	return strings.Join(lines, "\n")
}
