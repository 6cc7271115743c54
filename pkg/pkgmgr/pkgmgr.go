// Package pkgmgr hides the host's package manager behind a Provider, so
// brine's pkg states and execution modules speak one language whatever the
// platform. apt/dpkg is the first provider; the grains (os_family) choose
// it. Every operation that changes packages holds a host-wide lock, so
// package operations never overlap, even when states run in parallel.
package pkgmgr

import (
	"context"
	"fmt"
	"sort"

	"github.com/brinecm/brine/pkg/grains"
)

// Status is what the package database knows of one package.
type Status struct {
	Version string // installed version, or the version whose config files remain
	State   string // dpkg's status: "installed", "config-files", "half-installed", ...
	Held    bool   // held at its version (apt-mark hold)
}

// Installed reports whether the package is installed and configured.
func (s Status) Installed() bool { return s.State == "installed" }

// Offer is what the configured repositories offer for one package.
type Offer struct {
	Candidate string   // the version an install would choose, "" when none
	Versions  []string // every downloadable version, highest first
}

// Target is a package to install, with an optional version spec (see ParseSpec).
type Target struct {
	Name    string
	Version string // an exact version, "" for the candidate
}

// String is name or name=version.
func (t Target) String() string {
	if t.Version == "" {
		return t.Name
	}
	return t.Name + "=" + t.Version
}

// InstallOptions tune Install.
type InstallOptions struct {
	FromRepo  string // prefer this release (apt's -t)
	DryRun    bool   // only report what would change (apt-get -s); needs no lock
	AllowHeld bool   // let held packages change version
}

// RemoveOptions tune Remove.
type RemoveOptions struct {
	Purge  bool // also remove configuration files
	DryRun bool // only report what would change
}

// Change is the version of one package before and after an operation;
// "" means not installed.
type Change struct {
	Old string
	New string
}

// Changes are the packages an operation changed, by name.
type Changes map[string]Change

// Map is the changes as Salt reports them: {"pkg": {"old": "", "new": "1.2-1"}}.
func (c Changes) Map() map[string]any {
	if len(c) == 0 {
		return nil
	}
	out := make(map[string]any, len(c))
	for name, ch := range c {
		out[name] = map[string]any{"old": ch.Old, "new": ch.New}
	}
	return out
}

// Names lists the changed packages, sorted.
func (c Changes) Names() []string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Provider is a host's package manager.
type Provider interface {
	// Name is the provider's name ("apt").
	Name() string
	// Query returns the status of the named packages, or of every package
	// the database knows when names is empty. Packages it never heard of,
	// or that were purged, are absent from the map.
	Query(ctx context.Context, names ...string) (map[string]Status, error)
	// Available returns what the repositories offer for each name; names
	// nothing offers are absent. fromrepo prefers one release, as Install.
	Available(ctx context.Context, names []string, fromrepo string) (map[string]Offer, error)
	// Install installs or changes the targets in one transaction and
	// returns every package that changed, dependencies included.
	Install(ctx context.Context, targets []Target, opts InstallOptions) (Changes, error)
	// Remove removes (or purges) the named packages in one transaction.
	Remove(ctx context.Context, names []string, opts RemoveOptions) (Changes, error)
	// Refresh updates the package lists from the repositories.
	Refresh(ctx context.Context) error
	// Hold holds (or, with hold false, releases) the named packages.
	Hold(ctx context.Context, names []string, hold bool) error
}

// ForGrains returns the provider for a host with these grains: apt for
// os_family Debian.
func ForGrains(g map[string]any) (Provider, error) {
	family, _ := g["os_family"].(string)
	switch family {
	case "Debian":
		return NewApt(), nil
	}
	return nil, fmt.Errorf("no package provider for os_family %q (brine manages packages with apt on Debian)", family)
}

// Detect returns the provider for this host, from its platform grains.
func Detect(ctx context.Context) (Provider, error) {
	g, err := grains.Platform(ctx)
	if err != nil {
		return nil, fmt.Errorf("choose package provider: %w", err)
	}
	return ForGrains(g)
}

// diff compares two snapshots of the database. With configs, a package
// whose config files remain counts as present (for purges).
func diff(before, after map[string]Status, configs bool) Changes {
	present := func(s Status, ok bool) string {
		if !ok || !(s.Installed() || configs && s.State == "config-files") {
			return ""
		}
		return s.Version
	}
	out := Changes{}
	for name, b := range before {
		a, ok := after[name]
		if o, n := present(b, true), present(a, ok); o != n {
			out[name] = Change{Old: o, New: n}
		}
	}
	for name, a := range after {
		if _, ok := before[name]; ok {
			continue
		}
		if n := present(a, true); n != "" {
			out[name] = Change{New: n}
		}
	}
	return out
}
