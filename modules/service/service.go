// Package service provides the service execution module: service.status,
// service.start, service.stop, service.restart, service.reload,
// service.enabled, service.available and service.get_all, through the init
// system the minion's grains choose (systemd or sysv-init).
package service

import (
	"context"

	"github.com/brinecm/brine/modules"
	"github.com/brinecm/brine/pkg/initsys"
)

type nameArgs struct {
	Name string `arg:"name,required"`
}

type noArgs struct{}

func init() {
	modules.Register("service.status", modules.Func[nameArgs]{
		ReadOnly: true,
		Doc:      "Return True when the service is running.",
		Params:   []string{"name"},
		Call: func(ctx context.Context, rt *modules.Runtime, a *nameArgs) (any, error) {
			p, err := provider(ctx, rt, a.Name)
			if err != nil {
				return nil, err
			}
			return p.Running(ctx, a.Name)
		},
	})
	modules.Register("service.enabled", modules.Func[nameArgs]{
		ReadOnly: true,
		Doc:      "Return True when the service starts at boot.",
		Params:   []string{"name"},
		Call: func(ctx context.Context, rt *modules.Runtime, a *nameArgs) (any, error) {
			p, err := provider(ctx, rt, a.Name)
			if err != nil {
				return nil, err
			}
			return p.Enabled(ctx, a.Name)
		},
	})
	modules.Register("service.available", modules.Func[nameArgs]{
		ReadOnly: true,
		Doc:      "Return True when the host has the service.",
		Params:   []string{"name"},
		Call: func(ctx context.Context, rt *modules.Runtime, a *nameArgs) (any, error) {
			p, err := initsys.ForGrains(rt.Grains)
			if err != nil {
				return nil, err
			}
			return p.Available(ctx, a.Name) == nil, nil
		},
	})
	for _, act := range []initsys.Action{initsys.Start, initsys.Stop, initsys.Restart, initsys.Reload} {
		modules.Register("service."+string(act), modules.Func[nameArgs]{
			Doc:    "Tell the service to " + string(act) + "; True when it did, else the init system's error.",
			Params: []string{"name"},
			Call: func(ctx context.Context, rt *modules.Runtime, a *nameArgs) (any, error) {
				p, err := provider(ctx, rt, a.Name)
				if err != nil {
					return nil, err
				}
				if err := p.Control(ctx, a.Name, act); err != nil {
					return false, err
				}
				return true, nil
			},
		})
	}
	modules.Register("service.get_all", modules.Func[noArgs]{
		ReadOnly: true,
		Doc:      "Return the names of every service the host has, sorted.",
		Call: func(ctx context.Context, rt *modules.Runtime, _ *noArgs) (any, error) {
			p, err := initsys.ForGrains(rt.Grains)
			if err != nil {
				return nil, err
			}
			names, err := p.List(ctx)
			if err != nil {
				return nil, err
			}
			out := make([]any, len(names))
			for i, n := range names {
				out[i] = n
			}
			return out, nil
		},
	})
}

// provider chooses the init system from the grains and checks the
// service exists.
func provider(ctx context.Context, rt *modules.Runtime, name string) (initsys.Provider, error) {
	p, err := initsys.ForGrains(rt.Grains)
	if err != nil {
		return nil, err
	}
	if err := p.Available(ctx, name); err != nil {
		return nil, err
	}
	return p, nil
}
