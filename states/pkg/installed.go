package pkg

import (
	"context"
	"fmt"
	"strings"

	"github.com/brinecm/brine/pkg/pkgmgr"
	"github.com/brinecm/brine/states"
)

// InstalledArgs are pkg.installed's arguments; the package is the state's
// name unless pkgs lists several.
type InstalledArgs struct {
	Version  string  `arg:"version"`
	Pkgs     PkgList `arg:"pkgs"`
	Refresh  bool    `arg:"refresh"`
	FromRepo string  `arg:"fromrepo"`
	Hold     *bool   `arg:"hold"`
	// Accepted and ignored, as they change nothing brine does: Salt
	// reloads its own execution modules after an install (reload_modules)
	// and looks up suggestions for a misspelt package (skip_suggestions).
	ReloadModules   bool `arg:"reload_modules"`
	SkipSuggestions bool `arg:"skip_suggestions"`
	// UpdateHolds lets a held package change version (held again after).
	UpdateHolds bool `arg:"update_holds"`
}

func installed(ctx context.Context, c *states.Call, a *InstalledArgs) states.Outcome {
	if strings.EqualFold(a.Version, "latest") {
		if a.Hold != nil {
			return states.Failedf("pkg.installed %s: version: latest cannot be combined with hold; use a pkg.latest and hold in a pkg.installed of its own", c.Name)
		}
		return latest(ctx, c, &LatestArgs{Pkgs: a.Pkgs, Refresh: a.Refresh, FromRepo: a.FromRepo})
	}
	ws, err := wanted(c.Name, a.Pkgs, a.Version)
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
	plan, err := planInstall(ctx, p, ws, a)
	if err != nil {
		return states.Failedf("%v", err)
	}
	if len(plan.install) == 0 && len(plan.holds) == 0 {
		if len(ws) == 1 {
			return states.Succeeded(fmt.Sprintf("Package %s is already installed", ws[0]), nil)
		}
		return states.Succeeded("All specified packages are already installed", nil)
	}
	opts := pkgmgr.InstallOptions{FromRepo: a.FromRepo, AllowHeld: a.Hold != nil || a.UpdateHolds, DryRun: c.Test}
	if c.Test {
		ch, err := p.Install(ctx, plan.install, opts)
		if err != nil {
			return states.Failedf("The packages could not be installed: %v", err)
		}
		changes := ch.Map()
		var comment []string
		if len(plan.install) > 0 {
			comment = append(comment, "The following packages would be installed/updated: "+targetList(plan.install))
		}
		if len(plan.holds) > 0 {
			changes = holdChanges(changes, plan.holds, *a.Hold)
			comment = append(comment, fmt.Sprintf("The following packages would be %s: %s", holdVerb(*a.Hold), list(plan.holds)))
		}
		return states.WouldChange(strings.Join(comment, "\n"), changes)
	}

	ch, err := p.Install(ctx, plan.install, opts)
	changes := ch.Map()
	if err != nil {
		return states.Failed("An error was encountered while installing package(s): "+err.Error(), changes)
	}
	var comment []string
	if len(plan.install) > 0 {
		comment = append(comment, "The following packages were installed/updated: "+targetList(plan.install))
	}
	if len(plan.satisfied) > 0 && len(plan.install) > 0 {
		comment = append(comment, "The following packages were already installed: "+list(plan.satisfied))
	}
	if a.Hold != nil {
		// packages just installed may need their hold set too
		st, err := p.Query(ctx, names(ws)...)
		if err != nil {
			return states.Failed(err.Error(), changes)
		}
		var toggle []string
		for _, w := range ws {
			if s, ok := status(st, w.name); ok && s.Installed() && s.Held != *a.Hold {
				toggle = append(toggle, w.name)
			}
		}
		if err := p.Hold(ctx, toggle, *a.Hold); err != nil {
			return states.Failed(strings.Join(append(comment, "Failed to set the hold: "+err.Error()), "\n"), changes)
		}
		changes = holdChanges(changes, toggle, *a.Hold)
		if len(toggle) > 0 {
			comment = append(comment, fmt.Sprintf("The following packages were %s: %s", holdVerb(*a.Hold), list(toggle)))
		}
	}
	if missing := verify(ctx, p, ws); missing != "" {
		return states.Failed(strings.Join(append(comment, missing), "\n"), changes)
	}
	return states.Succeeded(strings.Join(comment, "\n"), changes)
}

// installPlan is what pkg.installed has to do.
type installPlan struct {
	install   []pkgmgr.Target // packages to install or change, with versions resolved
	holds     []string        // installed packages whose hold must change
	satisfied []string        // packages already as wanted
}

func planInstall(ctx context.Context, p pkgmgr.Provider, ws []want, a *InstalledArgs) (installPlan, error) {
	var plan installPlan
	st, err := p.Query(ctx, names(ws)...)
	if err != nil {
		return plan, err
	}
	var offerNames []string
	for _, w := range ws {
		s, ok := status(st, w.name)
		_, exact := w.spec.Exact()
		if !(ok && s.Installed() && w.spec.Matches(s.Version)) && !w.spec.Any() && !exact {
			offerNames = append(offerNames, w.name)
		}
	}
	offers, err := p.Available(ctx, offerNames, a.FromRepo)
	if err != nil {
		return plan, err
	}
	var errs []string
	for _, w := range ws {
		s, ok := status(st, w.name)
		if ok && s.Installed() && w.spec.Matches(s.Version) {
			plan.satisfied = append(plan.satisfied, w.name)
			if a.Hold != nil && s.Held != *a.Hold {
				plan.holds = append(plan.holds, w.name)
			}
			continue
		}
		t := pkgmgr.Target{Name: w.name}
		if !w.spec.Any() {
			v, err := pkgmgr.Resolve(w.name, w.spec, offers[pkgmgr.BaseName(w.name)])
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			t.Version = v
		}
		plan.install = append(plan.install, t)
	}
	if len(errs) > 0 {
		return plan, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return plan, nil
}

// verify checks that every wanted package ended up installed as wanted;
// it returns a comment naming those that did not, or "".
func verify(ctx context.Context, p pkgmgr.Provider, ws []want) string {
	st, err := p.Query(ctx, names(ws)...)
	if err != nil {
		return err.Error()
	}
	var bad []string
	for _, w := range ws {
		if s, ok := status(st, w.name); !ok || !s.Installed() || !w.spec.Matches(s.Version) {
			got := "not installed"
			if ok && s.Version != "" {
				got = s.Version + " " + s.State
			}
			bad = append(bad, fmt.Sprintf("%s (%s)", w, got))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return "The following packages failed to install/update: " + list(bad)
}

func targetList(ts []pkgmgr.Target) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return list(out)
}

func holdVerb(hold bool) string {
	if hold {
		return "held"
	}
	return "unheld"
}

// holdChanges adds hold changes as Salt reports them, dpkg selections
// {"old": "install", "new": "hold"}, to packages whose version did not
// change (a version change is the more telling one).
func holdChanges(changes map[string]any, names []string, hold bool) map[string]any {
	if len(names) == 0 {
		return changes
	}
	if changes == nil {
		changes = map[string]any{}
	}
	old, new := "install", "hold"
	if !hold {
		old, new = new, old
	}
	for _, n := range names {
		if _, ok := changes[n]; !ok {
			changes[n] = map[string]any{"old": old, "new": new}
		}
	}
	return changes
}
