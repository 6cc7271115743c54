package pkg

import (
	"context"
	"fmt"
	"strings"

	"github.com/brinecm/brine/pkg/pkgmgr"
	"github.com/brinecm/brine/states"
)

// LatestArgs are pkg.latest's arguments.
type LatestArgs struct {
	Pkgs     PkgList `arg:"pkgs"`
	Refresh  bool    `arg:"refresh"`
	FromRepo string  `arg:"fromrepo"`
}

func latest(ctx context.Context, c *states.Call, a *LatestArgs) states.Outcome {
	for _, p := range a.Pkgs {
		if p.Version != "" {
			return states.Failedf("pkg.latest installs the newest version: remove the version of %s (or use pkg.installed)", p.Name)
		}
	}
	ws, err := wanted(c.Name, a.Pkgs, "")
	if err != nil {
		return states.Failedf("%v", err)
	}
	p, fail, ok := provider(ctx)
	if !ok {
		return fail
	}
	if a.Refresh && !c.Test {
		if err := p.Refresh(ctx); err != nil {
			return states.Failedf("Failed to refresh the package lists: %v", err)
		}
	}
	st, err := p.Query(ctx, names(ws)...)
	if err != nil {
		return states.Failedf("%v", err)
	}
	offers, err := p.Available(ctx, names(ws), a.FromRepo)
	if err != nil {
		return states.Failedf("%v", err)
	}
	var targets []pkgmgr.Target
	var current []string
	for _, w := range ws {
		s, inst := status(st, w.name)
		o := offers[pkgmgr.BaseName(w.name)]
		switch {
		case o.Candidate == "":
			// nothing offers it: apt says why when asked to install it
			targets = append(targets, pkgmgr.Target{Name: w.name})
		case !inst || !s.Installed() || pkgmgr.Compare(o.Candidate, s.Version) > 0:
			targets = append(targets, pkgmgr.Target{Name: w.name, Version: o.Candidate})
		default:
			current = append(current, w.name)
		}
	}
	if len(targets) == 0 {
		if len(ws) == 1 {
			return states.Succeeded(fmt.Sprintf("Package %s is already up-to-date", ws[0].name), nil)
		}
		return states.Succeeded(fmt.Sprintf("All packages are up-to-date (%s).", list(current)), nil)
	}
	opts := pkgmgr.InstallOptions{FromRepo: a.FromRepo, DryRun: c.Test}
	ch, err := p.Install(ctx, targets, opts)
	if c.Test {
		if err != nil {
			return states.Failedf("The packages could not be installed: %v", err)
		}
		return states.WouldChange("The following packages would be installed/upgraded: "+targetList(targets), ch.Map())
	}
	changes := ch.Map()
	if err != nil {
		return states.Failed("An error was encountered while installing package(s): "+err.Error(), changes)
	}
	comment := []string{"The following packages were successfully installed/upgraded: " + targetList(targets)}
	if len(current) > 0 {
		comment = append(comment, "The following packages were already up-to-date: "+list(current))
	}
	exact := make([]want, len(targets))
	for i, t := range targets {
		spec, _ := pkgmgr.ParseSpec(t.Version)
		exact[i] = want{name: t.Name, spec: spec}
	}
	if missing := verify(ctx, p, exact); missing != "" {
		return states.Failed(strings.Join(append(comment, missing), "\n"), changes)
	}
	return states.Succeeded(strings.Join(comment, "\n"), changes)
}
