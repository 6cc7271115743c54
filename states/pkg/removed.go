package pkg

import (
	"context"
	"fmt"

	"github.com/brinecm/brine/pkg/pkgmgr"
	"github.com/brinecm/brine/states"
)

// RemovedArgs are the arguments of pkg.removed and pkg.purged.
type RemovedArgs struct {
	Version string  `arg:"version"`
	Pkgs    PkgList `arg:"pkgs"`
}

// remove is pkg.removed, or pkg.purged when purge is set.
func remove(ctx context.Context, c *states.Call, a *RemovedArgs, purge bool) states.Outcome {
	ws, err := wanted(c.Name, a.Pkgs, a.Version)
	if err != nil {
		return states.Failedf("%v", err)
	}
	p, fail, ok := provider(ctx)
	if !ok {
		return fail
	}
	st, err := p.Query(ctx, names(ws)...)
	if err != nil {
		return states.Failedf("%v", err)
	}
	present := func(s pkgmgr.Status) bool {
		if s.State == "config-files" {
			return purge
		}
		return true // installed, or half-installed and the like
	}
	var targets []string
	for _, w := range ws {
		if s, ok := status(st, w.name); ok && present(s) && w.spec.Matches(s.Version) {
			targets = append(targets, w.name)
		}
	}
	if len(targets) == 0 {
		return states.Succeeded("None of the targeted packages are installed or partially installed", nil)
	}
	verb, doing := "removed", "removing"
	if purge {
		verb, doing = "purged", "purging"
	}
	ch, err := p.Remove(ctx, targets, pkgmgr.RemoveOptions{Purge: purge, DryRun: c.Test})
	if c.Test {
		if err != nil {
			return states.Failedf("The packages could not be %s: %v", verb, err)
		}
		return states.WouldChange(fmt.Sprintf("The following packages will be %s: %s.", verb, list(targets)), ch.Map())
	}
	changes := ch.Map()
	if err != nil {
		return states.Failed(fmt.Sprintf("An error was encountered while %s package(s): %v", doing, err), changes)
	}
	after, err := p.Query(ctx, targets...)
	if err != nil {
		return states.Failed(err.Error(), changes)
	}
	var left []string
	for _, n := range targets {
		if s, ok := status(after, n); ok && present(s) {
			left = append(left, n)
		}
	}
	if len(left) > 0 {
		return states.Failed(fmt.Sprintf("The following packages were not %s: %s", verb, list(left)), changes)
	}
	return states.Succeeded(fmt.Sprintf("All targeted packages were %s.", verb), changes)
}
