package dockercontainer

import (
	"context"
	"fmt"
	"slices"

	"github.com/brinecm/brine/pkg/dockerx"
	"github.com/brinecm/brine/states"
)

// targets lists the containers a stopped or absent state acts on: the
// container name itself and the replicas of a replicas state named name.
func (r *run) targets(ctx context.Context, name string) ([]named, error) {
	var out []named
	have, err := r.inspect(ctx, name)
	if err != nil {
		return nil, err
	}
	if have != nil {
		out = append(out, named{name: name, id: have.ID})
	}
	reps, err := r.replicasOf(ctx, name)
	if err != nil {
		return nil, err
	}
	return append(out, reps...), nil
}

func stopped(ctx context.Context, c *states.Call, a *RemoveArgs) states.Outcome {
	r, err := newRun(ctx, c, a.ClientTimeout, a.StopTimeout)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	defer r.dc.Close()
	targets, err := r.targets(ctx, c.Name)
	if err != nil {
		return r.outcome(err)
	}
	if len(targets) == 0 {
		return r.outcome(fmt.Errorf("container %s does not exist", c.Name))
	}
	for _, t := range targets {
		have, err := r.inspect(ctx, t.id)
		if err != nil {
			return r.outcome(err)
		}
		if have == nil || !have.State.Running {
			r.comments = append(r.comments, fmt.Sprintf("Container %s is already stopped", t.name))
			continue
		}
		r.record(len(targets) > 1, t.name, map[string]any{"state": map[string]any{"old": string(have.State.Status), "new": "exited"}})
		if c.Test {
			r.comments = append(r.comments, fmt.Sprintf("Container %s would be stopped", t.name))
			continue
		}
		if err := r.stop(ctx, t.id); err != nil {
			return r.outcome(fmt.Errorf("stop container %s: %w", t.name, err))
		}
		r.comments = append(r.comments, fmt.Sprintf("Container %s stopped", t.name))
	}
	return r.outcome(nil)
}

func absent(ctx context.Context, c *states.Call, a *RemoveArgs) states.Outcome {
	r, err := newRun(ctx, c, a.ClientTimeout, a.StopTimeout)
	if err != nil {
		return states.Failed(err.Error(), nil)
	}
	defer r.dc.Close()
	targets, err := r.targets(ctx, c.Name)
	if err != nil {
		return r.outcome(err)
	}
	if len(targets) == 0 {
		return states.Succeeded(fmt.Sprintf("Container %s does not exist", c.Name), nil)
	}
	var running []string
	for _, t := range targets {
		have, err := r.inspect(ctx, t.id)
		if err != nil {
			return r.outcome(err)
		}
		if have != nil && have.State.Running {
			running = append(running, t.name)
		}
	}
	if len(running) > 0 && !a.Force {
		return r.outcome(fmt.Errorf("container %v is running; set force to True to remove it", running))
	}
	// The Open vSwitch ports of plugged containers go with them.
	tnames := make([]string, len(targets))
	for i, t := range targets {
		tnames[i] = t.name
	}
	ports, err := ovsPortsOf(ctx, tnames)
	if err != nil {
		return r.outcome(err)
	}
	for _, t := range targets {
		ch := map[string]any{"container_id": map[string]any{"old": dockerx.ShortID(t.id), "new": nil}}
		if ps := ports[t.name]; len(ps) > 0 {
			ch["ovs"] = map[string]any{"port": oldNew(portNames(ps), nil)}
		}
		r.record(len(targets) > 1, t.name, ch)
		if c.Test {
			r.comments = append(r.comments, fmt.Sprintf("Container %s would be removed", t.name))
			continue
		}
		if slices.Contains(running, t.name) {
			if err := r.stop(ctx, t.id); err != nil {
				return r.outcome(fmt.Errorf("stop container %s: %w", t.name, err))
			}
		}
		if err := r.remove(ctx, t.id); err != nil {
			return r.outcome(err)
		}
		if err := unplugOVS(ctx, ports[t.name]); err != nil {
			return r.outcome(fmt.Errorf("container %s removed, but not its Open vSwitch port: %w", t.name, err))
		}
		r.comments = append(r.comments, fmt.Sprintf("Container %s removed", t.name))
	}
	return r.outcome(nil)
}
