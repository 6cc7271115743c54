// Package pkg provides the pkg state module: pkg.installed, pkg.latest,
// pkg.removed and pkg.purged, through the host's package provider (apt on
// Debian, chosen by the grains). Changes are reported as Salt reports
// them: {"nginx": {"old": "", "new": "1.22.1-9"}}, dependencies included.
package pkg

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/brinecm/brine/pkg/pkgmgr"
	"github.com/brinecm/brine/states"
)

func init() {
	states.Register("pkg.installed", states.Func[InstalledArgs]{
		Doc: "Ensures the package named by name (or every package in pkgs) is installed, " +
			"at version when given (exact, or a spec like '>=1.2' or '1.2*'), in one transaction. " +
			"Arguments: version, pkgs (names, or one-key mappings name: version), refresh, fromrepo, hold.",
		Apply: installed,
	})
	states.Register("pkg.latest", states.Func[LatestArgs]{
		Doc:   "Ensures the named packages are installed at the newest version the repositories offer. Arguments: pkgs, refresh, fromrepo.",
		Apply: latest,
	})
	states.Register("pkg.removed", states.Func[RemovedArgs]{
		Doc: "Ensures the named packages are not installed; their configuration files stay. Arguments: pkgs, version (remove only that version).",
		Apply: func(ctx context.Context, c *states.Call, a *RemovedArgs) states.Outcome {
			return remove(ctx, c, a, false)
		},
	})
	states.Register("pkg.purged", states.Func[RemovedArgs]{
		Doc: "Ensures the named packages are not installed and their configuration files are gone. Arguments: pkgs, version.",
		Apply: func(ctx context.Context, c *states.Call, a *RemovedArgs) states.Outcome {
			return remove(ctx, c, a, true)
		},
	})
}

// Pkg is one entry of a pkgs list: a name and an optional version spec.
type Pkg struct {
	Name    string
	Version string
}

// PkgList is Salt's pkgs argument: a list of names, or of one-key
// mappings from name to version ("- nginx", "- curl: 7.88.1-10").
type PkgList []Pkg

// DecodeArg reads a list of names and name: version mappings.
func (l *PkgList) DecodeArg(v any) error {
	items, ok := v.([]any)
	if !ok {
		return fmt.Errorf("expected a list of package names")
	}
	out := make(PkgList, 0, len(items))
	for i, it := range items {
		switch x := it.(type) {
		case string:
			out = append(out, Pkg{Name: x})
		case map[string]any:
			if len(x) != 1 {
				return fmt.Errorf("item %d: expected one package per mapping, got %d", i+1, len(x))
			}
			for name, ver := range x {
				var spec struct {
					V string `arg:"v"`
				}
				if err := states.Decode(map[string]any{"v": ver}, &spec); err != nil {
					return fmt.Errorf("item %d: version of %s: %w", i+1, name, err)
				}
				out = append(out, Pkg{Name: name, Version: spec.V})
			}
		default:
			return fmt.Errorf("item %d: expected a package name or name: version, got %v", i+1, it)
		}
	}
	*l = out
	return nil
}

// want is one package a state asks for, checked and parsed.
type want struct {
	name string
	spec pkgmgr.Spec
}

func (w want) String() string {
	if w.spec.Any() {
		return w.name
	}
	if v, ok := w.spec.Exact(); ok {
		return w.name + "=" + v
	}
	return w.name + w.spec.String()
}

// wanted turns the name, pkgs and version arguments into checked wants.
func wanted(name string, pkgs PkgList, version string) ([]want, error) {
	if len(pkgs) == 0 {
		pkgs = PkgList{{Name: name, Version: version}}
	} else if version != "" {
		return nil, errors.New("version cannot be combined with pkgs: give each version in the pkgs list (- name: version)")
	}
	out := make([]want, 0, len(pkgs))
	seen := map[string]bool{}
	var errs []error
	for _, p := range pkgs {
		if err := pkgmgr.CheckName(p.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		spec, err := pkgmgr.ParseSpec(p.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
			continue
		}
		if seen[p.Name] {
			errs = append(errs, fmt.Errorf("package %s is listed twice", p.Name))
			continue
		}
		seen[p.Name] = true
		out = append(out, want{name: p.Name, spec: spec})
	}
	return out, errors.Join(errs...)
}

func names(ws []want) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.name
	}
	return out
}

// status finds a package in a Query result, arch qualifier or not.
func status(st map[string]pkgmgr.Status, name string) (pkgmgr.Status, bool) {
	s, ok := st[pkgmgr.BaseName(name)]
	return s, ok
}

// list formats names for a comment: "a, b, c".
func list(items []string) string {
	sorted := append([]string(nil), items...)
	sort.Strings(sorted)
	return strings.Join(sorted, ", ")
}

// provider chooses the host's package provider.
func provider(ctx context.Context) (pkgmgr.Provider, states.Outcome, bool) {
	p, err := pkgmgr.Detect(ctx)
	if err != nil {
		return nil, states.Failedf("%v", err), false
	}
	return p, states.Outcome{}, true
}
