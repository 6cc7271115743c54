// Package debtest builds small Debian packages with dpkg-deb and serves them
// from a local, file-based apt repository, for the tests of brine's package
// and service modules. Every package it makes is named brine-test-*, so it
// cannot clash with a real one, and is purged when the test ends.
//
// The repository is wired in through APT_CONFIG: apt reads its sources and
// keeps its lists in the test's temporary directory, so the host's sources
// are never used and no network is touched; installs go to the host's real
// dpkg database.
package debtest

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/brinecm/brine/pkg/systest"
)

// Prefix starts the name of every package this package builds.
const Prefix = "brine-test-"

// DaemonName is the package, init script and daemon name of Daemon.
const DaemonName = Prefix + "daemon"

// DaemonLog is where Daemon's daemon logs its starts, reloads and stops.
const DaemonLog = "/var/log/" + DaemonName + ".log"

// DaemonConf is Daemon's configuration file (a conffile).
const DaemonConf = "/etc/" + DaemonName + ".conf"

//go:embed files
var files embed.FS

// File is one file of a package.
type File struct {
	Content string
	Mode    fs.FileMode // 0644 when zero
}

// Deb describes a package to build.
type Deb struct {
	Name      string
	Version   string
	Depends   string
	Files     map[string]File   // absolute path on the host -> file
	Conffiles []string          // absolute paths, among Files
	Scripts   map[string]string // maintainer scripts: "postinst" -> script
}

// Simple is a package holding one file, /usr/share/<name>/version.
func Simple(name, version, depends string) Deb {
	return Deb{Name: name, Version: version, Depends: depends, Files: map[string]File{
		"/usr/share/" + name + "/version": {Content: version + "\n"},
	}}
}

// Daemon is brine-test-daemon at version: a shell-loop daemon
// (/usr/sbin/brine-test-daemon), its sysv init script, which starts it with
// start-stop-daemon, a conffile holding "version=<version>", and
// maintainer scripts that register the script with update-rc.d and stop
// the daemon on removal.
func Daemon(t testing.TB, version string) Deb {
	t.Helper()
	read := func(name string) string {
		b, err := files.ReadFile("files/" + name)
		if err != nil {
			t.Fatalf("embedded file %s: %v", name, err)
		}
		return string(b)
	}
	return Deb{
		Name:    DaemonName,
		Version: version,
		Files: map[string]File{
			"/usr/sbin/" + DaemonName:                   {Content: read(DaemonName), Mode: 0o755},
			"/etc/init.d/" + DaemonName:                 {Content: read("init.d"), Mode: 0o755},
			DaemonConf:                                  {Content: "version=" + version + "\n"},
			"/usr/share/doc/" + DaemonName + "/version": {Content: version + "\n"},
		},
		Conffiles: []string{DaemonConf, "/etc/init.d/" + DaemonName},
		Scripts: map[string]string{
			"postinst": read("postinst"),
			"prerm":    read("prerm"),
			"postrm":   read("postrm"),
		},
	}
}

// Build makes the .deb for d in dir with dpkg-deb and returns its path.
func Build(t testing.TB, dir string, d Deb) string {
	t.Helper()
	systest.RequireCommands(t, "dpkg-deb")
	if !strings.HasPrefix(d.Name, Prefix) {
		t.Fatalf("test package %q must be named %s*", d.Name, Prefix)
	}
	root := filepath.Join(dir, "build", d.Name+"_"+d.Version)
	write := func(path, content string, mode fs.FileMode) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	var control strings.Builder
	fmt.Fprintf(&control, "Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: brine tests <brine@example.invalid>\n", d.Name, d.Version)
	if d.Depends != "" {
		fmt.Fprintf(&control, "Depends: %s\n", d.Depends)
	}
	fmt.Fprintf(&control, "Section: misc\nPriority: optional\nDescription: %s, a brine test package\n Built by brine's tests; safe to purge.\n", d.Name)
	write(filepath.Join(root, "DEBIAN", "control"), control.String(), 0o644)
	if len(d.Conffiles) > 0 {
		write(filepath.Join(root, "DEBIAN", "conffiles"), strings.Join(d.Conffiles, "\n")+"\n", 0o644)
	}
	for name, script := range d.Scripts {
		write(filepath.Join(root, "DEBIAN", name), script, 0o755)
	}
	for path, f := range d.Files {
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		write(filepath.Join(root, filepath.FromSlash(path)), f.Content, mode)
	}
	deb := filepath.Join(dir, d.Name+"_"+d.Version+"_all.deb")
	run(t, "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, deb)
	return deb
}

// Repo is a local apt repository: one flat directory per suite, each
// with a Packages index and an unsigned Release file, trusted through the
// sources list.
type Repo struct {
	Dir    string // the repository and apt's state for it
	Config string // the apt configuration file APT_CONFIG points at
}

// systemLock serializes the tests that install brine-test-* packages:
// go test runs the test binaries of several packages at once, and they
// share the host's dpkg database, init scripts and daemons.
const systemLock = "/run/lock/brine-debtest.lock"

// lockSystem holds systemLock until the test ends, after its other
// cleanups (they run last registered, first run). A test takes it once:
// it calls NewRepo or InstallDeb, not both.
func lockSystem(t testing.TB) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(systemLock), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(systemLock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("lock %s: %v", systemLock, err)
	}
	t.Cleanup(func() { f.Close() })
}

