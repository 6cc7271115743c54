// Package pkg provides the pkg execution module: pkg.version,
// pkg.list_pkgs, pkg.install, pkg.remove, pkg.purge and pkg.refresh_db,
// through the package provider the minion's grains choose (apt on Debian).
package pkg

import (
	"context"
	"errors"
	"fmt"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/pkgmgr"
	"github.com/brinecm/brine/states"
)

type versionArgs struct {
	Names []string `arg:"names"`
}

type noArgs struct{}

type installArgs struct {
	Name     string `arg:"name"`
	Version  string `arg:"version"`
	Pkgs     []any  `arg:"pkgs"`
	Refresh  bool   `arg:"refresh"`
	FromRepo string `arg:"fromrepo"`
	Test     bool   `arg:"test"`
}

type removeArgs struct {
	Name string   `arg:"name"`
	Pkgs []string `arg:"pkgs"`
	Test bool     `arg:"test"`
}

func init() {
	modules.Register("pkg.version", modules.Func[versionArgs]{
		ReadOnly: true,
		Doc: "Return the installed version of a package (\"\" when not installed), " +
			"or a mapping of name to version when several are named.",
		Params: []string{"names..."},
		Call:   version,
	})
	modules.Register("pkg.list_pkgs", modules.Func[noArgs]{
		ReadOnly: true,
		Doc:      "Return every installed package and its version.",
		Call: func(ctx context.Context, rt *modules.Runtime, _ *noArgs) (any, error) {
			p, err := pkgmgr.ForGrains(rt.Grains)
			if err != nil {
				return nil, err
			}
			st, err := p.Query(ctx)
			if err != nil {
				return nil, err
			}
			out := map[string]any{}
			for name, s := range st {
				if s.Installed() {
					out[name] = s.Version
				}
			}
			return out, nil
		},
	})
	modules.Register("pkg.install", modules.Func[installArgs]{
		Doc: "Install a package (name, optional version) or several (pkgs: names or name: version mappings) " +
			"in one transaction; refresh, fromrepo; test=True only reports. Returns the changes.",
		Params: []string{"name"},
		Call:   install,
	})
	modules.Register("pkg.remove", modules.Func[removeArgs]{
		Doc:    "Remove a package (name) or several (pkgs), keeping their configuration files. Returns the changes.",
		Params: []string{"name"},
		Call: func(ctx context.Context, rt *modules.Runtime, a *removeArgs) (any, error) {
			return remove(ctx, rt, a, false)
		},
	})
	modules.Register("pkg.purge", modules.Func[removeArgs]{
		Doc:    "Remove a package (name) or several (pkgs) with their configuration files. Returns the changes.",
		Params: []string{"name"},
		Call: func(ctx context.Context, rt *modules.Runtime, a *removeArgs) (any, error) {
			return remove(ctx, rt, a, true)
		},
	})
	modules.Register("pkg.refresh_db", modules.Func[noArgs]{
		Doc: "Update the package lists from the repositories; True when done.",
		Call: func(ctx context.Context, rt *modules.Runtime, _ *noArgs) (any, error) {
			p, err := pkgmgr.ForGrains(rt.Grains)
			if err != nil {
				return nil, err
			}
			if err := p.Refresh(ctx); err != nil {
				return nil, err
			}
			return true, nil
		},
	})
}

func version(ctx context.Context, rt *modules.Runtime, a *versionArgs) (any, error) {
	if len(a.Names) == 0 {
		return nil, errors.New("name at least one package")
	}
	p, err := pkgmgr.ForGrains(rt.Grains)
	if err != nil {
		return nil, err
	}
	st, err := p.Query(ctx, a.Names...)
	if err != nil {
		return nil, err
	}
	get := func(name string) string {
		if s, ok := st[pkgmgr.BaseName(name)]; ok && s.Installed() {
			return s.Version
		}
		return ""
	}
	if len(a.Names) == 1 {
		return get(a.Names[0]), nil
	}
	out := make(map[string]any, len(a.Names))
	for _, n := range a.Names {
		out[n] = get(n)
	}
	return out, nil
}

// targets reads the name, version and pkgs arguments.
func (a *installArgs) targets() ([]pkgmgr.Target, []pkgmgr.Spec, error) {
	type pv struct{ name, version string }
	var list []pv
	if len(a.Pkgs) == 0 {
		if a.Name == "" {
			return nil, nil, errors.New("name a package, or list them in pkgs")
		}
		list = []pv{{a.Name, a.Version}}
	}
	for _, it := range a.Pkgs {
		switch x := it.(type) {
		case string:
			list = append(list, pv{name: x})
		case map[string]any:
			for n, v := range x {
				var s struct {
					V string `arg:"v"`
				}
				if err := states.Decode(map[string]any{"v": v}, &s); err != nil {
					return nil, nil, fmt.Errorf("pkgs: version of %s: %w", n, err)
				}
				list = append(list, pv{n, s.V})
			}
		default:
			return nil, nil, errors.New("pkgs: expected names or name: version mappings")
		}
	}
	targets := make([]pkgmgr.Target, len(list))
	specs := make([]pkgmgr.Spec, len(list))
	for i, p := range list {
		spec, err := pkgmgr.ParseSpec(p.version)
		if err != nil {
			return nil, nil, err
		}
		targets[i], specs[i] = pkgmgr.Target{Name: p.name}, spec
	}
	return targets, specs, nil
}

func install(ctx context.Context, rt *modules.Runtime, a *installArgs) (any, error) {
	targets, specs, err := a.targets()
	if err != nil {
		return nil, err
	}
	p, err := pkgmgr.ForGrains(rt.Grains)
	if err != nil {
		return nil, err
	}
	if a.Refresh && !a.Test {
		if err := p.Refresh(ctx); err != nil {
			return nil, err
		}
	}
	var inexact []string
	for i, s := range specs {
		if _, exact := s.Exact(); !exact && !s.Any() {
			inexact = append(inexact, targets[i].Name)
		}
	}
	offers, err := p.Available(ctx, inexact, a.FromRepo)
	if err != nil {
		return nil, err
	}
	for i, s := range specs {
		if s.Any() {
			continue
		}
		v, err := pkgmgr.Resolve(targets[i].Name, s, offers[pkgmgr.BaseName(targets[i].Name)])
		if err != nil {
			return nil, err
		}
		targets[i].Version = v
	}
	ch, err := p.Install(ctx, targets, pkgmgr.InstallOptions{FromRepo: a.FromRepo, DryRun: a.Test})
	return changes(ch), err
}

func remove(ctx context.Context, rt *modules.Runtime, a *removeArgs, purge bool) (any, error) {
	names := a.Pkgs
	if len(names) == 0 {
		if a.Name == "" {
			return nil, errors.New("name a package, or list them in pkgs")
		}
		names = []string{a.Name}
	}
	p, err := pkgmgr.ForGrains(rt.Grains)
	if err != nil {
		return nil, err
	}
	ch, err := p.Remove(ctx, names, pkgmgr.RemoveOptions{Purge: purge, DryRun: a.Test})
	return changes(ch), err
}

// changes is the Salt shape of changes, an empty mapping for none.
func changes(c pkgmgr.Changes) map[string]any {
	if m := c.Map(); m != nil {
		return m
	}
	return map[string]any{}
}