// NewRepo builds the packages of each suite ("stable": {...}) into a local
// repository, points apt at it (and only at it) through APT_CONFIG for the
// rest of the test, and runs apt-get update. It needs root, because the
// tests install what it serves; every brine-test-* package installed
// during the test is purged at its end.
func NewRepo(t testing.TB, suites map[string][]Deb) *Repo {
	t.Helper()
	systest.RequireRoot(t)
	systest.RequireCommands(t, "apt-get", "apt-cache", "dpkg-deb", "dpkg-query")
	lockSystem(t)
	dir := t.TempDir()
	r := &Repo{Dir: dir, Config: filepath.Join(dir, "apt.conf")}
	var sources strings.Builder
	names := make([]string, 0, len(suites))
	for s := range suites {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, suite := range names {
		sdir := filepath.Join(dir, "repo", suite)
		WriteSuite(t, sdir, suite, suites[suite])
		fmt.Fprintf(&sources, "deb [trusted=yes] file:%s ./\n", sdir)
	}
	writeFile(t, filepath.Join(dir, "sources.list"), []byte(sources.String()))
	for _, d := range []string{"sources.list.d", "lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`Dir::Etc::SourceList "%[1]s/sources.list";
Dir::Etc::SourceParts "%[1]s/sources.list.d";
Dir::State::Lists "%[1]s/lists";
Dir::Cache "%[1]s/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT::Sandbox::User "root";
`, dir)
	writeFile(t, r.Config, []byte(conf))
	t.Setenv("APT_CONFIG", r.Config)
	// needrestart, an apt hook on many Debian hosts, scans every process
	// after each transaction; the test packages need no restarts
	t.Setenv("NEEDRESTART_SUSPEND", "1")
	t.Cleanup(func() { PurgeAll(t) })
	run(t, "apt-get", "-q", "update")
	return r
}

// WriteSuite builds the packages into dir and makes it a flat apt
// repository ("deb [trusted=yes] file:<dir> ./") for the named suite.
func WriteSuite(t testing.TB, dir, suite string, debs []Deb) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var index bytes.Buffer
	for _, d := range debs {
		deb := Build(t, dir, d)
		index.Write(stanza(t, deb))
		index.WriteByte('\n')
	}
	writeFile(t, filepath.Join(dir, "Packages"), index.Bytes())
	writeFile(t, filepath.Join(dir, "Release"), release(suite, index.Bytes()))
}

// SourcesDir is the sources.list.d directory apt reads with this repository.
func (r *Repo) SourcesDir() string { return filepath.Join(r.Dir, "sources.list.d") }

// stanza is the Packages index entry of a .deb.
func stanza(t testing.TB, deb string) []byte {
	control := run(t, "dpkg-deb", "-f", deb)
	data, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	sha := sha256.Sum256(data)
	md := md5.Sum(data)
	var b bytes.Buffer
	b.WriteString(strings.TrimRight(control, "\n"))
	fmt.Fprintf(&b, "\nFilename: ./%s\nSize: %d\nMD5sum: %s\nSHA256: %s\n",
		filepath.Base(deb), len(data), hex.EncodeToString(md[:]), hex.EncodeToString(sha[:]))
	return b.Bytes()
}

func release(suite string, packages []byte) []byte {
	sha := sha256.Sum256(packages)
	md := md5.Sum(packages)
	date := time.Now().Add(-time.Hour).UTC().Format(time.RFC1123)
	return fmt.Appendf(nil, "Origin: brine-test\nLabel: brine-test\nSuite: %s\nCodename: %s\nDate: %s\nArchitectures: all\n"+
		"MD5Sum:\n %s %d Packages\nSHA256:\n %s %d Packages\n",
		suite, suite, date, hex.EncodeToString(md[:]), len(packages), hex.EncodeToString(sha[:]), len(packages))
}

// Installed returns the installed version of a package and whether it is
// installed, straight from dpkg-query.
func Installed(t testing.TB, name string) (string, bool) {
	t.Helper()
	out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Status} ${Version}", name).Output()
	if err != nil {
		return "", false
	}
	status, version, _ := strings.Cut(string(out), " ")
	return version, status == "installed"
}

// Status returns dpkg's status of a package ("installed", "config-files",
// "not-installed"), straight from dpkg-query.
func Status(t testing.TB, name string) string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Status}", name).Output()
	if err != nil || len(out) == 0 {
		return "not-installed"
	}
	return string(out)
}

// PurgeAll purges every brine-test-* package from the host, held or not,
// stopping their daemons.
func PurgeAll(t testing.TB) {
	t.Helper()
	out, _ := exec.Command("dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", Prefix+"*").Output()
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] != "not-installed" {
			names = append(names, f[0])
		}
	}
	if len(names) == 0 {
		return
	}
	args := append([]string{"--purge", "--force-depends", "--force-hold"}, names...)
	if out, err := exec.Command("dpkg", args...).CombinedOutput(); err != nil {
		t.Errorf("purge test packages: %v: %s", err, out)
	}
}

// InstallDeb installs a .deb with dpkg -i, outside apt; the package is
// purged when the test ends.
func InstallDeb(t testing.TB, d Deb) {
	t.Helper()
	systest.RequireRoot(t)
	systest.RequireCommands(t, "dpkg", "dpkg-deb")
	lockSystem(t)
	deb := Build(t, t.TempDir(), d)
	t.Cleanup(func() { PurgeAll(t) })
	run(t, "dpkg", "-i", deb)
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
